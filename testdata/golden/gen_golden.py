#!/usr/bin/env python3
"""Golden-vector generator for the five realtime protocols.

It installs nothing. Run it with the interpreter of a venv in which the REAL
packages are installed, e.g.

    bash scripts/peers-env/setup.sh venv   # real SDKs, pins resolved, datadivr.core stand-in
    venv/bin/python testdata/golden/gen_golden.py [--out DIR]

Every vector is produced by calling the packages' own code (builders,
generated protobuf classes, client send paths with a fake transport). Fields
that are random or time-based in the original are pinned by patching the
module-level `uuid` / `time` / `get_txn_id` the builders look up, and are
listed under "random_fields"; a second unpatched run is diffed to prove which
fields really vary.

Output: one JSON file per platform in DIR (default: out/ next to this
script): moobius.json, gather.json, happypandax.json, datadivr.json, plus
meta.json (package versions, Python/zlib versions).
"""
import argparse
import asyncio
import base64
import copy
import dataclasses
import gzip
import importlib.metadata as md
import json
import os
import platform
import sys
import time
import types
import uuid
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def dump(path, obj):
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=1, ensure_ascii=False, sort_keys=False)
        fh.write("\n")


def jsonable(x):
    """Represent builder inputs (which may be dataclasses) as JSON."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {"__dataclass__": type(x).__name__, "fields": jsonable(dataclasses.asdict(x))}
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, bytes):
        return {"__bytes_hex__": x.hex()}
    return x


def diff_paths(a, b, prefix=""):
    """Paths whose values differ between two JSON-like structures."""
    out = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a:
            if k in b:
                out += diff_paths(a[k], b[k], f"{prefix}.{k}" if prefix else k)
            else:
                out.append(f"{prefix}.{k}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            out += diff_paths(x, y, f"{prefix}[{i}]")
    elif a != b:
        out.append(prefix)
    return out


# --------------------------------------------------------------------------
# Moobius
# --------------------------------------------------------------------------
FIXED_UUID = "12345678-1234-4678-9234-567812345678"
FIXED_TIME = 1700000000.123          # -> timestamp 1700000000123 (int(time*1000))


def gen_moobius():
    import moobius.network.ws_client as wsmod
    from moobius import types as mt
    from moobius.network.ws_client import WSClient

    real_uuid, real_time = wsmod.uuid, wsmod.time

    def pin():
        wsmod.uuid = types.SimpleNamespace(uuid4=lambda: uuid.UUID(FIXED_UUID))
        wsmod.time = types.SimpleNamespace(time=lambda: FIXED_TIME)

    def unpin():
        wsmod.uuid, wsmod.time = real_uuid, real_time

    Button, Dialog, InputComponent, BottomButton = mt.Button, mt.Dialog, mt.InputComponent, mt.BottomButton
    dialog = Dialog(title="Pick one",
                    components=[InputComponent(label="Colour", type=mt.DROPDOWN, required=True,
                                               choices=["red", "green"])],
                    bottom_buttons=[BottomButton(id="ok", text="OK", submit=True),
                                    BottomButton(id="cancel", text="Cancel", submit=False)])
    # (builder name, kwargs factory) -- factories so that inputs mutated by a
    # builder (update_channel_info mutates a dict input) are fresh each run.
    cases = [
        ("heartbeat", "heartbeat", lambda: {}),
        ("service_login", "service_login", lambda: {"service_id": "svc-1", "access_token": "access-token-xyz"}),
        ("user_login", "user_login", lambda: {"access_token": "access-token-xyz"}),
        ("join_channel", "join_channel", lambda: {"user_id": "user-1", "channel_id": "ch-1"}),
        ("leave_channel", "leave_channel", lambda: {"user_id": "user-1", "channel_id": "ch-1"}),
        ("send_characters", "send_characters", lambda: {"characters": "grp-chars", "service_id": "svc-1",
                                                        "channel_id": "ch-1", "recipients": "grp-1"}),
        ("send_characters/empty_recipients", "send_characters",
         lambda: {"characters": "grp-chars", "service_id": "svc-1", "channel_id": "ch-1", "recipients": ""}),
        ("send_buttons/dataclass_simple", "send_buttons",
         lambda: {"buttons": [Button(button_id="b1", button_text="Click me")], "service_id": "svc-1",
                  "channel_id": "ch-1", "recipients": "grp-1"}),
        ("send_buttons/dataclass_with_dialog_single_not_list", "send_buttons",
         lambda: {"buttons": Button(button_id="b2", button_text="Choose", dialog=dialog), "service_id": "svc-1",
                  "channel_id": "ch-1", "recipients": "grp-1"}),
        ("send_buttons/dict", "send_buttons",
         lambda: {"buttons": [{"button_id": "b3", "button_text": "Dict button"}], "service_id": "svc-1",
                  "channel_id": "ch-1", "recipients": "grp-1"}),
        ("send_menu/dataclass", "send_menu",
         lambda: {"menu_items": [mt.MenuItem(menu_item_id="m1", menu_item_text="Reply", message_subtypes=["text"]),
                                 mt.MenuItem(menu_item_id="m2", menu_item_text="Report", message_subtypes="all",
                                             dialog=Dialog(title="Why?"))],
                  "service_id": "svc-1", "channel_id": "ch-1", "recipients": "grp-1"}),
        ("send_style/dataclass", "send_style",
         lambda: {"style_items": [mt.StyleItem(widget="canvas", display="visible", expand=True)],
                  "service_id": "svc-1", "channel_id": "ch-1", "recipients": "grp-1"}),
        ("send_style/dict_single", "send_style",
         lambda: {"style_items": {"widget": "button", "display": "highlight", "button_id": "b1", "text": "<b>here</b>"},
                  "service_id": "svc-1", "channel_id": "ch-1", "recipients": "grp-1"}),
        ("update_channel_info/dataclass", "update_channel_info",
         lambda: {"channel_info": mt.ChannelInfo(channel_id="ch-1", channel_name="General",
                                                 channel_description="Talk here", channel_type="ccs"),
                  "service_id": "svc-1", "channel_id": "ch-1"}),
        ("update_channel_info/dict", "update_channel_info",
         lambda: {"channel_info": {"channel_id": "ch-1", "channel_name": "General",
                                   "channel_description": "Talk here", "channel_type": "ccs"},
                  "service_id": "svc-1", "channel_id": "ch-1"}),
        ("update_canvas/dataclass_list", "update_canvas",
         lambda: {"service_id": "svc-1", "channel_id": "ch-1",
                  "canvas_items": [mt.CanvasItem(text="hello", path="https://example.invalid/a.png"),
                                   mt.CanvasItem(text="only text")], "recipients": "grp-1"}),
        ("update_canvas/dict_single", "update_canvas",
         lambda: {"service_id": "svc-1", "channel_id": "ch-1", "canvas_items": {"text": "dict canvas"},
                  "recipients": "grp-1"}),
        ("update", "update",
         lambda: {"data": {"subtype": "custom", "channel_id": "ch-1", "content": {"x": 1}},
                  "target_client_id": "target-1", "service_id": "svc-1"}),
        ("message_up/text_dataclass", "message_up",
         lambda: {"user_id": "user-1", "service_id": "svc-1", "channel_id": "ch-1", "recipients": "grp-1",
                  "subtype": "text", "content": mt.MessageContent(text="hello"), "context": {"k": "v"}}),
        ("message_up/file_dict", "message_up",
         lambda: {"user_id": "user-1", "service_id": "svc-1", "channel_id": "ch-1", "recipients": "grp-1",
                  "subtype": "file", "content": {"path": "https://example.invalid/f.pdf", "filename": "f.pdf",
                                                  "size": 1234}}),
        ("message_down/text_dict_nonascii", "message_down",
         lambda: {"user_id": "svc-1", "service_id": "svc-1", "channel_id": "ch-1", "recipients": "grp-1",
                  "subtype": "text", "content": {"text": "h\u00e9llo \U0001F600"}, "sender": "agent-1"}),
        ("message_down/card", "message_down",
         lambda: {"user_id": "svc-1", "service_id": "svc-1", "channel_id": "ch-1", "recipients": "grp-1",
                  "subtype": "card", "content": mt.MessageContent(link="https://example.invalid", title="T",
                                                                  button="Open", text="desc"),
                  "sender": "agent-1", "context": {"c": 1}}),
        ("send_button_click/with_args", "send_button_click",
         lambda: {"button_id": "b2", "bottom_button_id": "ok",
                  "button_args": [{"label": "Colour", "value": "red"}], "channel_id": "ch-1", "user_id": "user-1"}),
        ("send_button_click/no_args", "send_button_click",
         lambda: {"button_id": "b1", "bottom_button_id": "confirm", "button_args": None,
                  "channel_id": "ch-1", "user_id": "user-1"}),
        ("send_menu_item_click/message_id_str", "send_menu_item_click",
         lambda: {"menu_item_id": "m1", "bottom_button_id": "confirm", "button_args": [], "the_message": "msg-1",
                  "channel_id": "ch-1", "user_id": "user-1"}),
        ("send_menu_item_click/message_dict", "send_menu_item_click",
         lambda: {"menu_item_id": "m2", "bottom_button_id": "ok", "button_args": [{"label": "Why?", "value": "spam"}],
                  "the_message": {"message_id": "msg-2", "message_subtype": "text", "content": {"text": "buy now"}},
                  "channel_id": "ch-1", "user_id": "user-1"}),
        ("refresh_as_user", "refresh_as_user", lambda: {"user_id": "user-1", "channel_id": "ch-1"}),
    ]

    async def run_case(client, method, kwargs):
        return await getattr(client, method)(**kwargs, dry_run=True)

    async def via_send(client, msg):
        """The real send() path (dict -> WSClient.dumps -> outbound queue)."""
        client.outbound_queue_running = True   # don't start the consumer (it would try to connect)
        await client.send(msg)
        return client.outbound_queue.get_nowait()

    async def main():
        client = WSClient("wss://ws.example.invalid/")
        out = []
        for name, method, factory in cases:
            kwargs = factory()
            inputs = jsonable(kwargs)
            pin()
            try:
                returned = await run_case(client, method, kwargs)
            finally:
                unpin()
            # two unpatched runs, a few ms apart, to detect truly random fields
            r1 = await run_case(client, method, factory())
            time.sleep(0.003)
            r2 = await run_case(client, method, factory())
            varying = diff_paths(r1, r2) if r1 is not None else []
            wire = None if returned is None else await via_send(client, copy.deepcopy(returned))
            out.append({
                "case": name, "builder": f"WSClient.{method}", "kwargs": inputs,
                "returned": returned, "returns_none": returned is None,
                "wire_text": wire,
                "wire_equals_WSClient_dumps": (wire == WSClient.dumps(returned)) if returned is not None else None,
                "random_fields_declared": [p for p in ("request_id", "body.timestamp")
                                           if returned is not None and _has_path(returned, p)],
                "random_fields_observed_between_two_unpatched_runs": varying,
            })
        # error case: MessageBody dataclass input (the code calls dataclass.asdict)
        try:
            pin()
            await client.send_menu_item_click("m1", "confirm", [], mt.MessageBody(
                subtype="text", channel_id="ch-1", content=mt.MessageContent(text="x"), timestamp=1,
                recipients=["u"], sender="s", message_id="msg-3"), "ch-1", "user-1", dry_run=True)
            err = None
        except Exception as e:  # noqa: BLE001
            err = f"{type(e).__name__}: {e}"
        finally:
            unpin()
        # SDK-level generic send(): types.payload_as_dict
        generic = [
            {"call": "types.payload_as_dict('update', {...dict body...}, 'svc-1', FIXED_UUID)",
             "returned": mt.payload_as_dict("update", {"subtype": "canvas", "channel_id": "ch-1"}, "svc-1", FIXED_UUID)},
            {"call": "types.payload_as_dict('message_down', {...dict body...}, 'svc-1', FIXED_UUID)",
             "returned": mt.payload_as_dict("message_down", {"subtype": "text", "channel_id": "ch-1"}, "svc-1",
                                            FIXED_UUID)},
        ]
        return out, err, generic

    vectors, err, generic = asyncio.run(main())
    return {
        "platform": "moobius",
        "package": "moobius==1.8.0 (moobius.network.ws_client.WSClient)",
        "pinning": {"uuid4": FIXED_UUID, "time.time": FIXED_TIME,
                    "how": "moobius.network.ws_client.uuid / .time replaced by stubs for the pinned run only"},
        "wire_format": "text frame; json.dumps(msg) with Python defaults (', ' and ': ' separators, "
                       "ensure_ascii=True, insertion key order), via json_utils.enhanced_json_save(indent=None)",
        "vectors": vectors,
        "send_menu_item_click_with_MessageBody_raises": err,
        "sdk_generic_send_payload_as_dict": generic,
    }


def _has_path(d, path):
    cur = d
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return False
        cur = cur[part]
    return True


# --------------------------------------------------------------------------
# Gather
# --------------------------------------------------------------------------
FIXED_TXN = 123456789


def gen_gather():
    from google.protobuf import json_format, text_format
    import gather_client_ws.actions as gactions
    from gather_client_ws import GatherClient
    from gather_client_ws import events_pb2 as pb
    from gather_client_ws.helpers import camel_to_snake

    def enc(msg):
        b = msg.SerializeToString()
        return {"hex": b.hex(), "base64": base64.b64encode(b).decode(),
                "len": len(b),
                "json": json_format.MessageToDict(msg, preserving_proto_field_name=True),
                "text_format": text_format.MessageToString(msg, as_utf8=True)}

    # (oneof field, method args as the client would get them (snake kwargs), direct constructor)
    cases = [
        ("clientHeartbeat", {}, lambda: pb.ClientHeartbeat()),
        ("init", {"space_id": "AbCdEf\\My Space", "api_key": "test-api-key"},
         lambda: pb.Init(spaceId="AbCdEf\\My Space", apiKey="test-api-key")),
        ("init", {"space_id": "AbCdEf\\My Space", "token": "jwt-token"},
         lambda: pb.Init(spaceId="AbCdEf\\My Space", token="jwt-token")),
        ("setTextStatus", {"text_status": "new status text"}, lambda: pb.SetTextStatus(textStatus="new status text")),
        ("setTextStatus", {"text_status": "for other", "target_id": "player-2"},
         lambda: pb.SetTextStatus(textStatus="for other", targetId="player-2")),
        ("setEmojiStatus", {"emoji_status": "\U0001F601"}, lambda: pb.SetEmojiStatus(emojiStatus="\U0001F601")),
        ("move", {"dir": 1, "stopped": False, "input_id": 7},
         lambda: pb.Move(dir=pb.MoveDirectionEnum.Right, stopped=False, inputId=7)),
        ("move", {"dir": 4, "stopped": True, "input_id": 300},
         lambda: pb.Move(dir=pb.MoveDirectionEnum.Dance, stopped=True, inputId=300)),
        ("chat", {"chat_recipient": "GLOBAL_CHAT", "contents": "hi", "map_id": "office",
                  "local_player_ids": ["p1", "p2"]},
         lambda: pb.Chat(chatRecipient="GLOBAL_CHAT", contents="hi", mapId="office", localPlayerIds=["p1", "p2"])),
        ("teleport", {"map_id": "office", "x": 10, "y": 20, "direction": 3},
         lambda: pb.Teleport(mapId="office", x=10, y=20, direction=pb.SpriteDirectionEnum.Up)),
        ("setName", {"name": "Bot"}, lambda: pb.SetName(name="Bot")),
        ("enter", {"info": pb.PlayerInitInfo(name="Bot", x=1, y=2, map="office", isNpc=True)},
         lambda: pb.Enter(info=pb.PlayerInitInfo(name="Bot", x=1, y=2, map="office", isNpc=True))),
        ("exit", {}, lambda: pb.Exit()),
        ("respawn", {}, lambda: pb.Respawn()),
        ("ghost", {"ghost": 1}, lambda: pb.Ghost(ghost=1)),
        ("shootConfetti", {}, lambda: pb.ShootConfetti()),
        ("setAffiliation", {"affiliation": "ACME"}, lambda: pb.SetAffiliation(affiliation="ACME")),
        ("wave", {"user": "player-2", "is_reply": True}, lambda: pb.Wave(user="player-2", isReply=True)),
        ("customAction", {"name": "ping", "payload": "{\"a\":1}", "recipients": ["p1"], "send_to_all": False},
         lambda: pb.CustomAction(name="ping", payload="{\"a\":1}", recipients=["p1"], sendToAll=False)),
        ("updateSubscriptions", {"subscriptions": {"chat": True}, "map_update_ids": {"office": 5}},
         lambda: pb.UpdateSubscriptions(subscriptions={"chat": True}, mapUpdateIds={"office": 5})),
        ("craft", {"inputs": {"wood": 2}}, lambda: pb.Craft(inputs={"wood": 2})),
    ]

    class FakeWS:
        def __init__(self):
            self.sent = []

        async def send(self, data):
            self.sent.append(data)

    async def through_client(field, kwargs, txn):
        client = GatherClient(api_key="test-api-key", space_id="AbCdEf/My Space")
        client._ws = FakeWS()
        real = gactions.get_txn_id
        gactions.get_txn_id = lambda: txn
        try:
            await getattr(client, camel_to_snake(field))(**kwargs)
        finally:
            gactions.get_txn_id = real
        return client._ws.sent[0]

    vectors = []
    for field, kwargs, ctor in cases:
        direct = pb.ClientServerAction(txnId=FIXED_TXN, **{field: ctor()})
        d = enc(direct)
        via = asyncio.run(through_client(field, kwargs, FIXED_TXN))
        vectors.append({"action_field": field, "client_method": camel_to_snake(field),
                        "client_kwargs": jsonable({k: (json_format.MessageToDict(v) if hasattr(v, "DESCRIPTOR") else v)
                                                   for k, v in kwargs.items()}),
                        "txnId": FIXED_TXN, **d,
                        "client_method_bytes_equal_direct": via == direct.SerializeToString()})
    # txnId edge values: proto3 `optional` -> 0 is still encoded (explicit presence)
    edges = []
    for txn in (0, 1, 127, 128, 4294967295):
        m = pb.ClientServerAction(txnId=txn, clientHeartbeat=pb.ClientHeartbeat())
        edges.append({"txnId": txn, **enc(m)})
    no_txn = enc(pb.ClientServerAction(clientHeartbeat=pb.ClientHeartbeat()))

    E = pb.ServerClientEvent
    server_batches = [
        ("ready", pb.ServerClientBatch(events=[E(ready=pb.Ready(id="user-123"))])),
        ("serverHeartbeat", pb.ServerClientBatch(events=[E(serverHeartbeat=pb.ServerHeartbeat(lastRTT=42))])),
        ("transactionStatus_ok", pb.ServerClientBatch(events=[
            E(transactionStatus=pb.TransactionStatus(txnId=FIXED_TXN, succeeded=True))])),
        ("transactionStatus_fail", pb.ServerClientBatch(events=[
            E(transactionStatus=pb.TransactionStatus(txnId=FIXED_TXN, succeeded=False, reason="not allowed"))])),
        ("info_warn_error", pb.ServerClientBatch(events=[E(info=pb.Info(message="hello")),
                                                          E(warn=pb.Warn(message="careful")),
                                                          E(error=pb.ErrorEvent(message="bad", code=3))])),
        ("player_join_sequence", pb.ServerClientBatch(events=[
            E(playerJoins=pb.PlayerJoins(encId=7)),
            E(spaceSetsIdMapping=pb.SpaceSetsIdMapping(uid="player-2", encId=7)),
            E(playerSetsName=pb.PlayerSetsName(encId=7, name="Alice")),
            E(playerMoves=pb.PlayerMoves(encId=7, x=3, y=4, direction=pb.SpriteDirectionEnum.Down, mapId="office",
                                         lastInputId=1))])),
        ("player_chats", pb.ServerClientBatch(events=[E(playerChats=pb.PlayerChats(
            senderId="player-2", recipient="GLOBAL_CHAT", contents="hi all", senderName="Alice",
            messageType="DM", unixTime=1700000000.5, id="c-1"))])),
        ("status_and_exit", pb.ServerClientBatch(events=[
            E(playerSetsTextStatus=pb.PlayerSetsTextStatus(encId=7, textStatus="busy")),
            E(playerSetsEmojiStatus=pb.PlayerSetsEmojiStatus(encId=7, emojiStatus="\U0001F601")),
            E(playerExits=pb.PlayerExits(encId=7))])),
        ("custom_event", pb.ServerClientBatch(events=[E(customEvent=pb.CustomEvent(name="ping", payload="{}"))])),
    ]
    A = pb.ClientServerAction.DESCRIPTOR
    Ev = pb.ServerClientEvent.DESCRIPTOR
    return {
        "platform": "gather",
        "package": "gather-client-ws==0.0.4 (gather_client_ws.events_pb2, generated code, protobuf %s)" % md.version("protobuf"),
        "wire_format": "one ClientServerAction per BINARY websocket frame client->server; one ServerClientBatch per "
                       "binary frame server->client. Python serialises fields in field-number order, so the oneof "
                       "action field (numbers 1..146) precedes txnId (field 100) except for actions numbered > 100.",
        "client_server_actions": vectors,
        "txnId_edges": edges,
        "no_txnId_heartbeat": no_txn,
        "server_client_batches": [{"name": n, **enc(m)} for n, m in server_batches],
        "client_server_action_oneof": [{"field": f.name, "number": f.number, "type": f.message_type.name,
                                        "client_method": camel_to_snake(f.name)}
                                       for f in A.oneofs_by_name["action"].fields],
        "server_client_event_oneof": [{"field": f.name, "number": f.number, "type": f.message_type.name}
                                      for f in Ev.oneofs_by_name["event"].fields],
    }


def _try_json(b):
    try:
        return json.loads(b)
    except ValueError:
        return {"__not_json__": True}


# --------------------------------------------------------------------------
# HappyPanda X
# --------------------------------------------------------------------------
def gen_happypandax():
    import happypandax_client as hpx
    from happypandax_client import client as hpxc

    EOF = b"<EOF>"
    greeting = {"session": "", "name": "server",
                "data": {"version": {"core": [0, 1, 2], "db": [0, 1, 0], "torrent": [0, 0, 0]},
                         "guest_allowed": True}}

    def server_frame(obj):
        return gzip.compress(json.dumps(obj).encode(), 5) + EOF

    class FakeSocket:
        """Stands in for the TCP socket: records sendall() calls, serves canned replies."""

        def __init__(self, replies, chunk=None):
            self.replies = [server_frame(r) if not isinstance(r, bytes) else r for r in replies]
            self.sent = []
            self.chunk = chunk          # max bytes returned per recv() (simulates TCP splitting)

        def settimeout(self, t):
            pass

        def connect(self, addr):
            self.addr = addr

        def sendall(self, b):
            self.sent.append(bytes(b))

        def recv(self, n):
            if not self.replies:
                return b""
            n = min(n, self.chunk or n)
            r = self.replies[0][:n]
            self.replies[0] = self.replies[0][n:]
            if not self.replies[0]:
                self.replies.pop(0)
            return r

        def close(self):
            pass

    def describe_frames(sent):
        """sendall() is called twice per message: gzip body, then b'<EOF>'."""
        frames = []
        i = 0
        while i < len(sent):
            body = sent[i]
            tail = sent[i + 1] if i + 1 < len(sent) else None
            payload = gzip.decompress(body)
            zeroed = body[:4] + b"\x00\x00\x00\x00" + body[8:]
            frames.append({
                "sendall_calls": [len(body), len(tail) if tail is not None else None],
                "second_sendall_is_EOF": tail == EOF,
                "payload_utf8": payload.decode("utf-8"),
                "payload_json": _try_json(payload),
                "gzip_header": {"hex": body[:10].hex(), "id1_id2_cm": body[:3].hex(), "flg": body[3],
                                "mtime_le_u32_bytes_4_to_8": int.from_bytes(body[4:8], "little"),
                                "xfl": body[8], "os": body[9]},
                "wire_hex_as_captured": (body + (tail or b"")).hex(),
                "wire_hex_mtime_zeroed": (zeroed + (tail or b"")).hex(),
            })
            i += 2
        return frames

    def new_client(replies, chunk=None, **kw):
        c = hpx.Client("golden-client", host="127.0.0.1", port=7007, **kw)
        c._sock.close()
        c._sock = FakeSocket(replies, chunk)
        return c

    vectors = []

    def record(name, fn, replies, chunk=None, **kw):
        c = new_client(replies, chunk, **kw)
        try:
            res = fn(c)
            exc = None
        except Exception as e:  # noqa: BLE001
            res, exc = None, {"class": type(e).__name__, "code": getattr(e, "code", None), "str": str(e)}
        vectors.append({"scenario": name, "server_replies_fed": jsonable(replies),
                        "client_frames": describe_frames(c._sock.sent), "result": jsonable(res), "exception": exc,
                        "state_after": {"alive": c.alive(), "ready": c.ready(), "accepted": c.accepted,
                                        "session": c.session, "version": c.version,
                                        "guest_allowed": c.guest_allowed}})

    auth_ok = {"session": "abc123", "name": "server", "data": "Authenticated"}
    record("connect_only (reads greeting, sends nothing)", lambda c: c.connect(), [greeting])
    record("connect+handshake(guest)", lambda c: (c.connect(), c.handshake()), [greeting, auth_ok])
    record("connect+handshake(user,password)", lambda c: (c.connect(), c.handshake(user="alice", password="s3cret")),
           [greeting, auth_ok])
    record("handshake then send(function list)",
           lambda c: (c.connect(), c.handshake(), c.send([{"fname": "get_version"},
                                                         {"fname": "get_item", "item_type": "Gallery", "item_id": 1}])),
           [greeting, auth_ok, {"session": "abc123", "name": "server",
                                "data": [{"fname": "get_version", "data": {"core": [0, 1, 2]}},
                                         {"fname": "get_item", "data": None,
                                          "error": {"code": 404, "msg": "x"}}]}])
    record("send with non-ASCII (ensure_ascii escapes)",
           lambda c: (c.connect(), c.handshake(), c.send([{"fname": "search", "q": "h\u00e9llo \u65e5\u672c"}])),
           [greeting, auth_ok, {"session": "abc123", "name": "server", "data": []}])
    record("request_handshake (re-login with new creds)",
           lambda c: (c.connect(), c.request_handshake(user="bob", password="pw")), [greeting, greeting, auth_ok])
    record("send_bytes (raw bytes in, raw str out)",
           lambda c: (c.connect(), c.handshake(), c.send_bytes(b"raw-bytes")),
           [greeting, auth_ok, {"session": "abc123", "name": "server", "data": "ok"}])
    record("client constructed with session_id (accepted after connect, no handshake)",
           lambda c: (c.connect(), c.send([{"fname": "get_version"}])),
           [greeting, {"session": "pre-session", "name": "server", "data": []}], session_id="pre-session")
    record("send before auth -> AuthRequiredError (nothing sent)", lambda c: (c.connect(), c.send([{"fname": "x"}])),
           [greeting])
    for code, msg in ((411, "Wrong credentials"), (407, "Authentication is required"),
                      (412, "JSON dict missing 'user' key"), (406, "Auth error"), (408, "Session expired")):
        record(f"handshake error code {code}", lambda c: (c.connect(), c.handshake(user="u", password="p")),
               [greeting, {"session": "", "name": "server", "data": None, "error": {"code": code, "msg": msg}}])
    record("handshake error ignored (ignore_err=True)",
           lambda c: (c.connect(), c.handshake(user="u", password="p", ignore_err=True)),
           [greeting, {"session": "", "name": "server", "data": None, "error": {"code": 411, "msg": "Wrong"}}])
    record("server frames split into 7-byte recv() chunks (EOF marker split too): handled",
           lambda c: (c.connect(), c.handshake()), [greeting, auth_ok], chunk=7)
    record("greeting + auth reply coalesced in ONE recv(): client always recv()s again before looking at its "
           "buffer, so the 2nd message is never parsed (here: next recv returns b'' -> disconnect; on a live "
           "socket it would block until timeout)",
           lambda c: (c.connect(), c.handshake()),
           [server_frame(greeting) + server_frame(auth_ok)])

    finalize = [
        {"call": "finalize('golden-client', {})", "returned": hpxc.finalize("golden-client", {})},
        {"call": "finalize('golden-client', {'user': 'alice', 'password': 's3cret'})",
         "returned": hpxc.finalize("golden-client", {"user": "alice", "password": "s3cret"})},
        {"call": "finalize('golden-client', [{'fname': 'get_version'}], session_id='abc123')",
         "returned": hpxc.finalize("golden-client", [{"fname": "get_version"}], session_id="abc123")},
        {"call": "finalize('golden-client', 'requestauth')", "returned": hpxc.finalize("golden-client", "requestauth")},
    ]
    for f in finalize:
        f["json_dumps_utf8"] = json.dumps(f["returned"])
    errors = {n: getattr(hpx, n).code for n in ("ClientError", "ConnectionError", "ServerDisconnectError",
                                                "AuthError", "AuthRequiredError", "AuthWrongCredentialsError",
                                                "AuthMissingCredentials", "JSONParseError")}
    return {
        "platform": "happypandax",
        "package": "happypandax-client==1.0.0",
        "framing": "TCP; each message = gzip.compress(json.dumps(msg).encode('utf-8'), 5) followed by b'<EOF>' "
                   "(two separate sendall calls); same framing server->client",
        "nondeterminism": "gzip header bytes 4..8 are the MTIME (little-endian u32, current time) -> bytes vary "
                          "per second. Compare: gzip magic 1f8b08, FLG=0, XFL=0, OS=255 (Python's header for "
                          "mtime!=0), trailing b'<EOF>', and the DECOMPRESSED payload bytes exactly. The deflate "
                          "stream itself depends on the zlib implementation (here zlib %s); another deflate "
                          "encoder (e.g. miniz_oxide) emits different but equivalent bytes. "
                          "wire_hex_mtime_zeroed is reproducible only with the same zlib." % zlib.ZLIB_RUNTIME_VERSION,
        "finalize": finalize,
        "scenarios": vectors,
        "exception_codes": errors,
    }


# --------------------------------------------------------------------------
# datadivr
# --------------------------------------------------------------------------
def gen_datadivr():
    from starlette.websockets import WebSocket as StarletteWS

    from datadivr.handlers.builtin.sum_handler import sum_handler
    from datadivr.transport import server as dsrv
    from datadivr.transport.client import WebSocketClient
    from datadivr.transport.messages import create_error_message, create_message
    from datadivr.transport.models import WebSocketMessage

    msgs = [
        ("minimal", WebSocketMessage(event_name="msg")),
        ("sum_event_request", WebSocketMessage(event_name="sum_event", payload={"numbers": [391, 29]}, to="all")),
        ("text_msg_to_others", WebSocketMessage(event_name="msg", to="others", message="hello")),
        ("direct_with_from", WebSocketMessage(event_name="custom", payload=[1, "two", None, {"x": 1.5}],
                                              to="client-123", from_id="client-9", message="m")),
        ("error_message_helper", create_error_message("Invalid payload format", "client-9")),
        ("create_message_helper", create_message("update", {"value": 42}, "all", "Updated")),
        ("non_ascii", WebSocketMessage(event_name="msg", message="h\u00e9llo \U0001F600", to="all")),
    ]

    async def starlette_text(data):
        """Run Starlette's real WebSocket.send_json on a fake self and capture the text frame."""
        cap = {}

        async def fake_send(m):
            cap.update(m)
        fake = types.SimpleNamespace(send=fake_send)
        await StarletteWS.send_json(fake, data)
        return cap.get("text")

    class ClientSideFakeWS:     # has .send but no .send_json -> messages.send_message uses json.dumps
        def __init__(self):
            self.sent = []

        async def send(self, text):
            self.sent.append(text)

    async def main():
        out = []
        for name, m in msgs:
            dumped = m.model_dump()
            out.append({"name": name, "model_dump": dumped,
                        "server_wire_text(starlette send_json)": await starlette_text(dumped),
                        "client_wire_text(json.dumps default)": json.dumps(m.model_dump(exclude={"websocket"}))})
        # real WebSocketClient.send_message with a fake connection
        cl = WebSocketClient("ws://127.0.0.1:8765/ws")
        cl.websocket = ClientSideFakeWS()
        await cl.send_message(payload={"numbers": [391, 29]}, event_name="sum_event", to="all")
        await cl.send_message(payload=None, event_name="msg", msg="hello")
        client_send = cl.websocket.sent
        # real server handler pipeline (handle_msg -> sum_handler) with from_id set like the server does
        handler_cases = []
        for payload in ({"numbers": [391, 29]}, {"numbers": [1.5, "2", True]}, [1, 2], {"numbers": 5},
                        {"numbers": ["x"]}, {"numbers": []}):
            req = WebSocketMessage(event_name="sum_event", payload=payload, to="all")
            req.from_id = "client-A"
            resp = await dsrv.handle_msg(req)
            handler_cases.append({"request_payload": payload, "response": resp.model_dump(),
                                  "response_wire_text": await starlette_text(resp.model_dump())})
        passthrough = await dsrv.handle_msg(WebSocketMessage(event_name="unhandled", to="all", from_id="client-A"))
        # real broadcast() routing with fake connected clients
        class RecWS:
            def __init__(self, n):
                self.n, self.got = n, []

            async def send_json(self, d):
                self.got.append(d)
        routing = []
        for to in ("all", "others", "client-B", "nobody"):
            a, b, c = RecWS("A"), RecWS("B"), RecWS("C")
            dsrv.clients.clear()
            dsrv.clients.update({"client-A": {"websocket": a, "state": {}},
                                 "client-B": {"websocket": b, "state": {}},
                                 "client-C": {"websocket": c, "state": {}}})
            await dsrv.broadcast(WebSocketMessage(event_name="msg", to=to, from_id="client-A", message="x"), a)
            routing.append({"to": to, "sender": "client-A",
                            "delivered_to": [w.n for w in (a, b, c) if w.got]})
        dsrv.clients.clear()
        return out, client_send, handler_cases, passthrough.model_dump(), routing

    out, client_send, handler_cases, passthrough, routing = asyncio.run(main())
    validation = {}
    for name, raw in (("missing event_name", {"payload": 1}), ("extra keys ignored", {"event_name": "e", "x": 1, "from": "y"}),
                      ("to=null", {"event_name": "e", "to": None}), ("payload any JSON", {"event_name": "e", "payload": "s"})):
        try:
            validation[name] = {"input": raw, "model_dump": WebSocketMessage.model_validate(raw).model_dump()}
        except Exception as e:  # noqa: BLE001
            validation[name] = {"input": raw, "error": type(e).__name__ + ": " + str(e).splitlines()[0]}
    return {
        "platform": "datadivr",
        "package": "datadivr==0.3 (+ datadivr/core shim from upstream tag 0.3)",
        "messages": out,
        "client_send_message_wire_texts": client_send,
        "server_sum_event_handler": handler_cases,
        "server_unhandled_event_passthrough": passthrough,
        "server_broadcast_routing": routing,
        "model_validation": validation,
        "model_fields": {n: {"annotation": str(f.annotation), "required": f.is_required(),
                             "default": None if f.is_required() else jsonable(f.default),
                             "excluded_from_dump": bool(f.exclude)}
                         for n, f in WebSocketMessage.model_fields.items()},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--only", nargs="*", choices=["moobius", "gather", "happypandax", "datadivr"])
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    gens = {"moobius": gen_moobius, "gather": gen_gather, "happypandax": gen_happypandax, "datadivr": gen_datadivr}
    status = {}
    for name, fn in gens.items():
        if args.only and name not in args.only:
            continue
        try:
            dump(os.path.join(args.out, f"{name}.json"), fn())
            status[name] = "ok"
        except Exception as e:  # noqa: BLE001
            import traceback
            status[name] = f"FAILED: {type(e).__name__}: {e}"
            traceback.print_exc()
    versions = {}
    for p in ("moobius", "gather-client-ws", "happypandax-client", "datadivr", "protobuf", "websockets",
              "pydantic", "starlette", "fastapi", "uvicorn"):
        try:
            versions[p] = md.version(p)
        except md.PackageNotFoundError:
            versions[p] = None
    dump(os.path.join(args.out, "meta.json"), {
        "generator": "golden/gen_golden.py", "python": sys.version, "platform": platform.platform(),
        "zlib_runtime": zlib.ZLIB_RUNTIME_VERSION, "packages": versions, "status": status})
    print(json.dumps(status, indent=1))
    return 0 if all(v == "ok" for v in status.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
