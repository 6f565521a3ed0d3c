"""tether.hiven as a drop-in for openhivenpy's HivenClient: token checks before any I/O;
the twin of the real-SDK interop test (crates/tether-hub/tests/interop_hiven.rs: ready
with every fixture house, then a MESSAGE_CREATE posted by another client, linked to its
room and house); login again after a hub drop; the bot example against `tether serve`."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tether.hiven as openhivenpy
from conftest import ROOT, Hub

LIMIT = 20.0
BOT_TOKEN = "PyB0t" * 26 + "pb"
USER_TOKEN = "T3th3r" * 21 + "tt"
GENERAL = "100000000000000011"
EXAMPLE = ROOT / "python" / "examples" / "hiven_bot.py"
#: The login and heartbeat frames, as openhivenpy writes them (`json.dumps` of its
#: payloads; the token raw, where hiven.py, whose frames interop_hiven.rs checks, puts
#: "Bot " before a bot's).
AUTH = '{"op": 2, "d": {"token": "%s"}}'
HEARTBEAT = '{"op": 3}'


def test_the_token_is_checked_before_any_io() -> None:
    assert len(BOT_TOKEN) == 132 and len(USER_TOKEN) == 128
    assert openhivenpy.HivenClient(BOT_TOKEN).client_type == "bot"
    assert openhivenpy.UserClient(USER_TOKEN).client_type == "user"
    with pytest.raises(openhivenpy.InvalidToken, match="characters"):
        openhivenpy.HivenClient("short")
    with pytest.raises(openhivenpy.InvalidClientType):
        openhivenpy.BotClient(USER_TOKEN)
    client = openhivenpy.HivenClient(BOT_TOKEN)
    assert BOT_TOKEN not in repr(client)
    assert client.connection_status == "CLOSED" and client.closed and not client.ready


def ready_event(client: openhivenpy.HivenClient) -> asyncio.Event:
    """An event set by the client's `on_ready`."""
    ready = asyncio.Event()

    @client.event()
    async def on_ready() -> None:
        ready.set()

    return ready


def client_for(hub: Hub, token: str, **kw: Any) -> openhivenpy.HivenClient:
    return openhivenpy.HivenClient(
        token,
        swarm_url=hub["hiven"],
        api_url=hub["hiven-api"],
        backoff_base=0.05,
        backoff_cap=0.2,
        **kw,
    )


def logins(hub: Hub, mark: int, token: str) -> list[list[dict[str, Any]]]:
    """The frames of each Swarm connection made since `mark` that logged in with `token`
    (connections older than the mark send only heartbeats after it)."""
    return [c for c in hub.by_connection("hiven", mark) if token in c[0]["text"]]


async def within(what: str, fut: Any) -> Any:
    try:
        return await asyncio.wait_for(fut, LIMIT)
    except TimeoutError:
        raise AssertionError(f"no {what} within {LIMIT} s") from None


