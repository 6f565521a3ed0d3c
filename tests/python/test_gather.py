"""tether.gather as a drop-in for gather-client-ws 0.0.4: the 129 actions in the SDK's
order with its docstrings; the SDK's README usage against `tether serve`; the twins of
the real-SDK interop tests (crates/tether-hub/tests/interop_gather.rs: a text status seen
by another client of the space, a chat received); actions acknowledged and replayed with
their txnId through a hub fault."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import message_factory

from conftest import ROOT, Hub
from tether.gather import ClientServerAction, GatherClient, GatherError, ServerClientBatch

LIMIT = 20.0
API_KEY = "interop-api-key"
EXAMPLE = ROOT / "python" / "examples" / "gather_basic.py"
GOLDEN = ROOT / "testdata" / "golden" / "out" / "gather.json"


def test_the_actions_are_the_sdks_in_its_order_with_its_docstrings() -> None:
    golden = json.loads(GOLDEN.read_text())["client_server_action_oneof"]
    assert GatherClient.available_actions == [a["client_method"] for a in golden]
    assert len(GatherClient.available_actions) == 129
    doc = GatherClient(API_KEY, "s").set_text_status.__doc__
    assert doc == "set_text_status\nArgs:\n\ttext_status (str)\n\ttarget_id (str)"
    venv = Path(os.environ.get("TETHER_PEERS_VENV", ROOT / ".venv-peers"))
    if not (venv / "bin" / "python").exists():
        return
    script = (
        "import json; from gather_client_ws import GatherClient as G; c = G('k', 's');"
        "print(json.dumps([[n, getattr(c, n).__doc__] for n in c.available_actions]))"
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    ours = [[n, getattr(GatherClient, n).__doc__] for n in GatherClient.available_actions]
    assert ours == json.loads(out.stdout), "the real SDK's names and docstrings"


class Peer:
    """A tether GatherClient running `producer` in a task; every event it got."""

    def __init__(self, hub: Hub, space: str, **kw: Any) -> None:
        self.events: list[Any] = []
        self.arrived = asyncio.Event()
        self.client = GatherClient(
            api_key=API_KEY,
            space_id=space,
            callback=self.callback,
            api_root=hub["gather-api"],
            backoff_base=0.02,
            backoff_cap=0.2,
            **kw,
        )
        self.ready = asyncio.Event()
        self.done = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def callback(self, client: GatherClient, server_response: Any) -> None:
        assert isinstance(server_response, ServerClientBatch)
        for event in server_response.events:
            self.events.append(event)
        self.arrived.set()

    def start(self, body: Callable[[GatherClient], Awaitable[None]] | None = None) -> Peer:
        async def producer(client: GatherClient) -> None:
            self.ready.set()
            if body is not None:
                await body(client)
            await self.done.wait()

        self.task = asyncio.create_task(self.client.run(producer))
        return self

    async def find(self, kind: str, pick: Callable[[Any], bool] = lambda e: True) -> Any:
        async def look() -> Any:
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if event.WhichOneof("event") == kind and pick(getattr(event, kind)):
                        return getattr(event, kind)
                seen = len(self.events)
                self.arrived.clear()
                await self.arrived.wait()

        try:
            return await asyncio.wait_for(look(), LIMIT)
        except TimeoutError:
            kinds = [e.WhichOneof("event") for e in self.events]
            raise AssertionError(f"no {kind} event; got {kinds}") from None

    async def stop(self) -> None:
        self.done.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, LIMIT)


async def test_a_text_status_reaches_another_client_in_the_space(hub: Hub) -> None:
    """The twin of the first interop_gather.rs test, with tether's GatherClient in the
    real SDK's place (set_text_status, acknowledged by a transactionStatus)."""
    space = "interop/status space"
    watcher = Peer(hub, space).start()
    await asyncio.wait_for(watcher.ready.wait(), LIMIT)

    async def set_status(client: GatherClient) -> None:
        receipt = await client.set_text_status("hello from the python sdk")
        await receipt  # acknowledged by its transactionStatus

    sdk = Peer(hub, space).start(set_status)
    await asyncio.wait_for(sdk.ready.wait(), LIMIT)
    sdk_user = sdk.client._user_id
    assert sdk_user, "the client got its user id"
    mapping = await watcher.find("spaceSetsIdMapping", lambda m: m.uid == sdk_user)
    status = await watcher.find("playerSetsTextStatus", lambda s: s.encId == mapping.encId)
    assert status.textStatus == "hello from the python sdk"
    acked = await sdk.find("transactionStatus")
    assert acked.succeeded, "the client got a transactionStatus"
    await sdk.stop()
    await watcher.stop()


