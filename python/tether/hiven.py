"""A drop-in for openhivenpy's ``HivenClient`` (0.2), on tether's engine and its Hiven
Swarm client.

Change ``import openhivenpy`` to ``import tether.hiven as openhivenpy``::

    client = openhivenpy.UserClient(token)

    @client.event()
    async def on_ready() -> None:
        print(f"Ready after {client.startup_time:.2f} s")

    @client.event()
    async def on_message_create(message) -> None:
        if message.content == "!ping":
            await client.send_message(message.room_id, "pong")

    client.run()

The constructor takes openhivenpy's arguments (``restart``, ``client_type``,
``heartbeat`` in ms, ``log_ws_output``, ``ping_timeout``, ``close_timeout``,
``ping_interval``) and tether's ``swarm_url=`` / ``api_url=`` (point it at ``tether
serve``); the token is checked before any I/O (``InvalidToken``, ``InvalidClientType``).
Handlers are ``on_<event name in lower case>`` for every Swarm event (``on_init``,
``on_ready``, ``on_house_join``, ``on_message_create``, ...), each given the event's data
(attribute access; a message's ``author``, ``room`` and ``house`` resolved from the houses
joined). What openhivenpy lacks comes with it: reconnect with backoff and a new login
(``on_ready`` fires again), WebSocket pings that notice a dead Swarm (openhivenpy's are
never sent), ``ready`` also with zero houses, a bad frame or a failing handler logged and
skipped, and posts (``send_message``) going out one at a time, in order, retried while
their failure may pass. The token never shows in ``repr``, logs or exceptions.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

from . import _native
from ._client import Client
from .errors import TetherError
from .events import DecodeFailed, StateChanged

__all__ = [
    "API_URL",
    "SWARM_URL",
    "BotClient",
    "HivenClient",
    "HivenError",
    "HivenObject",
    "InvalidClientType",
    "InvalidToken",
    "InvalidTokenError",
    "Message",
    "UserClient",
]

logger = logging.getLogger("tether.hiven")

SWARM_URL = "wss://swarm.hiven.io/socket?encoding=json&compression=text_json"
API_URL = "https://api.hiven.io/v1"

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


class HivenError(TetherError):
    """Base of the Hiven client's errors (the text never has the token)."""


class InvalidToken(HivenError):
    """The token is not a Hiven token (checked before any I/O)."""


InvalidTokenError = InvalidToken  # openhivenpy's name


class InvalidClientType(HivenError):
    """The token's length says one account kind and ``client_type`` another."""


