#!/usr/bin/env python3
"""Drives the REAL HappyPanda X Python SDK (`happypandax_client.Client` 1.0.0) against a
server (the hub's `hpx` endpoint), for interop tests.

Usage: VENV/bin/python scripts/interop/hpx_sdk_driver.py HOST PORT USER PASSWORD

Client A: connect (reads the greeting), guest handshake, send([{"fname": "get_version"}]),
send([{"fname": "echo", ...}]) with non-ASCII text, send_bytes(b"raw-bytes"), close.
Client B: connect, handshake with USER and a wrong password (expects
AuthWrongCredentialsError), request_handshake(USER, PASSWORD) (expects accepted), then
send([{"fname": "get_version"}]).
Client C: send before any handshake (expects AuthRequiredError, nothing sent).
The last stdout line is `RESULT {json}`; the caller checks it. Every socket call has the
SDK's timeout (10 s). Exit status 0 when every step ran, 1 otherwise.
"""
import json
import sys

import happypandax_client as hpx


def state(c):
    return {"alive": c.alive(), "ready": c.ready(), "accepted": c.accepted,
            "session": c.session, "version": c.version, "guest_allowed": c.guest_allowed}


def error(e):
    return {"class": type(e).__name__, "code": getattr(e, "code", None), "str": str(e)}


def main():
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    out = {}

    a = hpx.Client("interop-a", host=host, port=port)
    out["a_connect"] = a.connect()
    out["a_after_connect"] = state(a)
    out["a_handshake"] = a.handshake()
    out["a_after_handshake"] = state(a)
    out["a_get_version"] = a.send([{"fname": "get_version"}])
    out["a_echo"] = a.send([{"fname": "echo", "msg": "h\u00e9llo \u65e5\u672c", "n": 2.5}])
    out["a_send_bytes"] = a.send_bytes(b"raw-bytes")
    a.close()
    out["a_after_close"] = state(a)

    b = hpx.Client("interop-b", host=host, port=port)
    b.connect()
    try:
        b.handshake(user=user, password=password + "-wrong")
        out["b_wrong_password"] = None
    except hpx.ClientError as e:
        out["b_wrong_password"] = error(e)
    out["b_after_wrong"] = state(b)
    out["b_request_handshake"] = b.request_handshake(user=user, password=password)
    out["b_after_request_handshake"] = state(b)
    out["b_get_version"] = b.send([{"fname": "get_version"}])
    b.close()

    c = hpx.Client("interop-c", host=host, port=port)
    c.connect()
    try:
        c.send([{"fname": "get_version"}])
        out["c_send_before_auth"] = None
    except hpx.ClientError as e:
        out["c_send_before_auth"] = error(e)
    c.close()

    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - reported to the caller
        print(f"hpx_sdk_driver: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
