"""openhivenpy's bot usage (``HivenClient``, ``@client.event()`` handlers, ``run()``), on
tether's engine: only the import line differs from openhivenpy's (plus ``swarm_url`` and
``api_url``, tether's, to point it at ``tether serve``).

    python python/examples/hiven_bot.py

It logs in as a bot, prints the houses once ready, posts ``!ping`` to the first room it
sees, answers ``!ping`` with ``pong`` and stops when its ``pong`` comes back.
"""

import tether.hiven as openhivenpy

TOKEN = "B0t" * 44  # 132 characters: a bot token
SWARM = "ws://127.0.0.1:8780/socket"
API = "http://127.0.0.1:8781/v1"

client = openhivenpy.HivenClient(TOKEN, swarm_url=SWARM, api_url=API)


@client.event()
async def on_ready() -> None:
    print("ready:", ", ".join(sorted(h.name for h in client.houses.values())), flush=True)
    room = next(iter(sorted(next(iter(client.houses.values())).rooms, key=lambda r: r["id"])))
    await client.send_message(room["id"], "!ping")


@client.event()
async def on_message_create(message: openhivenpy.Message) -> None:
    if message.content == "!ping":
        await message.reply("pong")
    elif message.content == "pong" and message.house and message.room:
        print(f"pong in {message.house.name} #{message.room.name}", flush=True)
        await client.stop()


client.run()
