"""W6 baseline: the real Gather Python SDK (`gather_client_ws.GatherClient` 0.0.4, from the
peers venv, scripts/peers-env/setup.sh) against the hub's `gather` engine, used its
usual way: `run(producer)`, the producer awaiting `client.set_text_status(text)` per action,
the `callback` receiving every `ServerClientBatch`.

Workload (the same as `tether bench --profile gather`): `set_text_status` actions, each
acknowledged by a `transactionStatus` event (acks come in send order), at most `--window`
unacknowledged per client. The SDK has no URL argument: as SPEC section 6 says, its
`Gather` API class is replaced by a stub whose game-server assignment answers the engine URL
given on the command line. Same contract and JSON output as the other programs
(`--binary`, `--send-only` and `--size` do not apply).
"""

import asyncio
import logging
import time

import gather_client_ws.actions as gather_actions
import gather_client_ws.client as gather_client
from gather_client_ws import GatherClient

import common

CLIENT = "python-gather-sdk"


def assign(url: str):
    """A stand-in for tapioca's `Gather` whose assignment is `url`."""

    class Response:
        data = url

    class Assignment:
        def get(self):
            return lambda: Response()

    class Gather:
        def __init__(self, api_key=None):
            pass

        def game_server_assignment(self, space_id=None):
            return Assignment()

    return Gather


#: The txnIds the SDK draws while a producer's action is being built (the SDK does not
#: return them; its `init` and heartbeats draw txnIds too, and are acknowledged as well).
DRAWN: list[int] = []
_draw = gather_actions.get_txn_id


def _traced_txn_id() -> int:
    txn_id = _draw()
    DRAWN.append(txn_id)
    return txn_id


class Tracker:
    """One client's actions in flight by txnId, and a wakeup for the producer."""

    def __init__(self, count: int, window: int, lat: list[int]):
        self.count, self.window, self.lat = count, window, lat
        self.sent_at: dict[int, int] = {}
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
                continue  # the ack of the SDK's init or a heartbeat
            if not status.succeeded:
                if not self.finished.done():
                    self.finished.set_exception(RuntimeError("an action failed"))
                return
            self.lat.append(t - sent_at)
            self.done += 1
            self.room.set()
            if self.done == self.count and not self.finished.done():
                self.finished.set_result(t)


async def run_client(count: int, window: int, lat: list[int], ready: asyncio.Barrier, index: int):
    tracker = Tracker(count, window, lat)
    end = []

    async def producer(client):
        await ready.wait()
        for seq in range(count):
            while tracker.sent - tracker.done >= window:
                tracker.room.clear()
                await tracker.room.wait()
            DRAWN.clear()
            gather_actions.get_txn_id = _traced_txn_id
            send = client.set_text_status(f"s{seq}")
            # The coroutine draws its txnId when it starts: step into it, then restore.
            task = asyncio.ensure_future(send)
            await asyncio.sleep(0)
            gather_actions.get_txn_id = _draw
            tracker.sent_at[DRAWN[0]] = time.perf_counter_ns()
            tracker.sent += 1
            await task
        end.append(await tracker.finished if count else time.perf_counter_ns())

    client = GatherClient(
        api_key="bench-api-key",
        space_id="bench",
        callback=tracker.callback,
        log_level=logging.WARNING,
    )
    await client.run(producer)
    if not end:
        raise SystemExit(f"bench_gather_sdk: client {index} ended before its actions were acknowledged")
    return end[0]


async def run():
    args = common.parse_args(__doc__.splitlines()[0])
    if args.idle is not None or args.send_only:
        raise SystemExit("bench_gather_sdk: only the round-trip workload applies")
    gather_client.Gather = assign(args.url)
    lat: list[int] = []
    ready = asyncio.Barrier(args.clients + 1)
    tasks = [
        asyncio.create_task(run_client(common.share(args, i), args.window, lat, ready, i))
        for i in range(args.clients)
    ]
    await ready.wait()  # every client connected (init → ready) and receiving
    t0ns, c0 = time.perf_counter_ns(), common.cpu_time()
    ends = await asyncio.gather(*tasks)
    cpu = common.cpu_time() - c0
    return common.report(CLIENT, "gather-status", args, len(lat), (max(ends) - t0ns) / 1e9, cpu, lat)


if __name__ == "__main__":
    common.main(run)
