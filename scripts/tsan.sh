#!/usr/bin/env bash
# The test suite under ThreadSanitizer; fails on any test failure and on any TSan report, from the
# test process or from a store/gateway the tests started (they are TSan builds too, and write their
# reports to files here since their stderr goes to logs the tests delete).
#
#   scripts/tsan.sh                      # all three tiers
#   scripts/tsan.sh unit integration     # some tiers (unit, integration, system)
#   TSAN_FILTER=CrashSafetyTests scripts/tsan.sh   # one suite or test instead of tiers
#
# Builds into .build-tsan (its own scratch path, so the debug build stays usable). Reports of a
# run are kept in .build-tsan/reports/. Environment: EPILOGUE_REQUIRE_ALL_TESTS etc. pass through.
set -euo pipefail
cd "$(dirname "$0")/.."

scratch=.build-tsan
tiers=("$@")
((${#tiers[@]})) || tiers=(unit integration system)
filters=()
if [[ -n ${TSAN_FILTER:-} ]]; then
  filters=("$TSAN_FILTER")
else
  for tier in "${tiers[@]}"; do
    case $tier in
      unit) filters+=(EpilogueUnitTests) ;;
      integration) filters+=(EpilogueIntegrationTests) ;;
      system) filters+=(EpilogueSystemTests) ;;
      *) echo "scripts/tsan.sh: unknown tier '$tier' (unit, integration, system)" >&2; exit 2 ;;
    esac
  done
fi

start=$SECONDS
swift build --build-tests --sanitize=thread --scratch-path "$scratch" 2>&1 | tail -n 3
echo "tsan: built in $((SECONDS - start)) s"

# Children run as nobody when the tests run as root: the report directory must be theirs to write.
reports="$PWD/$scratch/reports"
rm -rf "$reports"
mkdir -p "$reports"
chmod 1777 "$reports"
# halt_on_error=0: one race must not hide the next; the run fails at the end instead.
export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 log_path=$reports/tsan ${TSAN_OPTIONS:-}"

status=0
for filter in "${filters[@]}"; do
  t0=$SECONDS
  echo "tsan: swift test --filter $filter"
  rc=0
  swift test --skip-build --sanitize=thread --scratch-path "$scratch" --no-parallel --filter "$filter" >"$reports/$filter.log" 2>&1 || rc=$?
  grep -E '✘|Test run with|skipped' "$reports/$filter.log" || true
  echo "tsan: $filter exited $rc after $((SECONDS - t0)) s"
  ((rc == 0)) || status=1
done

# log_path gives one file per reporting process (tsan.<pid>); a report on stderr (a child started
# with an empty environment) lands in the tests' output.
mapfile -t found < <(grep -l 'WARNING: ThreadSanitizer' "$reports"/tsan.* "$reports"/*.log 2>/dev/null || true)
if ((${#found[@]})); then
  count=$(cat "${found[@]}" | grep -c 'WARNING: ThreadSanitizer' || true)
  echo "tsan: $count ThreadSanitizer report(s), in: ${found[*]}" >&2
  grep -h -A 14 'WARNING: ThreadSanitizer' "${found[@]}" | head -n 200 >&2
  status=1
fi
echo "tsan: $( ((status == 0)) && echo clean || echo FAILED ) in $((SECONDS - start)) s (reports in $reports)"
exit $status
