#!/usr/bin/env python3
"""A WebSocket client on Python's `websockets` package that puts an echo server through a
checklist: the independent peer that torsade's `websocket_echo` example is tested against
(tests/websocket_interop.rs).

    python3 tests/interop/ws_client_checks.py ws://127.0.0.1:PORT/ [--max-message-size N]
    python3 tests/interop/ws_client_checks.py wss://127.0.0.1:PORT/ --ca CA.pem [...]

Prints one line per check, `ok: CHECK` or `FAIL: CHECK: WHY`, and exits 1 at the first
failure. N is the server's limit on a message and on a frame (default 16 MiB): a message
of N + 1 bytes must be closed with 1009, so N must be more than 1 MiB for the 1 MiB echoes
to pass. Over wss, the server's certificate is checked against the CA in `--ca` (the
system's roots without it). Every check is bounded in time.

Runs on websockets 10.4 (Debian bookworm's python3-websockets, the legacy API) and on
current releases (13 and later, the new asyncio API): it uses what both have in common.
Frames the library would refuse to send (text that is not UTF-8, an unmasked frame) are
written as bytes on the connection's transport.
"""

import argparse
import asyncio
import os
import ssl
import struct
import sys

import websockets

try:  # websockets 13 and later
    from websockets.asyncio.client import connect
except ImportError:  # websockets 10 to 12: the legacy API
    connect = websockets.connect

CHECK_TIMEOUT = 30.0
MIB = 1024 * 1024


class CheckFailed(Exception):
    pass


def expect(condition, why):
    if not condition:
        raise CheckFailed(why)


def describe(message):
    if isinstance(message, str):
        return f"text of {len(message)} characters"
    return f"binary of {len(message)} bytes"


def frame(opcode, payload, masked=True):
    """The bytes of one final frame, masked as a client's must be unless `masked` is false."""
    head = bytes([0x80 | opcode])
    mask_bit = 0x80 if masked else 0
    if len(payload) < 126:
        head += bytes([mask_bit | len(payload)])
    elif len(payload) < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", len(payload))
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", len(payload))
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))


