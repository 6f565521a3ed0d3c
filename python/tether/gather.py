"""A drop-in for the Gather SDK (``gather-client-ws`` 0.0.4, ``GatherClient``), on tether's
engine and its Gather client.

Change ``from gather_client_ws import GatherClient`` to
``from tether.gather import GatherClient``::

    async def producer(client):
        await client.set_text_status("new status text")
        await client.set_emoji_status("😁")

    client = GatherClient(api_key=API_KEY, space_id=SPACE_ID)
    await client.run(producer)

The constructor, ``run(producer, *args, **kwargs)``, ``available_actions`` (the 129
actions, in the SDK's order) and every action method (the SDK's names, positional
arguments in field order, snake_case keywords, the SDK's ``__doc__``) are the SDK's (an
action returns once queued, with an ``ActionReceipt`` (its ``txn_id``) to await for its
``transactionStatus``, where the SDK returns ``None``); the
``callback(client, server_response)`` gets ``ServerClientBatch`` protobuf messages
(``server_response.events``, ``event.WhichOneof("event")``), from classes built at import
from the schema tether's Rust side compiled. Extras: ``api_root=`` (discovery, default
``https://api.gather.town/api/v2/``) or ``engine_url=`` (no discovery), and the engine
options of ``tether.Client``.

What the SDK lacks comes with it: every action is acknowledged by its
``transactionStatus`` and, when the connection drops, replayed after the new ``init``
with its txnId, in order; reconnect with backoff (rediscovering the engine); WebSocket
pings that notice a dead engine; ``run`` waits (up to ``drain_timeout``) for the
producer's actions to be acknowledged before closing. The api key never shows in
``repr``, logs or exceptions. Each server event reaches the callback in a batch of its own.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import Message as ProtoMessage

from . import _native
from ._client import Client, Receipt, redact_url
from .errors import ClientStopped, TetherError
from .events import DecodeFailed, StateChanged, Undelivered

__all__ = [
    "API_ROOT",
    "ActionReceipt",
    "ClientServerAction",
    "GatherClient",
    "GatherError",
    "ServerClientBatch",
    "ServerClientEvent",
]

API_ROOT = "https://api.gather.town/api/v2/"


def _classes() -> tuple[descriptor_pool.DescriptorPool, dict[str, Any]]:
    files = descriptor_pb2.FileDescriptorSet.FromString(_native.gather_descriptor())
    pool = descriptor_pool.DescriptorPool()
    for f in files.file:
        pool.Add(f)
    names = ("ServerClientBatch", "ServerClientEvent", "ClientServerAction")
    return pool, {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(n)) for n in names}


_POOL, _CLASSES = _classes()
#: The schema's messages (``events_pb2`` of the SDK, built from the same schema).
ServerClientBatch: Any = _CLASSES["ServerClientBatch"]
ServerClientEvent: Any = _CLASSES["ServerClientEvent"]
ClientServerAction: Any = _CLASSES["ClientServerAction"]

_ACTIONS: list[tuple[str, str, str]] = _native.gather_actions()


class ActionReceipt(Receipt):
    """What an action returns once queued: ``txn_id`` (its ``txnId``, which its
    ``transactionStatus`` carries); await it for that acknowledgement."""

    __slots__ = ("txn_id",)

    def __init__(self, client: Client, native: _native.NativeReceipt, txn_id: int) -> None:
        # Receipt's fields set here, without the call (one per action).
        self._client = client
        self._native = native
        self._future = None
        self.txn_id = txn_id


class GatherError(TetherError):
    """The client could not connect or stopped for good (a refused api key)."""


def _holds_message(value: Any) -> bool:
    """Whether arguments hold a protobuf message (which ``_plain`` turns into JSON)."""
    if isinstance(value, ProtoMessage):
        return True
    if isinstance(value, (list, tuple)):
        return any(_holds_message(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_message(v) for v in value.values())
    return False


def _plain(value: Any) -> Any:
    """Protobuf messages given as arguments, as JSON (the protobuf JSON mapping)."""
    if isinstance(value, ProtoMessage):
        return json_format.MessageToDict(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _logger(log_level: int) -> logging.Logger:
    """The SDK's logger setup (``[time][LEVEL] message`` on stderr), on ``tether.gather``."""
    logger = logging.getLogger("tether.gather")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[%(asctime)s][%(levelname)s] %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(log_level)
    return logger


