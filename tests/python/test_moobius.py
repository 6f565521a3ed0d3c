"""tether.moobius as a drop-in for moobius 1.8.0's ``WSClient``: every builder's dry run
equal to the SDK's golden vectors; the SDK's usage (python/examples/moobius_wsclient.py)
with only the import line changed, against `tether serve`; the twin of the real-SDK
interop test (crates/tether-hub/tests/interop_moobius.rs); the login sent again and the
order kept through a hub fault."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import subprocess
import sys
import types
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import tether.moobius as moobius_module
from conftest import ROOT, Hub
from tether import State
from tether.errors import ClientStopped, MessageTooLarge, OutboxFull
from tether.moobius import (
    Button,
    CanvasItem,
    ChannelInfo,
    MenuItem,
    MessageContent,
    StyleItem,
    WSClient,
)

GOLDEN = ROOT / "testdata" / "golden" / "out" / "moobius.json"
EXAMPLE = ROOT / "python" / "examples" / "moobius_wsclient.py"
LIMIT = 20.0

DATACLASSES: dict[str, Callable[..., Any]] = {
    "Button": Button,
    "MenuItem": MenuItem,
    "StyleItem": StyleItem,
    "CanvasItem": CanvasItem,
    "ChannelInfo": ChannelInfo,
    "MessageContent": MessageContent,
}


def argument(value: Any) -> Any:
    """A golden kwarg: `{"__dataclass__": NAME, "fields": ...}` becomes that dataclass."""
    if isinstance(value, dict) and "__dataclass__" in value:
        return DATACLASSES[value["__dataclass__"]](**value["fields"])
    if isinstance(value, list):
        return [argument(v) for v in value]
    return value


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Request id and clock pinned as the golden run pinned the SDK's."""
    golden = json.loads(GOLDEN.read_text())["pinning"]
    monkeypatch.setattr(
        moobius_module, "uuid", types.SimpleNamespace(uuid4=lambda: golden["uuid4"])
    )
    monkeypatch.setattr(
        moobius_module, "time", types.SimpleNamespace(time=lambda: golden["time.time"])
    )


async def test_every_builder_returns_and_sends_exactly_the_sdk_golden_message(
    pinned: None,
) -> None:
    vectors = json.loads(GOLDEN.read_text())["vectors"]
    assert len(vectors) == 27
    client = WSClient("ws://127.0.0.1:9/")
    for vector in vectors:
        name = vector["builder"].removeprefix("WSClient.")
        builder = getattr(client, name)
        kwargs = {k: argument(copy.deepcopy(v)) for k, v in vector["kwargs"].items()}
        returned = await builder(**kwargs, dry_run=True)
        if vector["returns_none"]:
            assert returned is None, vector["case"]
            continue
        assert returned == vector["returned"], vector["case"]
        # Key order too: the returned dict written as the SDK writes it is the wire text.
        assert WSClient.dumps(returned) == vector["wire_text"], vector["case"]
        # Sent for real (queued until connect()): the exact wire text.
        kwargs = {k: argument(copy.deepcopy(v)) for k, v in vector["kwargs"].items()}
        before = len(client._early)
        await builder(**kwargs)
        assert client._early.held()[before:] == [vector["wire_text"]], vector["case"]


async def test_builders_check_their_arguments_as_the_sdk_does() -> None:
    client = WSClient("ws://127.0.0.1:9/")
    with pytest.raises(Exception, match=r"Element\[1\] is not a str"):
        await client.join_channel("user-1", 7, dry_run=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="button_text"):
        await client.send_buttons([{"button_id": "b"}], "s", "c", "g", dry_run=True)
    with pytest.raises(Exception, match="must send a string or dict-valued message"):
        await client.send(42)
    info: dict[str, Any] = {
        "channel_id": "c",
        "channel_name": "n",
        "channel_description": "d",
        "channel_type": "t",
    }
    await client.update_channel_info(info, "svc", "c", dry_run=True)
    assert info["context"] == {"channel_description": "d", "channel_type": "t"}, "in place"


