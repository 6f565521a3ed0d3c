"""A drop-in for the HappyPanda X SDK (``happypandax-client`` 1.0.0), on tether's engine.

Change ``import happypandax_client as hpxclient`` to
``import tether.happypandax as hpxclient``: ``Client`` (blocking), ``finalize`` and the
exception hierarchy keep the SDK's names, arguments, codes and bases; ``AsyncClient`` has
the same methods as coroutines. The SDK's example runs as it is::

    c = hpxclient.Client("my-client")
    c.connect(host="localhost", port=7007)
    c.handshake(user=None, password=None)
    d = c.send([{"fname": "get_version"}])

What the SDK lacks comes with it: the ``timeout`` applies to every request (the SDK's
reader can wait past it), a reply is never taken for the next request's, messages that
arrive together are all read, TLS is rustls (``ssl_context`` turns it on and adds the CA
certificates loaded in it, see ``Client``; trust more CAs with ``ca_file=``), and with
``auto_reconnect=True`` a lost connection is re-established with backoff, the last
accepted credentials are sent again, and unanswered requests are replayed (an HPX reply
acknowledges its request: nothing is lost). Passwords never show
in ``repr``, logs or exceptions.

As the SDK documents, the JSON library can be swapped (``send_raw`` writes with it and
every reply is read with it)::

    import ujson
    hpxclient.client.json = ujson
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import json
import logging
import ssl
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from . import _native
from .errors import TetherError

__all__ = [
    "AsyncClient",
    "AuthError",
    "AuthMissingCredentials",
    "AuthRequiredError",
    "AuthWrongCredentialsError",
    "Client",
    "ClientError",
    "ConnectionError",
    "JSONParseError",
    "ServerDisconnectError",
    "finalize",
]

log = logging.getLogger("tether.happypandax")

#: The SDK's submodules, as attributes (``hpxclient.client.json = ujson`` works).
client = sys.modules[__name__]
exceptions = sys.modules[__name__]

T = TypeVar("T")


class ClientError(TetherError):
    """Base client exception, all client exceptions derive from this."""

    code = 500

    def __init__(self, name: str, msg: str) -> None:
        super().__init__(f"{name}: {msg}")


class ConnectionError(ClientError, builtins.ConnectionError):
    """Server connection error (also a builtin ``ConnectionError``)."""

    code = 501


class ServerDisconnectError(ConnectionError, ConnectionAbortedError):
    """Server disconnected (also a ``ConnectionAbortedError``)."""

    code = 502


class AuthError(ClientError):
    """Auth base error."""

    code = 406


class AuthRequiredError(AuthError):
    """Connected but not authenticated."""

    code = 407


class AuthWrongCredentialsError(AuthError):
    """Wrong user or password."""

    code = 411


class AuthMissingCredentials(AuthError):
    """The server allows no guests and got no credentials."""

    code = 412


class JSONParseError(ClientError):
    """JSON parse error."""

    code = 900

    def __init__(self, json_data: Any, name: str, msg: str) -> None:
        # The SDK's text (its format string drops the name).
        super().__init__("Client ''", msg)


def finalize(name: str, msg: Any, session_id: str = "") -> dict[str, Any]:
    """The message envelope: ``{"session", "name", "data"}``."""
    return {"session": session_id, "name": name, "data": msg}


def _context_roots(context: ssl.SSLContext) -> list[bytes]:
    """The CA certificates loaded in `context` (DER), to be trusted besides the webpki
    roots; refuses what tether's TLS cannot do (it always verifies the server)."""
    if context.verify_mode == ssl.CERT_NONE:
        raise ValueError(
            "ssl_context.verify_mode is CERT_NONE, but tether's TLS always verifies the "
            "server's certificate: trust its CA instead (ssl_context.load_verify_locations"
            "(cafile) or ca_file=)"
        )
    if not context.check_hostname:
        log.info("ssl_context.check_hostname is False: tether's TLS checks the host name anyway")
    return [bytes(der) for der in context.get_ca_certs(binary_form=True)]


