"""A drop-in for the datadivr SDK's client (``datadivr`` 0.3), on tether's engine.

Change ``from datadivr import ...`` to ``from tether.datadivr import ...``: the names, the
arguments and the wire text are the SDK's. What the SDK lacks comes with it: reconnect with
backoff, WebSocket heartbeats that notice a dead server, a bounded ordered outbox (messages
sent while the connection is down are sent after it is back), and neither a bad inbound
message nor a failing handler ends ``receive_messages``.

::

    client = WebSocketClient("ws://localhost:8765/ws")
    await client.connect()
    await client.send_message(payload={"numbers": [391, 29]}, event_name="sum_event")
    await client.receive_messages()
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import json
import logging
from collections.abc import Callable
from types import CoroutineType
from typing import Any, TypeVar

from ._client import _END, Client
from ._native import DatadivrMessage, datadivr_wire_text
from .errors import TetherError

__all__ = [
    "DataDivrError",
    "HandlerType",
    "NotConnectedError",
    "WebSocketClient",
    "WebSocketError",
    "WebSocketMessage",
    "get_handlers",
    "websocket_handler",
]

logger = logging.getLogger("tether.datadivr")


class DataDivrError(TetherError):
    """Base exception of the datadivr client (as in the SDK)."""


class WebSocketError(DataDivrError):
    """Base exception for WebSocket errors (as in the SDK)."""


class NotConnectedError(WebSocketError):
    """Raised when the client is used before ``connect()`` (or after ``disconnect()``)."""

    def __init__(self, message: str = "not connected: call connect() first") -> None:
        super().__init__(message)


_UNSET: Any = object()


class WebSocketMessage:
    """A datadivr message: the SDK's model, without pydantic. ``payload`` of a received
    message is converted on first access."""

    __slots__ = ("_native", "_payload", "event_name", "from_id", "message", "to")

    def __init__(
        self,
        event_name: str,
        payload: Any = None,
        to: str = "others",
        from_id: str = "server",
        message: str | None = None,
        **_ignored: Any,
    ) -> None:
        if not isinstance(event_name, str):
            raise TypeError("event_name must be a str")
        if not isinstance(to, str):
            raise TypeError("to must be a str")
        self.event_name = event_name
        self._payload = payload
        self._native: DatadivrMessage | None = None
        self.to = to
        self.from_id = from_id
        self.message = message

    @classmethod
    def _from_native(cls, native: DatadivrMessage) -> WebSocketMessage:
        m = cls.__new__(cls)
        m.event_name = native.event_name
        m._payload = _UNSET
        m._native = native
        m.to = native.to
        m.from_id = native.from_id
        m.message = native.message
        return m

    @property
    def payload(self) -> Any:
        if self._payload is _UNSET:
            assert self._native is not None
            self._payload = self._native.payload
            self._native = None
        return self._payload

    @payload.setter
    def payload(self, value: Any) -> None:
        self._payload = value
        self._native = None

    @classmethod
    def model_validate(cls, data: dict[str, Any]) -> WebSocketMessage:
        """A message from a dict (as the SDK's pydantic model)."""
        return cls(**data)

    def model_dump(self, exclude: Any = None) -> dict[str, Any]:
        """The fields in the SDK's order."""
        return {
            "event_name": self.event_name,
            "payload": self.payload,
            "to": self.to,
            "from_id": self.from_id,
            "message": self.message,
        }

    def model_dump_json(self) -> str:
        return json.dumps(self.model_dump())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WebSocketMessage):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"WebSocketMessage(event_name={self.event_name!r}, to={self.to!r}, "
            f"from_id={self.from_id!r}, message={self.message!r})"
        )


class HandlerType(enum.Enum):
    """Where a handler is registered (as in the SDK)."""

    SERVER = enum.auto()
    CLIENT = enum.auto()
    BOTH = enum.auto()


HandlerFunc = Callable[[WebSocketMessage], Any]
F = TypeVar("F", bound=HandlerFunc)

_server_handlers: dict[str, HandlerFunc] = {}
_client_handlers: dict[str, HandlerFunc] = {}


def get_handlers(handler_type: HandlerType = HandlerType.SERVER) -> dict[str, HandlerFunc]:
    """The registry of ``handler_type`` (``SERVER`` or ``CLIENT``)."""
    if handler_type == HandlerType.SERVER:
        return _server_handlers
    return _client_handlers


def websocket_handler(
    event_name: str, handler_type: HandlerType = HandlerType.SERVER
) -> Callable[[F], F]:
    """Registers the decorated function (async or not) for ``event_name``; a
    ``WebSocketMessage`` it returns is sent."""

    def decorator(func: F) -> F:
        if handler_type in (HandlerType.SERVER, HandlerType.BOTH):
            _server_handlers[event_name] = func
        if handler_type in (HandlerType.CLIENT, HandlerType.BOTH):
            _client_handlers[event_name] = func
        return func

    return decorator


def _wire_text(message: WebSocketMessage) -> str:
    """The SDK's wire text: ``json.dumps`` of the model dump, Python's defaults."""
    return json.dumps(message.model_dump())


class _Engine(Client):
    _platform = "datadivr"

    def _message_name(self, message: Any) -> str | None:
        name: str = message.event_name
        return name

    def _send_reply(self, reply: Any) -> None:
        if isinstance(reply, WebSocketMessage):
            self._require().send_text(_wire_text(reply), 0)


