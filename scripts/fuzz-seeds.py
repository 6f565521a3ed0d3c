#!/usr/bin/env python3
"""Writes the fuzz seed corpora (fuzz/corpus/TARGET/seed-*) from the platforms' golden
files (testdata/golden/out) plus a few hand-written frames per platform.
Several frames of one seed are joined with NUL (see crates/tether-fuzz). Idempotent."""
import hashlib
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent
golden = root / "testdata" / "golden" / "out"
corpus = root / "fuzz" / "corpus"


def strings(value):
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def json_texts(path):
    """The strings of a golden file that are JSON objects (wire texts)."""
    out = []
    for s in strings(json.loads(path.read_text())):
        if s.startswith("{"):
            try:
                json.loads(s)
                out.append(s)
            except ValueError:
                pass
    return out


def write(target, seeds):
    folder = corpus / target
    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        data = seed if isinstance(seed, bytes) else seed.encode()
        name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
        (folder / name).write_bytes(data)
    print(f"{target}: {len(list(folder.iterdir()))} files")


datadivr = json_texts(golden / "datadivr.json")
write("datadivr", datadivr + ["\0".join(datadivr[:4])])

write("raw", [
    '{"id": 1, "type": "chat", "text": "hi"}',
    '{"id": "a", "ack": true}\0{"type": null}\0[1, 2, 3]\0"text"',
    '{"id": 1e400}\0{"id": {"nested": [1]}}',
])

hello = '{"op": 1, "d": {"hbt_int": 30000}}'
init = json.dumps({"op": 0, "e": "INIT_STATE", "d": {
    "user": {"id": "1", "username": "bot", "name": "Bot"},
    "house_memberships": {"h1": {"house_id": "h1"}}, "settings": {}, "relationships": {},
    "private_rooms": [], "read_state": {}, "presences": {}, "house_ids": ["h1"]}})
join = json.dumps({"op": 0, "e": "HOUSE_JOIN", "d": {
    "id": "h1", "name": "House", "owner_id": "1",
    "rooms": [{"id": "r1", "name": "general", "house_id": "h1", "type": 0}],
    "members": [{"user_id": "1", "house_id": "h1", "user": {"id": "1", "username": "bot"}}],
    "entities": [], "roles": []}})
message = json.dumps({"op": 0, "e": "MESSAGE_CREATE", "d": {
    "id": "m1", "room_id": "r1", "house_id": "h1", "author_id": "2", "content": "hello",
    "timestamp": 1700000000000, "author": {"id": "2", "username": "someone"}}})
write("hiven", [
    hello,
    "\0".join([hello, init, join, message]),
    "\0".join([hello, init]),
    "\0".join([hello, join, init, json.dumps({"op": 0, "e": "HOUSE_LEAVE", "d": {"house_id": "h1"}})]),
    '{"op": 0, "e": "SOMETHING_NEW", "d": null}',
])

# Moobius: every golden wire text (message_up/down, update, action, refresh, ... all parse
# as payloads), the golden SDK payload dicts, and the server's own replies.
moobius_golden = json.loads((golden / "moobius.json").read_text())
moobius = [v["wire_text"] for v in moobius_golden["vectors"] if v.get("wire_text")]
moobius += [json.dumps(v["returned"]) for v in moobius_golden["sdk_generic_send_payload_as_dict"]]
moobius += [
    '{"type":"copy","request_id":"x","body":{"request_id":"r","origin_type":"heartbeat","status":true}}',
    '{"type":"message_down","request_id":"r","body":{"subtype":"text","channel_id":"c","content":{"text":"hi"},'
    '"recipients":"g","timestamp":1,"sender":"s","message_id":"m","context":{},"new":1}}',
    '{"message": "Internal server error"}',
    '{"type":"something_new","body":[1, null]}',
]
write("moobius", moobius + ["\0".join(moobius[:5])])

# Gather: the golden server batches (binary), alone and after a `ready` batch. A batch
# is protobuf, so a NUL may occur inside it: a seed is one batch, or several batches
# none of which holds a NUL.
gather_golden = json.loads((golden / "gather.json").read_text())
batches = [bytes.fromhex(b["hex"]) for b in gather_golden["server_client_batches"]]
ready = batches[0]
gather = list(batches)
gather += [ready + b"\0" + b for b in batches[1:] if b"\0" not in b]
gather.append(b"\0".join(b for b in batches if b"\0" not in b))
write("gather", gather)

# HPX: the golden scenarios' server replies (client side) and client frames (server
# side), each gzip-compressed and followed by <EOF>, after the two option bytes (see
# crates/tether-fuzz: flags, read size).
import gzip as _gzip


def hpx_wire(payloads):
    return b"".join(_gzip.compress(p.encode(), 5, mtime=0) + b"<EOF>" for p in payloads)


def py_json(value):
    return json.dumps(value)  # Python's json.dumps: ", " and ": " separators


