"""W6g from Python on tether: `tether.gather.GatherClient` (the drop-in for the Gather SDK,
tether's Python package) against the hub's `gather` engine, used as bench_gather_sdk.py
uses the SDK: `run(producer)`, the producer awaiting `client.set_text_status(text)` per
action, the `callback` receiving every `ServerClientBatch`.

Workload (the same as `tether bench --profile gather` and bench_gather_sdk.py):
`set_text_status` actions, each acknowledged by a `transactionStatus` event, at most
`--window` unacknowledged per client, tracked by txnId in the callback as
bench_gather_sdk.py does (tether's action returns its receipt, with the `txn_id`).
`engine_url=` (tether's) points it at the engine without discovery,
as the SDK bench's stub assignment does. Same contract and JSON output as the other
programs (`--binary`, `--send-only` and `--size` do not apply).
"""

import asyncio
import logging
import time

from tether.gather import GatherClient

import common

CLIENT = "python-tether-gather"


class Tracker:
    """One client's actions in flight by txnId, and a wakeup for the producer (as in
    bench_gather_sdk.py, whose SDK hides the txnId; tether's action returns it)."""

    def __init__(self, count: int, window: int, lat: list):
        self.count, self.window, self.lat = count, window, lat
        self.sent_at: dict = {}
        self.sent = 0
        self.done = 0
        self.room = asyncio.Event()
        self.room.set()
        self.finished = asyncio.get_running_loop().create_future()

    async def callback(self, _client, batch):
        t = time.perf_counter_ns()
        for event in batch.events:
            if event.WhichOneof("event") != "transactionStatus":
                continue
            status = event.transactionStatus
            sent_at = self.sent_at.pop(status.txnId, None)
            if sent_at is None:
                continue  # the ack of a heartbeat
            if not status.succeeded:
                if not self.finished.done():
                    self.finished.set_exception(RuntimeError("an action failed"))
                return
            self.lat.append(t - sent_at)
            self.done += 1
            self.room.set()
            if self.done == self.count and not self.finished.done():
                self.finished.set_result(t)


async def run_client(count: int, window: int, lat: list, ready: asyncio.Barrier, index: int):
    tracker = Tracker(count, window, lat)
    end = []

    async def producer(client):
        await ready.wait()
        for seq in range(count):
            while tracker.sent - tracker.done >= window:
                tracker.room.clear()
                await tracker.room.wait()
            sent_at = time.perf_counter_ns()
            receipt = await client.set_text_status(f"s{seq}")
            tracker.sent_at[receipt.txn_id] = sent_at
            tracker.sent += 1
        end.append(await tracker.finished if count else time.perf_counter_ns())

    client = GatherClient(
        api_key="bench-api-key",
        space_id="bench",
        callback=tracker.callback,
        log_level=logging.WARNING,
        engine_url=URL,
    )
    await client.run(producer)
    if not end:
        raise SystemExit(f"bench_gather_tether_py: client {index} ended early")
    return end[0]


URL = ""


async def run():
    global URL
    args = common.parse_args(__doc__.splitlines()[0])
    if args.idle is not None or args.send_only:
        raise SystemExit("bench_gather_tether_py: only the round-trip workload applies")
    URL = args.url
    lat: list = []
    ready = asyncio.Barrier(args.clients + 1)
    tasks = [
        asyncio.create_task(run_client(common.share(args, i), args.window, lat, ready, i))
        for i in range(args.clients)
    ]
    await ready.wait()
    t0ns, c0 = time.perf_counter_ns(), common.cpu_time()
    ends = await asyncio.gather(*tasks)
    cpu = common.cpu_time() - c0
    return common.report(CLIENT, "gather-status", args, len(lat), (max(ends) - t0ns) / 1e9, cpu, lat)


if __name__ == "__main__":
    common.main(run)
