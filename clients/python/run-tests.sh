#!/usr/bin/env bash
# The Python reference client's tests: the golden vectors, then a real epilogue-store.
# Called by .ci/run after the Swift build; finds the store binary with `swift build --show-bin-path`
# (or takes EPILOGUE_STORE_BIN).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [[ -z "${EPILOGUE_STORE_BIN:-}" ]]; then
  bin="$(cd "$here/../.." && swift build --show-bin-path)"
  [[ -x "$bin/epilogue-store" ]] || (cd "$here/../.." && swift build --product epilogue-store)
  export EPILOGUE_STORE_BIN="$bin/epilogue-store"
fi
cd "$here"
python3 -m unittest discover -s tests -t . -v "$@"
