#!/usr/bin/env bash
# Builds release binaries and runs a store and a gateway on this machine, on the bundled dataset.
# Ctrl-C (or SIGTERM) stops both cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

STORE_PORT="${EPILOGUE_STORE_PORT:-7701}"
GATEWAY_PORT="${EPILOGUE_GATEWAY_PORT:-7700}"
DATA_DIR="${EPILOGUE_DATA_DIR:-./data}"

if ! dpkg -s zlib1g-dev >/dev/null 2>&1 && command -v apt-get >/dev/null; then
  echo "installing libz-dev (zlib headers)…"
  apt-get update -qq && apt-get install -y -qq libz-dev
fi

swift build -c release --product epilogue-store
swift build -c release --product epilogue-gateway
bin="$(swift build -c release --show-bin-path)"

"$bin/epilogue-store" --port "$STORE_PORT" --data-dir "$DATA_DIR" &
store=$!
"$bin/epilogue-gateway" --port "$GATEWAY_PORT" --store "127.0.0.1:$STORE_PORT" &
gateway=$!

stopped=0
stop() {
  ((stopped)) && return
  stopped=1
  trap - INT TERM
  kill -TERM "$gateway" "$store" 2>/dev/null || true
  wait "$gateway" "$store" 2>/dev/null || true
  echo "stopped."
}
trap 'stop; exit 0' INT TERM

echo
echo "Epilogue is running: store on 127.0.0.1:$STORE_PORT (data in $DATA_DIR), gateway on 127.0.0.1:$GATEWAY_PORT"
echo "Connect with:  nc 127.0.0.1 $GATEWAY_PORT      (then type HELP)"
echo "Ctrl-C stops both."
wait -n "$store" "$gateway" || true
stop