async def test_ready_with_every_house_and_a_message_posted_by_another_client(hub: Hub) -> None:
    """The twin of interop_hiven.rs, with tether's HivenClient in hiven.py's place."""
    mark = hub.mark("hiven")
    python = client_for(hub, BOT_TOKEN)
    ready = asyncio.Event()
    got: asyncio.Future[openhivenpy.Message] = asyncio.get_running_loop().create_future()
    text = "hello hiven.py, from tether"

    @python.event()
    async def on_ready() -> None:
        ready.set()

    @python.event()
    async def on_message_create(message: openhivenpy.Message) -> None:
        if message.content == text and not got.done():
            got.set_result(message)

    runner = asyncio.create_task(python.connect())
    await within("ready", ready.wait())
    assert python.ready and python.initialized and python.open
    assert python.connection_status == "OPEN"
    assert sorted(h.name for h in python.houses.values()) == ["Hub Testing", "Tether Lounge"]
    assert python.startup_time is not None and python.startup_time > 0

    other = client_for(hub, USER_TOKEN)
    other_ready = ready_event(other)
    other_runner = asyncio.create_task(other.connect())
    await within("the other client's ready", other_ready.wait())
    posted = await other.send_message(GENERAL, text)
    assert other.user is not None
    me = other.user
    assert posted.author_id == me.id

    message = await within("the MESSAGE_CREATE", got)
    assert python.ready
    assert message.content == text
    assert message.author_id == me.id
    assert message.author.username == me.username
    assert message.room_id == GENERAL
    assert message.room is not None and message.room.name == "general"
    assert message.house is not None and message.house.name == "Tether Lounge"
    # openhivenpy's attribute paths on the handler's argument.
    assert message.author.id == me.id
    assert message.room.id == GENERAL
    assert message.house.id == message.room.house_id
    assert message.id == posted.id

    # The login frame, byte for byte, as interop_hiven.rs checks hiven.py's; then only
    # heartbeats (messages go over REST).
    bot = logins(hub, mark, BOT_TOKEN)
    assert len(bot) == 1, bot
    assert bot[0][0]["text"] == AUTH % BOT_TOKEN
    assert all(f["text"] == HEARTBEAT for f in bot[0][1:]), bot[0]

    await other.stop()
    await python.stop()
    await within("the clients to stop", asyncio.gather(runner, other_runner))
    assert python.closed


async def test_the_login_is_sent_again_after_a_hub_drop(hub: Hub) -> None:
    mark = hub.mark("hiven")
    client = client_for(hub, USER_TOKEN)
    readies: list[int] = []
    woke = asyncio.Event()
    got: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @client.event()
    async def on_ready() -> None:
        readies.append(1)
        woke.set()

    @client.event()
    async def on_message_create(message: openhivenpy.Message) -> None:
        if message.content == "after the drop" and not got.done():
            got.set_result(message.content)

    runner = asyncio.create_task(client.connect())
    await within("ready", woke.wait())
    woke.clear()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, lambda: hub.fault("hiven", "drop", code=1011))
    await within("ready again", woke.wait())
    assert len(readies) == 2, "INIT_STATE again: the token was sent again"
    posted = await client.send_message(GENERAL, "after the drop")
    assert posted.content == "after the drop"
    assert await within("the MESSAGE_CREATE after the drop", got) == "after the drop"
    # On the wire: the same login first on both connections (a user token: no "Bot ").
    connections = logins(hub, mark, USER_TOKEN)
    assert len(connections) == 2, hub.by_connection("hiven", mark)
    for frames in connections:
        assert frames[0]["text"] == AUTH % USER_TOKEN, frames
        assert all(f["text"] == HEARTBEAT for f in frames[1:]), frames
    await client.stop()
    await within("the client to stop", runner)
    await within("a second stop", client.stop())  # a stopped client stops at once


async def test_a_failing_handler_is_logged_and_the_client_goes_on(hub: Hub) -> None:
    client = client_for(hub, BOT_TOKEN)
    houses: list[str] = []
    ready = asyncio.Event()

    @client.event()
    async def on_house_join(house: Any) -> None:
        houses.append(house.name)
        raise RuntimeError("boom")

    @client.event()
    async def on_ready() -> None:
        ready.set()

    runner = asyncio.create_task(client.connect())
    await within("ready", ready.wait())
    assert sorted(houses) == ["Hub Testing", "Tether Lounge"]
    await client.stop()
    await within("the client to stop", runner)


def test_the_bot_example_runs_with_only_the_import_line_changed(hub: Hub, tmp_path: Path) -> None:
    source = EXAMPLE.read_text()
    assert "import tether.hiven as openhivenpy\n" in source
    source = source.replace("ws://127.0.0.1:8780/socket", hub["hiven"])
    source = source.replace("http://127.0.0.1:8781/v1", hub["hiven-api"])
    script = tmp_path / "hiven_bot.py"
    script.write_text(source)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "ready: Hub Testing, Tether Lounge",
        done.stdout.splitlines()[1],
    ], done.stdout
    assert done.stdout.splitlines()[1].startswith("pong in "), done.stdout
