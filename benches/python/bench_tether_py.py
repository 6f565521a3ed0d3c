"""tether from Python (`pip install .`): the raw platform in text mode, used the way its
API suggests for a pipelined echo: `send_many` fills the window once, then a handler takes
each echo and returns the next message, which tether sends as the reply (no await per
message; events cross the boundary in batches)."""

import asyncio
import time

import tether

import common

CLIENT = "python-tether"


async def echo(client: tether.Client, count: int, args, lat: list[int]) -> int:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()
    sent_at: list[int] = []
    state = {"sent": 0, "received": 0}
    size, binary = args.size, args.binary
    now = time.perf_counter_ns

    def next_message():
        seq = state["sent"]
        state["sent"] = seq + 1
        sent_at.append(now())
        return common.message(seq, size, binary)

    def on_echo(msg):
        t = now()
        received = state["received"]
        data = msg.raw if binary else msg.text
        seq = common.seq_of(data, binary)
        if seq != received:
            if not done.done():
                done.set_exception(RuntimeError(f"echo out of order: got {seq}, expected {received}"))
            return None
        lat.append(t - sent_at[seq])
        state["received"] = received + 1
        if received + 1 == count:
            done.set_result(t)
            return None
        return next_message() if state["sent"] < count else None

    client.on_any(on_echo)
    first = [next_message() for _ in range(min(args.window, count))]
    await client.send_many(first)
    return await done


async def open_conn(url: str) -> tether.Client:
    client = tether.Client(url, text=True, outbox_capacity=4096, event_capacity=4096)
    await client.start()
    await client.ready(timeout=10)
    return client


async def run():
    args = common.parse_args(__doc__)
    common.raise_fd_limit()
    if args.idle is not None or args.send_only:
        raise SystemExit("python-tether runs the echo workload only")
    conns = [await open_conn(args.url) for _ in range(args.clients)]
    lat: list[int] = []
    t0ns, c0 = time.perf_counter_ns(), common.cpu_time()
    ends = await asyncio.gather(*(echo(c, common.share(args, i), args, lat) for i, c in enumerate(conns)))
    cpu = common.cpu_time() - c0
    out = common.report(CLIENT, "echo", args, len(lat), (max(ends) - t0ns) / 1e9, cpu, lat)
    await asyncio.gather(*(c.close() for c in conns))
    return out


if __name__ == "__main__":
    common.main(run)
