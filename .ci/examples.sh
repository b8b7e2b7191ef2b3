#!/usr/bin/env bash
# Runs the examples the way a user (or a script) would, and checks their output.
# Needs only bash (its /dev/tcp) and the built examples. Every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=target/debug/examples
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# Starts an example serving on a free port; prints the address from its first line.
start_server() {
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    if head -n1 "$log" | grep -q '^listening on '; then
      head -n1 "$log" | sed 's/^listening on //'
      return 0
    fi
    sleep 0.1
  done
  cat "$log" >&2
  fail "$* did not print 'listening on ADDR'"
}

# Sends one line to HOST:PORT and prints the first line of the answer (CR stripped).
ask() {
  local address=$1 line=$2
  local host=${address%:*} port=${address##*:}
  exec 3<>"/dev/tcp/$host/$port"
  printf '%s\r\n' "$line" >&3
  local answer
  IFS= read -r -t 10 answer <&3 || fail "no answer from $address"
  exec 3<&- 3>&-
  printf '%s\n' "${answer%$'\r'}"
}

echo "- greeting_getter with no arguments (its own server, both styles)"
out=$(timeout 60 "$bin/greeting_getter")
echo "$out"
[ "$(grep -c 'Hello, World!' <<<"$out")" = 2 ] || fail "expected two greetings"
grep -q '^callbacks: Hello, World!$' <<<"$out" || fail "no callback-style greeting"
grep -q '^async/await: Hello, World!$' <<<"$out" || fail "no async-style greeting"

echo "- greeting_server --port 0, then greeting_getter --connect and a raw client"
address=$(start_server /tmp/torsade-greeting-server.log "$bin/greeting_server" --port 0)
echo "  server at $address"
out=$(timeout 60 "$bin/greeting_getter" --connect "$address" --name Alice)
echo "$out"
[ "$(grep -c 'Hello, Alice!' <<<"$out")" = 2 ] || fail "expected two greetings for Alice"
[ "$(ask "$address" Bob)" = "Hello, Bob!" ] || fail "raw client got no greeting"
[ "$(ask "$address" "")" = "ERROR empty name" ] || fail "empty name not refused"

echo "- greeting_coroutine, its own server and then the running one"
[ "$(timeout 60 "$bin/greeting_coroutine")" = "Hello, World!" ] || fail "greeting_coroutine"
[ "$(timeout 60 "$bin/greeting_coroutine" --connect "$address" --name Carol)" = "Hello, Carol!" ] \
  || fail "greeting_coroutine --connect"

echo "- greeting_getter against a refused port exits non-zero with one line"
set +e
err=$(timeout 60 "$bin/greeting_getter" --connect 127.0.0.1:1 2>&1 >/dev/null)
status=$?
set -e
echo "  exit $status: $err"
[ "$status" != 0 ] || fail "a refused connection exited 0"
[ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "expected a one-line error"

echo "- line_echo --port 0"
address=$(start_server /tmp/torsade-line-echo.log "$bin/line_echo" --port 0)
echo "  server at $address"
[ "$(ask "$address" "echo me")" = "echo me" ] || fail "line_echo did not echo"

echo "examples OK"
