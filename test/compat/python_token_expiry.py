#!/usr/bin/python3
"""An mcp_common-style envelope client through a token expiry: it knows no token.expiring event and
no refresh, so it hands the warning to its message handlers like any unknown frame, is closed at the
token's exp, and reconnects with the token it has then.

Usage: python_token_expiry.py <ws-url> <first token> <next token>

Like upstream WebSocketClient.send_request, a request carries id A and a fresh correlation_id B
and is answered when a response or error with correlation_id A arrives. Prints one JSON line per
step: {"step", ...}. Uses only the standard library and Debian's python3-websockets.
"""
import asyncio
import datetime
import json
import sys
import uuid

import websockets

TIMEOUT = 15.0


def out(step, **fields):
    print(json.dumps({"step": step, **fields}), flush=True)


async def send_request(ws, event, data):
    """Sends a request as send_request does; returns its answer (matched on id A) and the frames seen meanwhile."""
    request_id = str(uuid.uuid4())
    await ws.send(json.dumps({
        "id": request_id,
        "type": "request",
        "event": event,
        "data": data,
        "correlation_id": str(uuid.uuid4()),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }))
    seen = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if frame.get("correlation_id") == request_id and frame.get("type") in ("response", "error"):
            return frame, seen
        seen.append(frame)


async def session(url, token, until_closed):
    async with websockets.connect(url) as ws:
        answer, _ = await send_request(ws, "auth", {"token": token})
        out("auth", frame=answer)
        if not until_closed:
            status, _ = await send_request(ws, "get_status", {})
            out("status", frame=status)
            return
        handled = []  # what the client's message handlers got: every frame it did not wait for
        try:
            async for raw in ws:
                handled.append(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
        out("handled", frames=handled)
        out("closed", code=ws.close_code, reason=ws.close_reason)


async def main(url, first, following):
    await asyncio.wait_for(session(url, first, True), 30)
    await asyncio.wait_for(session(url, following, False), 30)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