def test_the_access_token_is_not_in_repr() -> None:
    client = WSClient("ws://127.0.0.1:9/?token=secret-in-url")
    assert "secret-in-url" not in repr(client)


class Peer:
    """A tether WSClient and everything its `handle` got, parsed."""

    def __init__(self, hub: Hub, login: Callable[[WSClient], Awaitable[Any]], **kw: Any) -> None:
        self.received: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.client = WSClient(
            hub["moobius"],
            on_connect=lambda: login(self.client),
            handle=self.handle,
            backoff_base=0.05,
            backoff_cap=0.2,
            **kw,
        )
        self.task: asyncio.Task[None] | None = None
        self.reply: Callable[[dict[str, Any]], Awaitable[Any]] | None = None

    async def handle(self, message: str) -> None:
        payload = json.loads(message)
        self.received.append(payload)
        self.arrived.set()
        if self.reply is not None:
            await self.reply(payload)

    async def start(self) -> Peer:
        await asyncio.wait_for(self.client.connect(), LIMIT)
        self.task = asyncio.create_task(self.client.receive())
        return self

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [p for p in self.received if p.get("type") == kind]

    async def until(self, check: Callable[[], bool], what: str) -> None:
        async def wait() -> None:
            while not check():
                self.arrived.clear()
                await self.arrived.wait()

        try:
            await asyncio.wait_for(wait(), LIMIT)
        except TimeoutError:
            raise AssertionError(f"no {what}; received {self.received}") from None

    async def stop(self) -> None:
        await self.client.close()
        if self.task is not None:
            await asyncio.wait_for(self.task, LIMIT)


SERVICE = "svc-py"
USER = "user-py"
CHANNEL = "ch-interop"
TOKEN = "python-user-token"
TEXT = "hello from python, h\u00e9llo"


def echo_service(hub: Hub) -> Peer:
    """The service of the interop test: every message_up is answered with a message_down
    to its sender."""
    service = Peer(hub, lambda c: c.service_login(SERVICE, "service-token"))

    async def reply(payload: dict[str, Any]) -> None:
        if payload["type"] == "message_up":
            body = payload["body"]
            await service.client.message_down(
                SERVICE,
                SERVICE,
                body["channel_id"],
                body["sender"],
                "text",
                MessageContent(text=f"echo: {body['content']['text']}"),
                SERVICE,
            )

    service.reply = reply
    return service


async def test_the_wsclient_talks_to_a_service_through_the_hub_as_the_real_sdk_does(
    hub: Hub,
) -> None:
    """The twin of interop_moobius.rs: the same steps as scripts/interop/moobius_user.py
    (user_login on connect, join_channel, one message_up, wait for the message_down) and
    the same assertions, with tether's WSClient in place of the SDK's."""
    service = await echo_service(hub).start()
    await service.until(lambda: bool(service.of("copy")), "copy of the service login")
    mark = hub.mark("moobius")
    user = await Peer(hub, lambda c: c.user_login(TOKEN), report_str=" (user)").start()
    join = await user.client.join_channel(USER, CHANNEL)
    up = await user.client.message_up(USER, SERVICE, CHANNEL, SERVICE, "text", {"text": TEXT})
    await user.until(lambda: bool(user.of("message_down")), "message_down")

    down = user.of("message_down")[0]
    assert down["service_id"] == SERVICE
    assert down["body"]["content"] == {"text": f"echo: {TEXT}"}
    assert down["body"]["sender"] == SERVICE
    assert down["body"]["recipients"] == USER
    assert down["body"]["channel_id"] == CHANNEL
    assert any(p["body"].get("origin_type") == "user_login" for p in user.of("copy")), (
        "the hub acknowledged the login"
    )

    ups = service.of("message_up")
    assert len(ups) == 1, ups
    assert ups[0]["body"]["content"]["text"] == TEXT
    assert ups[0]["body"]["sender"] == USER
    assert ups[0]["body"]["channel_id"] == CHANNEL

    # What the client put on the wire is what the SDK's builders write, byte for byte:
    # the login (sent by the engine, on every connect) with its request id, then the
    # join and the message_up as their builders returned them.
    mine = [c for c in hub.by_connection("moobius", mark) if TOKEN in c[0]["text"]]
    assert len(mine) == 1, hub.by_connection("moobius", mark)
    wire = [f["text"] for f in mine[0]]
    login_id = json.loads(wire[0])["request_id"]
    with pytest.MonkeyPatch.context() as m:
        m.setattr(moobius_module, "uuid", types.SimpleNamespace(uuid4=lambda: login_id))
        m.setattr(moobius_module, "time", types.SimpleNamespace(time=lambda: 0))
        login = await user.client.user_login(TOKEN, dry_run=True)
    assert wire[0] == WSClient.dumps(login)
    assert wire[1:3] == [WSClient.dumps(join), WSClient.dumps(up)], wire
    await user.stop()
    await service.stop()