def _loads(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as e:
        raise JSONParseError(text, name, f"Failed parsing JSON data from server: {e}") from None


class Client:
    """A client for communicating with a HappyPanda X server (blocking, as the SDK's).

    ``ssl_context`` turns TLS on (rustls): the CA certificates loaded in it
    (``load_verify_locations``, ``configure_trust`` …; ``get_ca_certs()``) are trusted
    besides the webpki roots. The server's certificate and host name are always verified:
    a context with ``verify_mode == ssl.CERT_NONE`` raises ``ValueError`` (rather than
    verifying when told not to), and ``check_hostname = False`` still checks the name.
    Its other settings (protocol versions, ciphers, client certificates) are not used.

    Extra keyword arguments (tether's): ``ca_file`` (PEM, trusted besides the webpki
    roots when TLS is on), ``auto_reconnect`` (default ``False``, as the SDK),
    ``backoff_base``, ``backoff_cap``, ``max_attempts``."""

    def __init__(
        self,
        name: str,
        host: str = "localhost",
        port: int = 7007,
        session_id: str = "",
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 60,
        *,
        ca_file: str | None = None,
        auto_reconnect: bool = False,
        backoff_base: float = 0.25,
        backoff_cap: float = 30.0,
        max_attempts: int | None = None,
    ) -> None:
        self.name = name
        self._server = (host, int(port))
        self._closed = False
        self._native = _native.NativeHpx(
            name,
            session_id=session_id,
            tls=ssl_context is not None,
            ca_file=ca_file,
            ca_certs=_context_roots(ssl_context) if ssl_context is not None else [],
            timeout=float(timeout or 0),
            auto_reconnect=auto_reconnect,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            max_attempts=max_attempts,
        )

    @property
    def host(self) -> str:
        """The HPX server host."""
        return self._server[0]

    @host.setter
    def host(self, v: str) -> None:
        self._server = (v, self.port)

    @property
    def port(self) -> int:
        """The HPX server port."""
        return self._server[1]

    @port.setter
    def port(self, v: int) -> None:
        self._server = (self.host, int(v))

    @property
    def accepted(self) -> bool:
        """Whether this client has been authenticated."""
        return self._native.status()[2]

    @property
    def session(self) -> str:
        """The session id (``""`` before authentication)."""
        return self._native.status()[3]

    @property
    def version(self) -> Any:
        """The version the server's greeting gave (``None`` before connecting)."""
        text = self._native.status()[4]
        return None if text is None else json.loads(text)

    @property
    def guest_allowed(self) -> bool:
        """Whether the server allows guests (from its greeting)."""
        return self._native.status()[5]

    def ready(self) -> bool:
        """Connected and greeted."""
        return self._native.status()[1]

    def alive(self) -> bool:
        """Whether the connection with the server is alive."""
        return self._native.status()[0]

    def connect(self, host: str | None = None, port: int | None = None) -> bool:
        """Connects to the server and reads its greeting."""
        if self._closed:
            raise ClientError(self.name, "This connection has already been closed")
        if host is not None:
            self.host = host
        if port is not None:
            self.port = port
        if not self.alive():
            log.info("Client connecting to server at: %s", self._server)
            self._native.connect(self.host, self.port)
        return True

    def handshake(
        self, user: str | None = None, password: str | None = None, ignore_err: bool = False
    ) -> bool:
        """Shakes hands with the server (as a guest without ``user``); ``True`` when
        accepted. Raises the ``Auth*`` exception of the server's error unless
        ``ignore_err``."""
        return self._native.handshake(user, password, ignore_err)

    def request_handshake(
        self,
        user: str | bool | None = False,
        password: str | bool | None = False,
        ignore_err: bool = False,
    ) -> bool:
        """Asks the server for a new handshake, then shakes hands (with the last
        credentials used when ``user`` is not given)."""
        u = None if user is False else (user or "")
        p = None if password is False else (password or "")
        return self._native.request_handshake(
            u if isinstance(u, str) else None, p if isinstance(p, str) else None, ignore_err
        )

    def send_bytes(self, data: bytes, raise_on_auth: bool = True) -> str:
        """Sends bytes (gzipped, framed) and returns the reply's text, unparsed. Raises
        ``AuthRequiredError`` before sending anything when connected but not
        authenticated, unless ``raise_on_auth`` is ``False`` (then the server answers,
        say with its own auth error in the reply)."""
        return self._native.send_text(bytes(data), raise_on_auth)

    def send_raw(self, data: Any, raise_on_auth: bool = True, encoding: str = "utf-8") -> Any:
        """Sends a JSON-compatible message as it is (written with ``client.json``) and
        returns the reply, parsed; ``raise_on_auth`` as in ``send_bytes``."""
        text = json.dumps(data)
        return _loads(self._native.send_text(bytes(text, encoding), raise_on_auth), self.name)

    def send(self, data: Any, raise_on_auth: bool = True, encoding: str = "utf-8") -> Any:
        """Sends ``data`` in the session's envelope (``finalize``) and returns the reply;
        ``raise_on_auth`` as in ``send_bytes``."""
        return _loads(self._native.send(data, raise_on_auth), self.name)

    def close(self) -> None:
        """Closes the connection; the client cannot connect again."""
        log.info("Closing connection to server")
        self._closed = True
        self._native.close()

    def __enter__(self) -> Client:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.name!r}, host={self.host!r}, port={self.port}, "
            f"alive={self.alive()}, accepted={self.accepted})"
        )


