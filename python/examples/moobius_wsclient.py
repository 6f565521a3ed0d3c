"""The Moobius SDK's ``WSClient`` usage (its docstring: ``WSClient(uri, on_connect=...,
handle=...)``, ``connect()``, the builders, ``receive()``), a service and a user in one
script, on tether's engine: only the import line differs from the SDK's.

Run against ``tether serve`` (the hub's ``moobius`` endpoint is ws://127.0.0.1:8785/):

    python python/examples/moobius_wsclient.py

The user logs in, joins a channel and sends a ``message_up``; the service answers every
``message_up`` with a ``message_down`` to its sender; the user prints it and exits.
"""

import asyncio
import json

from tether.moobius import WSClient

URI = "ws://127.0.0.1:8785/"
SERVICE_ID = "svc-example"
USER_ID = "user-example"
CHANNEL_ID = "ch-example"


async def main() -> None:
    # The service: logs in on connect, answers each message_up.
    async def service_on_connect() -> None:
        await service.service_login(SERVICE_ID, "service-access-token")

    async def service_handle(message: str) -> None:
        payload = json.loads(message)
        if payload["type"] == "message_up":
            body = payload["body"]
            await service.message_down(
                SERVICE_ID,
                SERVICE_ID,
                body["channel_id"],
                body["sender"],
                "text",
                {"text": "echo: " + body["content"]["text"]},
                SERVICE_ID,
            )

    service = WSClient(URI, on_connect=service_on_connect, handle=service_handle)

    # The user: logs in on connect, prints what the service sends.
    answered = asyncio.Event()

    async def user_on_connect() -> None:
        await user.user_login("user-access-token")

    async def user_handle(message: str) -> None:
        payload = json.loads(message)
        if payload["type"] == "message_down":
            print("message_down:", payload["body"]["content"]["text"], flush=True)
            answered.set()

    user = WSClient(URI, on_connect=user_on_connect, handle=user_handle, report_str=" (user)")

    await service.connect()
    service_loop = asyncio.create_task(service.receive())
    await user.connect()
    user_loop = asyncio.create_task(user.receive())
    await user.join_channel(USER_ID, CHANNEL_ID)
    await user.message_up(USER_ID, SERVICE_ID, CHANNEL_ID, SERVICE_ID, "text", {"text": "hello"})
    await asyncio.wait_for(answered.wait(), 20)
    service_loop.cancel()
    user_loop.cancel()


if __name__ == "__main__":
    asyncio.run(main())