class _Engine(Client):
    # An action's ack is its `transactionStatus`, which the callback gets: the native
    # side does not hand the engine's `ack` events over.
    _platform = "gather"

    def _message_name(self, message: Any) -> str | None:
        return None


Callback = Callable[["GatherClient", Any], Awaitable[Any] | Any]


class GatherClient:
    """The SDK's ``GatherClient``; see the module documentation."""

    available_actions: ClassVar[list[str]] = [name for name, _, _ in _ACTIONS]

    def __init__(
        self,
        api_key: str,
        space_id: str,
        callback: Callback | None = None,
        log_level: int = logging.INFO,
        hearbeat_interval: float = 15,
        *,
        api_root: str = API_ROOT,
        engine_url: str | None = None,
        drain_timeout: float = 10.0,
        **options: Any,
    ) -> None:
        self._api_key = api_key
        self._space_id = space_id.replace("/", "\\")
        self._callback = callback
        self._logger = _logger(log_level)
        self._heartbeat_interval = hearbeat_interval
        self._api_root = api_root
        self._engine_url = engine_url
        self._drain_timeout = drain_timeout
        self._options = options
        self._engine: _Engine | None = None

    @property
    def _user_id(self) -> str | None:
        """The user id the engine's ``ready`` gave (the SDK's attribute)."""
        if self._engine is None or self._engine._native is None:
            return None
        return self._engine._native.gather_user_id()

    user_id = _user_id

    def _queue_action(
        self, name: str, args: Any
    ) -> ActionReceipt | Coroutine[Any, Any, ActionReceipt]:
        """Queues an action: its receipt, or (no room in the outbox) a coroutine that
        waits for room and returns it. The actions of one turn of the loop are written on
        one wake-up of the engine, at the end of the turn."""
        engine = self._engine
        if engine is None:
            raise GatherError("not connected: actions are sent from run()'s producer")
        native = engine._native
        if native is None:
            native = engine._require()
        token = next(engine._tokens)
        try:
            txn_id, receipt = native.send_action(name, args, token)
        except TypeError:
            if not _holds_message(args):
                raise
            txn_id, receipt = native.send_action(name, _plain(args), token)
        engine._wake_at_end_of_turn()
        if receipt is not None:
            return ActionReceipt(engine, receipt, txn_id)
        assert engine._loop is not None
        fut: asyncio.Future[Any] = engine._loop.create_future()
        engine._pending[token] = fut
        return self._queued_later(engine, fut, txn_id)

    async def _queued_later(
        self, engine: _Engine, fut: asyncio.Future[Any], txn_id: int
    ) -> ActionReceipt:
        return ActionReceipt(engine, await fut, txn_id)

    async def run(
        self, producer: Callable[..., Coroutine[Any, Any, Any]], *args: Any, **kwargs: Any
    ) -> None:
        """Connects (discovery, ``init``, ``ready``), then runs ``producer(client, *args,
        **kwargs)`` while every server batch goes to the callback; returns when the
        producer returns (once its actions are acknowledged, or ``drain_timeout``
        passed), closing the connection. Raises ``GatherError`` if the client stops for
        good first (a refused api key)."""
        engine = _Engine(self._engine_url or self._api_root, **self._options)
        engine._options["platform_options"] = {
            "api_key": self._api_key,
            "space_id": self._space_id,
            "api_root": self._api_root,
            "engine_url": self._engine_url,
            "heartbeat_interval": float(self._heartbeat_interval),
        }
        self._engine = engine
        sub = engine._subscribe()
        try:
            await engine.ready()
        except ClientStopped as e:
            await engine.close()
            raise GatherError(f"could not connect: {e.reason}") from None
        self._logger.info("Connected to %s", redact_url(self._engine_url or self._api_root))
        self._logger.info("Connected as user %s", self._user_id)
        consumer = asyncio.create_task(self._consume(engine, sub))
        work = asyncio.create_task(producer(self, *args, **kwargs))
        stopped: str | None = None
        try:
            done, _ = await asyncio.wait({consumer, work}, return_when=asyncio.FIRST_COMPLETED)
            if work in done:
                work.result()  # the producer's exception, if any
                await self._drain()
            else:
                stopped = consumer.result() or "the connection ended"
        finally:
            work.cancel()
            await engine.close()
            try:
                await asyncio.wait_for(consumer, self._drain_timeout)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                consumer.cancel()
        if stopped is not None:
            raise GatherError(f"client stopped: {stopped}")

    async def _drain(self) -> None:
        """Waits (up to ``drain_timeout``) until nothing is left unacknowledged."""
        engine = self._engine
        if engine is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._drain_timeout
        while engine.stats().pending and loop.time() < deadline:  # noqa: ASYNC110 (a counter)
            await asyncio.sleep(0.01)
        left = engine.stats().pending
        if left:
            self._logger.warning(
                "%d actions not acknowledged within %s s", left, self._drain_timeout
            )

    async def _consume(self, engine: _Engine, sub: Any) -> str | None:
        fatal: str | None = None
        logger = self._logger
        callback = self._callback
        # An `async def` callback is awaited straight away (no awaitable check per call).
        is_coroutine = inspect.iscoroutinefunction(callback)
        parse = ServerClientBatch.FromString
        async for items in engine._batches(sub):
            debug = logger.isEnabledFor(logging.DEBUG)
            for item in items:
                if type(item) is not bytes:
                    fatal = self._on_engine_event(item) or fatal
                    continue
                batch = parse(item)
                if debug:
                    logger.debug("Message received: %s", batch)
                if callback is None:
                    continue
                try:
                    if is_coroutine:
                        await callback(self, batch)
                    else:
                        result = callback(self, batch)
                        if inspect.isawaitable(result):
                            await result
                except Exception as e:
                    logger.error("callback failed: %s", e, exc_info=e)
        return fatal

    def _on_engine_event(self, item: Any) -> str | None:
        """Logs what the engine reports; the reason when the client stopped for good."""
        if isinstance(item, StateChanged):
            if item.state.value == "closed" and item.fatal:
                return item.detail or "closed"
        elif isinstance(item, DecodeFailed):
            self._logger.warning("bad message from the engine: %s", item.reason)
        elif isinstance(item, Undelivered):
            self._logger.warning("action not delivered: %s", item.error)
        return None

    def __getattr__(self, name: str) -> Callable[..., Awaitable[ActionReceipt]]:
        # Every action is a method (set below); this tells type checkers so.
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"GatherClient(space_id={self._space_id!r}, api_key=<redacted>)"