class Checks:
    def __init__(self, url, max_size, ca):
        self.url = url
        self.max_size = max_size
        self.tls = None
        if url.startswith("wss:"):
            self.tls = ssl.create_default_context(cafile=ca)

    def connect(self):
        # The client accepts anything the server may echo; pings are the checks' own.
        return connect(
            self.url,
            ssl=self.tls,
            max_size=None,
            ping_interval=None,
            close_timeout=CHECK_TIMEOUT,
        )

    async def echoed(self, message):
        async with self.connect() as websocket:
            await websocket.send(message)
            answer = await websocket.recv()
            expect(
                type(answer) is type(message) and answer == message,
                f"sent {describe(message)}, got {describe(answer)}"
                + ("" if type(answer) is not type(message) else " that differs"),
            )

    async def text_echo(self):
        await self.echoed("Hello, torsade! ¿Qué tal? 🌀")

    async def binary_echo(self):
        await self.echoed(bytes(range(256)))

    async def binary_1mib_echo(self):
        await self.echoed(os.urandom(MIB))

    async def text_1mib_echo(self):
        # Characters of 1, 2, 3 and 4 bytes in UTF-8, exactly 1 MiB in all.
        unit = "aé€𝄞"
        text = unit * (MIB // 10) + "a" * (MIB % 10)
        assert len(text.encode()) == MIB
        await self.echoed(text)

    async def fragmented_echo(self):
        async with self.connect() as websocket:
            await websocket.send(["frag", "ment", "ed ✓"])
            answer = await websocket.recv()
            expect(answer == "fragmented ✓", f"three text fragments came back as {answer!r}")

            async def fragments():
                for part in (b"\x00\x01", b"\x02" * 1000, b"\x03"):
                    yield part

            await websocket.send(fragments())
            answer = await websocket.recv()
            expected = b"\x00\x01" + b"\x02" * 1000 + b"\x03"
            expect(answer == expected, f"three binary fragments came back as {describe(answer)}")

    async def ping(self):
        async with self.connect() as websocket:
            pong = await websocket.ping(b"torsade ping")
            await pong
            # The connection still echoes after the ping.
            await websocket.send("after the ping")
            answer = await websocket.recv()
            expect(answer == "after the ping", f"got {answer!r} after the ping")

    async def closed_by_client(self, code, reason):
        async with self.connect() as websocket:
            await websocket.send("before the close")
            await websocket.recv()
            await websocket.close(code, reason)
            expect(
                websocket.close_code == code,
                f"closed with {code}, the server answered {websocket.close_code}",
            )
            return websocket.close_reason

    async def close_1000(self):
        await self.closed_by_client(1000, "")

    async def close_4000_with_reason(self):
        reason = await self.closed_by_client(4000, "done testing")
        return f"the server answered 4000 {reason!r}"

    async def closed_by_server(self, websocket, code, send):
        """Runs `send` on `websocket`, then expects the server to close with `code`."""
        try:
            await send()
            answer = await websocket.recv()
            raise CheckFailed(f"got {describe(answer)} instead of a close")
        except websockets.ConnectionClosed as closed:
            received = closed.rcvd.code if closed.rcvd is not None else None
            expect(
                received == code,
                f"expected a close with {code}, got {received} ({closed})",
            )

    async def bad_utf8_text(self):
        async with self.connect() as websocket:
            bad = frame(0x1, b"caf\xc3\x28 \xff")

            async def send():
                websocket.transport.write(bad)

            await self.closed_by_server(websocket, 1007, send)

    async def unmasked_frame(self):
        async with self.connect() as websocket:
            unmasked = frame(0x1, b"not masked", masked=False)

            async def send():
                websocket.transport.write(unmasked)

            await self.closed_by_server(websocket, 1002, send)

    async def oversized_message(self):
        async with self.connect() as websocket:

            async def send():
                await websocket.send(b"\x00" * (self.max_size + 1))

            await self.closed_by_server(websocket, 1009, send)

    async def oversized_fragmented_message(self):
        # Each frame within the limit, the message over it.
        half = self.max_size // 2 + 1
        async with self.connect() as websocket:

            async def send():
                await websocket.send([b"\x00" * half, b"\x01" * half])

            await self.closed_by_server(websocket, 1009, send)

    def all(self):
        return [
            ("text echo", self.text_echo),
            ("binary echo", self.binary_echo),
            ("1 MiB binary echo", self.binary_1mib_echo),
            ("1 MiB text echo", self.text_1mib_echo),
            ("fragmented message echoed whole", self.fragmented_echo),
            ("ping answered by pong", self.ping),
            ("client close 1000 answered with 1000", self.close_1000),
            ("client close 4000 with a reason answered with 4000", self.close_4000_with_reason),
            ("text that is not UTF-8 closed with 1007", self.bad_utf8_text),
            ("unmasked client frame closed with 1002", self.unmasked_frame),
            (f"message of {self.max_size + 1} bytes closed with 1009", self.oversized_message),
            (
                f"two fragments adding up to {2 * (self.max_size // 2 + 1)} bytes closed with 1009",
                self.oversized_fragmented_message,
            ),
        ]


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the echo server's ws:// URL")
    parser.add_argument(
        "--max-message-size",
        type=int,
        default=16 * MIB,
        metavar="N",
        help="the server's limit on a message and a frame, in bytes (default 16 MiB)",
    )
    parser.add_argument("--ca", metavar="FILE", help="the CA to check a wss server against (PEM)")
    options = parser.parse_args()
    checks = Checks(options.url, options.max_message_size, options.ca)
    for name, check in checks.all():
        try:
            note = await asyncio.wait_for(check(), CHECK_TIMEOUT)
        except asyncio.TimeoutError:
            print(f"FAIL: {name}: no answer within {CHECK_TIMEOUT:.0f} s", flush=True)
            return 1
        except CheckFailed as failure:
            print(f"FAIL: {name}: {failure}", flush=True)
            return 1
        except (OSError, websockets.WebSocketException) as error:
            print(f"FAIL: {name}: {type(error).__name__}: {error}", flush=True)
            return 1
        print(f"ok: {name}" + (f" ({note})" if note else ""), flush=True)
    print(f"all {len(checks.all())} checks passed (websockets {websockets.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
