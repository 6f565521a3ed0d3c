"""tether.datadivr as a drop-in for the datadivr SDK: the SDK's basic usage runs with only
its import line changed, against `tether serve` and against the real datadivr server; what
is sent across a hub drop reaches the hub once, in order, as the SDK's bytes."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, Hub
from tether import datadivr
from tether._native import datadivr_wire_text
from tether.datadivr import (
    HandlerType,
    NotConnectedError,
    WebSocketClient,
    WebSocketMessage,
    websocket_handler,
)

EXAMPLE = ROOT / "python" / "examples" / "datadivr_basic.py"
# The SDK's docs import all four from `datadivr`, but datadivr 0.3 exports only the client and
# the message there: the registry names come from their module.
SDK_IMPORT = (
    "from datadivr import WebSocketClient, WebSocketMessage\n"
    "from datadivr.handlers.registry import HandlerType, websocket_handler"
)
TETHER_IMPORT = (
    "from tether.datadivr import HandlerType, WebSocketClient, WebSocketMessage, websocket_handler"
)


def peers_python() -> str:
    """The peers venv's Python (real datadivr SDK and server): $TETHER_PEERS_VENV or
    .venv-peers (scripts/peers-env/setup.sh makes it)."""
    venv = Path(os.environ.get("TETHER_PEERS_VENV", ROOT / ".venv-peers"))
    python = venv / "bin" / "python"
    if not python.exists():
        if os.environ.get("TETHER_PEERS_VENV"):
            pytest.fail(f"{python} is missing")
        pytest.skip("no peers venv (scripts/peers-env/setup.sh .venv-peers)")
    return str(python)


def example_for(url: str, tmp_path: Path, sdk: bool = False) -> Path:
    """The example, pointed at `url` (the hub runs on free ports), with the SDK's import
    line instead of tether's when `sdk`."""
    source = EXAMPLE.read_text()
    assert TETHER_IMPORT in source
    source = source.replace("ws://localhost:8765/ws", url)
    if sdk:
        source = source.replace(TETHER_IMPORT, SDK_IMPORT)
    path = tmp_path / ("sdk_basic.py" if sdk else "tether_basic.py")
    path.write_text(source)
    return path