async def test_the_login_is_sent_again_and_order_kept_after_a_hub_drop(hub: Hub) -> None:
    """Messages queued while the connection is down go after the new login, in order: the
    hub answers each `heartbeat` with a `copy` naming its request id (refused, with
    `status: false`, before a login)."""
    mark = hub.mark("moobius")
    peer = await Peer(
        hub, lambda c: c.service_login(SERVICE, "service-token"), heartbeat=None
    ).start()
    client = peer.client

    def copies(origin: str) -> list[dict[str, Any]]:
        return [p for p in peer.of("copy") if p["body"].get("origin_type") == origin]

    sent = [(await client.heartbeat())["request_id"] for _ in range(20)]
    await peer.until(lambda: len(copies("heartbeat")) == 20, "20 heartbeat copies")

    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, lambda: hub.fault("moobius", "refuse", secs=0.5))
    await loop.run_in_executor(None, lambda: hub.fault("moobius", "drop", code=1011))

    async def disconnected() -> None:
        while client.is_connected:  # noqa: ASYNC110 (a state, not an event)
            await asyncio.sleep(0.01)

    await asyncio.wait_for(disconnected(), LIMIT)
    # Queued while the connection is down: sent after the login, in order.
    sent += [(await client.heartbeat())["request_id"] for _ in range(40)]
    await peer.until(lambda: len(copies("heartbeat")) >= 60, "60 heartbeat copies")

    answered = [p["body"]["request_id"] for p in copies("heartbeat")]
    assert answered == sent, "each once, in order"
    assert all(p["body"]["status"] is True for p in peer.of("copy")), "none before a login"
    logins = copies("service_login")
    assert len(logins) == 2, "logged in again after the drop"
    kinds = [p["body"]["origin_type"] for p in peer.of("copy")]
    assert kinds.index("service_login", 1) == 21, "the login came before the queued ones"
    # On the wire: the same login first on both connections, then the heartbeats, each
    # on the wire once, in the order sent.
    connections = [
        [json.loads(f["text"]) for f in c]
        for c in hub.by_connection("moobius", mark)
        if "service-token" in c[0]["text"]
    ]
    assert len(connections) == 2, connections
    expected = await client.service_login(SERVICE, "service-token", dry_run=True)
    for frames in connections:
        login = {k: v for k, v in frames[0].items() if k != "request_id"}
        assert login == {k: v for k, v in expected.items() if k != "request_id"}, login
        assert {f["type"] for f in frames[1:]} <= {"heartbeat"}, frames
    on_wire = [f["request_id"] for c in connections for f in c[1:]]
    assert on_wire == sent, "each heartbeat once, in order"
    await peer.stop()


