# shellcheck shell=bash
# Shared by scripts/compose-e2e.sh and scripts/swarm-e2e.sh (sourced, not run):
#   - installs what a fresh Debian bookworm CI machine lacks (docker.io, docker-compose, debootstrap,
#     netcat-openbsd, procps),
#   - starts dockerd (storage driver vfs) when none answers, and stops it again at the end,
#   - builds the base image debian:bookworm-slim with debootstrap when it is missing (no registry
#     pulls here), and the release binaries when they are missing,
#   - stages the binaries as a build context for the Dockerfile's `prebuilt` target,
#   - small helpers: pass/fail/step, a text-protocol client on top of nc, bounded waits, a
#     background writer that records each acknowledged write (ACKED) for check_records.
# The caller sets E2E_NAME (log prefix) and registers its own cleanup with e2e_on_exit.

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_WORK=$(mktemp -d "/tmp/${E2E_NAME:-e2e}.XXXXXX")
E2E_STARTED_DOCKERD=0
E2E_DOCKERD_PID=""
E2E_CLEANUPS=()
E2E_T0=$SECONDS

step() { printf '%s: [%4ds] %s\n' "$E2E_NAME" "$((SECONDS - E2E_T0))" "$*"; }
pass() { printf '%s: [%4ds] PASS %s\n' "$E2E_NAME" "$((SECONDS - E2E_T0))" "$*"; }
fail() {
  printf '%s: [%4ds] FAIL %s\n' "$E2E_NAME" "$((SECONDS - E2E_T0))" "$*" >&2
  exit 1
}

