#!/usr/bin/env bash
# The whole test suite with nothing skipped. Installs every prerequisite with apt (so it needs
# root, as do the namespace, tmpfs and FUSE tests themselves), then runs `swift test` with
# EPILOGUE_REQUIRE_ALL_TESTS=1: a test whose prerequisite is still missing then fails, naming it,
# instead of being skipped. Arguments go to `swift test` (e.g. --parallel, --filter X, --skip-build).
# Without --filter it runs in two phases: everything but the timed suites (scripts/lib/timed-suites.sh),
# then those on their own.
#
# Plain `swift test` (the README's command) needs none of this: it skips what this machine
# cannot run and prints why. The services under test always run unprivileged (uid 65534 via
# setpriv) when the tests run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "scripts/test-all.sh: run as root (apt, network namespaces, tmpfs and FUSE mounts)" >&2
  exit 1
fi

need=()
dpkg -s zlib1g-dev >/dev/null 2>&1 || need+=(libz-dev)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v mountpoint >/dev/null 2>&1 || need+=(util-linux)
# TwoHostTests and NetworkFaultTests: network namespaces (ip netns) and nftables.
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nft >/dev/null 2>&1 || need+=(nftables)
# PowerLossTests: tests-support/lossyfs.py is a FUSE filesystem.
command -v fusermount3 >/dev/null 2>&1 || need+=(fuse3)
/usr/bin/python3 -c 'import fusepy' 2>/dev/null || need+=(python3-fusepy)
# DeploymentFileTests read docker-compose.yml with PyYAML.
/usr/bin/python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi

export EPILOGUE_REQUIRE_ALL_TESTS=1
# With --filter, exactly what was asked; otherwise everything, the timed suites in a second phase.
for arg in "$@"; do
  [[ $arg == --filter ]] && exec swift test "$@"
done
source scripts/lib/timed-suites.sh
swift test "$@" --skip "$TIMED_SUITES"
echo "scripts/test-all.sh: the timed suites, on their own ($TIMED_SUITES)"
exec swift test "$@" --filter "$TIMED_SUITES"
