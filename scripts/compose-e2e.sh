#!/usr/bin/env bash
# The production docker-compose.yml, run for real: one store and three gateways in containers, as
# uid 10001, exercised through the published ports. Run by .ci/run after the release build.
#
#   bash scripts/compose-e2e.sh        (as root on a Debian bookworm machine; CI does this)
#
# What it needs, it installs (docker.io, docker-compose, debootstrap, netcat-openbsd); it starts
# dockerd (storage driver vfs) when none answers and stops it again at the end; it builds
# debian:bookworm-slim with debootstrap when Docker does not have it (no registry pulls here) and the
# image from the Dockerfile's `prebuilt` target around the host's release binaries (the Swift image
# cannot be pulled either). The only override file it adds changes how the image is built.
#
# Checks, each printed as it passes; the first failure stops the script with a non-zero exit:
#   up --scale gateway=3 and every healthcheck passes; PING/GET/SEARCH/FIND through each published
#   gateway port; a PUT through gateway 1 is read back through gateway 3; the store publishes no
#   port; every process runs as uid 10001; the store crashes (SIGKILL): every gateway answers
#   ERR STORE_UNAVAILABLE within a second, the restart policy brings the store back, no acknowledged
#   write is lost; SIGTERM (compose stop) and up again: no acknowledged write lost; down + up: data
#   kept (named volume); Prometheus endpoints answer on the backend network; a gateway's trace id is
#   in the store's log; down -v: data gone.
# A trap always removes what it started: containers, networks, the volume, a dockerd it started.
set -euo pipefail
E2E_NAME=compose-e2e
# shellcheck source=scripts/lib/docker-e2e.sh
source "$(dirname "$0")/lib/docker-e2e.sh"
cd "$E2E_ROOT"

PROJECT=${EPILOGUE_E2E_PROJECT:-epilogue-e2e}
export EPILOGUE_IMAGE=epilogue:e2e
EPILOGUE_SECRET="e2e-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
export EPILOGUE_SECRET
export EPILOGUE_WRITE_TOKEN=""
# debug: the store logs every request with its trace id (checked below).
export EPILOGUE_LOG_LEVEL=debug
# docker-compose 1.29 builds through docker-py's API (the engine's classic builder): no BuildKit,
# no buildx needed. The Dockerfile's `prebuilt` target sits before the Swift stage for that builder.
export COMPOSE_DOCKER_CLI_BUILD=0 DOCKER_BUILDKIT=0

e2e_need_tools
command -v docker-compose >/dev/null 2>&1 || e2e_need_tools docker-compose
e2e_ensure_dockerd
e2e_ensure_base_image

CONTEXT=$(e2e_stage_prebuilt_context)
OVERRIDE="$E2E_WORK/prebuilt.override.yml"
# Changes how the image is built, nothing else.
cat >"$OVERRIDE" <<EOF
services:
  store:
    build: &prebuilt
      context: $CONTEXT
      dockerfile: $E2E_ROOT/Dockerfile
      target: prebuilt
  gateway:
    build: *prebuilt
EOF
dc() { docker-compose -p "$PROJECT" -f "$E2E_ROOT/docker-compose.yml" -f "$OVERRIDE" "$@"; }

teardown() {
  step "tearing down: docker-compose -p $PROJECT down -v"
  dc down -v --remove-orphans -t 10 >/dev/null 2>&1 || echo "$E2E_NAME: down -v failed" >&2
}
e2e_on_exit teardown
# Leftovers of an interrupted earlier run.
dc down -v --remove-orphans -t 5 >/dev/null 2>&1 || true

step "building $EPILOGUE_IMAGE: Dockerfile target prebuilt ($(docker-compose version --short))"
dc build store >"$E2E_WORK/build.log" 2>&1 || { tail -n 30 "$E2E_WORK/build.log" >&2; fail "image build failed (log above)"; }
pass "image $EPILOGUE_IMAGE built from the Dockerfile's runtime stage"

