"""tether.happypandax as a drop-in for happypandax-client 1.0.0: the SDK's README example
with only the import line changed (and the SDK itself, same output); the twin of the
real-SDK interop test (crates/tether-hub/tests/interop_hpx.rs, its driver
scripts/interop/hpx_sdk_driver.py run with tether's module); the exception hierarchy; the
timeout applied; re-handshake and replay through a hub fault; AsyncClient."""

from __future__ import annotations

import asyncio
import builtins
import json
import os
import re
import subprocess
import sys
import types
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

import tether.happypandax as hpx
from conftest import ROOT, Hub

EXAMPLE = ROOT / "python" / "examples" / "happypandax_basic.py"
DRIVER = ROOT / "scripts" / "interop" / "hpx_sdk_driver.py"
SDK_IMPORT = "import happypandax_client as hpxclient\n"
TETHER_IMPORT = "import tether.happypandax as hpxclient\n"
VERSION = {"core": [0, 1, 2], "db": [0, 1, 0], "torrent": [0, 0, 0]}
USER, PASSWORD = "admin", "admin"


def address(hub: Hub) -> tuple[str, int]:
    url = urllib.parse.urlsplit(hub["hpx"])
    assert url.hostname is not None and url.port is not None
    return url.hostname, url.port


def peers_python() -> str | None:
    venv = Path(os.environ.get("TETHER_PEERS_VENV", ROOT / ".venv-peers"))
    python = venv / "bin" / "python"
    if not python.exists():
        if os.environ.get("TETHER_PEERS_VENV"):
            pytest.fail(f"{python} is missing")
        return None
    return str(python)


