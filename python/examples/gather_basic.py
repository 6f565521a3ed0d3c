"""The Gather SDK's "Basic Usage" and "Server response callback" (its README), on
tether's engine: the import line differs from the SDK's, and ``api_root=`` (tether's; the
SDK has no URL argument) points the discovery at ``tether serve``'s ``gather-api``.

    python python/examples/gather_basic.py
"""

import asyncio

from tether.gather import GatherClient

API_KEY = "example-api-key"
SPACE_ID = "example/space"
API_ROOT = "http://127.0.0.1:8776/api/v2/"


async def callback(client, server_response):  # type: ignore[no-untyped-def]
    for event in server_response.events:
        print(event.WhichOneof("event"))


async def producer(client, *args, **kwargs):  # type: ignore[no-untyped-def]
    await client.set_text_status("new status text")
    await client.set_emoji_status("😁")
    print(args)
    print(kwargs)


async def main() -> None:
    client = GatherClient(api_key=API_KEY, space_id=SPACE_ID, callback=callback, api_root=API_ROOT)
    await client.run(producer, "arg", k="kwarg")


asyncio.run(main())
