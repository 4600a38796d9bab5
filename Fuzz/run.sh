#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each for SECONDS (default 60) on a copy of the committed
# seed corpus. Exits non-zero if a target crashes; the crashing input is left in Fuzz/crashes/.
#   Fuzz/run.sh                 # CI: 60 s per target, one after the other
#   Fuzz/run.sh 3600            # a long run
#   FUZZ_PARALLEL=1 Fuzz/run.sh 5400   # the three targets at once (one core each, if you have them)
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
targets=(FuzzFrameDecoder FuzzTextCommand FuzzLogRecovery FuzzSearchQuery)

for target in "${targets[@]}"; do
  # lld: with gold, the link of a libFuzzer driver fails (gold crashes formatting the error).
  swift build -c release --product "$target" -Xswiftc -sanitize=fuzzer -Xswiftc -use-ld=lld 2>&1 | tail -n 1
done
bin="$(swift build -c release -Xswiftc -sanitize=fuzzer -Xswiftc -use-ld=lld --show-bin-path)"

mkdir -p crashes
# One target: fuzz a copy of its seeds, then print libFuzzer's summary lines (corpus size at the
# start and the end, exec count) and remove the copy.
fuzz() {
  local target="$1" work log rc=0
  work="$(mktemp -d)"
  log="$work.log"
  cp -r "Corpus/$target/." "$work/"
  # SWIFT_BACKTRACE=enable=no: a trap exits at once and libFuzzer writes the crash file.
  SWIFT_BACKTRACE=enable=no "$bin/$target" "$work" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="crashes/$target-" -max_len=8192 >"$log" 2>&1 || rc=$?
  grep -E '^(stat::|#[0-9]+[[:space:]]+(INITED|DONE)|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)' "$log" \
    | sed "s/^/$target: /" || true
  # A crash leaves its input in crashes/ (reported below). Anything else that is not a clean run
  # to the time limit (a fuzzer that did not start, or stopped early) is a failure of its own.
  if ((rc != 0)) && ! ls crashes/"$target"-* >/dev/null 2>&1; then
    echo "$target: exited $rc without a crash file; last lines:"; tail -n 20 "$log" | sed "s/^/$target: /"
    echo "$target" >>"$failed"
  elif ((rc == 0)) && ! grep -qE '^#[0-9]+[[:space:]]+DONE' "$log"; then
    echo "$target: no DONE line: the fuzzer did not run to its time limit"; echo "$target" >>"$failed"
  fi
  rm -rf "$work" "$log"
}

failed="$(mktemp)"
trap 'rm -f "$failed"' EXIT

if [[ -n "${FUZZ_PARALLEL:-}" ]]; then
  for target in "${targets[@]}"; do fuzz "$target" & done
  wait
else
  for target in "${targets[@]}"; do
    echo "== $target for ${seconds}s"
    fuzz "$target"
  done
fi

status=0
if [[ -s "$failed" ]]; then
  echo "FAILED TO RUN: $(tr '\n' ' ' <"$failed")"; status=1
fi
for target in "${targets[@]}"; do
  if ls crashes/"$target"-* >/dev/null 2>&1; then
    echo "CRASH in $target:"; ls -l crashes/"$target"-*; status=1
  fi
done
exit "$status"
