"""Runs the REAL gather-client-ws 0.0.4 `GatherClient` against a Gather API + engine.

The client has no URL argument: as SPEC section 6 says, the API root of tapioca_gather's
adapter is patched to point at the local `game-server-assignment` route, which names the
engine. Lines on stdout (flushed):

    READY <user id>          once `ready` gave the user id
    RESULT {json}            the outcome, then the script exits 0

Modes:
    status TEXT   set the text status to TEXT, wait for its transactionStatus
    chat          wait for a playerChats event and report it

    python gather_sdk_driver.py --api-root http://127.0.0.1:8776/api/v2/ \
        --space SPACE --api-key KEY status "hello"
"""

import argparse
import asyncio
import json
import logging
import sys

import tapioca_gather.tapioca_gather as tapioca_gather
from gather_client_ws import GatherClient


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--api-root", required=True)
    parser.add_argument("--space", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("mode", choices=["status", "chat"])
    parser.add_argument("text", nargs="?", default="")
    args = parser.parse_args()

    tapioca_gather.GatherClientAdapter.api_root = args.api_root
    events = asyncio.Queue()

    async def callback(client, batch):
        for event in batch.events:
            await events.put(event)

    async def wait_for(kind, predicate=lambda e: True):
        async def loop():
            while True:
                event = await events.get()
                if event.WhichOneof("event") == kind and predicate(getattr(event, kind)):
                    return getattr(event, kind)

        return await asyncio.wait_for(loop(), args.timeout)

    result = {}

    async def producer(client):
        print(f"READY {client._user_id}", flush=True)
        result["user_id"] = client._user_id
        if args.mode == "status":
            await client.set_text_status(args.text)
            status = await wait_for("transactionStatus")
            result["acked"] = status.succeeded
        else:
            chat = await wait_for("playerChats")
            result["sender_id"] = chat.senderId
            result["contents"] = chat.contents
            result["recipient"] = chat.recipient

    client = GatherClient(
        api_key=args.api_key,
        space_id=args.space,
        callback=callback,
        log_level=logging.WARNING,
    )
    asyncio.run(client.run(producer))
    if not result.get("user_id"):
        print("the SDK never got ready", file=sys.stderr, flush=True)
        sys.exit(1)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