hpx_golden = json.loads((golden / "happypandax.json").read_text())
replies, requests = [], []
for scenario in hpx_golden["scenarios"]:
    fed = [py_json(m) for m in scenario.get("server_replies_fed", [])]
    sent = [f["payload_utf8"] for f in scenario.get("client_frames", []) if f.get("payload_utf8")]
    if fed:
        replies.append(fed)
    if sent:
        requests.append(sent)
codec_seeds, server_seeds = [], []
for i, fed in enumerate(replies):
    stream = hpx_wire(fed)
    codec_seeds.append(bytes([i % 8, 0]) + stream)      # all at once
    codec_seeds.append(bytes([i % 8, 7]) + stream)      # 7-byte reads
codec_seeds.append(bytes([1, 3]) + b"not gzip<EOF>" + hpx_wire(['{"data": 1}']))
codec_seeds.append(bytes([0, 2]) + hpx_wire(['{"a": 1}'])[:-2])  # a marker cut short
for i, sent in enumerate(requests):
    stream = hpx_wire(sent)
    server_seeds.append(bytes([0, 0]) + stream)
    server_seeds.append(bytes([0, 5 + i]) + stream)
server_seeds.append(bytes([0, 0]) + hpx_wire([
    '{"session": "", "name": "c", "data": {}}',
    '{"session": "", "name": "c", "data": "requestauth"}',
    '{"session": "x", "name": "c", "data": [{"fname": "get_version"}, {"fname": "echo", "msg": "hi"}]}',
    '{"session": "", "name": "c", "data": 3}',
]))
server_seeds.append(bytes([1, 0]) + b"\x1f\x8b garbage<EOF>" + hpx_wire(['[1, 2]']))
write("hpx_codec", codec_seeds)
write("hpx_server", server_seeds)

# The hub's WebSocket sessions: byte 0 picks the service (0 datadivr, 1 Moobius, 2 Gather,
# 3 Hiven), then what clients send, NUL-separated (the golden client frames).
dd_golden = json.loads((golden / "datadivr.json").read_text())
dd_client = dd_golden["client_send_message_wire_texts"]
moobius_client = [v["wire_text"] for v in moobius_golden["vectors"] if v.get("wire_text")]
gather_actions = [bytes.fromhex(a["hex"]) for a in gather_golden["client_server_actions"]]
hiven_token = "Bot " + "a" * 128
hiven_client = ['{"op": 2, "d": {"token": "%s"}}' % hiven_token, '{"op": 3}', '{"op": 7, "d": {}}']
hub = [b"\x00" + "\0".join(dd_client).encode()]
hub += [b"\x00" + t.encode() for t in dd_client]
hub += [b"\x01" + "\0".join(moobius_client[i:i + 4]).encode() for i in range(0, len(moobius_client), 4)]
hub += [b"\x02" + a for a in gather_actions]
init = [a for a in gather_actions if b"\0" not in a]
hub.append(b"\x02" + b"\0".join(init))
hub.append(b"\x03" + "\0".join(hiven_client).encode())
write("hub", hub)

# The permessage-deflate frame layer: byte 0 options (1 server side, 2 no context
# takeover, 4 small limit), byte 1 read size, then frames from the peer.
import zlib


def deflate_message(compressor, payload):
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return data[:-4] if data.endswith(b"\x00\x00\xff\xff") else data


def ws_frame(first, payload, mask=None):
    n = len(payload)
    head = bytes([first])
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + n.to_bytes(8, "big")
    if mask:
        head += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + payload


inflate_seeds = []
texts = [t.encode() for t in dd_client[:6]]
for flags in (0, 1, 2, 4):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    mask = b"\x01\x02\x03\x04" if flags & 1 else None
    frames = b""
    for t in texts:
        if flags & 2:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
        frames += ws_frame(0xC1, deflate_message(c, t), mask)
    frames += ws_frame(0x89, b"ping", mask) + ws_frame(0x81, b"plain text", mask)
    for chunk in (0, 1, 7):
        inflate_seeds.append(bytes([flags, chunk]) + frames)
# A fragmented compressed message with a ping in between, a bomb, RSV1 on a ping.
c = zlib.compressobj(6, zlib.DEFLATED, -15)
body = deflate_message(c, b"x" * 5000)
inflate_seeds.append(bytes([0, 3]) + ws_frame(0x41, body[:10]) + ws_frame(0x89, b"")
                     + ws_frame(0x80, body[10:]))
bomb = deflate_message(zlib.compressobj(9, zlib.DEFLATED, -15), b"\0" * 100000)
inflate_seeds.append(bytes([4, 0]) + ws_frame(0xC2, bomb))
inflate_seeds.append(bytes([0, 0]) + ws_frame(0xC9, b""))
inflate_seeds.append(bytes([0, 0]) + ws_frame(0xC1, b"\xff\xff garbage"))
write("ws_inflate", inflate_seeds)
