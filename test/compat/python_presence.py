#!/usr/bin/python3
"""Reads a channel's presence (docs/protocol.md A.10) as a Python client of mcp_common.websocket would.

Usage: python_presence.py <ws-url> <frames.json>

<frames.json> holds the request frames to send, verbatim (the test takes them from docs/protocol.md):
{"auth_alice", "auth_bob", "subscribe", "presence", "presence_stats", "presence_off"}, each a frame.
Two connections, alice and bob, authenticate and subscribe to the channel; alice sees bob's join,
asks presence and presence_stats, then bob leaves and alice sees his leave and asks presence_stats
again; a presence request on a channel without presence is refused. Prints one JSON line per
step: {"step", "sent": frame | null, "got": frame}. Uses only the standard library and Debian's
python3-websockets.
"""
import asyncio
import json
import sys

import websockets

TIMEOUT = 10.0


async def until(ws, pred):
    """The next frame matching pred (others are skipped)."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if pred(frame):
            return frame


def report(step, sent, got):
    print(json.dumps({"step": step, "sent": sent, "got": got}), flush=True)


async def ask(ws, step, frame):
    await ws.send(json.dumps(frame))
    got = await until(ws, lambda f: f.get("correlation_id") == frame["correlation_id"])
    report(step, frame, got)
    return got


async def main(url, frames):
    channel = frames["subscribe"]["data"]["channel"]
    async with websockets.connect(url) as alice:
        report("welcome_alice", None, json.loads(await asyncio.wait_for(alice.recv(), TIMEOUT)))
        await ask(alice, "auth_alice", frames["auth_alice"])
        await ask(alice, "subscribe_alice", frames["subscribe"])
        bob = await websockets.connect(url)
        bob_welcome = json.loads(await asyncio.wait_for(bob.recv(), TIMEOUT))
        report("welcome_bob", None, bob_welcome)
        await ask(bob, "auth_bob", frames["auth_bob"])
        await ask(bob, "subscribe_bob", dict(frames["subscribe"], correlation_id="s-bob"))
        joined = await until(alice, lambda f: f.get("type") == "event" and f.get("event") == "join" and f.get("room") == channel)
        report("join", None, joined)
        await ask(alice, "presence", frames["presence"])
        await ask(alice, "presence_stats", frames["presence_stats"])
        await ask(alice, "presence_off", frames["presence_off"])
        await bob.close()
        left = await until(alice, lambda f: f.get("type") == "event" and f.get("event") == "leave" and f.get("room") == channel)
        report("leave", None, left)
        await ask(alice, "presence_stats_after", dict(frames["presence_stats"], correlation_id="p3"))


if __name__ == "__main__":
    with open(sys.argv[2]) as f:
        asyncio.run(main(sys.argv[1], json.load(f)))