async def test_a_refused_token_stops_the_client(hub: Hub) -> None:
    client = WSClient(hub["moobius"], backoff_base=0.05)

    async def login() -> None:
        await client.service_login(SERVICE, "")

    client.on_connect = login
    try:
        # Moobius acknowledges no login: connect() may return before the refusal.
        await asyncio.wait_for(client.connect(), LIMIT)
    except ClientStopped as e:
        assert e.fatal
    else:
        await asyncio.wait_for(client.receive(), LIMIT)  # ends: the client stopped for good
        assert client.websocket is not None
        assert client.websocket.state == State.CLOSED
        assert not client.is_connected
    await asyncio.wait_for(client.close(), LIMIT)  # a stopped client closes at once


def test_the_sdk_usage_runs_with_only_the_import_line_changed(hub: Hub, tmp_path: Path) -> None:
    source = EXAMPLE.read_text()
    assert "from tether.moobius import WSClient\n" in source
    script = tmp_path / "moobius_wsclient.py"
    script.write_text(source.replace("ws://127.0.0.1:8785/", hub["moobius"]))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "message_down: echo: hello\n", done.stdout


async def early_client(hub: Hub, **options: Any) -> WSClient:
    """A service client not yet connected (no app heartbeat: only what the test sends)."""
    client = WSClient(hub["moobius"], heartbeat=None, backoff_base=0.05, **options)

    async def login() -> None:
        await client.service_login(SERVICE, "early-token")

    client.on_connect = login
    return client


async def wire_after_connect(hub: Hub, client: WSClient, mark: int, count: int) -> list[Any]:
    """Connects `client`; the types and request ids of the first `count` frames the hub
    got on its connection."""
    await asyncio.wait_for(client.connect(), LIMIT)

    def mine() -> list[dict[str, Any]]:
        connections = [
            c for c in hub.by_connection("moobius", mark) if "early-token" in c[0]["text"]
        ]
        return [json.loads(f["text"]) for c in connections for f in c]

    for _ in range(1000):
        if len(mine()) >= count:
            break
        await asyncio.sleep(0.01)
    return [(f["type"], f.get("request_id")) for f in mine()]


async def test_messages_sent_before_connect_are_bounded_and_rejected_past_the_outbox(
    hub: Hub,
) -> None:
    mark = hub.mark("moobius")
    client = await early_client(hub, outbox_capacity=5, policy="reject")
    sent = [(await client.heartbeat())["request_id"] for _ in range(5)]
    with pytest.raises(OutboxFull) as refused:
        await client.heartbeat()
    assert json.loads(refused.value.message)["type"] == "heartbeat", "handed back"
    wire = await wire_after_connect(hub, client, mark, 6)
    assert wire[0][0] == "service_login", "the login first"
    assert wire[1:] == [("heartbeat", r) for r in sent], "then the early ones, in order"
    await client.close()


async def test_messages_sent_before_connect_drop_the_oldest_past_the_outbox(hub: Hub) -> None:
    mark = hub.mark("moobius")
    client = await early_client(hub, outbox_capacity=3, policy="drop_oldest")
    sent = [(await client.heartbeat())["request_id"] for _ in range(5)]
    wire = await wire_after_connect(hub, client, mark, 4)
    assert wire[1:] == [("heartbeat", r) for r in sent[2:]], wire
    await client.close()


async def test_a_send_before_connect_waits_for_room_under_backpressure(hub: Hub) -> None:
    mark = hub.mark("moobius")
    client = await early_client(hub, outbox_capacity=2)
    sent: list[str] = []

    async def burst() -> None:
        for _ in range(4):
            sent.append((await client.heartbeat())["request_id"])

    sender = asyncio.create_task(burst())
    await asyncio.sleep(0.1)
    assert len(sent) == 2 and not sender.done(), "the third waits for room"
    wire = await wire_after_connect(hub, client, mark, 5)
    await asyncio.wait_for(sender, LIMIT)
    assert wire[0][0] == "service_login"
    assert wire[1:] == [("heartbeat", r) for r in sent], wire
    await client.close()


async def test_a_message_over_the_size_limit_is_refused_before_connect(hub: Hub) -> None:
    client = await early_client(hub, max_message_size=64)
    with pytest.raises(MessageTooLarge):
        await client.send({"type": "x", "body": "y" * 100})
    await client.close()