async def test_a_chat_reaches_another_client_in_the_space(hub: Hub) -> None:
    """The twin of the second interop_gather.rs test: a chat, received by the other."""
    space = "interop/chat space"
    sdk = Peer(hub, space).start()
    await asyncio.wait_for(sdk.ready.wait(), LIMIT)
    sdk_user = sdk.client._user_id

    tether = Peer(hub, space)

    async def chat(client: GatherClient) -> None:
        # The other client's player is in the space.
        await tether.find("spaceSetsIdMapping", lambda m: m.uid == sdk_user)
        await client.chat("GLOBAL_CHAT", "hello from tether", [], "office")

    tether.start(chat)
    await asyncio.wait_for(tether.ready.wait(), LIMIT)
    tether_user = tether.client._user_id
    got = await sdk.find("playerChats")
    assert got.senderId == tether_user
    assert got.contents == "hello from tether"
    assert got.recipient == "GLOBAL_CHAT"
    acks = [
        e.transactionStatus for e in tether.events if e.WhichOneof("event") == "transactionStatus"
    ]
    assert acks and all(a.succeeded for a in acks)
    await tether.stop()
    await sdk.stop()


async def test_actions_are_acknowledged_and_replayed_with_their_txn_id_after_a_hub_fault(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    loop = asyncio.get_running_loop()

    async def statuses(client: GatherClient) -> None:
        # Sent into a stalled connection: written, never acknowledged; then the
        # connection is reset and the engine replays them (same bytes, same txnIds) after
        # the new init.
        await loop.run_in_executor(None, lambda: hub.fault("gather", "stall"))
        engine = client._engine
        assert engine is not None
        before = engine.stats().messages_out
        for i in range(5):
            await client.set_text_status(f"status {i}")

        async def written() -> None:
            while engine.stats().messages_out < before + 5:  # noqa: ASYNC110 (a counter)
                await asyncio.sleep(0.01)

        await asyncio.wait_for(written(), LIMIT)
        await loop.run_in_executor(None, lambda: hub.fault("gather", "drop"))
        await loop.run_in_executor(None, hub.resume)

    mark = hub.mark("gather")
    actor = Peer(hub, "replay space")
    # run() returns once the producer's actions are acknowledged (or warns).
    await asyncio.wait_for(actor.client.run(statuses), LIMIT)
    assert not [r for r in caplog.records if "not acknowledged" in r.getMessage()]
    engine = actor.client._engine
    assert engine is not None
    stats = engine.stats()
    assert stats.reconnects >= 1, stats
    assert stats.replayed >= 5, stats
    assert stats.acked >= 5, stats
    readies = [e for e in actor.events if e.WhichOneof("event") == "ready"]
    assert len(readies) >= 2, "init and ready again after the reset"
    acks = [
        e.transactionStatus for e in actor.events if e.WhichOneof("event") == "transactionStatus"
    ]
    assert len(acks) >= 5 and all(a.succeeded for a in acks)
    # On the wire: the stalled connection took the actions but the hub never read them;
    # the hub received each once, in order, on the next connection (the replay).
    wanted = [f"status {i}".encode().hex() for i in range(5)]
    connections = hub.by_connection("gather", mark)
    carrying = [
        i for i, c in enumerate(connections) if any(w in f["binary"] for f in c for w in wanted)
    ]
    assert len(carrying) == 1 and carrying[0] > 0, connections

    # Each connection began with the same init (the login: space and API key; field 33,
    # `8a02`, then a one-byte length), each followed by a txnId of its own.
    def init(frame: dict[str, Any]) -> str:
        data: str = frame["binary"]
        assert data.startswith("8a02"), data
        return data[: 6 + 2 * int(data[4:6], 16)]

    inits = {init(c[0]) for c in connections}
    assert len(inits) == 1, [c[0] for c in connections]
    assert b"replay space".hex() in next(iter(inits))
    actions = [
        f["binary"] for f in connections[carrying[0]] if any(w in f["binary"] for w in wanted)
    ]
    assert [next(w for w in wanted if w in f) for f in actions] == wanted, actions


async def test_an_action_is_written_at_the_end_of_its_turn_with_no_other_traffic(
    hub: Hub,
) -> None:
    """Actions are queued without waking the engine, which one wake-up at the end of the
    loop's turn does: with no heartbeat (Gather's or WebSocket's) to wake it otherwise, the
    action is still written and acknowledged at once."""

    async def one(client: GatherClient) -> None:
        receipt = await client.set_text_status("alone")
        await asyncio.wait_for(receipt, 3.0)

    quiet = GatherClient(
        API_KEY, "quiet space", api_root=hub["gather-api"], hearbeat_interval=3600, heartbeat=3600
    )
    await asyncio.wait_for(quiet.run(one), LIMIT)


async def test_actions_beyond_the_outbox_wait_for_room_and_all_go_out_in_order(
    hub: Hub,
) -> None:
    """A burst larger than the outbox: each action returns once it has room; all are
    acknowledged, and the hub received them in the order they were made."""
    texts = [f"burst {i:03}" for i in range(60)]
    receipts: list[Any] = []

    async def burst(client: GatherClient) -> None:
        for text in texts:
            receipts.append(await client.set_text_status(text))
        await asyncio.wait_for(asyncio.gather(*receipts), LIMIT)

    mark = hub.mark("gather")
    small = GatherClient(API_KEY, "burst space", api_root=hub["gather-api"], outbox_capacity=4)
    await asyncio.wait_for(small.run(burst), LIMIT)
    assert len({r.txn_id for r in receipts}) == len(texts), "a txnId of its own each"
    wanted = [t.encode().hex() for t in texts]
    frames = [f["binary"] for f in hub.received("gather", mark)]
    seen = [next(w for w in wanted if w in f) for f in frames if any(w in f for w in wanted)]
    assert seen == wanted


async def test_a_protobuf_message_argument_is_sent_as_that_message(hub: Hub) -> None:
    """An argument given as a protobuf message (as the SDK's users pass `events_pb2`
    messages) goes out as the action the SDK would write."""
    info_class = ServerClientBatch.DESCRIPTOR.file.pool.FindMessageTypeByName("PlayerInitInfo")
    player_init_info: Any = message_factory.GetMessageClass(info_class)
    sent: list[Any] = []

    async def enter(client: GatherClient) -> None:
        receipt = await client.enter(player_init_info(name="Ada", x=3, busy=True))
        sent.append(receipt.txn_id)
        await asyncio.wait_for(receipt, LIMIT)

    mark = hub.mark("gather")
    await asyncio.wait_for(
        GatherClient(API_KEY, "message space", api_root=hub["gather-api"]).run(enter), LIMIT
    )
    expected = ClientServerAction(
        enter={"info": {"name": "Ada", "x": 3, "busy": True}}, txnId=sent[0]
    ).SerializeToString()
    frames = [bytes.fromhex(f["binary"]) for f in hub.received("gather", mark)]
    assert expected in frames, frames


async def test_a_wrong_argument_is_refused_before_anything_is_sent(hub: Hub) -> None:
    async def bad(client: GatherClient) -> None:
        with pytest.raises(TypeError, match="no argument"):
            await client.set_text_status(status="hi")
        with pytest.raises(ValueError):
            await client.set_text_status(5)

    await asyncio.wait_for(
        GatherClient(API_KEY, "bad args", api_root=hub["gather-api"]).run(bad), LIMIT
    )
    with pytest.raises(GatherError):
        await GatherClient(API_KEY, "x").client_heartbeat()


def test_the_sdk_readme_usage_runs_against_tether_serve(hub: Hub, tmp_path: Path) -> None:
    source = EXAMPLE.read_text()
    assert "from tether.gather import GatherClient\n" in source
    script = tmp_path / "gather_basic.py"
    script.write_text(source.replace("http://127.0.0.1:8776/api/v2/", hub["gather-api"]))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "[INFO] Connected as user " in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    at = lines.index("('arg',)")
    assert lines[at + 1] == "{'k': 'kwarg'}", done.stdout
    assert lines[0] == "ready" and "transactionStatus" in lines, done.stdout
