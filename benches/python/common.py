"""Shared parts of the Python baseline clients: the command-line contract, the messages,
the measures and the report. Each client module only says how its library connects,
sends and receives; the workloads for await-style clients live here too.

The contract is the one of `tether bench`:
    PROGRAM URL [--clients N] [--messages M] [--size B] [--window W] [--binary]
            [--send-only] [--idle N] [--control URL] --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import time
from typing import Awaitable, Callable, Optional, Union

Message = Union[str, bytes]

#: Connections opened at once by the idle workload.
IDLE_CONNECT_CONCURRENCY = 256
#: Pause before the idle workload reads RSS.
IDLE_SETTLE_S = 1.0
#: How long the sink may take to count what was sent.
SINK_TIMEOUT_S = 600.0
TEXT_HEAD = '{"seq":'


def parse_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("url", help="echo endpoint, or the sink with --send-only")
    p.add_argument("--clients", type=int, default=1)
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--size", type=int, default=100)
    p.add_argument("--window", type=int, default=1000)
    p.add_argument("--binary", action="store_true")
    p.add_argument("--send-only", action="store_true")
    p.add_argument("--idle", type=int, default=None, metavar="N")
    p.add_argument("--control", default=None, metavar="URL")
    p.add_argument("--json", action="store_true", help="one JSON object (the only output form)")
    args = p.parse_args()
    args.clients = max(1, args.clients)
    args.window = max(1, args.window)
    return args


def share(args: argparse.Namespace, index: int) -> int:
    """The messages client `index` sends: an even share, the first ones taking the rest."""
    base, rest = divmod(args.messages, args.clients)
    return base + (1 if index < rest else 0)


def message(seq: int, size: int, binary: bool) -> Message:
    """`{"seq":N,"pad":"xxx…"}` padded to `size`, or `size` bytes starting with seq (LE)."""
    if binary:
        return seq.to_bytes(8, "little") + bytes(max(size, 8) - 8)
    head = f'{TEXT_HEAD}{seq},"pad":"'
    return head + "x" * max(size - len(head) - 2, 0) + '"}'


def seq_of(data: Message, binary: bool) -> int:
    """The sequence number an echoed message carries."""
    if binary:
        return int.from_bytes(data[:8], "little")
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data).decode()
    return int(data[len(TEXT_HEAD) : data.index(",", len(TEXT_HEAD))])


def cpu_time() -> float:
    """User + system CPU seconds of this process."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _status_kib(field: str) -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def write_syscalls() -> int:
    """write/writev calls this process has made (`syscw` of /proc/self/io; 0 if unreadable)."""
    try:
        with open("/proc/self/io") as f:
            for line in f:
                if line.startswith("syscw:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kib() -> int:
    return _status_kib("VmRSS:")


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def percentile(sorted_ns: list[int], q: float) -> Optional[float]:
    if not sorted_ns:
        return None
    return round(sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000.0, 1)


def report(
    client: str,
    workload: str,
    args: argparse.Namespace,
    messages: int,
    seconds: float,
    cpu_s: Optional[float],
    latencies_ns: Optional[list[int]] = None,
    writes_at_start: Optional[int] = None,
) -> dict:
    """The one JSON object a program prints (same fields as the Rust baselines)."""
    lat = sorted(latencies_ns) if latencies_ns else []
    out = {
        "client": client,
        "workload": workload,
        "clients": args.clients,
        "messages": messages,
        "size": args.size,
        "window": args.window,
        "seconds": round(seconds, 4),
        "msgs_per_s": round(messages / seconds) if seconds > 0 else 0,
        "mb_per_s": round(messages * args.size / seconds / 1e6, 2) if seconds > 0 else 0,
        "p50_us": percentile(lat, 0.50),
        "p90_us": percentile(lat, 0.90),
        "p99_us": percentile(lat, 0.99),
        "p999_us": percentile(lat, 0.999),
        "max_us": round(lat[-1] / 1000.0, 1) if lat else None,
        "cpu_s_per_100k": round(cpu_s * 100_000 / messages, 4)
        if cpu_s is not None and messages
        else None,
        # Not measured: asyncio writes with send()/sendto(), which /proc/self/io's syscw
        # does not count (it counts write/writev only), so a figure would read as 0.
        "writes_per_msg": None,
        "rss_kib": rss_kib(),
        "rss_peak_kib": _status_kib("VmHWM:"),
    }
    return out


async def _http_get_json(control: str, path: str):
    authority = control.removeprefix("http://").rstrip("/")
    host, port = authority.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.decode().partition("\r\n\r\n")
    if " 200 " not in head.split("\r\n", 1)[0]:
        raise RuntimeError(f"GET {control}{path}: {head.splitlines()[0] if head else 'no answer'}")
    return json.loads(body)


async def endpoint_name(control: str, url: str) -> str:
    """The name of the hub endpoint serving `url` (from the control API)."""
    endpoints = await _http_get_json(control, "/endpoints")
    for name, u in endpoints.items():
        if isinstance(u, str) and u.rstrip("/") == url.rstrip("/"):
            return name
    raise RuntimeError(f"no endpoint of {control} serves {url}")


async def received(control: str, name: str) -> int:
    return int((await _http_get_json(control, "/stats"))[name]["received"])


async def wait_received(control: str, name: str, target: int) -> None:
    deadline = time.monotonic() + SINK_TIMEOUT_S
    while True:
        got = await received(control, name)
        if got >= target:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} counted {got} of {target} after {SINK_TIMEOUT_S}s")
        await asyncio.sleep(0.002)


