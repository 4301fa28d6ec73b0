#!/usr/bin/python3
"""Interop peer: a Python `websockets` echo server for the switchboard client (RFC 6455, RFC 7692).

Usage: echo_server.py [--compression deflate|none]
Listens on 127.0.0.1, port chosen by the OS, and prints "PORT <n>" on stdout. Echoes every message with its type.
Subprotocols: chat.v2 (preferred), chat.v1. The text message "close-me" makes it close with 4002 "server bye".
Requests to /forbidden are refused with 403. Exits when stdin closes (its parent went away) or on SIGTERM.
"""
import argparse
import asyncio
import http
import signal
import sys

import websockets


async def handler(ws, path=None):
    try:
        async for msg in ws:
            if msg == "close-me":
                await ws.close(4002, "server bye")
                return
            await ws.send(msg)
    except websockets.exceptions.ConnectionClosed:
        pass


async def refuse(path, headers):
    if path.startswith("/forbidden"):
        return http.HTTPStatus.FORBIDDEN, [("Content-Type", "text/plain")], b"forbidden\n"
    return None


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--compression", choices=["deflate", "none"], default="deflate")
    args = parser.parse_args()
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    # The parent holds our stdin: when it closes, we exit too (no orphan servers).
    loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.read(1) or stop.done() or stop.set_result(None))
    async with websockets.serve(
        handler,
        "127.0.0.1",
        0,
        compression="deflate" if args.compression == "deflate" else None,
        subprotocols=["chat.v2", "chat.v1"],
        process_request=refuse,
        max_size=None,
        ping_interval=None,
        close_timeout=5,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"PORT {port}", flush=True)
        await stop


asyncio.run(main())