def run(python: str, script: Path) -> str:
    done = subprocess.run([python, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_sdk_example_runs_with_only_the_import_line_changed(hub: Hub, tmp_path: Path) -> None:
    host, port = address(hub)
    source = EXAMPLE.read_text()
    assert TETHER_IMPORT in source
    source = source.replace('host="localhost", port=7007', f'host="{host}", port={port}')
    ours = tmp_path / "tether_example.py"
    ours.write_text(source)
    out = run(sys.executable, ours)
    # The session id is random: the rest is the SDK's reply, pretty-printed.
    masked = re.sub(r"'session': '[0-9a-f]{32}'", "'session': S", out)
    assert masked == (
        "{'data': [{'data': {'core': [0, 1, 2], 'db': [0, 1, 0], 'torrent': [0, 0, 0]},\n"
        "           'fname': 'get_version'}],\n"
        " 'name': 'server',\n"
        " 'session': S}\n"
    ), out
    python = peers_python()
    if python is not None:
        sdk = tmp_path / "sdk_example.py"
        sdk.write_text(source.replace(TETHER_IMPORT, SDK_IMPORT))
        theirs = re.sub(r"'session': '[0-9a-f]{32}'", "'session': S", run(python, sdk))
        assert theirs == masked, "the same output as the SDK's"


def test_the_interop_driver_gets_what_the_real_sdk_gets(hub: Hub, tmp_path: Path) -> None:
    """The twin of interop_hpx.rs: its driver with tether's module, the same assertions
    down to the bytes the hub received, read from its control API)."""
    source = DRIVER.read_text()
    assert "import happypandax_client as hpx\n" in source
    driver = tmp_path / "hpx_tether_driver.py"
    driver.write_text(
        source.replace("import happypandax_client as hpx\n", "import tether.happypandax as hpx\n")
    )
    host, port = address(hub)
    mark = hub.mark("hpx")
    done = subprocess.run(
        [sys.executable, str(driver), host, str(port), USER, PASSWORD],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in reversed(done.stdout.splitlines()) if x.startswith("RESULT "))
    r: dict[str, Any] = json.loads(line.removeprefix("RESULT "))

    assert r["a_connect"] is True
    assert r["a_after_connect"]["ready"] is True
    assert r["a_after_connect"]["accepted"] is False
    assert r["a_after_connect"]["version"] == VERSION
    assert r["a_after_connect"]["guest_allowed"] is True
    assert r["a_handshake"] is True
    session = r["a_after_handshake"]["session"]
    assert r["a_after_handshake"]["accepted"] is True
    assert len(session) == 32, session
    assert r["a_get_version"] == {
        "session": session,
        "name": "server",
        "data": [{"fname": "get_version", "data": VERSION}],
    }
    assert list(r["a_echo"]["data"][0]["data"]) == ["msg", "n"], "arguments in order"
    assert r["a_echo"]["data"] == [
        {"fname": "echo", "data": {"msg": "h\u00e9llo \u65e5\u672c", "n": 2.5}}
    ]
    raw = json.loads(r["a_send_bytes"])
    assert raw["error"]["code"] == 900, raw
    assert r["a_after_close"]["alive"] is False

    wrong = r["b_wrong_password"]
    assert wrong["class"] == "AuthWrongCredentialsError", wrong
    assert wrong["code"] == 411
    assert wrong["str"] == "interop-b: Wrong credentials"
    assert r["b_after_wrong"]["accepted"] is False
    assert r["b_request_handshake"] is True
    assert r["b_after_request_handshake"]["accepted"] is True
    assert r["b_get_version"]["data"][0]["data"] == VERSION
    assert "error" not in r["b_get_version"]

    early = r["c_send_before_auth"]
    assert early["class"] == "AuthRequiredError", early
    assert early["code"] == 407

    # What the client put on the wire, as the hub decoded it: the SDK's bytes.
    texts = [f["text"] for f in hub.received("hpx", mark)]
    want = [
        '{"session": "", "name": "interop-a", "data": {}}',
        f'{{"session": "{session}", "name": "interop-a", "data": [{{"fname": "get_version"}}]}}',
        f'{{"session": "{session}", "name": "interop-a", "data": [{{"fname": "echo", '
        '"msg": "h\\u00e9llo \\u65e5\\u672c", "n": 2.5}]}',
        "raw-bytes",
        f'{{"session": "", "name": "interop-b", "data": {{"user": "{USER}", '
        f'"password": "{PASSWORD}-wrong"}}}}',
        '{"session": "", "name": "interop-b", "data": "requestauth"}',
        f'{{"session": "", "name": "interop-b", "data": {{"user": "{USER}", '
        f'"password": "{PASSWORD}"}}}}',
    ]
    assert texts[: len(want)] == want, texts
    assert len(texts) == len(want) + 1, "B's get_version, and nothing from C"


def test_the_exceptions_have_the_sdk_bases_and_codes() -> None:
    assert issubclass(hpx.ConnectionError, hpx.ClientError)
    assert issubclass(hpx.ConnectionError, builtins.ConnectionError)
    assert issubclass(hpx.ServerDisconnectError, hpx.ConnectionError)
    assert issubclass(hpx.ServerDisconnectError, ConnectionAbortedError)
    for cls in (hpx.AuthRequiredError, hpx.AuthWrongCredentialsError, hpx.AuthMissingCredentials):
        assert issubclass(cls, hpx.AuthError)
    assert issubclass(hpx.AuthError, hpx.ClientError)
    assert issubclass(hpx.JSONParseError, hpx.ClientError)
    codes: dict[type[hpx.ClientError], int] = {
        hpx.ClientError: 500,
        hpx.ConnectionError: 501,
        hpx.ServerDisconnectError: 502,
        hpx.AuthError: 406,
        hpx.AuthRequiredError: 407,
        hpx.AuthWrongCredentialsError: 411,
        hpx.AuthMissingCredentials: 412,
        hpx.JSONParseError: 900,
    }
    for exc, code in codes.items():
        assert exc.code == code, exc
    assert str(hpx.AuthError("c", "408: Session expired")) == "c: 408: Session expired"
    assert hpx.finalize("n", {"a": 1}) == {"session": "", "name": "n", "data": {"a": 1}}


def test_a_closed_client_cannot_connect_again(hub: Hub) -> None:
    host, port = address(hub)
    c = hpx.Client("closed", host=host, port=port)
    c.connect()
    c.close()
    assert not c.alive()
    with pytest.raises(hpx.ClientError, match="already been closed"):
        c.connect()


def test_a_wrong_password_never_shows_in_the_error_or_repr(hub: Hub) -> None:
    host, port = address(hub)
    c = hpx.Client("secretive", host=host, port=port)
    c.connect()
    with pytest.raises(hpx.AuthWrongCredentialsError) as e:
        c.handshake(user=USER, password="hunter2-wrong")
    assert "hunter2" not in str(e.value)
    assert "hunter2" not in repr(c)
    c.close()


def test_the_timeout_applies_to_a_request_the_server_never_answers(hub: Hub) -> None:
    host, port = address(hub)
    c = hpx.Client("patient", host=host, port=port, timeout=0.5)
    c.connect()
    c.handshake()
    hub.fault("hpx", "stall", secs=30)
    with pytest.raises(hpx.ConnectionError):
        c.send([{"fname": "get_version"}])
    assert not c.alive()
    c.close()


def test_the_login_is_sent_again_and_the_request_answered_after_a_hub_drop(hub: Hub) -> None:
    host, port = address(hub)
    mark = hub.mark("hpx")
    c = hpx.Client(
        "resilient", host=host, port=port, auto_reconnect=True, backoff_base=0.05, backoff_cap=0.2
    )
    c.connect()
    assert c.handshake(user=USER, password=PASSWORD)
    first = c.send([{"fname": "echo", "msg": "before"}])
    assert first["data"][0]["data"] == {"msg": "before"}
    hub.fault("hpx", "drop")  # TCP reset: no goodbye
    # Sent whether or not the client noticed the drop yet: answered once it is back,
    # after the handshake again (the hub refuses a session-less request with 407).
    after = c.send([{"fname": "echo", "msg": "after"}])
    assert "error" not in after, after
    assert after["data"][0]["data"] == {"msg": "after"}
    assert c.accepted
    c.close()
    # On the wire: each connection began with the handshake, with the same credentials;
    # the request after the drop went out (again, if the dead connection took it) after
    # the new handshake.
    connections = hub.by_connection("hpx", mark)
    assert len(connections) >= 2, connections
    for frames in connections:
        first = json.loads(frames[0]["text"])
        assert first["name"] == "resilient"
        assert first["data"] == {"user": USER, "password": PASSWORD}, frames
    last = [json.loads(f["text"])["data"] for f in connections[-1]]
    assert last[1:] == [[{"fname": "echo", "msg": "after"}]], last


def test_the_json_library_can_be_swapped(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def dumps(obj: Any) -> str:
        calls.append("dumps")
        return json.dumps(obj)

    def loads(text: str) -> Any:
        calls.append("loads")
        return json.loads(text)

    monkeypatch.setattr(hpx.client, "json", types.SimpleNamespace(dumps=dumps, loads=loads))
    host, port = address(hub)
    c = hpx.Client("swapped", host=host, port=port)
    c.connect()
    c.handshake()
    reply = c.send_raw(hpx.finalize("swapped", [{"fname": "get_version"}], c.session))
    assert reply["data"][0]["data"] == VERSION
    assert calls[-2:] == ["dumps", "loads"]
    c.close()


async def test_the_async_client_has_the_same_methods_as_coroutines(hub: Hub) -> None:
    host, port = address(hub)
    async with hpx.AsyncClient("async", host=host, port=port) as c:
        assert c.ready()
        assert c.version == VERSION
        assert await c.handshake()
        reply = await c.send([{"fname": "get_version"}])
        assert reply["data"][0]["data"] == VERSION
        with pytest.raises(hpx.AuthWrongCredentialsError):
            await c.request_handshake(USER, "nope")
        assert await c.request_handshake(USER, PASSWORD)
    assert not c.alive()
    await asyncio.sleep(0)
