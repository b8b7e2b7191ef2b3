#!/usr/bin/env bash
# TLS interoperability: an independent client, OpenSSL's `s_client`, talks to the TLS
# greeting server (examples/greeting_server.rs) with certificates made by OpenSSL, over
# TLS 1.3 and TLS 1.2, checks the certificate chain and host name, and expects the
# greeting back. Loopback only; every wait is bounded.
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
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
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

cargo build --quiet --example greeting_server
server="${CARGO_TARGET_DIR:-target}/debug/examples/greeting_server"
mkfifo "$work/server.out"
"$server" --port 0 --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" >"$work/server.out" &
server_pid=$!
exec 3<"$work/server.out"
read -r -t 60 first <&3 || { echo "the TLS greeting server did not start"; exit 1; }
address=${first#listening on }
port=${address##*:}
echo "TLS greeting server on $address"

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
