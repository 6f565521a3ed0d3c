"""W6 baseline: the real datadivr Python SDK (`datadivr.transport.client.WebSocketClient`,
datadivr 0.3 from the peers venv, scripts/peers-env/setup.sh) against the hub's
`datadivr` endpoint, used its usual way: `send_message(payload, event_name)` per message,
`receive_messages()` dispatching each reply to the client handler registered for its event.

Workload (echo-like round trips through the platform): `sum_event` with payload
`{"numbers": [seq, 0]}`; the server answers the sender with `sum_handler_result` whose
payload is `float(seq)`, which matches replies to requests in order. At most `--window`
requests are outstanding per client. Same contract and JSON output as the other programs
(`--binary`, `--send-only` and `--size` do not apply: a datadivr message is what the SDK
makes of the payload, ~90 bytes).

Logging: the SDK logs every message at INFO through structlog; it is configured here with
the SDK's own `setup_logging(level="WARNING")`, as an application that cares about speed
would, and so that stdout carries only the JSON result.
"""

import asyncio
import time

import common

#: The program's name and its `WebSocketClient`: the SDK's, or (bench_datadivr_tether_py.py)
#: tether's drop-in, driven by the same code below.
CLIENT = "python-datadivr-sdk"
WebSocketClient = None


class Tracker:
    """One client's requests in flight: send times in order, a wakeup for the sender."""

    def __init__(self, count: int, window: int, lat: list[int]):
        self.count, self.window, self.lat = count, window, lat
        self.sent_at: list[int] = []
        self.done = 0
        self.room = asyncio.Event()
        self.room.set()
        self.finished = asyncio.get_running_loop().create_future()

    async def on_result(self, message):
        """The handler for `sum_handler_result` (the SDK passes a WebSocketMessage)."""
        t = time.perf_counter_ns()
        seq = int(message.payload)
        if seq != self.done:
            if not self.finished.done():
                self.finished.set_exception(RuntimeError(f"reply out of order: got {seq}, expected {self.done}"))
            return None
        self.lat.append(t - self.sent_at[seq])
        self.done += 1
        self.room.set()
        if self.done == self.count and not self.finished.done():
            self.finished.set_result(t)
        return None


async def run_client(url: str, count: int, window: int, lat: list[int], ready: asyncio.Barrier):
    client = WebSocketClient(url)
    await client.connect()
    tracker = Tracker(count, window, lat)
    # Per client: the SDK copies the global registry into client.handlers.
    client.handlers = dict(client.handlers)
    client.handlers["sum_handler_result"] = tracker.on_result
    receiver = asyncio.create_task(client.receive_messages())
    await ready.wait()
    for seq in range(count):
        while len(tracker.sent_at) - tracker.done >= window:
            tracker.room.clear()
            await tracker.room.wait()
        tracker.sent_at.append(time.perf_counter_ns())
        await client.send_message(payload={"numbers": [seq, 0]}, event_name="sum_event", to="all")
    end = await tracker.finished if count else time.perf_counter_ns()
    await client.disconnect()
    receiver.cancel()
    return end


async def run():
    args = common.parse_args(__doc__.splitlines()[0])
    if args.idle is not None or args.send_only:
        raise SystemExit(f"{CLIENT}: only the round-trip workload applies")
    lat: list[int] = []
    ready = asyncio.Barrier(args.clients + 1)
    tasks = [
        asyncio.create_task(run_client(args.url, common.share(args, i), args.window, lat, ready))
        for i in range(args.clients)
    ]
    await ready.wait()  # every client connected and receiving
    t0ns, c0 = time.perf_counter_ns(), common.cpu_time()
    ends = await asyncio.gather(*tasks)
    cpu = common.cpu_time() - c0
    return common.report(CLIENT, "datadivr-sum", args, len(lat), (max(ends) - t0ns) / 1e9, cpu, lat)


def main(client: str, websocket_client) -> None:
    """Runs the workload with `websocket_client` as the program `client`."""
    global CLIENT, WebSocketClient
    CLIENT, WebSocketClient = client, websocket_client
    common.main(run)


if __name__ == "__main__":
    from datadivr.transport.client import WebSocketClient as SdkClient
    from datadivr.utils.logging import setup_logging

    setup_logging(level="WARNING")
    main("python-datadivr-sdk", SdkClient)