class WebSocketClient:
    """The SDK's ``WebSocketClient``. Extra keyword arguments configure the engine (those of
    ``tether.Client``: ``heartbeat``, ``outbox_capacity``, ``backoff_cap``, ...)."""

    def __init__(self, uri: str, **options: Any) -> None:
        self.uri = uri
        self.handlers = get_handlers(HandlerType.CLIENT)
        self._options = options
        self._client: _Engine | None = None
        self._sub: Any = None
        self._outbuf: list[str] = []
        self._blocked: asyncio.Future[Any] | None = None
        self.logger = logger

    @property
    def websocket(self) -> Client | None:
        """The engine client while connected (the SDK exposes its websocket here)."""
        return self._client

    async def connect(self) -> None:
        """Connects; raises ``ConnectionRefusedError`` if the server cannot be reached
        within ``connect_timeout`` (default 10 s). Once connected, the engine reconnects by
        itself."""
        if self._client is not None:
            return
        timeout = float(self._options.get("connect_timeout", 10.0))
        client = _Engine(self.uri, **self._options)
        client._start()
        self._sub = client._subscribe()
        try:
            await client.ready(timeout=timeout)
        except Exception as e:
            await client.close()
            self._sub = None
            raise ConnectionRefusedError(f"cannot connect to {self.uri}: {e}") from e
        self._client = client

    async def send_message(
        self,
        payload: Any = None,
        event_name: str = "msg",
        msg: str | None = None,
        to: str = "others",
        *,
        message: str | None = None,
    ) -> None:
        """Sends ``{event_name, payload, to, from_id, message}`` as the SDK does; returns once
        it is queued (sent in order, after a reconnect if the connection is down).

        Raises ``NotConnectedError`` before ``connect()``."""
        client = self._client
        if client is None:
            raise NotConnectedError()
        text_field = msg if msg is not None else message
        # tether's datadivr encoder writes the SDK's text; for what only Python's `json`
        # writes the SDK's way (NaN, huge ints, ...) or refuses, Python's `json` does it.
        text = datadivr_wire_text(event_name, payload, to, text_field)
        if text is None:
            text = _wire_text(
                WebSocketMessage(event_name=event_name, payload=payload, to=to, message=text_field)
            )
        # Messages sent in one turn of the loop cross to the engine together, in order, at
        # the end of the turn (one engine wake-up for all of them). While the outbox is
        # full (the engine waits for room), the next send waits too.
        while self._blocked is not None:
            await asyncio.shield(self._blocked)
        self._outbuf.append(text)
        if len(self._outbuf) == 1:
            assert client._loop is not None
            client._loop.call_soon(self._flush)

    def _flush(self) -> None:
        texts, self._outbuf = self._outbuf, []
        client = self._client
        if not texts or client is None:
            return
        token, fut = client._new_future()
        if client._require().send_many(texts, token) is None:
            self._blocked = fut
            fut.add_done_callback(self._unblock)
        else:
            client._pending.pop(token, None)

    def _unblock(self, fut: asyncio.Future[Any]) -> None:
        self._blocked = None
        if not fut.cancelled() and fut.exception() is not None:
            logger.warning("messages not sent: %s", fut.exception())

    async def receive_messages(self) -> None:
        """Runs the handlers of ``self.handlers`` for every message received, until the
        client is disconnected. A handler's ``WebSocketMessage`` return value is sent. A
        failing handler or an undecodable message is logged, and receiving goes on."""
        client = self._client
        if client is None or self._sub is None:
            raise NotConnectedError()
        sub = self._sub
        items = sub.items
        try:
            # `Client._iterate` and `_handle`, inlined: one message costs no generator step
            # and no extra coroutine (this loop is what a datadivr bot spends its time in).
            while True:
                while items:
                    item = items.popleft()
                    if client._paused:
                        client._maybe_resume()
                    if item is _END:
                        return
                    if type(item) is not DatadivrMessage:
                        continue
                    message = WebSocketMessage._from_native(item)
                    handler = self.handlers.get(message.event_name)
                    if handler is None:
                        logger.debug("no handler for event %r", message.event_name)
                        continue
                    try:
                        response = handler(message)
                        if type(response) is CoroutineType or (
                            response is not None
                            and type(response) is not WebSocketMessage
                            and inspect.isawaitable(response)
                        ):
                            response = await response
                    except Exception:
                        logger.exception("handler for %r failed", message.event_name)
                        continue
                    if isinstance(response, WebSocketMessage):
                        client._send_reply(response)
                await client._wait(sub)
        finally:
            await self.disconnect()

    async def _handle(self, client: _Engine, message: WebSocketMessage) -> None:
        handler = self.handlers.get(message.event_name)
        if handler is None:
            logger.debug("no handler for event %r", message.event_name)
            return
        try:
            response = handler(message)
            if inspect.isawaitable(response):
                response = await response
        except Exception:
            logger.exception("handler for %r failed", message.event_name)
            return
        if isinstance(response, WebSocketMessage):
            client._send_reply(response)

    async def handle_event(self, event_data: dict[str, Any], websocket: Any = None) -> None:
        """Runs the handler for one event given as a dict (as the SDK's ``handle_event``)."""
        client = self._client
        if client is None:
            raise NotConnectedError()
        await self._handle(client, WebSocketMessage.model_validate(event_data))

    async def disconnect(self) -> None:
        """Closes the connection (close handshake). Harmless when not connected."""
        if self._client is not None:
            self._flush()
            while self._blocked is not None:
                await asyncio.shield(self._blocked)
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def __repr__(self) -> str:
        from ._client import redact_url

        state = self._client.state.value if self._client is not None else "not connected"
        return f"WebSocketClient({redact_url(self.uri)!r}, {state})"