def run_until_sum(python: str, script: Path) -> str:
    """Runs the example until it prints the sum, then stops it with Ctrl-C."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [python, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    line = ""
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line or line.startswith("Sum result"):
                break
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, stderr = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            raise AssertionError("the example hung after Ctrl-C") from None
    assert line.startswith("Sum result"), stderr
    return line.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def real_server() -> Iterator[str]:
    """The real datadivr server (its FastAPI app under uvicorn)."""
    python = peers_python()
    port = free_port()
    process = subprocess.Popen(
        [
            python,
            "-m",
            "uvicorn",
            "datadivr.transport.server:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("the datadivr server did not start")
                time.sleep(0.2)
        yield f"ws://localhost:{port}/ws"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_sdk_example_prints_the_sum_against_tether_serve(hub: Hub, tmp_path: Path) -> None:
    url = hub["datadivr"].replace("127.0.0.1", "localhost")
    line = run_until_sum(sys.executable, example_for(url, tmp_path))
    assert line == "Sum result from server: 420.0"


def test_the_sdk_example_prints_the_sum_against_the_real_datadivr_server(
    real_server: str, tmp_path: Path
) -> None:
    line = run_until_sum(sys.executable, example_for(real_server, tmp_path))
    assert line == "Sum result from server: 420.0"


def test_the_same_example_with_the_sdk_import_prints_the_same(
    real_server: str, tmp_path: Path
) -> None:
    line = run_until_sum(peers_python(), example_for(real_server, tmp_path, sdk=True))
    assert line == "Sum result from server: 420.0"


async def test_using_the_client_before_connect_raises_not_connected() -> None:
    client = WebSocketClient("ws://localhost:8765/ws")
    with pytest.raises(NotConnectedError):
        await client.send_message(payload=1, event_name="msg")
    with pytest.raises(NotConnectedError):
        await client.receive_messages()
    await client.disconnect()


async def test_a_handler_returning_a_message_sends_it(hub: Hub) -> None:
    got: asyncio.Future[WebSocketMessage] = asyncio.get_running_loop().create_future()

    @websocket_handler("dd_test_ping", HandlerType.CLIENT)
    async def ping(message: WebSocketMessage) -> WebSocketMessage:
        return WebSocketMessage(
            event_name="dd_test_pong", payload=message.payload, to=message.from_id
        )

    @websocket_handler("dd_test_pong", HandlerType.CLIENT)
    def pong(message: WebSocketMessage) -> None:
        if not got.done():
            got.set_result(message)

    a, b = WebSocketClient(hub["datadivr"]), WebSocketClient(hub["datadivr"])
    await a.connect()
    await b.connect()
    tasks = [asyncio.create_task(a.receive_messages()), asyncio.create_task(b.receive_messages())]
    try:
        await a.send_message(payload={"n": 5}, event_name="dd_test_ping", to="others")
        reply = await asyncio.wait_for(got, 10)
        assert reply.event_name == "dd_test_pong"
        assert reply.payload == {"n": 5}
    finally:
        await a.disconnect()
        await b.disconnect()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
        datadivr._client_handlers.pop("dd_test_ping", None)
        datadivr._client_handlers.pop("dd_test_pong", None)


async def test_a_bad_message_or_failing_handler_does_not_end_receive_messages(
    hub: Hub,
) -> None:
    sums: asyncio.Queue[object] = asyncio.Queue()

    @websocket_handler("sum_handler_result", HandlerType.CLIENT)
    async def on_sum(message: WebSocketMessage) -> None:
        await sums.put(message.payload)
        if message.payload == 3.0:
            raise RuntimeError("handler bug")

    client = WebSocketClient(hub["datadivr"])
    await client.connect()
    task = asyncio.create_task(client.receive_messages())
    try:
        await client.send_message(payload={"numbers": [1, 2]}, event_name="sum_event")
        assert await asyncio.wait_for(sums.get(), 10) == 3.0  # and the handler raised
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, hub.fault, "datadivr", "garbage")
        await client.send_message(payload={"numbers": [391, 29]}, event_name="sum_event")
        assert await asyncio.wait_for(sums.get(), 10) == 420.0
        assert not task.done()
    finally:
        await client.disconnect()
        await asyncio.wait_for(task, 10)
        datadivr._client_handlers.pop("sum_handler_result", None)


def test_messages_are_written_as_the_sdk_writes_them() -> None:
    message = WebSocketMessage(event_name="sum_event", payload={"numbers": [391, 29]}, to="all")
    assert datadivr._wire_text(message) == (
        '{"event_name": "sum_event", "payload": {"numbers": [391, 29]}, "to": "all", '
        '"from_id": "server", "message": null}'
    )


PAYLOADS: list[Any] = [
    None,
    True,
    0,
    -(2**63),
    2**64 - 1,
    0.1,
    -0.0,
    1e16,
    1.5e-7,
    123456789.125,
    'héllo 日本 \u2028 "quoted" \\ \n\t\x00 🎉',
    [],
    {},
    (1, "two", 3.0),
    {"b": 1, "a": [True, None, {"z": 0.5}]},
    {1: "int key", 2.5: "float key", False: "bool key", None: "none key", -7: "negative"},
    {"nested": [[[[{"deep": "yes"}]]]]},
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
def test_tethers_encoder_writes_what_json_dumps_writes(payload: Any) -> None:
    for to, text in (("all", None), ("others", "a text"), ("client-7", "")):
        expected = json.dumps(
            {"event_name": "ev", "payload": payload, "to": to, "from_id": "server", "message": text}
        )
        assert datadivr_wire_text("ev", payload, to, text) == expected


def test_random_payloads_are_written_as_json_dumps_writes_them() -> None:
    rng = random.Random(7)

    def value(depth: int) -> Any:
        kind = rng.randrange(8 if depth < 4 else 5)
        if kind == 0:
            return rng.choice([None, True, False])
        if kind == 1:
            return rng.randrange(-(2**62), 2**62)
        if kind == 2:
            return rng.uniform(-1e20, 1e20) * rng.choice([1, 1e-30, 1e-5])
        if kind == 3:
            return "".join(
                chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0xD7FF)]))
                for _ in range(rng.randrange(8))
            )
        if kind == 4:
            return rng.randrange(10)
        if kind == 5:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        if kind == 6:
            return tuple(value(depth + 1) for _ in range(rng.randrange(3)))
        return {f"k{rng.randrange(100)}": value(depth + 1) for _ in range(rng.randrange(4))}

    for _ in range(2000):
        payload = value(0)
        expected = json.dumps(
            {
                "event_name": "e",
                "payload": payload,
                "to": "all",
                "from_id": "server",
                "message": None,
            }
        )
        assert datadivr_wire_text("e", payload, "all", None) == expected


@pytest.mark.parametrize(
    "payload",
    [
        float("nan"),
        float("inf"),
        2**64,
        -(2**63) - 1,
        "\ud800",
        {1: "a", "1": "b"},
        {1, 2},
        object(),
    ],
    ids=repr,
)
def test_what_only_pythons_json_writes_the_sdks_way_is_left_to_it(payload: Any) -> None:
    assert datadivr_wire_text("ev", payload, "all", None) is None


async def test_send_message_still_writes_nan_and_refuses_a_set_as_the_sdk_does(hub: Hub) -> None:
    client = WebSocketClient(hub["datadivr"])
    await client.connect()
    try:
        await client.send_message(payload={"x": float("nan")}, event_name="dd_nan")
        with pytest.raises(TypeError):
            await client.send_message(payload={1, 2}, event_name="dd_set")
    finally:
        await client.disconnect()


async def test_messages_sent_across_a_hub_drop_reach_the_server_once_each_in_order(
    hub: Hub,
) -> None:
    """The reconnect test: datadivr has no login and no acks (what a dead connection took
    may be lost, as with the SDK); what is sent while the connection is down waits in the
    outbox and goes out, in order, the SDK's bytes, on the next connection."""
    mark = hub.mark("datadivr")
    client = WebSocketClient(hub["datadivr"], backoff_base=0.05, backoff_cap=0.2)
    await client.connect()
    engine = client.websocket
    assert engine is not None

    async def until(check: Any, what: str) -> None:
        for _ in range(1000):
            if check():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"no {what}")

    def texts() -> list[str]:
        return [f["text"] for f in hub.received("datadivr", mark)]

    loop = asyncio.get_running_loop()
    await client.send_message(payload={"n": -1}, event_name="dd_test_before")
    await until(lambda: len(texts()) == 1, "the first message at the hub")
    await loop.run_in_executor(None, lambda: hub.fault("datadivr", "refuse", secs=0.5))
    await loop.run_in_executor(None, lambda: hub.fault("datadivr", "drop", code=1011))
    await until(lambda: engine.state.value != "ready", "the drop")
    for n in range(20):
        await client.send_message(payload={"n": n}, event_name="dd_test_after", to="all")
    await until(lambda: len(texts()) == 21, "the queued messages at the hub")

    connections = hub.by_connection("datadivr", mark)
    assert len(connections) == 2, connections
    expected = [
        datadivr._wire_text(
            WebSocketMessage(event_name="dd_test_after", payload={"n": n}, to="all")
        )
        for n in range(20)
    ]
    assert [f["text"] for f in connections[1]] == expected
    assert engine.stats().connects == 2
    await client.disconnect()
