#!/usr/bin/python3
"""Interop peer: a Python `websockets` client that drives a switchboard echo server (RFC 6455, RFC 7692).

Usage: echo_client.py URL [--compression deflate|none] [--big BYTES]
Sends text and binary messages of every length form, a fragmented message, a run of compressible messages, a large
one, a ping; checks every echo; closes with 4000 "py bye". Prints one JSON line (what was negotiated and seen) and
exits 0, or prints the first mismatch to stderr and exits 1.
"""
import argparse
import asyncio
import json
import sys

import websockets


def fail(message):
    print(f"echo_client.py: {message}", file=sys.stderr)
    sys.exit(1)


def pattern(n, seed):
    return bytes(((i * 31 + seed * 7 + (i >> 8)) & 0xFF) for i in range(n)) if n < 200_000 else \
        (bytes(range(256)) * (n // 256 + 1))[:n]


def text(n, seed):
    ascii_ = "abcdefghijklmnopqrstuvwxyz0123456789"
    unit = ascii_[seed % len(ascii_):] + ascii_[:seed % len(ascii_)]
    if n < 5:
        return unit[:n]
    return "é€" + (unit * ((n - 5) // len(unit) + 1))[: n - 5]


async def expect_echo(ws, sent, what):
    got = await asyncio.wait_for(ws.recv(), timeout=30)
    if type(got) is not type(sent):
        fail(f"{what}: sent {type(sent).__name__}, echo is {type(got).__name__}")
    if got != sent:
        fail(f"{what}: echo differs (sent {len(sent)}, got {len(got)})")


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--compression", choices=["deflate", "none"], default="deflate")
    parser.add_argument("--big", type=int, default=4 << 20)
    parser.add_argument("--protocol", action="append", default=[])
    args = parser.parse_args()

    compression = "deflate" if args.compression == "deflate" else None
    async with websockets.connect(
        args.url,
        compression=compression,
        max_size=None,
        subprotocols=args.protocol or None,
        ping_interval=None,
        close_timeout=10,
    ) as ws:
        extensions = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        count = 0
        for size in (0, 1, 125, 126, 127, 65535, 65536, 1 << 20):
            for msg in (text(size, size), pattern(size, size)):
                await ws.send(msg)
                await expect_echo(ws, msg, f"{type(msg).__name__} of {size} bytes")
                count += 1

        # A fragmented message: websockets sends an iterable as one message in several frames.
        parts = ["frag", "mented ", "mess€ge"]
        await ws.send(parts)
        await expect_echo(ws, "".join(parts), "fragmented text")
        bparts = [pattern(1000, 1), pattern(70000, 2), b""]
        await ws.send(bparts)
        await expect_echo(ws, b"".join(bparts), "fragmented binary")
        count += 2

        # 150 compressible messages, pipelined, then their echoes in order (exercises context takeover).
        batch = [
            json.dumps({"seq": i, "topic": "room:42", "user": f"user-{i % 7}", "body": text(80 + i % 30, i)})
            for i in range(150)
        ]
        for m in batch:
            await ws.send(m)
        for i, m in enumerate(batch):
            await expect_echo(ws, m, f"batch message {i}")
        count += len(batch)

        big = pattern(args.big, 9)
        await ws.send(big)
        await expect_echo(ws, big, f"large binary of {args.big} bytes")
        count += 1

        pong = await ws.ping(b"py-ping")
        await asyncio.wait_for(pong, timeout=10)

        await ws.close(4000, "py bye")
        print(json.dumps({
            "extensions": extensions,
            "subprotocol": ws.subprotocol,
            "messages": count,
            "close_code": ws.close_code,
            "close_reason": ws.close_reason,
            "websockets": websockets.__version__,
        }))


try:
    asyncio.run(main())
except websockets.exceptions.InvalidStatusCode as err:
    fail(f"handshake refused: {err}")
except Exception as err:  # noqa: BLE001 — any failure is an interop failure, reported with its type
    fail(f"{type(err).__name__}: {err}")
