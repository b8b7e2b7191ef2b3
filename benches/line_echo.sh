#!/usr/bin/env bash
# The line-echo comparison behind docs/BENCHMARKS.md: torsade's `line_echo` (a
# `LineReceiver`) and `echo` (a plain `Protocol`) against a hand-written tokio server and
# tokio-util's `LinesCodec`, under the load generator; and over TLS, torsade's
# `line_echo` against the hand-written server on tokio-rustls (`NAME_tls`: example NAME
# with certificates made by openssl, the load generator on tokio-rustls).
#
#   bash benches/line_echo.sh            # 3 rounds per measurement, medians reported
#   ROUNDS=1 SECONDS_PER_RUN=3 bash benches/line_echo.sh   # a quick look
#
# Each server runs pinned to core 0 and the load generator to core 1 (`taskset`), on
# loopback only. Every run is bounded by SECONDS_PER_RUN; the whole script takes about
# 6 servers x 4 modes x ROUNDS x SECONDS_PER_RUN. Not part of the test run. Ratios are
# to the hand-written server: the plain one for plain servers, the TLS one for TLS.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-8}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-10000}
SERVERS=${SERVERS:-"line_echo echo baseline_tokio_echo baseline_lines_codec line_echo_tls baseline_tokio_echo_tls"}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}

. benches/lib.sh
build_examples $(for s in $SERVERS; do echo "${s%_tls}"; done | sort -u)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Certificates for the TLS runs: a CA and a P-256 server certificate for localhost.
certs=$(mktemp -d)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$certs/ca.key" -out "$certs/ca.pem" -days 2 -subj "/CN=bench CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$certs/key.pem" -out "$certs/server.csr" -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$certs/server.ext"
openssl x509 -req -in "$certs/server.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" \
  -CAcreateserial -days 2 -extfile "$certs/server.ext" -out "$certs/cert.pem" 2>/dev/null

trap 'stop_server; rm -rf "$certs"' EXIT

# start_tls_aware NAME: a server `NAME_tls` is example NAME with the TLS flags.
start_tls_aware() {
  if [ "${1%_tls}" != "$1" ]; then
    start_server "${1%_tls}" --tls-cert "$certs/cert.pem" --tls-key "$certs/key.pem"
  else
    start_server "$1"
  fi
}

# Rounds are interleaved: each round runs every server back to back, mode by mode, so a
# machine whose speed drifts over the minutes of the run moves every server alike (seen
# here: the hand-written server's CPU per line moved from 106 to 133 ns over one day).
declare -A samples
for round in $(seq 1 "$ROUNDS"); do
  for mode in pipelined rr churn idle; do
    for server in $SERVERS; do
      start_tls_aware "$server"
      case $mode in
        pipelined) args=(--connections 50 --in-flight 64 --line-size 64) ;;
        rr) args=(--connections 1 --line-size 64) ;;
        churn) args=(--connections 8 --line-size 64) ;;
        idle) args=(--connections "$IDLE_CONNECTIONS" --line-size 64) ;;
      esac
      if [ "${server%_tls}" != "$server" ]; then args+=(--tls --ca "$certs/ca.pem"); fi
      report=$(taskset -c "$CLIENT_CORE" "$bin/loadgen" --addr "$address" --mode "$mode" \
        --duration "$SECONDS_PER_RUN" --server-pid "$server_pid" "${args[@]}")
      stop_server
      echo "$server $mode round $round: $report" >&2
      case $mode in
        pipelined) sample="$(field lines_per_s "$report") $(field server_cpu_ns_per_unit "$report")" ;;
        rr) sample="$(field p50_us "$report") $(field p99_us "$report") $(field server_cpu_ns_per_unit "$report")" ;;
        churn) sample="$(field connections_per_s "$report") $(field server_cpu_ns_per_unit "$report")" ;;
        idle) sample="$(field bytes_per_connection "$report")" ;;
      esac
      samples[$server,$mode]+="$sample"$'\n'
    done
  done
done

declare -A result
for server in $SERVERS; do
  for mode in pipelined rr churn idle; do
    columns=$(head -n1 <<<"${samples[$server,$mode]}" | wc -w)
    for column in $(seq 1 "$columns"); do
      result[$server,$mode,$column]=$(awk -v c="$column" 'NF { print $c }' <<<"${samples[$server,$mode]}" | median)
    done
  done
done

# base SERVER: what SERVER's ratios are to.
base() { if [ "${1%_tls}" != "$1" ]; then echo baseline_tokio_echo_tls; else echo baseline_tokio_echo; fi; }
echo
echo "| server | pipelined lines/s | CPU ns/line | rr p50 µs | rr p99 µs | rr CPU µs/req | churn conn/s | CPU µs/conn | idle B/conn |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for server in $SERVERS; do
  b=$(base "$server")
  printf '| %s | %.0f (%sx) | %.0f (%sx) | %s | %s (%sx) | %.1f (%sx) | %.0f (%sx) | %.1f (%sx) | %s (%sx) |\n' \
    "$server" \
    "${result[$server,pipelined,1]}" "$(ratio "${result[$server,pipelined,1]}" "${result[$b,pipelined,1]:-0}")" \
    "${result[$server,pipelined,2]}" "$(ratio "${result[$server,pipelined,2]}" "${result[$b,pipelined,2]:-0}")" \
    "${result[$server,rr,1]}" \
    "${result[$server,rr,2]}" "$(ratio "${result[$server,rr,2]}" "${result[$b,rr,2]:-0}")" \
    "$(awk -v n="${result[$server,rr,3]}" 'BEGIN { printf "%.1f", n / 1000 }')" "$(ratio "${result[$server,rr,3]}" "${result[$b,rr,3]:-0}")" \
    "${result[$server,churn,1]}" "$(ratio "${result[$server,churn,1]}" "${result[$b,churn,1]:-0}")" \
    "$(awk -v n="${result[$server,churn,2]}" 'BEGIN { printf "%.1f", n / 1000 }')" "$(ratio "${result[$server,churn,2]}" "${result[$b,churn,2]:-0}")" \
    "${result[$server,idle,1]}" "$(ratio "${result[$server,idle,1]}" "${result[$b,idle,1]:-0}")"
done
echo
echo "(ratios are to baseline_tokio_echo, or baseline_tokio_echo_tls for TLS servers; $ROUNDS rounds of ${SECONDS_PER_RUN}s each, medians)"
