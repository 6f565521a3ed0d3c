"""Baseline: `aiohttp`'s WebSocket client (as hiven.py uses it), with its defaults:
`await ws.send_str(...)` / `send_bytes` per message, `await ws.receive()`."""

import aiohttp

import common

CLIENT = "python-aiohttp"


class Conn(common.AwaitConn):
    def __init__(self, ws):
        self.ws = ws

    async def send(self, msg):
        if isinstance(msg, str):
            await self.ws.send_str(msg)
        else:
            await self.ws.send_bytes(msg)

    async def recv(self):
        msg = await self.ws.receive()
        if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            return msg.data
        raise RuntimeError(f"connection ended: {msg.type} {msg.data!r}")

    async def close(self):
        await self.ws.close()


async def run():
    args = common.parse_args(__doc__)
    # limit=0: no cap on open connections (the idle workload opens thousands).
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def open_conn(url: str) -> Conn:
            return Conn(await session.ws_connect(url, max_msg_size=0))

        return await common.run_await_client(CLIENT, args, open_conn)


if __name__ == "__main__":
    common.main(run)
