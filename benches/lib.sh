# The pieces the load-generator comparisons share (sourced by benches/line_echo.sh and
# benches/ws_echo.sh, never run): building the examples, starting and stopping a server
# under test, and reading the load generator's reports.
#
# Expects SERVER_CORE (the core the server is pinned to). Sets `bin`, the release
# examples' directory; start_server sets `server_pid` and `address`.

bin=${CARGO_TARGET_DIR:-target}/release/examples
server_pid=

# build_examples NAME...: the load generator and examples NAME..., in release mode.
build_examples() {
  cargo build --release --quiet --example loadgen $(printf -- '--example %s ' "$@")
}

# start_server NAME ARG...: example NAME with `--port 0` and ARG..., pinned to
# SERVER_CORE; waits (5 s at most) for its first line, `listening on ADDR`, and sets
# `address` to ADDR. Its output goes to a file removed once it has started.
start_server() {
  local log; log=$(mktemp)
  taskset -c "$SERVER_CORE" "$bin/$1" --port 0 "${@:2}" >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    if head -n1 "$log" | grep -q '^listening on '; then
      address=$(head -n1 "$log" | sed 's/^listening on //')
      rm -f "$log"
      return 0
    fi
    sleep 0.05
  done
  echo "$1 did not start" >&2; cat "$log" >&2; rm -f "$log"; exit 1
}

# stop_server: kills the server start_server started, if any, and waits for it.
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=
}

# field NAME LINE: the value of NAME=... in a load generator report.
field() { grep -oE "(^| )$1=[^ ]+" <<<"$2" | head -n1 | cut -d= -f2; }

# median: the median of the numbers on stdin, one a line (blank lines skipped).
median() { awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ratio A B: A / B to two decimals, or `-` when B is not positive.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