# --- helpers ----------------------------------------------------------------------------------------
containers() { dc ps -q "$@"; }
store_container() { containers store; }

all_healthy() {
  local c n=0
  for c in $(containers); do
    [[ $(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$c") == healthy ]] || return 1
    n=$((n + 1))
  done
  ((n == 4))
}

up3() {
  dc up -d --scale gateway=3 >"$E2E_WORK/up.log" 2>&1 || { cat "$E2E_WORK/up.log" >&2; fail "docker-compose up failed"; }
  wait_until 150 "store and 3 gateways healthy" all_healthy
  GW=()
  local i p
  for i in 1 2 3; do
    p=$(dc port --index "$i" gateway 7700) || fail "gateway $i publishes no port"
    GW+=("${p##*:}")
  done
}

e2e_track_acked_writes

# --- 1. up, healthy ---------------------------------------------------------------------------------
step "up -d --scale gateway=3 (healthchecks every 2 s)"
up3
pass "store and 3 gateways healthy; gateways on host ports ${GW[*]}"
[[ $(printf '%s\n' "${GW[@]}" | sort -u | wc -l) == 3 ]] || fail "gateways share host ports: ${GW[*]}"

# --- 2. every gateway serves ------------------------------------------------------------------------
KNOWN=la-la-land/chazelle-love-lingers
for i in 0 1 2; do
  port=${GW[i]}
  out=$(ask "$port" PING "GET $KNOWN" "SEARCH dream" 'FIND film="La La Land" source=director')
  grep -qx 'OK PONG' <<<"$out" || fail "gateway $((i + 1)) (port $port): PING: $(head -n3 <<<"$out")"
  grep -qx "OK $KNOWN" <<<"$out" || fail "gateway $((i + 1)): GET $KNOWN: $out"
  grep -qE '^OK [1-9][0-9]* of [1-9][0-9]* hits' <<<"$out" || fail "gateway $((i + 1)): SEARCH dream: $out"
  grep -qx 'OK 3 of 3 records (1–3)' <<<"$out" || fail "gateway $((i + 1)): FIND: $out"
  grep -q '^la-la-land/chazelle-no-happy-version ' <<<"$out" || fail "gateway $((i + 1)): FIND lacks a known row: $out"
  pass "gateway $((i + 1)) (127.0.0.1:$port): PING, GET, SEARCH, FIND"
done

answer=$(put_record "${GW[0]}" e2e/via-gateway-1)
[[ $answer == "OK e2e/via-gateway-1 version 1" ]] || fail "PUT through gateway 1: $answer"
echo e2e/via-gateway-1 >>"$ACKED"
out=$(ask "${GW[2]}" "GET e2e/via-gateway-1")
grep -q '^reading: *Written by the deployment test, record e2e/via-gateway-1\.$' <<<"$out" \
  || fail "GET through gateway 3 does not return what gateway 1 wrote: $out"
pass "PUT through gateway 1 (port ${GW[0]}) read back through gateway 3 (port ${GW[2]})"

# --- 3. the store is private; nobody is root -------------------------------------------------------
STORE=$(store_container)
bindings=$(docker inspect -f '{{range $p, $b := .NetworkSettings.Ports}}{{if $b}}{{$p}} {{end}}{{end}}' "$STORE")
[[ -z $bindings ]] || fail "the store publishes ports to the host: $bindings"
# Port 7701 on the host: free, or a gateway (the published range 7700-7709 includes it), or some
# other program of this machine; never the store.
if printf '%s\n' "${GW[@]}" | grep -qx 7701; then
  [[ $(first_line 7701 PING) == "OK PONG" ]] || fail "127.0.0.1:7701 (a gateway's port) does not speak the text protocol"
elif ss -ltnH 'sport = :7701' 2>/dev/null | grep -q .; then
  step "(another program of this host listens on 7701: the loopback probe is skipped)"
elif nc -z -w 2 127.0.0.1 7701 2>/dev/null; then
  fail "127.0.0.1:7701 accepts connections"
fi
# From a container on the public network only, the store's name does not even resolve.
if docker run --rm --network "${PROJECT}_frontend" --entrypoint bash "$EPILOGUE_IMAGE" \
  -c 'exec 3<>/dev/tcp/store/7701' >/dev/null 2>&1; then
  fail "a container on the frontend network reaches store:7701"
fi
pass "the store publishes no port (not on 127.0.0.1:7701, not from the frontend network)"

for c in $(containers); do
  name=$(docker inspect -f '{{.Name}}' "$c")
  uids=$(docker top "$c" -eo pid,uid | awk 'NR > 1 {print $2}' | sort -u | tr '\n' ' ')
  [[ $uids == "10001 " ]] || fail "$name runs processes as uid(s) $uids, not only 10001"
  [[ $(docker inspect -f '{{.Config.User}}' "$c") == 10001:10001 ]] || fail "$name: image user is not 10001:10001"
done
pass "every process in the 4 containers runs as uid 10001"

# --- 4. the store crashes ---------------------------------------------------------------------------
# `docker kill` is a manual stop to the engine: the restart policy is not applied after it (Docker
# 20.10 and later). A crash is the store's process dying on its own, so kill that with SIGKILL.
start_writer "${GW[0]}" e2e/crash
wait_until 20 "writes through gateway 1 before the crash" acked_more_than 3
sleep 1
restarts_before=$(docker inspect -f '{{.RestartCount}}' "$STORE")
pid=$(docker inspect -f '{{.State.Pid}}' "$STORE")
killed_ms=$(now_ms)
kill -KILL "$pid"
step "store killed (SIGKILL of its process, pid $pid)"
declare -A seen=()
while ((${#seen[@]} < 3)); do
  for i in 0 1 2; do
    [[ -n ${seen[$i]:-} ]] && continue
    line=$(first_line "${GW[i]}" PING || true)
    if [[ $line == "ERR STORE_UNAVAILABLE"* ]]; then
      seen[$i]=$(($(now_ms) - killed_ms))
    elif [[ $line == "OK PONG" ]]; then
      fail "gateway $((i + 1)) answered OK PONG after the kill before it had reported the store unavailable"
    fi
  done
  (($(now_ms) - killed_ms <= 1000)) || fail "not every gateway answered ERR STORE_UNAVAILABLE within 1 s (seen: ${!seen[*]})"
done
pass "every gateway answers ERR STORE_UNAVAILABLE within 1 s (after ${seen[0]}, ${seen[1]}, ${seen[2]} ms)"
pinging() { [[ $(first_line "$1" PING) == "OK PONG" ]]; }
for i in 0 1 2; do wait_until 60 "gateway $((i + 1)) serving again after the store crash" pinging "${GW[i]}"; done
back_ms=$(($(now_ms) - killed_ms))
restarts_after=$(docker inspect -f '{{.RestartCount}}' "$STORE")
((restarts_after > restarts_before)) || fail "the store was not restarted by its restart policy (RestartCount $restarts_after)"
sleep 1
stop_writer
check_records "${GW[1]}" "$ACKED"
pass "restart policy brought the store back; all 3 gateways serve again $back_ms ms after the kill; $(wc -l <"$ACKED") acknowledged writes all there"

# --- 5. SIGTERM: compose stop, then up --------------------------------------------------------------
start_writer "${GW[1]}" e2e/sigterm
n0=$(wc -l <"$ACKED")
wait_until 20 "writes through gateway 2 before the stop" acked_more_than "$n0"
step "docker-compose stop store (SIGTERM) while gateway 2 takes writes, then stop the rest"
dc stop store >/dev/null 2>&1 || fail "docker-compose stop store failed"
[[ $(docker inspect -f '{{.State.ExitCode}}' "$STORE") == 0 ]] || fail "the store did not exit 0 on SIGTERM ($(docker inspect -f '{{.State.ExitCode}}' "$STORE"))"
dc stop >/dev/null 2>&1 || fail "docker-compose stop failed"
stop_writer
up3
check_records "${GW[2]}" "$ACKED"
pass "stop (store exited 0 on SIGTERM) + up: $(wc -l <"$ACKED") acknowledged writes all there"

# --- 6. down + up: the named volume keeps the data -------------------------------------------------
dc down >/dev/null 2>&1 || fail "docker-compose down failed"
docker volume inspect "${PROJECT}_store-data" >/dev/null 2>&1 || fail "down removed the volume ${PROJECT}_store-data"
up3
check_records "${GW[0]}" "$ACKED"
pass "down + up: the volume ${PROJECT}_store-data kept all $(wc -l <"$ACKED") writes"

# --- 7. metrics on the backend network; trace ids across services ---------------------------------
STORE=$(store_container)
# One probe container (starting one costs seconds on vfs) scrapes every endpoint, each answer
# behind a "=== host:port" line.
targets=(store:9701)
for c in $(containers gateway); do
  name=$(docker inspect -f '{{.Name}}' "$c")
  targets+=("${name#/}:9700")
done
# shellcheck disable=SC2016
scraped=$(docker run --rm --network "${PROJECT}_backend" --entrypoint bash "$EPILOGUE_IMAGE" -c '
  for t in "$@"; do
    echo "=== $t"
    exec 3<>"/dev/tcp/${t%:*}/${t#*:}" || continue
    printf "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n" "${t%:*}" >&3
    timeout 5 cat <&3
    exec 3<&-
  done' probe "${targets[@]}") || fail "the metrics probe container failed"
for t in "${targets[@]}"; do
  answer=$(awk -v t="=== $t" '$0 == t {on = 1; next} /^=== / {on = 0} on' <<<"$scraped" | tr -d '\r')
  grep -q '^HTTP/1\.[01] 200' <<<"$answer" || fail "$t/metrics from the backend network: $(head -n1 <<<"$answer")"
  case $t in
    store:*) metric=epilogue_store_requests_total ;;
    *) metric=epilogue_gateway_commands_total ;;
  esac
  grep -q "^$metric{" <<<"$answer" || fail "$t/metrics lacks $metric"
done
pass "Prometheus /metrics of the store and the 3 gateways answer from a container on ${PROJECT}_backend"

probe=e2e/trace-probe-$RANDOM
since=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
line=$(first_line "${GW[1]}" "GET $probe")
[[ $line == "ERR NOT_FOUND"* ]] || fail "GET $probe: $line"
gw2=$(docker ps -q --filter "label=com.docker.compose.project=$PROJECT" --filter publish="${GW[1]}")
trace=""
for _ in $(seq 50); do
  trace=$(docker logs --since "$since" "$gw2" 2>&1 | grep 'command failed' | grep NOT_FOUND | grep -oE 'trace_id=[0-9a-f]{16}' | tail -n1 || true)
  [[ -n $trace ]] && break
  sleep 0.1
done
[[ -n $trace ]] || fail "gateway 2 logged no trace id for GET $probe"
wait_until 5 "$trace in the store's log" bash -c "docker logs '$STORE' 2>&1 | grep -qF '$trace'"
pass "gateway 2 logged GET $probe with $trace; the store's log has the same id"

# --- 8. down -v: the data goes with the volume ------------------------------------------------------
dc down -v >/dev/null 2>&1 || fail "docker-compose down -v failed"
! docker volume inspect "${PROJECT}_store-data" >/dev/null 2>&1 || fail "down -v left the volume ${PROJECT}_store-data"
up3
first=$(head -n1 "$ACKED")
line=$(first_line "${GW[0]}" "GET $first")
[[ $line == "ERR NOT_FOUND"* ]] || fail "after down -v, GET $first: $line (expected NOT_FOUND)"
[[ $(first_line "${GW[0]}" "GET $KNOWN") == "OK $KNOWN" ]] || fail "after down -v the store was not seeded with the dataset"
pass "down -v + up: the writes are gone, the store starts again from the bundled dataset"

pass "all checks ($(wc -l <"$ACKED") acknowledged writes)"