class AsyncClient:
    """``Client`` for asyncio: the same constructor and methods, as coroutines (each call
    waits in an executor thread while the engine does the I/O)."""

    def __init__(self, name: str, *args: Any, **kwargs: Any) -> None:
        self._client = Client(name, *args, **kwargs)
        self.name = name

    async def _call(self, f: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(f, *args))

    @property
    def host(self) -> str:
        """The HPX server host."""
        return self._client.host

    @host.setter
    def host(self, v: str) -> None:
        self._client.host = v

    @property
    def port(self) -> int:
        """The HPX server port."""
        return self._client.port

    @port.setter
    def port(self, v: int) -> None:
        self._client.port = v

    @property
    def accepted(self) -> bool:
        """Whether this client has been authenticated."""
        return self._client.accepted

    @property
    def session(self) -> str:
        """The session id."""
        return self._client.session

    @property
    def version(self) -> Any:
        """The version the server's greeting gave."""
        return self._client.version

    @property
    def guest_allowed(self) -> bool:
        """Whether the server allows guests."""
        return self._client.guest_allowed

    def ready(self) -> bool:
        """Connected and greeted."""
        return self._client.ready()

    def alive(self) -> bool:
        """Whether the connection with the server is alive."""
        return self._client.alive()

    async def connect(self, host: str | None = None, port: int | None = None) -> bool:
        """As ``Client.connect``."""
        return await self._call(self._client.connect, host, port)

    async def handshake(
        self, user: str | None = None, password: str | None = None, ignore_err: bool = False
    ) -> bool:
        """As ``Client.handshake``."""
        return await self._call(self._client.handshake, user, password, ignore_err)

    async def request_handshake(
        self,
        user: str | bool | None = False,
        password: str | bool | None = False,
        ignore_err: bool = False,
    ) -> bool:
        """As ``Client.request_handshake``."""
        return await self._call(self._client.request_handshake, user, password, ignore_err)

    async def send_bytes(self, data: bytes, raise_on_auth: bool = True) -> str:
        """As ``Client.send_bytes``."""
        return await self._call(self._client.send_bytes, data, raise_on_auth)

    async def send_raw(self, data: Any, raise_on_auth: bool = True, encoding: str = "utf-8") -> Any:
        """As ``Client.send_raw``."""
        return await self._call(self._client.send_raw, data, raise_on_auth, encoding)

    async def send(self, data: Any, raise_on_auth: bool = True, encoding: str = "utf-8") -> Any:
        """As ``Client.send``."""
        return await self._call(self._client.send, data, raise_on_auth, encoding)

    async def close(self) -> None:
        """As ``Client.close``."""
        await self._call(self._client.close)

    async def __aenter__(self) -> AsyncClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Async{self._client!r}"
