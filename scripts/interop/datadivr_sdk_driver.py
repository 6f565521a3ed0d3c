#!/usr/bin/env python3
"""Drives the REAL datadivr 0.3 Python SDK (`datadivr.WebSocketClient`) against a server,
for interop tests: the same three exchanges the Rust interop test runs with tether's client.

Usage: VENV/bin/python scripts/interop/datadivr_sdk_driver.py ws://127.0.0.1:PORT/ws

Three SDK clients A, B, C connect, each runs the SDK's own `receive_messages()` loop, and
every message that loop parses is recorded (the instance's `handle_event` is wrapped; the
SDK's handlers still run). Then:
  1. each sends `sum_event` {"numbers": [391, 29]} to "all" and waits for its reply;
  2. A sends `chat` to "others" (B and C record it); B does the same (A learns B's id
     from that message's `from_id`);
  3. A sends `direct` to B's id, then `marker` to "all": the first message each client gets
     after that is recorded.
Only waiting is done here; the caller checks the results. The last stdout line is
`RESULT {json}` (the SDK's own handlers print to stdout too, so the prefix marks ours).
Every wait has a timeout; exit status 0 when all exchanges completed, 1 otherwise.
"""
import asyncio
import json
import sys

import structlog

from datadivr import WebSocketClient

TIMEOUT = 10.0


class Recorder:
    """One SDK client whose received messages are queued for the driver."""

    def __init__(self, name: str, url: str):
        self.name = name
        self.client = WebSocketClient(url)
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.task = None
        sdk_handle_event = self.client.handle_event

        async def handle_event(event_data, websocket):
            await self.inbox.put(event_data)
            await sdk_handle_event(event_data, websocket)

        self.client.handle_event = handle_event

    async def start(self) -> None:
        await asyncio.wait_for(self.client.connect(), TIMEOUT)
        self.task = asyncio.create_task(self.client.receive_messages())

    async def next(self, what: str) -> dict:
        try:
            return await asyncio.wait_for(self.inbox.get(), TIMEOUT)
        except asyncio.TimeoutError:
            raise SystemExit(f"datadivr_sdk_driver: {self.name} timed out after {TIMEOUT}s waiting for {what}")

    async def stop(self) -> None:
        await self.client.disconnect()
        if self.task is not None:
            try:
                await asyncio.wait_for(self.task, TIMEOUT)
            except Exception:
                self.task.cancel()


async def run(url: str) -> dict:
    a, b, c = (Recorder(n, url) for n in "ABC")
    for client in (a, b, c):
        await client.start()
    result = {}
    try:
        # 1. sum_event: the reply goes to the sender only; its `to` is the sender's id.
        sums = {}
        for client in (a, b, c):
            await client.client.send_message({"numbers": [391, 29]}, "sum_event", to="all")
            sums[client.name] = await client.next("the sum_event reply")
        result["sum_reply_a"] = sums["A"]
        result["sum_reply_b"] = sums["B"]

        # 2. "others": B and C get A's message with A's id as from_id.
        await a.client.send_message({"n": 1}, "chat", msg="hi all", to="others")
        result["others_at_b"] = await b.next("A's chat to others")
        result["others_at_c"] = await c.next("A's chat to others")
        await b.client.send_message({"n": 2}, "chat", msg="from B", to="others")
        from_b_at_a = await a.next("B's chat to others")
        await c.next("B's chat to others")
        b_id = from_b_at_a["from_id"]
        result["b_id_learned"] = b_id

        # 3. To B's id: B only. The marker to "all" follows it, so A's and C's next
        # message is the marker.
        await a.client.send_message({"x": 1}, "direct", msg="just B", to=b_id)
        await a.client.send_message(None, "marker", to="all")
        result["direct_at_b"] = await b.next("A's direct message")
        result["after_direct_at_b"] = await b.next("the marker")
        result["after_direct_at_a"] = await a.next("the marker")
        result["after_direct_at_c"] = await c.next("the marker")
    finally:
        for client in (a, b, c):
            await client.stop()
    return result


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    # The SDK logs with structlog to stdout; send it to stderr so stdout stays ours.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    result = asyncio.run(run(sys.argv[1]))
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
