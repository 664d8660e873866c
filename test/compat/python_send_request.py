#!/usr/bin/python3
"""Sends requests exactly as mcp_common's WebSocketClient.send_request does, and matches answers its way.

Usage: python_send_request.py <ws-url>

The upstream client builds {"id": <uuid A>, "type": "request", "event", "data", "correlation_id": <uuid B>,
"timestamp"}, keeps the pending future under A, and resolves it only with a response (or error) whose
correlation_id is A; any other frame goes to its message handlers. It gives up after its timeout.
Prints one JSON line per request: {"event", "resolved": frame | null, "ignored": [frames seen meanwhile]}.
Uses only the standard library and Debian's python3-websockets.
"""
import asyncio
import datetime
import json
import sys
import uuid

import websockets

TIMEOUT = 3.0  # the upstream client's default request timeout


class Client:
    def __init__(self, ws):
        self.ws = ws
        self.pending = {}
        self.ignored = []

    async def reader(self):
        async for raw in self.ws:
            frame = json.loads(raw)
            future = self.pending.pop(frame.get("correlation_id"), None)
            if future is not None and frame.get("type") in ("response", "error"):
                future.set_result(frame)
            else:
                self.ignored.append(frame)

    async def send_request(self, event, data):
        request_id = str(uuid.uuid4())
        frame = {
            "id": request_id,
            "type": "request",
            "event": event,
            "data": data,
            "correlation_id": str(uuid.uuid4()),
            "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        future = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        await self.ws.send(json.dumps(frame))
        try:
            return await asyncio.wait_for(future, TIMEOUT)
        except asyncio.TimeoutError:
            self.pending.pop(request_id, None)
            return None


async def main(url):
    async with websockets.connect(url) as ws:
        await asyncio.wait_for(ws.recv(), 5)  # the welcome
        client = Client(ws)
        reader = asyncio.create_task(client.reader())
        for event, data in (("get_workflow_status", {"workflow_id": "py2"}), ("launch_rocket", {})):
            client.ignored.clear()
            resolved = await client.send_request(event, data)
            print(json.dumps({"event": event, "resolved": resolved, "ignored": list(client.ignored)}), flush=True)
        reader.cancel()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
