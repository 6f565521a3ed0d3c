"""TLS from Python: ``wss://`` and ``tls://`` against servers whose certificate comes from a
test CA given as ``ca_file``; a server the CA did not sign is refused; secrets stay out of
exceptions and logs."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from websockets.asyncio.server import ServerConnection, serve

import tether
from tether import errors

SECRETS = ("hunter2", "abc123", "s3cret-token")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
async def wss_echo(server_context: ssl.SSLContext) -> AsyncIterator[str]:
    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", 0, ssl=server_context) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"wss://127.0.0.1:{port}/"


@pytest.fixture
async def tls_echo(server_context: ssl.SSLContext) -> AsyncIterator[str]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(line)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"tls://127.0.0.1:{port}"


async def test_wss_with_the_servers_ca_file_delivers_and_receives(
    wss_echo: str, ca_file: Path
) -> None:
    async with tether.Client(wss_echo, ack_field="id", ca_file=ca_file) as client:
        reply = await client.request({"id": 1, "over": "wss"}, timeout=5)
        assert reply.data == {"id": 1, "over": "wss"}
        await (await client.send({"id": 2}))
        assert client.stats().acked == 2


async def test_json_lines_over_tls_with_the_servers_ca_file_are_acknowledged(
    tls_echo: str, ca_file: Path
) -> None:
    async with tether.Client(tls_echo, ack_field="id", ca_file=ca_file) as client:
        reply = await client.request({"id": 7, "over": "tls"}, timeout=5)
        assert reply.data == {"id": 7, "over": "tls"}


@pytest.mark.parametrize("scheme", ["wss", "tls"])
async def test_a_server_the_ca_did_not_sign_is_refused_as_fatal(
    scheme: str, wss_echo: str, tls_echo: str, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    url = wss_echo if scheme == "wss" else tls_echo
    client = tether.Client(url, ca_file=other, max_attempts=2, backoff_base=0.01)
    with pytest.raises(errors.ClientStopped) as stopped:
        await client.ready(timeout=10)
    assert stopped.value.fatal
    assert "certificate" in str(stopped.value).lower()
    await client.close()


async def test_secrets_stay_out_of_exceptions_and_logs(
    wss_echo: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tether")
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    url = wss_echo.replace("wss://", "wss://bot:hunter2@") + "?token=abc123"
    client = tether.Client(url, ca_file=other, token="s3cret-token", max_attempts=1)
    with pytest.raises(errors.ClientStopped) as stopped:
        await client.ready(timeout=10)
    with pytest.raises(errors.NotDelivered) as refused:
        await client.send({"password": "not-a-client-secret"})
    await client.close()
    shown = [str(stopped.value), repr(stopped.value), str(refused.value), repr(client)]
    shown += [r.getMessage() for r in caplog.records]
    shown += [str(r.args) for r in caplog.records]
    assert caplog.records, "the failed connection was logged"
    for text in shown:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} shown in {text!r}"
