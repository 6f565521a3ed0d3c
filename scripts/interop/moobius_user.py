"""The REAL moobius 1.8.0 `WSClient`, as a user, against a Moobius server on ws://.

Usage: moobius_user.py URL --service-id S --user-id U --channel C --token T [--text TEXT]

`WSClient.connect()` always passes `ssl=` to `websockets.connect`, which refuses it for
ws:// (and the SDK then busy-loops). As SPEC section 6 (a) says, the module's
`websockets` is replaced by a stand-in whose `connect(uri, ssl=None, **kw)` calls the real
`websockets.connect(uri, **kw)`. Nothing else is patched.

The client logs in on connect (`user_login`, as the SDK sets `on_connect`), joins the
channel, sends one `message_up` and waits for a `message_down`. Prints one line
`RESULT {"received": [...payloads...]}` and exits 0 once a message_down arrived, 1 after
20 s without one.
"""

import argparse
import asyncio
import json
import os
import sys
import types

import websockets
import moobius.network.ws_client as ws_client_module
from moobius.network.ws_client import WSClient


def patch_ws_scheme():
    real_connect = websockets.connect

    def connect(uri, ssl=None, **kw):
        return real_connect(uri, **kw)

    ws_client_module.websockets = types.SimpleNamespace(connect=connect)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--service-id", required=True)
    parser.add_argument("--user-id", required=True)
    parser.add_argument("--channel", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--text", default="hello from python")
    args = parser.parse_args()
    patch_ws_scheme()

    received = []
    got_down = asyncio.Event()

    async def handle(message):
        payload = json.loads(message)
        received.append(payload)
        if payload.get("type") == "message_down":
            got_down.set()

    client = WSClient(args.url, handle=handle, report_str=" (user)")

    async def on_connect():
        await client.user_login(args.token)

    client.on_connect = on_connect
    await asyncio.wait_for(client.connect(), 20)
    receiver = asyncio.create_task(client.receive())
    await client.join_channel(args.user_id, args.channel)
    await client.message_up(
        args.user_id,
        args.service_id,
        args.channel,
        args.service_id,
        "text",
        {"text": args.text},
    )
    try:
        await asyncio.wait_for(got_down.wait(), 20)
        code = 0
    except asyncio.TimeoutError:
        code = 1
    print("RESULT " + json.dumps({"received": received}), flush=True)
    receiver.cancel()
    sys.stdout.flush()
    # The SDK's queue consumer and receive loop never end by themselves.
    os._exit(code)


if __name__ == "__main__":
    asyncio.run(main())
