#!/usr/bin/env python3
"""A WebSocket echo server on Python's `websockets` package: the independent peer that
torsade's `websocket_client` example is tested against (tests/websocket_interop.rs).

    python3 tests/interop/ws_echo_server.py [--refuse] [--close-after-first CODE]
        [--fragment N] [--ping-first] [--bad-utf8] [--tls-cert FILE --tls-key FILE]

Listens on 127.0.0.1, a port the system picks, and prints `listening on 127.0.0.1:PORT`
first. Echoes every text and binary message; when a connection has closed it prints
`closed CODE` (the code the client's close frame carried, 1006 when there was none).
`--refuse` refuses every handshake with HTTP 403; `--close-after-first CODE` echoes the
first message, then closes with CODE; `--fragment N` sends each echo in fragments of N
characters or bytes; `--ping-first` pings before each echo and closes with 1011 when no
pong comes within 10 s; `--bad-utf8` answers the first message with a text frame that is
not UTF-8 instead (the client must close with 1007); `--tls-cert` and `--tls-key` (PEM)
serve wss.

Runs on websockets 10.4 (Debian bookworm's python3-websockets, the legacy API) and on
current releases (13 and later, the new asyncio API).
"""

import argparse
import asyncio
import http
import ssl
import sys

import websockets

try:  # websockets 13 and later
    from websockets.asyncio.server import serve

    NEW_API = True
except ImportError:  # websockets 10 to 12: the legacy API
    serve = websockets.serve
    NEW_API = False

MAX_SIZE = 16 * 1024 * 1024
PONG_TIMEOUT = 10.0
# A final text frame, unmasked as a server's, whose payload is not UTF-8.
BAD_UTF8_FRAME = bytes([0x81, 4]) + b"caf\xc3"


def refuse_new(connection, request):
    return connection.respond(http.HTTPStatus.FORBIDDEN, "refused by the test server\n")


def refuse_legacy(path, request_headers):
    return http.HTTPStatus.FORBIDDEN, [], b"refused by the test server\n"


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refuse", action="store_true", help="refuse every handshake (403)")
    parser.add_argument(
        "--close-after-first", type=int, metavar="CODE", help="close with CODE after one echo"
    )
    parser.add_argument(
        "--fragment", type=int, metavar="N", help="echo in fragments of N characters or bytes"
    )
    parser.add_argument("--ping-first", action="store_true", help="ping before each echo")
    parser.add_argument(
        "--bad-utf8", action="store_true", help="answer with a text frame that is not UTF-8"
    )
    parser.add_argument("--tls-cert", metavar="FILE", help="serve wss with this certificate chain")
    parser.add_argument("--tls-key", metavar="FILE", help="the certificate's private key")
    options = parser.parse_args()
    tls = None
    if options.tls_cert or options.tls_key:
        if not (options.tls_cert and options.tls_key):
            parser.error("--tls-cert and --tls-key go together")
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(options.tls_cert, options.tls_key)

    async def answer(websocket, message):
        """Echoes `message` as the options say; false when the connection is to end."""
        if options.bad_utf8:
            websocket.transport.write(BAD_UTF8_FRAME)
            return True
        if options.ping_first:
            pong = await websocket.ping(b"from python")
            try:
                await asyncio.wait_for(pong, PONG_TIMEOUT)
            except asyncio.TimeoutError:
                await websocket.close(1011, "no pong")
                return False
        if options.fragment:
            step = options.fragment
            await websocket.send([message[i : i + step] for i in range(0, len(message), step)])
        else:
            await websocket.send(message)
        if options.close_after_first is not None:
            await websocket.close(options.close_after_first, "closing after one echo")
            return False
        return True

    async def echo(websocket, *_path):
        try:
            async for message in websocket:
                if not await answer(websocket, message):
                    break
        except websockets.ConnectionClosed:
            pass
        await websocket.wait_closed()
        print(f"closed {websocket.close_code}", flush=True)

    refuse = None
    if options.refuse:
        refuse = refuse_new if NEW_API else refuse_legacy
    server = await serve(
        echo,
        "127.0.0.1",
        0,
        process_request=refuse,
        ssl=tls,
        max_size=MAX_SIZE,
        ping_interval=None,
    )
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    await asyncio.Future()  # serves until killed


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
