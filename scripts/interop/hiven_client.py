#!/usr/bin/env python3
"""Runs the REAL hiven.py 0.0.3 client against a Swarm, for interop tests.

Usage: VENV/bin/python scripts/interop/hiven_client.py WS_URL TOKEN EXPECTED_CONTENT

hiven.py has no URL argument: as SPEC section 6 says, the module constant
`hiven.gateway.websocket.WEBSOCKET_URL` is patched (patching `hiven.data` is not enough,
the name was imported directly). Then `WebSocketClient(aiohttp.ClientSession(),
hiven.Client()).connect(token)` runs, as `Client.run` would, with a bot client (hiven.py
sends "Bot " + token).

Prints `READY {json}` once hiven.py fires its own `ready` event (it needs INIT_STATE and
then every HOUSE_JOIN in a later read), then waits for a MESSAGE_CREATE whose content is
EXPECTED_CONTENT, parsed by hiven.py's own `Message` type, and prints `RESULT {json}`.
Every wait has a timeout; exit status 0 when both happened, 1 otherwise.
"""
import asyncio
import json
import sys

import aiohttp

import hiven
import hiven.gateway.websocket as hiven_ws
from hiven.gateway import WebSocketClient

TIMEOUT = 20.0


async def main(url: str, token: str, expected: str) -> int:
    hiven_ws.WEBSOCKET_URL = url
    client = hiven.Client(bot=True)
    ready = asyncio.Event()
    got = asyncio.get_running_loop().create_future()

    @client.event
    async def on_ready():
        ready.set()

    @client.event
    async def on_message(message):
        if message.content == expected and not got.done():
            got.set_result(message)

    async with aiohttp.ClientSession() as session:
        ws = WebSocketClient(session, client)
        runner = asyncio.create_task(ws.connect(token=token, bot=True))
        try:
            await asyncio.wait_for(ready.wait(), TIMEOUT)
        except asyncio.TimeoutError:
            print("RESULT " + json.dumps({"ready": False, "houses": len(client.houses)}), flush=True)
            runner.cancel()
            return 1
        print(
            "READY "
            + json.dumps(
                {
                    "user_id": client.user.id,
                    "username": client.user.username,
                    "houses": sorted(h.name for h in client.houses.values()),
                }
            ),
            flush=True,
        )
        try:
            message = await asyncio.wait_for(got, TIMEOUT)
        except asyncio.TimeoutError:
            print("RESULT " + json.dumps({"ready": True, "message": None}), flush=True)
            runner.cancel()
            return 1
        result = {
            "ready": client.is_ready,
            "content": message.content,
            "author_id": message.author_id,
            "author_username": message.author.username,
            "room_id": message.room_id,
            "room_name": message.room.name if message.room else None,
            "house_name": message.house.name if message.house else None,
        }
        print("RESULT " + json.dumps(result), flush=True)
        runner.cancel()
        try:
            await ws._ws.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
        return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3])))
