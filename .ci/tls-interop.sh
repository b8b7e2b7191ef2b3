#!/usr/bin/env bash
# TLS interoperability: an independent client, OpenSSL's `s_client`, talks to the TLS
# greeting server (examples/greeting_server.rs) with certificates made by OpenSSL, over
# TLS 1.3 and TLS 1.2, checks the certificate chain and host name, and expects the
# greeting back. Then the greeting getter trusts a self-signed certificate made the way
# users make one (`openssl req -x509`, which marks it CA:TRUE) with `--ca`, and refuses it
# for a name it does not hold. Loopback only; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v openssl >/dev/null; then
    echo "installing openssl (Debian package)"
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq openssl >/dev/null
fi
openssl version

work=$(mktemp -d)
server_pid=""
# Defined before the trap that calls it: a failure before any server starts (a build
# that fails) still cleans up with no error of its own.
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
cleanup() {
    stop_server
    rm -rf "$work"
}
trap cleanup EXIT

# A CA (EC P-256) and a server certificate it signs (RSA 2048) for localhost and 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$work/ca.key" -out "$work/ca.pem" -days 2 -subj "/CN=torsade CI CA" \
    2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/server.csr" \
    -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$work/server.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
    -CAcreateserial -days 2 -extfile "$work/server.ext" -out "$work/cert.pem" 2>/dev/null

cargo build --quiet --example greeting_server --example greeting_getter
examples="${CARGO_TARGET_DIR:-target}/debug/examples"

# Starts the TLS greeting server with certificate $1 and key $2 (stopping one already
# running); sets `port`.
start_server() {
    stop_server
    rm -f "$work/server.out"
    mkfifo "$work/server.out"
    "$examples/greeting_server" --port 0 --tls-cert "$1" --tls-key "$2" >"$work/server.out" &
    server_pid=$!
    exec 3<"$work/server.out"
    read -r -t 60 first <&3 || { echo "the TLS greeting server did not start"; exit 1; }
    local address=${first#listening on }
    port=${address##*:}
    echo "TLS greeting server on $address"
}

start_server "$work/cert.pem" "$work/key.pem"

# Asks for one greeting with `s_client` (extra arguments: protocol version); prints the
# answer line.
greet() {
    coproc client {
        exec openssl s_client -quiet -verify_return_error -CAfile "$work/ca.pem" \
            -verify_hostname localhost -servername localhost "$@" \
            -connect "127.0.0.1:$port" 2>"$work/s_client.err"
    }
    local answer=""
    printf 'World\r\n' >&"${client[1]}"
    read -r -t 30 answer <&"${client[0]}" || true
    kill "$client_PID" 2>/dev/null || true
    wait "$client_PID" 2>/dev/null || true
    printf '%s' "${answer%$'\r'}"
}

for version in -tls1_3 -tls1_2; do
    answer=$(greet "$version")
    if [ "$answer" != "Hello, World!" ]; then
        echo "openssl s_client $version got ${answer@Q}, not 'Hello, World!'"
        cat "$work/s_client.err"
        exit 1
    fi
    echo "openssl s_client $version: $answer"
done

# A self-signed certificate as users make it (RSA, as most recipes do): CA:TRUE, its own
# issuer, for localhost.
openssl req -x509 -newkey rsa:2048 -nodes \
    -keyout "$work/self-key.pem" -out "$work/self-cert.pem" -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost" 2>/dev/null
if ! openssl x509 -in "$work/self-cert.pem" -noout -text | grep -q "CA:TRUE"; then
    echo "this openssl made a self-signed certificate without CA:TRUE: the case is not tested"
    exit 1
fi
start_server "$work/self-cert.pem" "$work/self-key.pem"

getter() {
    timeout 60 "$examples/greeting_getter" --tls --ca "$work/self-cert.pem" "$@" \
        >"$work/getter.out" 2>"$work/getter.err"
}

getter --connect "localhost:$port" || {
    echo "the greeting getter refused the self-signed certificate given as its CA"
    cat "$work/getter.out" "$work/getter.err"
    exit 1
}
expected=$'callbacks: Hello, World!\nasync/await: Hello, World!'
if [ "$(cat "$work/getter.out")" != "$expected" ]; then
    echo "greeting_getter with a self-signed --ca printed:"
    cat "$work/getter.out" "$work/getter.err"
    exit 1
fi
echo "greeting_getter --ca self-signed (CA:TRUE) certificate: accepted"

if getter --connect "127.0.0.1:$port"; then
    echo "the greeting getter accepted the self-signed certificate for 127.0.0.1, a name it does not hold"
    exit 1
fi
if ! grep -q "not valid for the name \"127.0.0.1\"" "$work/getter.err"; then
    echo "the wrong-name refusal does not say so:"
    cat "$work/getter.err"
    exit 1
fi
echo "greeting_getter for a name not in the certificate: $(cat "$work/getter.err")"
