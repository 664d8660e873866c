#!/usr/bin/python3
"""Drives a roomcast envelope service the way a Python mcp_common.websocket client does.

Usage: python_client.py <ws-url> <http-base-url>

Prints one JSON line per step: {"step": name, "kind": "text" | "binary", "raw": frame as received}.
Uses only the standard library and Debian's python3-websockets.
"""
import asyncio
import datetime
import json
import sys
import urllib.request
import uuid

import websockets

CHANNEL = "workflow:py1"


def envelope(type_, event=None, data=None, correlation_id=None):
    """A frame as the Python WebSocketClient builds it: uuid id, ISO timestamp, data object."""
    frame = {
        "id": str(uuid.uuid4()),
        "type": type_,
        "data": data or {},
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "correlation_id": correlation_id,
    }
    if event is not None:
        frame["event"] = event
    return json.dumps(frame)


def out(step, frame):
    kind = "binary" if isinstance(frame, bytes) else "text"
    raw = frame.decode() if isinstance(frame, bytes) else frame
    print(json.dumps({"step": step, "kind": kind, "raw": raw}), flush=True)


def http_publish(base):
    body = json.dumps({"channel": CHANNEL, "event": "workflow.started", "data": {"workflow_id": "py1"}}).encode()
    req = urllib.request.Request(base + "/publish", data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as res:
        return res.read().decode()


async def main(url, base):
    async with websockets.connect(url) as ws:
        recv = lambda: asyncio.wait_for(ws.recv(), 5)
        out("welcome", await recv())
        # WebSocketClient.subscribe_to_room: an *event* frame named subscribe with data.room.
        await ws.send(envelope("event", "subscribe", {"room": CHANNEL}))
        out("subscribe", await recv())
        print(json.dumps({"step": "http_publish", "kind": "http", "raw": await asyncio.to_thread(http_publish, base)}), flush=True)
        out("event", await recv())
        # A frame with an id and a different correlation_id is answered under each (docs/protocol.md A.4).
        await ws.send(envelope("request", "get_workflow_status", {"workflow_id": "py1"}, correlation_id="c-py"))
        out("request", await recv())
        out("request_by_id", await recv())
        await ws.send("this is not json")
        out("decode_error", await recv())
        await ws.send(envelope("ping"))
        out("pong", await recv())
        await ws.send(envelope("request", "launch_rocket", {}, correlation_id="c-unknown"))
        out("unknown", await recv())
        out("unknown_by_id", await recv())
        await ws.send(envelope("event", "unsubscribe", {"room": CHANNEL}))
        out("unsubscribe", await recv())
    print(json.dumps({"step": "closed", "kind": "close", "raw": str(ws.close_code)}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
