"""Baseline: `picows`, the fastest Python WebSocket client, used its usual way: a
listener whose `on_ws_frame` callback takes each echo and sends the next message."""

import asyncio
import time

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

import common

CLIENT = "python-picows"


class Listener(WSListener):
    """One connection: echo bookkeeping in callbacks, write backpressure as an event."""

    def __init__(self):
        self.transport: WSTransport | None = None
        self.writable = asyncio.Event()
        self.writable.set()
        self.done: asyncio.Future | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def on_ws_connected(self, transport: WSTransport):
        self.transport = transport

    def pause_writing(self):
        self.writable.clear()

    def resume_writing(self):
        self.writable.set()

    def on_ws_disconnected(self, transport: WSTransport):
        if not self.closed.done():
            self.closed.set_result(None)
        if self.done is not None and not self.done.done():
            self.done.set_exception(RuntimeError("connection ended"))

    # Echo workload state, set by start_echo.
    def start_echo(self, count: int, args, lat: list[int]) -> asyncio.Future:
        self.count, self.args, self.lat = count, args, lat
        self.kind = WSMsgType.BINARY if args.binary else WSMsgType.TEXT
        self.sent_at: list[int] = []
        self.sent = self.received = 0
        self.done = asyncio.get_running_loop().create_future()
        if count == 0:
            self.done.set_result(time.perf_counter_ns())
        self.fill()
        return self.done

    def send_seq(self, seq: int):
        msg = common.message(seq, self.args.size, self.args.binary)
        self.transport.send(self.kind, msg if isinstance(msg, bytes) else msg.encode())

    def fill(self):
        while self.sent < self.count and self.sent - self.received < self.args.window:
            self.sent_at.append(time.perf_counter_ns())
            self.send_seq(self.sent)
            self.sent += 1

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame):
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
            return
        if frame.msg_type not in (WSMsgType.TEXT, WSMsgType.BINARY) or self.done is None:
            return
        t = time.perf_counter_ns()
        data = frame.get_payload_as_bytes()
        seq = common.seq_of(data, self.args.binary)
        if seq != self.received:
            self.done.set_exception(RuntimeError(f"echo out of order: got {seq}, expected {self.received}"))
            return
        self.lat.append(t - self.sent_at[seq])
        self.received += 1
        if self.received == self.count:
            self.done.set_result(t)
        else:
            self.fill()

    async def close(self):
        self.transport.send_close()
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), 5)
        except asyncio.TimeoutError:
            self.transport.disconnect()


async def open_conn(url: str) -> Listener:
    _, listener = await ws_connect(Listener, url, max_frame_size=64 * 1024 * 1024)
    return listener


async def run():
    args = common.parse_args(__doc__)
    common.raise_fd_limit()
    if args.idle is not None:
        return await common.idle(CLIENT, args, open_conn)
    conns = [await open_conn(args.url) for _ in range(args.clients)]
    if args.send_only:
        if not args.control:
            raise SystemExit("--send-only needs --control URL")
        name = await common.endpoint_name(args.control, args.url)
        before = await common.received(args.control, name)
        kind = WSMsgType.BINARY if args.binary else WSMsgType.TEXT
        t0, c0, w0 = time.perf_counter(), common.cpu_time(), common.write_syscalls()

        async def send_all(conn: Listener, count: int):
            for seq in range(count):
                if not conn.writable.is_set():
                    await conn.writable.wait()
                msg = common.message(seq, args.size, args.binary)
                conn.transport.send(kind, msg if isinstance(msg, bytes) else msg.encode())

        await asyncio.gather(*(send_all(c, common.share(args, i)) for i, c in enumerate(conns)))
        await common.wait_received(args.control, name, before + args.messages)
        out = common.report(CLIENT, "send-only", args, args.messages, time.perf_counter() - t0,
                            common.cpu_time() - c0, writes_at_start=w0)
    else:
        lat: list[int] = []
        t0ns, c0, w0 = time.perf_counter_ns(), common.cpu_time(), common.write_syscalls()
        ends = await asyncio.gather(*(c.start_echo(common.share(args, i), args, lat) for i, c in enumerate(conns)))
        cpu = common.cpu_time() - c0
        out = common.report(CLIENT, "echo", args, len(lat), (max(ends) - t0ns) / 1e9, cpu, lat, w0)
    await asyncio.gather(*(c.close() for c in conns))
    return out


if __name__ == "__main__":
    common.main(run)
