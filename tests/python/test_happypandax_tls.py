"""tether.happypandax over TLS: the ``ssl_context`` is honoured (the CA certificates loaded in
it are trusted; a context that would not verify is refused with a clear error), against a
`tether serve` whose hpx endpoint has a certificate from a test CA; and ``raise_on_auth``
as the SDK documents it."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.parse
from collections.abc import Iterator

import pytest
import trustme

import tether.happypandax as hpx
from conftest import Hub, tether_bin
from test_happypandax import PASSWORD, USER, VERSION, address


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_hpx(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """`(host, port)` of a hub whose hpx endpoint speaks TLS with a certificate for
    127.0.0.1 from `ca`."""
    folder = tmp_path_factory.mktemp("hpx-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    issued = ca.issue_cert("127.0.0.1", "localhost")
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    process = subprocess.Popen(
        [
            tether_bin(),
            "serve",
            "--ephemeral",
            "--json",
            "--hpx-cert",
            str(cert),
            "--hpx-key",
            str(key),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        url = urllib.parse.urlsplit(json.loads(line)["hpx"])
        assert url.scheme == "tls" and url.hostname and url.port, url
        yield url.hostname, url.port
    finally:
        process.terminate()
        process.wait(timeout=10)


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def test_the_ca_certificates_loaded_in_the_ssl_context_are_trusted(
    ca: trustme.CA, tls_hpx: tuple[str, int]
) -> None:
    host, port = tls_hpx
    c = hpx.Client("tls-client", host=host, port=port, ssl_context=trusting(ca), timeout=10)
    c.connect()
    assert c.version == VERSION
    assert c.handshake(user=USER, password=PASSWORD)
    assert c.send([{"fname": "get_version"}])["data"][0]["data"] == VERSION
    c.close()


def test_an_ssl_context_without_the_servers_ca_is_refused_as_a_connection_error(
    tls_hpx: tuple[str, int],
) -> None:
    host, port = tls_hpx
    c = hpx.Client("untrusting", host=host, port=port, ssl_context=ssl.create_default_context())
    with pytest.raises(hpx.ConnectionError, match="not trusted"):
        c.connect()
    assert not c.alive()
    c.close()


def test_a_context_without_hostname_check_still_connects_with_its_ca(
    ca: trustme.CA, tls_hpx: tuple[str, int]
) -> None:
    """What a context made for the SDK looks like (its `wrap_socket` names no server, so
    `check_hostname` must be off); tether checks the name anyway, and 127.0.0.1 is it."""
    context = trusting(ca)
    context.check_hostname = False
    host, port = tls_hpx
    c = hpx.Client("no-hostname-check", host=host, port=port, ssl_context=context)
    c.connect()
    assert c.ready()
    c.close()


def test_a_context_that_would_not_verify_is_refused_before_any_io() -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with pytest.raises(ValueError, match="CERT_NONE"):
        hpx.Client("insecure", ssl_context=context)


def test_raise_on_auth_false_sends_before_the_handshake_and_returns_the_servers_answer(
    hub: Hub,
) -> None:
    host, port = address(hub)
    mark = hub.mark("hpx")
    c = hpx.Client("unchecked", host=host, port=port)
    c.connect()
    with pytest.raises(hpx.AuthRequiredError):
        c.send([{"fname": "get_version"}])
    reply = c.send([{"fname": "get_version"}], raise_on_auth=False)
    assert reply["error"]["code"] == 407, reply
    raw = c.send_raw(hpx.finalize("unchecked", "hello"), raise_on_auth=False)
    assert raw["error"]["code"] == 409, f"the server's own answer: {raw!r}"
    text = c.send_bytes(b"not json", raise_on_auth=False)
    assert json.loads(text)["error"]["code"] == 900, text
    c.close()
    # Only the unchecked requests went out.
    assert [f["text"] for f in hub.received("hpx", mark)] == [
        '{"session": "", "name": "unchecked", "data": [{"fname": "get_version"}]}',
        '{"session": "", "name": "unchecked", "data": "hello"}',
        "not json",
    ]