def _action_method(name: str, doc: str) -> Callable[..., Awaitable[ActionReceipt]]:
    async def method(self: GatherClient, *args: Any, **kwargs: Any) -> ActionReceipt:
        if args and kwargs:
            names = _ARG_NAMES[name]
            if len(args) > len(names):
                raise TypeError(f"{name} takes at most {len(names)} arguments")
            payload: Any = {**dict(zip(names, args, strict=False)), **kwargs}
        elif args:
            payload = args
        else:
            payload = kwargs
        queued = self._queue_action(name, payload)
        if isinstance(queued, ActionReceipt):
            return queued
        return await queued  # the coroutine waiting for room

    method.__name__ = method.__qualname__ = name
    # The SDK's docstring: `name\nArgs:\n\targ (type)...` (an empty list after `Args:\n`).
    method.__doc__ = doc if "\n\t" in doc else doc + "\n"
    return method


def _arg_names(doc: str) -> list[str]:
    return [line.strip().split(" ")[0] for line in doc.split("\n")[2:] if line.strip()]


_ARG_NAMES: dict[str, list[str]] = {name: _arg_names(doc) for name, _, doc in _ACTIONS}
for _name, _field, _doc in _ACTIONS:
    setattr(GatherClient, _name, _action_method(_name, _doc))
del _name, _field, _doc
