#!/usr/bin/env bash
# docker-stack.yml, deployed for real with `docker stack deploy` on a one-node swarm: one store
# (named volume, pinned by a placement constraint) and 3 gateway replicas. Run by .ci/run after the
# release build (and after scripts/compose-e2e.sh, whose image it reuses when it is there).
#
#   bash scripts/swarm-e2e.sh        (as root on a Debian bookworm machine; CI does this)
#
# Setup as in compose-e2e.sh (scripts/lib/docker-e2e.sh): installs docker.io, debootstrap, nc when
# missing, starts dockerd when none answers, builds the image from the Dockerfile's `prebuilt`
# target around the host's release binaries. Then `docker swarm init --advertise-addr 127.0.0.1`
# when the engine is in no swarm (and `docker swarm leave --force` at the end), and:
#   - deploy; every task healthy; PING/GET/SEARCH/FIND through each gateway task's host port; a PUT
#     through one gateway is read back through another;
#   - `docker kill` a gateway task's container: swarm replaces it with a new, healthy task;
#   - rolling update of the gateways (start-first) while a steady client, in a container on the
#     frontend overlay network, queries `gateway` (DNS round robin) without pause: no query lost.
#     The client reconnects and asks again when its connection closes before an answer (an old
#     task finishing); an ERR answer, a wrong answer or 5 s of silence is a lost query;
#   - `docker kill` the store task's container while a client writes: swarm starts a new store task
#     on the same node and volume; no acknowledged write is lost; prints the time until every
#     gateway serves again (the figure docs/DEPLOYMENT.md quotes).
# Fails loudly (non-zero exit, a FAIL line) on the first failed check; every wait is bounded; a trap
# removes the stack, its volume, the client container, the swarm and the dockerd if it made them.
set -euo pipefail
E2E_NAME=swarm-e2e
# shellcheck source=scripts/lib/docker-e2e.sh
source "$(dirname "$0")/lib/docker-e2e.sh"
cd "$E2E_ROOT"

STACK=${EPILOGUE_E2E_STACK:-epilogue-swarm-e2e}
export EPILOGUE_IMAGE=epilogue:e2e
EPILOGUE_SECRET="e2e-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
export EPILOGUE_SECRET
export EPILOGUE_WRITE_TOKEN="" EPILOGUE_LOG_LEVEL=info
CLIENT="${STACK}-client"

e2e_need_tools
e2e_ensure_dockerd
e2e_ensure_base_image

CONTEXT=$(e2e_stage_prebuilt_context)
step "building $EPILOGUE_IMAGE: Dockerfile target prebuilt (classic builder)"
DOCKER_BUILDKIT=0 docker build --target prebuilt -f "$E2E_ROOT/Dockerfile" -t "$EPILOGUE_IMAGE" "$CONTEXT" \
  >"$E2E_WORK/build.log" 2>&1 || { tail -n 30 "$E2E_WORK/build.log" >&2; fail "image build failed (log above)"; }
pass "image $EPILOGUE_IMAGE built from the Dockerfile's runtime stage"

# --- swarm ------------------------------------------------------------------------------------------
CREATED_SWARM=0
if [[ $(docker info -f '{{.Swarm.LocalNodeState}}') != active ]]; then
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null || fail "docker swarm init failed"
  CREATED_SWARM=1
  leave_swarm() {
    step "leaving the swarm this script created"
    docker swarm leave --force >/dev/null 2>&1 || echo "$E2E_NAME: docker swarm leave failed" >&2
    # swarm init made this bridge (for host-mode ports); leaving the swarm keeps it.
    docker network rm docker_gwbridge >/dev/null 2>&1 || true
  }
  e2e_on_exit leave_swarm
  pass "one-node swarm created (docker swarm init --advertise-addr 127.0.0.1)"
else
  step "using the swarm this engine is in"
fi
NODE=$(docker info -f '{{.Swarm.NodeID}}')
if [[ -z $(docker node inspect -f '{{index .Spec.Labels "epilogue.store"}}' "$NODE") ]]; then
  docker node update --label-add epilogue.store=true "$NODE" >/dev/null
  if ((CREATED_SWARM == 0)); then
    e2e_on_exit "docker node update --label-rm epilogue.store '$NODE' >/dev/null 2>&1"
  fi
fi

