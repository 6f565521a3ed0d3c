"""tether's Python quick start: run `tether serve`, then this file.

The hub's echo-ack endpoint (ws://127.0.0.1:8701/) answers every JSON object that has an
"id" with {"id": ..., "ack": true}: tether treats that as the acknowledgement.
"""

import asyncio

import tether


async def main() -> None:
    async with tether.Client("ws://127.0.0.1:8701/", ack_field="id") as client:
        receipt = await client.send({"id": 1, "text": "hello"})
        await receipt  # delivered: the server acknowledged id 1
        reply = await client.request({"id": 2, "text": "are you there?"}, timeout=5)
        print("reply:", reply.data)
        burst = await client.send_many({"id": n, "n": n} for n in range(3, 1003))
        print("delivered:", await burst)
        print(client.stats())


asyncio.run(main())
