#!/usr/bin/env bash
# Runs the in-memory test binaries under strace and fails if any of them creates a
# socket: the protocol crate's tests, the core's testing-toolkit tests (the simulation and
# the datagram network included) and the chat examples' in-memory tests must not touch
# the network (issue 4). Installs strace from Debian's packages when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v strace >/dev/null 2>&1; then
  echo "installing strace"
  (apt-get update -qq && apt-get install -y -qq strace) >/dev/null
fi

binaries() {
  cargo test "$@" --all-features --no-run 2>&1 | grep -o '(target[^)]*)' | tr -d '()'
}

trace=$(mktemp)
trap 'rm -f "$trace"' EXIT
checked=0
for binary in $(binaries -p torsade-protocols) \
              $(binaries -p torsade --test loopback --test memory_reactor --test clock --test simulation \
                --test datagram_network --example chat --example sim_chat --example udp_echo \
                --example length_prefixed); do
  strace -f -qq -e trace=socket -o "$trace" "$binary" -q >/dev/null
  sockets=$(grep -c 'socket(' "$trace" || true)
  if [ "$sockets" != 0 ]; then
    echo "FAIL: $binary created $sockets socket(s):" >&2
    cat "$trace" >&2
    exit 1
  fi
  checked=$((checked + 1))
done
# None found means the build above failed (its output is filtered): that is a failure,
# not a pass.
if [ "$checked" = 0 ]; then
  echo "FAIL: no in-memory test binary was found to run (did the build fail?)" >&2
  exit 1
fi
echo "$checked in-memory test binaries ran under strace and created no socket"
