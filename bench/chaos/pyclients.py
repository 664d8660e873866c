#!/usr/bin/python3
"""The chaos run's Python clients: many envelope connections in one process, each the way a
Python mcp_common.websocket client talks (Debian python3-websockets, uuid-id envelope frames,
WebSocketClient's subscribe: an *event* frame named subscribe with data.room), with the library's
own keepalive (a protocol ping every 20 s, 20 s to answer) and a fixed 1 s reconnect.

Usage: pyclients.py '<json config>'   config: {"urls": [ws base urls], "clients": [{"name", "channels"}],
                                               "rx": receipts file (optional), "t0": the harness's start in ms}

With "rx", receipts go straight to that file as JSON lines {"t", "c", "u", "ch"}, `t` in ms since
"t0" (the harness's clock), instead of through the harness's stdout reader.

Writes JSON lines to stdout for bench/chaos/clients.mjs (PythonClients), which stamps and records them:
  {"k": "conn", "c": name, "up": true}                     subscribed on a new connection
  {"k": "conn", "c": name, "up": false, "code": n|null}    that connection ended
  {"k": "rx", "c": name, "u": uid, "ch": room}             an event with data.uid
  {"k": "bad", "c": name, "msg": text}                     a frame that did not decode, or an error frame
  {"k": "closed"}                                          every connection closed (after stdin ended)
Uses only the standard library and python3-websockets.
"""
import asyncio
import json
import os
import random
import sys
import time

import websockets

# The frames a mcp_common.websocket client sends, as the compat tests check them: one builder for both.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "compat"))
from python_client import envelope  # noqa: E402

out_buf = []
rx_file = None
rx_t0 = 0


def emit_rx(c, u, ch):
    if rx_file is None:
        emit({"k": "rx", "c": c, "u": u, "ch": ch})
    else:
        t = int(time.time() * 1000 - rx_t0)
        rx_file.write(json.dumps({"t": t, "c": c, "u": u, "ch": ch}, separators=(",", ":")) + "\n")


def emit(o):
    out_buf.append(json.dumps(o, separators=(",", ":")))


async def flusher():
    while True:
        await asyncio.sleep(0.05)
        if out_buf:
            sys.stdout.write("\n".join(out_buf) + "\n")
            out_buf.clear()
            sys.stdout.flush()
        if rx_file is not None:
            rx_file.flush()


async def client(name, channels, urls, stop):
    while not stop.is_set():
        url = random.choice(urls) + "/ws"
        up = False
        try:
            async with websockets.connect(url, open_timeout=10, close_timeout=2) as ws:
                waiting = set(channels)
                for ch in channels:
                    await ws.send(envelope("event", "subscribe", {"room": ch}, correlation_id="sub-" + ch))
                stopper = asyncio.ensure_future(stop.wait())
                while True:
                    recv = asyncio.ensure_future(ws.recv())
                    done, _ = await asyncio.wait({recv, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    if stopper in done:
                        recv.cancel()
                        await ws.close()
                        break
                    raw = recv.result()
                    try:
                        f = json.loads(raw)
                    except ValueError:
                        emit({"k": "bad", "c": name, "msg": "undecodable frame"})
                        continue
                    t = f.get("type")
                    data = f.get("data") if isinstance(f.get("data"), dict) else {}
                    if t == "event" and "uid" in data:
                        emit_rx(name, data["uid"], f.get("room"))
                    elif t == "response" and f.get("event") == "subscribe" and data.get("status") == "subscribed":
                        waiting.discard(data.get("channel"))
                        if not waiting and not up:
                            up = True
                            emit({"k": "conn", "c": name, "up": True})
                    elif t == "error":
                        emit({"k": "bad", "c": name, "msg": json.dumps(data)[:200]})
                stopper.cancel()
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as e:
            code = getattr(e, "code", None)
            if up:
                emit({"k": "conn", "c": name, "up": False, "code": code})
            up = False
        if up:
            emit({"k": "conn", "c": name, "up": False, "code": 1000})
        if stop.is_set():
            return
        try:
            await asyncio.wait_for(stop.wait(), 1)
        except asyncio.TimeoutError:
            pass


async def main(config):
    global rx_file, rx_t0
    if config.get("rx"):
        rx_file = open(config["rx"], "a", buffering=1 << 16)
        rx_t0 = config.get("t0", 0)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # stdin's end (the harness closing it, or dying) closes every connection.
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    flush = asyncio.ensure_future(flusher())

    async def watch_stdin():
        while await reader.readline():
            pass
        stop.set()

    watcher = asyncio.ensure_future(watch_stdin())
    await asyncio.gather(*(client(c["name"], c["channels"], config["urls"], stop) for c in config["clients"]))
    watcher.cancel()
    emit({"k": "closed"})
    await asyncio.sleep(0.1)
    flush.cancel()
    if rx_file is not None:
        rx_file.close()
    if out_buf:
        sys.stdout.write("\n".join(out_buf) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
