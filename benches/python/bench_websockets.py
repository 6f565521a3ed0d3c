"""Baseline: the `websockets` library (asyncio API, as the datadivr, Moobius and Gather
seeds use it), with its defaults: `await ws.send(msg)` per message, `await ws.recv()`."""

from websockets.asyncio.client import connect

import common

CLIENT = "python-websockets"


class Conn(common.AwaitConn):
    def __init__(self, ws):
        self.ws = ws

    async def send(self, msg):
        await self.ws.send(msg)

    async def recv(self):
        return await self.ws.recv()

    async def close(self):
        await self.ws.close()


async def open_conn(url: str) -> Conn:
    return Conn(await connect(url, max_size=None))


async def run():
    args = common.parse_args(__doc__)
    return await common.run_await_client(CLIENT, args, open_conn)


if __name__ == "__main__":
    common.main(run)
