#!/usr/bin/env bash
# Instructions per echoed line (or WebSocket message), user space, for one server under the
# pipelined load:
# the server runs under valgrind's callgrind, the load generator drives it for DURATION
# seconds, then the profile is dumped and summarised (docs/BENCHMARKS.md, "Where the CPU
# per line goes"). Counts, not times: repeatable whatever else the machine does.
#
#   bash benches/profile.sh                       # line_echo
#   bash benches/profile.sh baseline_tokio_echo   # the hand-written server
#   MODE=ws bash benches/profile.sh websocket_echo  # WebSocket echo: 64-byte binary messages
#   MODE=ws bash benches/profile.sh baseline_ws_echo  # the same on tokio-tungstenite
#   callgrind_annotate --inclusive=yes target/callgrind.line_echo.out | less
#
# Needs valgrind (Debian's valgrind package). Loopback only; bounded by DURATION.
set -euo pipefail
cd "$(dirname "$0")/.."

server=${1:-line_echo}
DURATION=${DURATION:-10}
MODE=${MODE:-pipelined}
cargo build --release --quiet --example loadgen --example "$server"
bin=${CARGO_TARGET_DIR:-target}/release/examples
out=${CARGO_TARGET_DIR:-target}/callgrind.$server.out
log=$(mktemp)
rm -f "$out"*
valgrind --tool=callgrind ${CALLGRIND_OPTIONS:-} --callgrind-out-file="$out" "$bin/$server" --port 0 >"$log" 2>/dev/null &
pid=$!
disown "$pid"
trap 'kill -9 $pid 2>/dev/null || true; rm -f "$log"' EXIT
address=
for _ in $(seq 1 300); do
  address=$(sed -n 's/^listening on //p' "$log" | head -n1)
  [ -n "$address" ] && break
  sleep 0.1
done
[ -n "$address" ] || { echo "$server did not start under valgrind" >&2; exit 1; }
case $MODE in
  pipelined) load=(--line-size 64); unit=line ;;
  ws) load=(--message-size 64); unit=message ;;
  *) echo "MODE is pipelined or ws" >&2; exit 2 ;;
esac
report=$("$bin/loadgen" --addr "$address" --mode "$MODE" --duration "$DURATION" \
  --connections 50 --in-flight 64 "${load[@]}")
callgrind_control -d "$pid" >/dev/null 2>&1
count=$(grep -oE '(lines|messages)=[0-9]+' <<<"$report" | cut -d= -f2)
dump=$(ls -t "$out"* | head -n1)
total=$(callgrind_annotate "$dump" | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
echo "$server: $count ${unit}s, $total instructions, $((total / count)) instructions per $unit"
echo "profile: $dump"