stack_gone() { [[ -z $(docker ps -aq --filter "label=com.docker.stack.namespace=$STACK") ]] \
  && [[ -z $(docker network ls -q --filter "label=com.docker.stack.namespace=$STACK") ]]; }
teardown() {
  step "tearing down: docker stack rm $STACK, its volume, the client"
  docker rm -f "$CLIENT" >/dev/null 2>&1
  docker stack rm "$STACK" >/dev/null 2>&1
  local deadline=$((SECONDS + 90))
  until stack_gone || ((SECONDS >= deadline)); do sleep 1; done
  stack_gone || echo "$E2E_NAME: the stack's containers or networks are still there after 90 s" >&2
  until docker volume rm "${STACK}_store-data" >/dev/null 2>&1 || ! docker volume inspect "${STACK}_store-data" >/dev/null 2>&1 \
    || ((SECONDS >= deadline + 30)); do sleep 1; done
}
e2e_on_exit teardown
if ! stack_gone || docker volume inspect "${STACK}_store-data" >/dev/null 2>&1; then
  step "removing leftovers of an earlier run"
  teardown
fi

# --- helpers ----------------------------------------------------------------------------------------
# running containers of a service, healthy or not
task_containers() { docker ps -q --filter "label=com.docker.swarm.service.name=${STACK}_$1" --filter status=running; }
# healthy_tasks SERVICE N : exactly N running task containers, all healthy, and the service converged
healthy_tasks() {
  local c n=0
  for c in $(task_containers "$1"); do
    [[ $(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$c") == healthy ]] || return 1
    n=$((n + 1))
  done
  ((n == $2)) || return 1
  [[ $(docker service ls -q --filter "name=${STACK}_$1" | head -n1) ]] || return 1
  [[ $(docker service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "${STACK}_$1") != updating ]]
}
all_healthy() { healthy_tasks store 1 && healthy_tasks gateway 3; }
# host ports of the gateway tasks (mode: host, published by swarm on a free port each)
gateway_ports() {
  local c
  GW=()
  for c in $(task_containers gateway); do
    GW+=("$(docker port "$c" 7700/tcp | head -n1 | sed 's/.*://')")
  done
  ((${#GW[@]} == 3)) || fail "expected 3 gateway tasks, found ${#GW[@]}"
}
pinging() { [[ $(first_line "$1" PING) == "OK PONG" ]]; }
all_serving() { local p; for p in "${GW[@]}"; do pinging "$p" || return 1; done; }

e2e_track_acked_writes

# --- 1. deploy ----------------------------------------------------------------------------------------
step "docker stack deploy -c docker-stack.yml $STACK ($EPILOGUE_IMAGE)"
docker stack deploy --resolve-image never -c "$E2E_ROOT/docker-stack.yml" "$STACK" >"$E2E_WORK/deploy.log" 2>&1 \
  || { cat "$E2E_WORK/deploy.log" >&2; fail "docker stack deploy failed"; }
wait_until 240 "store and 3 gateway tasks running and healthy" all_healthy
gateway_ports
pass "store and 3 gateway tasks healthy; gateways on host ports ${GW[*]}"

KNOWN=la-la-land/chazelle-love-lingers
for i in 0 1 2; do
  out=$(ask "${GW[i]}" PING "GET $KNOWN" "SEARCH dream" 'FIND film="La La Land" source=director')
  grep -qx 'OK PONG' <<<"$out" || fail "gateway task $((i + 1)) (port ${GW[i]}): PING: $(head -n3 <<<"$out")"
  grep -qx "OK $KNOWN" <<<"$out" || fail "gateway task $((i + 1)): GET: $out"
  grep -qE '^OK [1-9][0-9]* of [1-9][0-9]* hits' <<<"$out" || fail "gateway task $((i + 1)): SEARCH: $out"
  grep -qx 'OK 3 of 3 records (1–3)' <<<"$out" || fail "gateway task $((i + 1)): FIND: $out"
done
pass "every gateway task serves PING, GET, SEARCH, FIND"
answer=$(put_record "${GW[0]}" e2e/swarm-1)
[[ $answer == "OK e2e/swarm-1 version 1" ]] || fail "PUT through gateway task 1: $answer"
echo e2e/swarm-1 >>"$ACKED"
check_records "${GW[2]}" "$ACKED"
pass "PUT through gateway task 1 read back through gateway task 3"

store_bindings=$(docker inspect -f '{{range $p, $b := .NetworkSettings.Ports}}{{if $b}}{{$p}} {{end}}{{end}}' "$(task_containers store)")
[[ -z $store_bindings ]] || fail "the store task publishes ports: $store_bindings"
for c in $(task_containers store) $(task_containers gateway); do
  uids=$(docker top "$c" -eo pid,uid | awk 'NR > 1 {print $2}' | sort -u | tr '\n' ' ')
  [[ $uids == "10001 " ]] || fail "task container $c runs processes as uid(s) $uids"
done
pass "the store task publishes no port; every task process runs as uid 10001"

# --- 2. a gateway task dies: swarm replaces it ---------------------------------------------------------
victim=$(task_containers gateway | head -n1)
docker kill "$victim" >/dev/null
step "docker kill gateway task container ${victim:0:12}"
replaced() { healthy_tasks gateway 3 && ! task_containers gateway | grep -q "^${victim:0:12}"; }
wait_until 180 "swarm replacing the killed gateway task" replaced
gateway_ports
wait_until 10 "every gateway task serving" all_serving
pass "swarm replaced the killed gateway task; 3 healthy tasks serve again (ports ${GW[*]})"

# --- 3. rolling update under a steady client ------------------------------------------------------------
mkdir -p "$E2E_WORK/client"
chmod 0777 "$E2E_WORK/client"
# The client: 3 workers, each with one connection at a time to `gateway` (the overlay's DNS answers
# with every task's address, in turn), GET after GET on it, each answer checked, and a new
# connection every 300 queries (about 10 s, long enough that some are open on a task when it is
# stopped). Connection closed or refused before an answer: connect again (a new DNS lookup) and
# ask the same again: that is a retry. ERR, a wrong answer or no answer within 5 s: a lost query.
# shellcheck disable=SC2016
client_script='
trap "" PIPE
id=$1; dir=/e2e
queries=0; retries=0; lost=0; connects=0
connect() {
  local i
  exec 3<&- 3>&-
  for i in $(seq 200); do
    if { exec 3<>/dev/tcp/gateway/7700; } 2>/dev/null; then connects=$((connects + 1)); return 0; fi
    sleep 0.05
  done
  return 1
}
ask() {
  local status line rc
  printf "GET %s\n" "$id" >&3 2>/dev/null || return 2
  IFS= read -r -t 5 status <&3; rc=$?
  ((rc == 0)) || { ((rc > 128)) && { echo "LOST: no answer within 5 s" >>$dir/lost; return 1; }; return 2; }
  status=${status%$'"'"'\r'"'"'}
  while :; do
    IFS= read -r -t 5 line <&3 || { echo "LOST: answer cut short after: $status" >>$dir/lost; return 1; }
    [[ ${line%$'"'"'\r'"'"'} == . ]] && break
  done
  [[ $status == "OK $id" ]] || { echo "LOST: $status" >>$dir/lost; return 1; }
  return 0
}
worker() {
  local w=$1 tries=0 rc
  connect || { echo "LOST: no gateway reachable" >>$dir/lost; echo "0 0 1 0" >$dir/result.$w; return; }
  while [[ ! -e $dir/stop ]]; do
    ask; rc=$?
    if ((rc == 2)); then
      retries=$((retries + 1)); tries=$((tries + 1))
      if ((tries > 50)) || ! connect; then lost=$((lost + 1)); echo "LOST: no gateway after $tries tries" >>$dir/lost; tries=0; fi
      continue
    fi
    tries=0; queries=$((queries + 1)); ((rc == 1)) && lost=$((lost + 1))
    ((queries % 20 == 0)) && echo "$queries $retries $lost $connects" >$dir/progress.$w
    # A new connection (and DNS lookup) every 300 queries: the load spreads over the tasks and
    # meets them in every phase of the update.
    if ((queries % 300 == 0)); then printf "QUIT\n" >&3 2>/dev/null; connect || { lost=$((lost + 1)); echo "LOST: no gateway to reconnect to" >>$dir/lost; }; fi
    sleep 0.02
  done
  echo "$queries $retries $lost $connects" >$dir/result.$w
}
for w in 1 2 3; do worker $w & done
wait
'

docker run -d --name "$CLIENT" --network "${STACK}_frontend" -v "$E2E_WORK/client:/e2e" --entrypoint bash \
  "$EPILOGUE_IMAGE" -c "$client_script" client "$KNOWN" >/dev/null || fail "could not start the client container"
client_queries() { cat "$E2E_WORK"/client/progress.* 2>/dev/null | awk '{n += $1} END {print n + 0}'; }
client_past() { (($(client_queries) >= $1)); }
wait_until 120 "the steady client answering" client_past 60
before=$(client_queries)
old_tasks=$(task_containers gateway | sort | tr '\n' ' ')
step "client steady ($before queries so far); docker service update --force ${STACK}_gateway (start-first, one at a time)"
update_started=$SECONDS
timeout 600 docker service update --force --detach=false "${STACK}_gateway" >"$E2E_WORK/update.log" 2>&1 \
  || { tail -n 20 "$E2E_WORK/update.log" >&2; fail "the rolling update did not complete"; }
# The CLI returns once the tasks converged; swarm calls the update completed after its monitor period.
deadline=$((SECONDS + 120))
while :; do
  state=$(docker service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}} {{.UpdateStatus.Message}}{{end}}' "${STACK}_gateway")
  case $state in
    completed*) break ;;
    updating*) ((SECONDS < deadline)) || fail "the rolling update is still '$state' after 120 s" ;;
    *) fail "rolling update: $state" ;;
  esac
  sleep 0.5
done
update_s=$((SECONDS - update_started))
wait_until 60 "3 healthy gateway tasks after the update" healthy_tasks gateway 3
for c in $(task_containers gateway); do
  grep -q "$c" <<<"$old_tasks" && fail "gateway task container $c was not replaced by the update"
done
during=$(($(client_queries) - before))
sleep 2
touch "$E2E_WORK/client/stop"
client_done() { [[ -s $E2E_WORK/client/result.1 && -s $E2E_WORK/client/result.2 && -s $E2E_WORK/client/result.3 ]]; }
wait_until 30 "the client to finish" client_done
read -r queries retries lost connects < <(cat "$E2E_WORK"/client/result.* | awk '{q += $1; r += $2; l += $3; c += $4} END {print q, r, l, c}')
docker rm -f "$CLIENT" >/dev/null 2>&1 || true
if ((lost > 0)) || [[ -s $E2E_WORK/client/lost ]]; then
  sort "$E2E_WORK/client/lost" | uniq -c >&2
  fail "rolling update: $lost of $queries queries lost"
fi
((during >= 50)) || fail "the client made only $during queries during the update: not a steady load"
pass "rolling update (${update_s} s, all 3 tasks replaced): $queries queries, $during of them during the update, 0 lost; $retries retried after a closed connection, $connects connections"

# --- 4. the store task dies ------------------------------------------------------------------------------
gateway_ports
start_writer "${GW[0]}" e2e/swarm-crash
n0=$(wc -l <"$ACKED")
wait_until 20 "writes before the store is killed" acked_more_than "$((n0 + 3))"
store_before=$(task_containers store)
killed_ms=$(now_ms)
docker kill "$store_before" >/dev/null
step "docker kill store task container ${store_before:0:12}"
# Bounded by the restart delay (1 s), creating the new task's container and starting the store.
wait_until 180 "every gateway serving after the store task was killed" all_serving
serving_ms=$(($(now_ms) - killed_ms))
store_after=$(task_containers store)
[[ -n $store_after && $store_after != "$store_before" ]] || fail "no new store task"
started_ms=$(date -d "$(docker inspect -f '{{.State.StartedAt}}' "$store_after")" +%s%3N)
sleep 1
stop_writer
check_records "${GW[1]}" "$ACKED"
pass "store task killed: a new task on the same node and volume; every gateway serves again after $serving_ms ms; all $(wc -l <"$ACKED") acknowledged writes there"
echo "$E2E_NAME: MEASURED time to serve again after the store task is killed: $serving_ms ms, of which $((started_ms - killed_ms)) ms until the new task's container started (restart delay 1 s, then creating the container: $(docker info -f '{{.Driver}}') storage driver) and $((serving_ms - (started_ms - killed_ms))) ms from there until all 3 gateways answered PING"

pass "all checks"