# Cleanups run in reverse order of registration, on any exit (success, failure, signal).
e2e_on_exit() { E2E_CLEANUPS+=("$1"); }
e2e_run_cleanups() {
  local status=$? i
  trap - EXIT INT TERM
  set +e
  for ((i = ${#E2E_CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${E2E_CLEANUPS[i]}"
  done
  rm -rf "$E2E_WORK"
  if ((status == 0)); then
    step "done in $((SECONDS - E2E_T0)) s"
  else
    printf '%s: FAILED (exit %d) after %d s\n' "$E2E_NAME" "$status" "$((SECONDS - E2E_T0))" >&2
  fi
  exit "$status"
}
trap e2e_run_cleanups EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools ----------------------------------------------------------------------------------------
e2e_apt_updated=0
e2e_apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if ((e2e_apt_updated == 0)); then apt-get update -qq || fail "apt-get update failed"; e2e_apt_updated=1; fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null || fail "apt-get install $* failed"
}

# e2e_need_tools [extra-apt-package...]
e2e_need_tools() {
  local need=()
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
  command -v docker >/dev/null 2>&1 || need+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
  command -v nc >/dev/null 2>&1 || need+=(netcat-openbsd)
  # `docker top` (the uid checks) runs the host's ps.
  command -v ps >/dev/null 2>&1 || need+=(procps)
  need+=("$@")
  if ((${#need[@]})); then
    [[ $(id -u) == 0 ]] || fail "missing ${need[*]} and not root: install them (apt-get install ${need[*]}) or run as root"
    step "installing ${need[*]} (apt)"
    # shellcheck disable=SC2046
    e2e_apt_install $(printf '%s\n' "${need[@]}" | sort -u)
  fi
  # iptables, which dockerd needs for its networks, comes with docker.io.
}

# --- dockerd --------------------------------------------------------------------------------------
e2e_ensure_dockerd() {
  if docker info >/dev/null 2>&1; then
    step "using the running Docker engine ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"
    return
  fi
  [[ $(id -u) == 0 ]] || fail "no Docker engine answers and only root can start one"
  step "starting dockerd (storage driver vfs; log in $E2E_WORK/dockerd.log)"
  dockerd --storage-driver vfs >"$E2E_WORK/dockerd.log" 2>&1 &
  E2E_DOCKERD_PID=$!
  E2E_STARTED_DOCKERD=1
  e2e_on_exit e2e_stop_dockerd
  local deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    if ! kill -0 "$E2E_DOCKERD_PID" 2>/dev/null; then
      tail -n 20 "$E2E_WORK/dockerd.log" >&2
      fail "dockerd exited while starting (log above)"
    fi
    ((SECONDS < deadline)) || { tail -n 20 "$E2E_WORK/dockerd.log" >&2; fail "dockerd did not answer within 60 s"; }
    sleep 0.5
  done
  pass "dockerd $(docker version -f '{{.Server.Version}}') is up"
}

e2e_stop_dockerd() {
  ((E2E_STARTED_DOCKERD)) || return 0
  step "stopping the dockerd this script started (pid $E2E_DOCKERD_PID)"
  kill -TERM "$E2E_DOCKERD_PID" 2>/dev/null
  local deadline=$((SECONDS + 60))
  while kill -0 "$E2E_DOCKERD_PID" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
  if kill -0 "$E2E_DOCKERD_PID" 2>/dev/null; then
    echo "$E2E_NAME: dockerd did not stop within 60 s; killing it" >&2
    kill -KILL "$E2E_DOCKERD_PID" 2>/dev/null
  fi
  wait "$E2E_DOCKERD_PID" 2>/dev/null
}

# --- images ---------------------------------------------------------------------------------------
# The Debian mirror apt uses (deb822 or one-line sources), else deb.debian.org.
e2e_debian_mirror() {
  local mirror
  mirror=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1)
  [[ -n $mirror ]] || mirror=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' | grep -v security | head -n1)
  echo "${mirror:-http://deb.debian.org/debian}"
}

# debian:bookworm-slim, built locally once (images cannot be pulled here); kept in Docker's cache.
e2e_ensure_base_image() {
  if docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
    pass "base image debian:bookworm-slim is cached"
    return
  fi
  local mirror rootfs
  mirror=$(e2e_debian_mirror)
  rootfs="$E2E_WORK/rootfs"
  step "building debian:bookworm-slim with debootstrap --variant=minbase from $mirror (1-3 min)"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$E2E_WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$E2E_WORK/debootstrap.log" >&2; fail "debootstrap failed (log above)"; }
  # As the official slim image: no downloaded packages, no package lists (apt-get update fetches them).
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import - debian:bookworm-slim >/dev/null || fail "docker import failed"
  rm -rf "$rootfs"
  pass "base image debian:bookworm-slim built"
}

# The release binaries of this checkout (built here only when missing; CI builds them before).
e2e_binaries_dir() {
  local bin
  bin=$(cd "$E2E_ROOT" && swift build -c release --static-swift-stdlib --show-bin-path 2>/dev/null) \
    || fail "swift build --show-bin-path failed"
  if [[ ! -x $bin/epilogue-store || ! -x $bin/epilogue-gateway || ! -f $bin/Epilogue_EpilogueStorage.resources/dataset.json ]]; then
    step "release binaries missing in $bin: swift build -c release --static-swift-stdlib" >&2
    (cd "$E2E_ROOT" && swift build -c release --static-swift-stdlib --product epilogue-store >&2 \
      && swift build -c release --static-swift-stdlib --product epilogue-gateway >&2) || fail "swift build failed"
  fi
  echo "$bin"
}

# A build context for `docker build --target prebuilt`: CONTEXT/prebuilt/ holds the binaries and the
# store's resource bundle, nothing else (the repository's own context would send .build along).
# Prints the context's path; it lives under .build/, so it is neither in git nor in other contexts.
e2e_stage_prebuilt_context() {
  local bin ctx
  bin=$(e2e_binaries_dir)
  ctx="$E2E_ROOT/.build/docker-prebuilt-context"
  rm -rf "$ctx"
  mkdir -p "$ctx/prebuilt"
  cp -p "$bin/epilogue-store" "$bin/epilogue-gateway" "$ctx/prebuilt/"
  cp -Rp "$bin/Epilogue_EpilogueStorage.resources" "$ctx/prebuilt/"
  echo "$ctx"
}

# --- the text protocol through nc ----------------------------------------------------------------
# ask PORT LINE... : sends the lines then QUIT on one connection; prints the answers (CR removed).
ask() {
  local port=$1
  shift
  { printf '%s\n' "$@"; printf 'QUIT\n'; } | nc -w 5 127.0.0.1 "$port" 2>/dev/null | tr -d '\r'
}

# first_line PORT LINE : the status line of one command's answer.
first_line() { ask "$1" "$2" | head -n1; }

# put_record PORT ID : a record the dataset does not have; prints the status line.
put_record() {
  first_line "$1" "PUT $2 film=\"La La Land\" year=2016 director=\"Damien Chazelle\" subject=\"e2e\" reading=\"Written by the deployment test, record $2.\" source=\"e2e test\" sourceKind=audience themes=e2e"
}

# check_records PORT FILE : every id in FILE (one a line) answers GET with OK <id>; fails naming the first missing.
check_records() {
  local port=$1 file=$2 answers id missing=0 n=0
  [[ -s $file ]] || return 0
  local lines=()
  while read -r id; do lines+=("GET $id"); done <"$file"
  answers=$(ask "$port" "${lines[@]}" | grep -E '^(OK|ERR) ' | grep -v '^OK bye$' || true)
  while read -r id; do
    n=$((n + 1))
    grep -qxF "OK $id" <<<"$answers" || { echo "  missing: $id" >&2; missing=$((missing + 1)); }
  done <"$file"
  ((missing == 0)) || fail "$missing of $n acknowledged writes are missing (via port $port)"
}

# --- acknowledged writes ------------------------------------------------------------------------
# e2e_track_acked_writes : starts ACKED, the file of acknowledged ids (one a line), and registers
# stop_writer as a cleanup (call it after the cleanups the writer must stop before).
ACKED=""
WRITER_PID=""
e2e_track_acked_writes() {
  ACKED="$E2E_WORK/acked"
  : >"$ACKED"
  e2e_on_exit stop_writer
}

# writer PORT PREFIX : PUTs PREFIX-1, PREFIX-2, … one at a time; appends each acknowledged id to ACKED.
writer() {
  local port=$1 prefix=$2 i=0 answer
  while :; do
    i=$((i + 1))
    answer=$(put_record "$port" "$prefix-$i" || true)
    if [[ $answer == "OK $prefix-$i version "* ]]; then echo "$prefix-$i" >>"$ACKED"; fi
    sleep 0.05
  done
}
acked_more_than() { (($(wc -l <"$ACKED") > $1)); }
# start_writer PORT PREFIX / stop_writer : one background writer at a time.
start_writer() { writer "$1" "$2" & WRITER_PID=$!; }
stop_writer() {
  [[ -n $WRITER_PID ]] || return 0
  kill "$WRITER_PID" 2>/dev/null || true
  wait "$WRITER_PID" 2>/dev/null || true
  WRITER_PID=""
}

# wait_until SECONDS DESCRIPTION COMMAND... : polls every 0.2 s; fails after SECONDS.
wait_until() {
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "$what: not within $limit s"
    sleep 0.2
  done
}

# now_ms : wall clock in milliseconds.
now_ms() { date +%s%3N; }