class HivenObject(dict[str, Any]):
    """An event's data: a dict whose keys are also attributes (nested ones too)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return _wrap(self[name])
        except KeyError:
            raise AttributeError(name) from None


def _wrap(value: Any) -> Any:
    if type(value) is dict:
        return HivenObject(value)
    if type(value) is list:
        return [_wrap(v) for v in value]
    return value


class Message(HivenObject):
    """A message (``MESSAGE_CREATE``, ``MESSAGE_UPDATE``, or a post's result): its fields,
    plus ``room`` and ``house`` from the houses the client joined."""

    def __init__(self, data: dict[str, Any], client: HivenClient) -> None:
        super().__init__(data)
        self._client = client

    @property
    def room(self) -> HivenObject | None:
        """The room it was sent to (``None`` if not in a joined house)."""
        return self._client._rooms.get(self.get("room_id") or "")

    @property
    def house(self) -> HivenObject | None:
        """The house of its room."""
        house_id = self.get("house_id")
        if not house_id and self.room is not None:
            house_id = self.room.get("house_id")
        return self._client._houses.get(house_id or "")

    async def reply(self, content: str) -> Message:
        """Posts ``content`` to the same room (the ordered REST queue)."""
        return await self._client.send_message(self["room_id"], content)


class _Engine(Client):
    _platform = "hiven"

    def _message_name(self, message: Any) -> str | None:
        return None


class _Http:
    """``client.http_client``: the REST API, posts in one ordered queue."""

    def __init__(self, client: HivenClient) -> None:
        self._client = client

    async def send_message(self, room_id: str, content: str) -> Message:
        """Posts ``content`` to ``room_id``; see ``HivenClient.send_message``."""
        return await self._client.send_message(room_id, content)


def _is_async(f: object) -> bool:
    return inspect.iscoroutinefunction(f)


def _arity(handler: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return 1
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 1
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


class HivenClient:
    """openhivenpy's ``HivenClient``; see the module documentation."""

    def __init__(
        self,
        token: str,
        restart: bool = True,
        client_type: str | None = None,
        heartbeat: int = 30000,
        log_ws_output: bool = False,
        ping_timeout: float = 10.0,
        close_timeout: float = 60.0,
        ping_interval: float = 15.0,
        *,
        swarm_url: str = SWARM_URL,
        api_url: str = API_URL,
        **options: Any,
    ) -> None:
        self._token = token
        self.client_type: str = _native.hiven_check_token(token, client_type)
        self.heartbeat = heartbeat
        self.restart = restart
        self.log_ws_output = log_ws_output
        self.swarm_url = swarm_url
        self.api_url = api_url
        self._engine_options: dict[str, Any] = {
            "heartbeat": ping_interval,
            "dead_after": ping_timeout,
            "close_timeout": close_timeout,
            "reconnect": restart,
            **options,
        }
        self._engine: _Engine | None = None
        self._handlers: dict[str, Callable[..., Awaitable[Any]]] = {}
        self._arities: dict[str, int] = {}
        self._houses: dict[str, HivenObject] = {}
        self._rooms: dict[str, HivenObject] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._poster: Any = None
        self.user: HivenObject | None = None
        self.http_client = _Http(self)

    # -- attributes --------------------------------------------------------------------

    @property
    def token(self) -> str:
        """The token (never in ``repr``)."""
        return self._token

    @property
    def connection_status(self) -> str:
        """``OPENING``, ``OPEN``, ``CLOSING`` or ``CLOSED``."""
        state = self._engine.state.value if self._engine is not None else "closed"
        return {
            "idle": "CLOSED",
            "connecting": "OPENING",
            "reconnecting": "OPENING",
            "open": "OPEN",
            "ready": "OPEN",
            "closing": "CLOSING",
            "closed": "CLOSED",
        }.get(state, "CLOSED")

    @property
    def open(self) -> bool:
        """The Swarm connection is open."""
        return self.connection_status == "OPEN"

    @property
    def closed(self) -> bool:
        """The client is not connected (never connected, or closed)."""
        return self.connection_status == "CLOSED"

    @property
    def initialized(self) -> bool:
        """The WebSocket is open (the login may still run)."""
        return self._engine is not None and self._engine.state.value in ("open", "ready")

    @property
    def ready(self) -> bool:
        """Logged in and every house joined."""
        return self._engine is not None and self._engine.state.value == "ready"

    @property
    def startup_time(self) -> float | None:
        """Seconds from connect to the first ready."""
        if self._engine is None:
            return None
        return self._engine.stats().time_to_first_ready

    @property
    def houses(self) -> dict[str, HivenObject]:
        """The houses joined, by id."""
        return self._houses

    # -- handlers ----------------------------------------------------------------------

    @overload
    def event(self, func: F) -> F: ...
    @overload
    def event(self, func: None = None) -> Callable[[F], F]: ...
    def event(self, func: F | None = None) -> F | Callable[[F], F]:
        """Registers ``async def on_<event>(...)`` (as ``@client.event()`` or
        ``@client.event``)."""

        def register(f: F) -> F:
            if not _is_async(f):
                raise TypeError(f"{f.__name__} must be a coroutine function (async def)")
            self._handlers[f.__name__] = f
            self._arities[f.__name__] = _arity(f)
            return f

        return register(func) if func is not None else register

    def _fire(self, name: str, *args: Any) -> None:
        handler = self._handlers.get(name)
        if handler is None:
            return
        coro = handler(*args[: self._arities[name]])
        task = asyncio.get_running_loop().create_task(self._guard(name, coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, name: str, coro: Awaitable[Any]) -> None:
        try:
            await coro
        except Exception as e:
            logger.error("handler %s failed: %s", name, e, exc_info=e)

    def _dispatch(self, text: str) -> None:
        try:
            envelope = json.loads(text)
        except ValueError:
            logger.warning("undecodable Swarm frame")
            return
        op, name, data = envelope.get("op"), envelope.get("e"), envelope.get("d")
        if op == -1 and name == "READY":
            self._fire("on_ready")
            return
        if op != 0 or not isinstance(name, str):
            return
        if name == "INIT_STATE":
            self.user = _wrap((data or {}).get("user"))
            self._fire("on_init", _wrap(data))
            return
        if name in ("HOUSE_JOIN", "HOUSE_UPDATE") and isinstance(data, dict):
            house = HivenObject(data)
            self._houses[house["id"]] = house
            for room in data.get("rooms") or []:
                self._rooms[room["id"]] = HivenObject(room)
        elif name in ("ROOM_CREATE", "ROOM_UPDATE") and isinstance(data, dict):
            self._rooms[data["id"]] = HivenObject(data)
        elif name == "HOUSE_LEAVE" and isinstance(data, dict):
            self._houses.pop(data.get("id", ""), None)
        if name in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and isinstance(data, dict):
            self._fire(f"on_{name.lower()}", Message(data, self))
        else:
            self._fire(f"on_{name.lower()}", _wrap(data))

    # -- lifecycle ---------------------------------------------------------------------

    async def connect(self) -> None:
        """Connects and runs the handlers until ``stop()`` (or a fatal error, such as a
        refused token, which raises ``HivenError``)."""
        engine = _Engine(self.swarm_url, **self._engine_options)
        engine._options["platform_options"] = {
            "token": self._token,
            "client_type": self.client_type,
            "api_url": self.api_url,
            "heartbeat": self.heartbeat,
            "log_ws_output": self.log_ws_output,
        }
        self._engine = engine
        sub = engine._subscribe()
        self._poster = engine._require().hiven_poster()
        fatal: str | None = None
        async for item in engine._iterate(sub):
            if isinstance(item, str):
                if item:
                    self._dispatch(item)
            elif isinstance(item, StateChanged):
                if item.state.value == "closed" and item.fatal:
                    fatal = item.detail or "closed"
            elif isinstance(item, DecodeFailed):
                logger.warning("bad Swarm frame: %s", item.reason)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if fatal is not None:
            raise HivenError(f"client stopped: {fatal}")

    def run(self) -> None:
        """``connect()`` in a new event loop, until stopped (blocking)."""
        asyncio.run(self.connect())

    async def stop(self) -> None:
        """Closes the connection (close handshake); ``connect()``/``run()`` return."""
        if self._engine is not None:
            await self._engine.close()

    close = stop

    async def send_message(self, room_id: str, content: str) -> Message:
        """Posts ``content`` to ``room_id`` through the REST API and returns the created
        message. Posts go out one at a time in the order they were made, each tried again
        while its failure may pass (network errors, 408, 429, 5xx); the API has no
        idempotency key, so a post whose response was lost may be created twice."""
        if self._poster is None:
            raise HivenError("not connected: call connect() or run() first")
        loop = asyncio.get_running_loop()
        text = await loop.run_in_executor(None, self._poster.post, room_id, content)
        return Message(json.loads(text), self)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(token=<redacted>, client_type={self.client_type!r}, "
            f"connection_status={self.connection_status!r})"
        )


class BotClient(HivenClient):
    """A bot client (132-character token)."""

    def __init__(self, token: str, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("client_type", "bot")
        super().__init__(token, *args, **kwargs)


class UserClient(HivenClient):
    """A user client (128-character token)."""

    def __init__(self, token: str, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("client_type", "user")
        super().__init__(token, *args, **kwargs)
