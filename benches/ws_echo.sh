#!/usr/bin/env bash
# The WebSocket echo comparison behind docs/BENCHMARKS.md: torsade's `websocket_echo`
# against the same echo written directly on tokio-tungstenite (`baseline_ws_echo`), under
# the load generator's WebSocket mode: 64-byte binary messages, pipelined. Prints the
# server CPU time per message (user + system, /proc/PID/stat) of each and its ratio to
# the baseline's.
#
#   bash benches/ws_echo.sh            # 3 rounds per server, medians reported
#   ROUNDS=1 SECONDS_PER_RUN=3 bash benches/ws_echo.sh   # a quick look
#   MODE=ws bash benches/profile.sh websocket_echo      # instructions per message
#
# Each server runs pinned to core 0 and the load generator to core 1 (`taskset`), on
# loopback only. Every run is bounded by SECONDS_PER_RUN; the rounds are interleaved
# across the servers. Not part of the test run.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-8}
SERVERS=${SERVERS:-"websocket_echo baseline_ws_echo"}
BASELINE=${BASELINE:-baseline_ws_echo}
CONNECTIONS=${CONNECTIONS:-50}
IN_FLIGHT=${IN_FLIGHT:-64}
MESSAGE_SIZE=${MESSAGE_SIZE:-64}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}

. benches/lib.sh
build_examples $SERVERS
trap stop_server EXIT

declare -A rates cpu
for round in $(seq 1 "$ROUNDS"); do
  for server in $SERVERS; do
    start_server "$server"
    report=$(taskset -c "$CLIENT_CORE" "$bin/loadgen" --addr "$address" --mode ws \
      --connections "$CONNECTIONS" --in-flight "$IN_FLIGHT" --message-size "$MESSAGE_SIZE" \
      --duration "$SECONDS_PER_RUN" --server-pid "$server_pid")
    stop_server
    echo "$server round $round: $report" >&2
    rates[$server]+="$(field messages_per_s "$report")"$'\n'
    cpu[$server]+="$(field server_cpu_ns_per_unit "$report")"$'\n'
  done
done

base_cpu=$(median <<<"${cpu[$BASELINE]:-0}")
echo
echo "| server | messages/s | server CPU ns/message | ratio to $BASELINE |"
echo "| --- | --- | --- | --- |"
for server in $SERVERS; do
  server_cpu=$(median <<<"${cpu[$server]}")
  printf '| %s | %.0f | %.0f | %sx |\n' "$server" "$(median <<<"${rates[$server]}")" \
    "$server_cpu" "$(ratio "$server_cpu" "$base_cpu")"
done
echo
echo "($ROUNDS rounds of ${SECONDS_PER_RUN}s each, medians; $CONNECTIONS connections, $IN_FLIGHT messages of $MESSAGE_SIZE bytes in flight on each)"
echo "per round, CPU ns/message:"
for server in $SERVERS; do
  echo "  $server: $(tr '\n' ' ' <<<"${cpu[$server]}")"
done