class AwaitConn:
    """What an await-style client offers: send (the library's usual send), recv (the next
    data message), close."""

    async def send(self, msg: Message) -> None: ...
    async def recv(self) -> Message: ...
    async def close(self) -> None: ...


async def echo_client(conn: AwaitConn, count: int, args, lat: list[int]) -> int:
    """Keeps at most `window` messages outstanding; returns when the last echo arrived (ns)."""
    window, size, binary = args.window, args.size, args.binary
    sent_at: list[int] = []
    sent = done = 0
    now = time.perf_counter_ns
    while done < count:
        while sent < count and sent - done < window:
            msg = message(sent, size, binary)
            sent_at.append(now())
            await conn.send(msg)
            sent += 1
        data = await conn.recv()
        t = now()
        seq = seq_of(data, binary)
        if seq != done:
            raise RuntimeError(f"echo out of order: got {seq}, expected {done}")
        lat.append(t - sent_at[done])
        done += 1
    return now()


async def run_await_client(
    client: str, args, connect: Callable[[str], Awaitable[AwaitConn]]
) -> dict:
    """Runs the chosen workload with an await-style client."""
    raise_fd_limit()
    if args.idle is not None:
        return await idle(client, args, connect)
    if args.send_only:
        if not args.control:
            raise SystemExit("--send-only needs --control URL")
        name = await endpoint_name(args.control, args.url)
        before = await received(args.control, name)
        conns = [await connect(args.url) for _ in range(args.clients)]
        t0, c0, w0 = time.perf_counter(), cpu_time(), write_syscalls()

        async def send_all(conn, count):
            for seq in range(count):
                await conn.send(message(seq, args.size, args.binary))

        await asyncio.gather(*(send_all(c, share(args, i)) for i, c in enumerate(conns)))
        await wait_received(args.control, name, before + args.messages)
        out = report(client, "send-only", args, args.messages, time.perf_counter() - t0, cpu_time() - c0,
                     writes_at_start=w0)
        await asyncio.gather(*(c.close() for c in conns))
        return out
    conns = [await connect(args.url) for _ in range(args.clients)]
    lat: list[int] = []
    t0ns, c0, w0 = time.perf_counter_ns(), cpu_time(), write_syscalls()
    ends = await asyncio.gather(*(echo_client(c, share(args, i), args, lat) for i, c in enumerate(conns)))
    cpu = cpu_time() - c0
    out = report(client, "echo", args, len(lat), (max(ends) - t0ns) / 1e9, cpu, lat, w0)
    await asyncio.gather(*(c.close() for c in conns))
    return out


async def idle(client: str, args, connect: Callable[[str], Awaitable[object]]) -> dict:
    """Opens `--idle N` connections, then reports the RSS growth per connection."""
    n = args.idle
    rss0 = rss_kib()
    sem = asyncio.Semaphore(IDLE_CONNECT_CONCURRENCY)

    async def open_one():
        async with sem:
            return await connect(args.url)

    t0 = time.perf_counter()
    held = await asyncio.gather(*(open_one() for _ in range(n)))
    seconds = time.perf_counter() - t0
    await asyncio.sleep(IDLE_SETTLE_S)
    out = report(client, "idle", args, 0, seconds, None)
    out["connections"] = len(held)
    out["rss_kib_per_conn"] = round((rss_kib() - rss0) / max(n, 1), 2)
    return out


def main(coro_factory: Callable[[], Awaitable[dict]]) -> None:
    result = asyncio.run(coro_factory())
    print(json.dumps(result), flush=True)
    # Skip interpreter teardown (thousands of idle connections would be closed one by one).
    os._exit(0)
