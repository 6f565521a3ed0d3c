#!/usr/bin/env python3
"""Python `websockets` with its DEFAULT compression (permessage-deflate), for tether's
interop tests: proves that compression is negotiated and used in both directions.

  VENV/bin/python scripts/interop/deflate_peer.py server --port PORT
      an echo server (websockets.asyncio.server.serve, compression defaults); prints one
      JSON line per connection ({"event": "open", "extensions": "<answered header>"}) and
      per message ({"event": "message", "compressed": <its first frame had RSV1>,
      "length": N}), unbuffered.
  VENV/bin/python scripts/interop/deflate_peer.py client URL
      connects with the default offer, sends one ~4 KiB JSON text message, reads the echo,
      prints {"extensions": ..., "sent_compressed": ..., "received_compressed": ...,
      "echo_equal": ...} and exits.

RSV1 is observed by wrapping the PerMessageDeflate extension's encode/decode (the frames
as they were on the wire); nothing of the protocol is changed.
"""
import argparse
import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.extensions import permessage_deflate

seen = {"in": [], "out": []}
_decode = permessage_deflate.PerMessageDeflate.decode
_encode = permessage_deflate.PerMessageDeflate.encode


def decode(self, frame, *, max_size=None):
    if frame.opcode in (1, 2):  # the first frame of a message (text or binary)
        seen["in"].append(frame.rsv1)
    return _decode(self, frame, max_size=max_size)


def encode(self, frame):
    out = _encode(self, frame)
    if out.opcode in (1, 2):
        seen["out"].append(out.rsv1)
    return out


permessage_deflate.PerMessageDeflate.decode = decode
permessage_deflate.PerMessageDeflate.encode = encode


def say(obj):
    print(json.dumps(obj), flush=True)


async def echo(ws):
    say({"event": "open", "extensions": ws.response.headers.get("Sec-WebSocket-Extensions")})
    async for message in ws:
        say({"event": "message", "compressed": bool(seen["in"] and seen["in"][-1]),
             "length": len(message)})
        await ws.send(message)


async def server(port):
    async with serve(echo, "127.0.0.1", port) as srv:
        await srv.serve_forever()


def sample():
    members = [{"user_id": "u-%04d" % i, "display_name": "member %d" % i, "status": "online",
                "roles": ["member", "reader"]} for i in range(40)]
    return json.dumps({"id": 1, "type": "channel_update", "members": members})


async def client(url):
    text = sample()
    async with connect(url, open_timeout=10) as ws:
        await ws.send(text)
        echoed = await asyncio.wait_for(ws.recv(), 10)
        say({"extensions": ws.response.headers.get("Sec-WebSocket-Extensions"),
             "sent_compressed": bool(seen["out"] and seen["out"][0]),
             "received_compressed": bool(seen["in"] and seen["in"][0]),
             "echo_equal": echoed == text})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("server")
    s.add_argument("--port", type=int, required=True)
    c = sub.add_parser("client")
    c.add_argument("url")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    asyncio.run(server(args.port) if args.mode == "server" else client(args.url))


if __name__ == "__main__":
    main()
