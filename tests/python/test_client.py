"""tether.Client (the raw platform) against `tether serve`, as a user sees it."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import tether
from conftest import ROOT, Hub
from tether import errors
from tether.events import Acked, HandlerFailed, StateChanged


async def test_a_sent_message_is_delivered_when_the_server_acknowledges_it(hub: Hub) -> None:
    async with tether.Client(hub["echo-ack"], ack_field="id") as client:
        receipt = await client.send({"id": 1, "text": "hello"})
        await receipt
        assert client.stats().acked == 1
        assert client.stats().pending == 0


async def test_a_message_is_written_at_the_end_of_its_turn_with_no_other_traffic(
    hub: Hub,
) -> None:
    """`send` queues without waking the engine; one wake-up at the end of the loop's turn
    writes what the turn sent. With no heartbeat to wake it otherwise, a lone message is
    still acknowledged at once, and a run of them goes out in order."""
    async with tether.Client(hub["echo-ack"], ack_field="id", heartbeat=3600) as client:
        await asyncio.wait_for(await client.send({"id": "alone"}), 3.0)
        receipts = [await client.send({"id": i}) for i in range(100)]
        await asyncio.wait_for(asyncio.gather(*receipts), 3.0)
        assert client.stats().acked == 101


async def test_large_messages_travel_deflated_unless_compression_is_off(hub: Hub) -> None:
    """permessage-deflate is offered by default (the hub accepts it): a large repetitive
    message crosses in far fewer wire bytes than its payload; `compression=False` offers
    nothing and the wire carries at least the payload."""
    big = {"id": 1, "text": "tether " * 3000}
    async with tether.Client(hub["echo-ack"], ack_field="id") as client:
        await (await client.send(big))
        on = client.stats()
    assert on.deflate_connects == 1
    assert on.wire_bytes_out * 10 < on.bytes_out, on
    async with tether.Client(hub["echo-ack"], ack_field="id", compression=False) as client:
        await (await client.send(big))
        off = client.stats()
    assert off.deflate_connects == 0
    assert off.wire_bytes_out >= off.bytes_out, off
    # Below the threshold a message goes uncompressed even where deflate was negotiated.
    async with tether.Client(
        hub["echo-ack"], ack_field="id", compression_threshold=1 << 20
    ) as client:
        await (await client.send(big))
        high = client.stats()
    assert high.deflate_connects == 1
    assert high.wire_bytes_out >= high.bytes_out, high


async def test_request_returns_the_reply_that_carries_the_same_key(hub: Hub) -> None:
    async with tether.Client(hub["echo-ack"], ack_field="id") as client:
        reply = await client.request({"id": "q-7", "text": "are you there?"}, timeout=5)
        assert isinstance(reply, tether.Message)
        assert reply.data == {"id": "q-7", "ack": True}
        assert reply["ack"] is True


async def test_a_request_without_reply_times_out_and_hands_the_message_back(hub: Hub) -> None:
    async with tether.Client(hub["sink"], ack_field="id") as client:
        request = {"id": 9, "text": "anyone?"}
        with pytest.raises(errors.RequestTimeout) as caught:
            await client.request(request, timeout=0.3)
        assert caught.value.message == request
        assert caught.value.may_have_arrived, "it was written, so it may have arrived"
        assert isinstance(caught.value, TimeoutError)
        assert client.stats().pending == 0, "a timed-out request is withdrawn"


async def test_cancelling_an_awaiting_request_withdraws_it_from_the_outbox(hub: Hub) -> None:
    async with tether.Client(hub["sink"], ack_field="id") as client:
        task = asyncio.create_task(client.request({"id": 1}, timeout=30))
        await asyncio.sleep(0.2)
        assert client.stats().pending == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(100):
            if client.stats().pending == 0:
                break
            await asyncio.sleep(0.01)
        assert client.stats().pending == 0


async def test_handlers_run_on_the_loop_thread_and_their_return_value_is_the_reply(
    hub: Hub,
) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    loop_thread = threading.get_ident()
    seen: list[tuple[str, int, str]] = []
    async with tether.Client(hub["echo"], event_field="type") as client:

        @client.on("ping")
        def ping(msg: tether.Message) -> dict[str, Any]:
            seen.append(("ping", threading.get_ident(), var.get()))
            return {"type": "pong", "n": msg["n"]}

        @client.on("pong")
        async def pong(msg: tether.Message) -> dict[str, Any] | None:
            await asyncio.sleep(0)  # asyncio APIs work in a handler
            seen.append(("pong", threading.get_ident(), var.get()))
            return {"type": "done", "n": msg["n"]} if msg["n"] == 1 else None

        done: list[Any] = []

        async def until_done() -> None:
            async for event in client.events():
                if isinstance(event, tether.Message) and event.name == "done":
                    done.append(event.data)
                    return

        waiter = asyncio.create_task(until_done())
        await asyncio.sleep(0.05)
        await client.send({"type": "ping", "n": 1})
        await asyncio.wait_for(waiter, 5)
    assert done == [{"type": "done", "n": 1}]
    assert [s[0] for s in seen] == ["ping", "pong"]
    assert all(thread == loop_thread for _, thread, _ in seen)


async def test_a_failing_handler_is_reported_and_the_client_goes_on(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    async with tether.Client(hub["echo"], event_field="type") as client:

        @client.on("boom")
        def boom(msg: tether.Message) -> None:
            raise RuntimeError("handler bug")

        events: list[Any] = []

        async def collect() -> None:
            async for event in client.events():
                events.append(event)
                if isinstance(event, tether.Message) and event.name == "after":
                    return

        task = asyncio.create_task(collect())
        await asyncio.sleep(0.05)
        await client.send({"type": "boom"})
        await client.send({"type": "after"})
        await asyncio.wait_for(task, 5)
        failures = [e for e in events if isinstance(e, HandlerFailed)]
        assert len(failures) == 1 and failures[0].event == "boom"
        assert isinstance(failures[0].error, RuntimeError)
        assert client.stats().handler_errors == 1
    assert any("handler for 'boom' failed" in r.getMessage() for r in caplog.records)


async def test_closing_twice_is_harmless_and_sending_after_close_hands_the_message_back(
    hub: Hub,
) -> None:
    client = tether.Client(hub["echo"])
    await client.start()
    await client.ready(timeout=5)
    assert await client.close() is tether.State.CLOSED
    assert await client.close() is tether.State.CLOSED
    assert client.state is tether.State.CLOSED
    with pytest.raises(errors.ClientClosed) as caught:
        await client.send({"late": True})
    assert caught.value.message == {"late": True}
    assert not caught.value.may_have_arrived


async def test_a_full_outbox_under_reject_refuses_with_the_message(hub: Hub) -> None:
    async with tether.Client(
        hub["sink"], ack_field="id", outbox_capacity=1, policy="reject"
    ) as client:
        await client.send({"id": 1})
        with pytest.raises(errors.OutboxFull) as caught:
            await client.send({"id": 2})
        assert caught.value.message == {"id": 2}
        assert caught.value.transmission is errors.Transmission.NOT_SENT


async def test_a_message_over_the_size_limit_is_refused(hub: Hub) -> None:
    async with tether.Client(hub["echo"], max_message_size=64) as client:
        with pytest.raises(errors.MessageTooLarge):
            await client.send({"blob": "x" * 100})
        with pytest.raises(TypeError):
            await client.send({"not json": object()})


async def test_send_many_delivers_a_burst_and_reports_the_count(hub: Hub) -> None:
    async with tether.Client(hub["echo-ack"], ack_field="id") as client:
        receipt = await client.send_many({"id": i} for i in range(5000))
        assert len(receipt) == 5000
        assert await receipt == 5000


async def test_events_wake_the_loop_once_per_batch_not_once_per_message(hub: Hub) -> None:
    class Counting(tether.Client):
        wakes = 0

        def _on_wake(self) -> None:
            Counting.wakes += 1
            super()._on_wake()

    async with Counting(hub["echo-ack"], ack_field="id") as client:
        await (await client.send_many({"id": i} for i in range(10_000)))
    # 10,000 acks and their 10,000 events crossed in far fewer wake-ups.
    assert Counting.wakes < 2_000, Counting.wakes


async def test_ten_thousand_acked_messages_survive_drop_and_stall_faults_in_order(
    hub: Hub,
) -> None:
    total = 10_000
    acked_order: list[int] = []
    async with tether.Client(
        hub["echo-ack"],
        ack_field="id",
        heartbeat=0.5,
        dead_after=0.5,
        backoff_base=0.05,
        backoff_cap=0.2,
    ) as client:
        events_done = asyncio.Event()

        async def watch() -> None:
            seen: set[int] = set()
            async for event in client.events():
                if isinstance(event, Acked):
                    key = int(event.key)
                    if key not in seen:
                        seen.add(key)
                        acked_order.append(key)
                    if len(seen) == total:
                        events_done.set()
                        return

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.05)
        receipts = []
        loop = asyncio.get_running_loop()
        for i in range(total):
            receipts.append(await client.send({"id": i, "body": "x" * 64}))
            if i == 2_000:
                await loop.run_in_executor(None, hub.fault, "echo-ack", "drop")
            elif i == 4_000:
                await loop.run_in_executor(None, lambda: hub.fault("echo-ack", "stall", secs=1.5))
            elif i == 6_000:
                await loop.run_in_executor(None, lambda: hub.fault("echo-ack", "drop", code=1011))
            elif i % 500 == 0:
                await asyncio.sleep(0)
        results = await asyncio.wait_for(asyncio.gather(*receipts, return_exceptions=True), 120)
        await asyncio.wait_for(events_done.wait(), 30)
        watcher.cancel()
        stats = client.stats()
    failures = [r for r in results if r is not None]
    assert failures == [], failures[:3]
    assert acked_order == list(range(total)), "every message acknowledged, in order"
    assert stats.reconnects >= 2, stats


async def test_state_and_events_report_the_lifecycle(hub: Hub) -> None:
    client = tether.Client(hub["echo"])
    before: tether.State = client.state
    assert before is tether.State.IDLE
    await client.start()
    states: list[tether.State] = []

    async def collect() -> None:
        async for event in client.events():
            if isinstance(event, StateChanged):
                states.append(event.state)

    task = asyncio.create_task(collect())
    await client.ready(timeout=5)
    assert client.state is tether.State.READY
    await client.close()
    await asyncio.wait_for(task, 5)
    assert states[-1] is tether.State.CLOSED


async def test_secrets_never_appear_in_repr() -> None:
    client = tether.Client(
        "wss://bot:hunter2@example.invalid/ws?token=abc123", token="s3cret-token"
    )
    shown = repr(client)
    for secret in ("hunter2", "abc123", "s3cret-token"):
        assert secret not in shown
    assert "example.invalid" in shown


async def test_a_bad_url_is_a_config_error() -> None:
    with pytest.raises(errors.ConfigError):
        await tether.Client("http://example.invalid/").start()


async def test_engine_logs_go_to_python_logging(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # every logger, so that a stray INFO record would show
    async with tether.Client(hub["echo"]):
        pass
    assert any(
        r.name.startswith("tether") and "client closed" in r.getMessage() for r in caplog.records
    )
    # tracing's span bookkeeping ("++ tether; platform=raw") is not a user's log record.
    assert not [
        r for r in caplog.records if r.name.startswith("tracing") or "tether;" in r.getMessage()
    ]


async def test_json_lines_over_tcp_are_acknowledged_by_field() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(line)  # the echo carries the same "id": it is the ack
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        async with tether.Client(f"tcp://127.0.0.1:{port}", ack_field="id") as client:
            reply = await client.request({"id": 1, "over": "tcp"}, timeout=5)
            assert reply.data == {"id": 1, "over": "tcp"}
            await (await client.send({"id": 2}))


async def test_close_returns_after_the_client_stopped_by_itself() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the socket is closed
    client = tether.Client(f"ws://127.0.0.1:{port}/", max_attempts=1)
    with pytest.raises(errors.ClientStopped):
        await client.ready(timeout=10)
    assert await asyncio.wait_for(client.close(), 5) is tether.State.CLOSED
    assert await asyncio.wait_for(client.close(), 5) is tether.State.CLOSED


def test_the_readme_quick_start_prints_the_reply_and_the_count(hub: Hub, tmp_path: Path) -> None:
    # python/examples/quickstart.py is the README's quick start, written for `tether serve`
    # on its default ports; here the same file points at this session's hub.
    source = (ROOT / "python" / "examples" / "quickstart.py").read_text()
    assert "ws://127.0.0.1:8701/" in source
    script = tmp_path / "quickstart.py"
    script.write_text(source.replace("ws://127.0.0.1:8701/", hub["echo-ack"]))
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    lines = out.stdout.splitlines()
    assert lines[0] == "reply: {'id': 2, 'ack': True}"
    assert lines[1] == "delivered: 1000"
    assert lines[2].startswith("Stats(")
