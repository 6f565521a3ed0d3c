#!/usr/bin/env python3
"""Writes the fuzz seed corpora (fuzz/corpus/TARGET/seed-*) from the platforms' golden
files (../shared/protocols/golden/out) plus a few hand-written frames per platform.
Several frames of one seed are joined with NUL (see crates/tether-fuzz). Idempotent."""
import hashlib
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent
golden = root.parent / "shared" / "protocols" / "golden" / "out"
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
