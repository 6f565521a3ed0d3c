"""``tether.Client``: the raw platform over tether's engine, for asyncio."""

from __future__ import annotations

import asyncio
import collections
import inspect
import itertools
import logging
import os
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable
from typing import Any, TypeVar, Union

from . import _native
from .errors import (
    BatchNotQueued,
    ClientStopped,
    ConfigError,
    NotAllDelivered,
    NotDelivered,
    Transmission,
)
from .events import (
    Acked,
    DecodeFailed,
    Disconnected,
    Dropped,
    Event,
    HandlerFailed,
    State,
    StateChanged,
    Stats,
    Undelivered,
)

__all__ = ["BatchReceipt", "Client", "Handler", "Receipt"]

logger = logging.getLogger("tether")

Handler = Callable[[Any], Union[Any, Awaitable[Any]]]  # noqa: UP007
"""A handler gets the inbound message; what it returns (if not ``None``) is sent back."""

H = TypeVar("H", bound=Handler)

_END = object()
#: Reply types that are certainly not awaitable (skips the slower awaitable check).
_PLAIN = frozenset({dict, list, str, bytes, tuple, int, float, bool})
_POLICIES = ("backpressure", "reject", "drop_oldest")


def redact_url(url: str) -> str:
    """The URL with its password and query values replaced by ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"***@{host}"
    query = "&".join(
        f"{k}=***" if v else k
        for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class _Subscription:
    """One ``events()`` consumer: its queue and the future it sleeps on."""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: collections.deque[Any] = collections.deque()
        self.waiter: asyncio.Future[None] | None = None

    def put(self, item: Any) -> None:
        self.items.append(item)
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)


class Receipt:
    """What ``await client.send(obj)`` returns once the message is queued. Await it to
    learn that it was delivered (acknowledged when it has the ``ack_field``, else written
    and flushed); it raises a ``tether.errors.NotDelivered`` otherwise. Dropping it does not
    withdraw the message."""

    __slots__ = ("_client", "_future", "_native")

    def __init__(self, client: Client, native: _native.NativeReceipt) -> None:
        self._client = client
        self._native: _native.NativeReceipt | None = native
        self._future: asyncio.Future[Any] | None = None

    def __await__(self) -> Generator[Any, None, None]:
        if self._future is None:
            token, fut = self._client._new_future()
            assert self._native is not None
            self._client._require().watch(self._native, token)
            self._native = None
            self._future = fut
        yield from self._future.__await__()
        return None


class BatchReceipt:
    """What ``await client.send_many(objs)`` returns once every message is queued. Await it
    for the number delivered; it raises ``tether.errors.NotAllDelivered`` (with each
    failure) if some were not."""

    __slots__ = ("_client", "_future", "_native", "count")

    def __init__(self, client: Client, native: _native.NativeBatch) -> None:
        self._client = client
        self._native: _native.NativeBatch | None = native
        self._future: asyncio.Future[Any] | None = None
        self.count: int = native.count

    def __len__(self) -> int:
        return self.count

    def __await__(self) -> Generator[Any, None, int]:
        if self._future is None:
            token, fut = self._client._new_future()
            assert self._native is not None
            self._client._require().watch_batch(self._native, token)
            self._native = None
            self._future = fut
        try:
            result = yield from self._future.__await__()
        except _BatchFailures as e:
            raise NotAllDelivered(e.failures) from None
        return int(result)


class _BatchFailures(Exception):
    def __init__(self, failures: list[NotDelivered]) -> None:
        super().__init__()
        self.failures = failures


class Client:
    """A client of the raw platform: JSON values (or text) over ``ws://``, ``wss://``, or
    JSON lines over ``tcp://``, ``tls://``. The engine reconnects with backoff, keeps an
    ordered bounded outbox (replayed after a reconnect until acknowledged), notices a dead
    peer and pairs requests with replies.

    ::

        async with tether.Client("ws://127.0.0.1:8701/", ack_field="id") as client:
            receipt = await client.send({"id": 1, "text": "hello"})
            await receipt  # acknowledged

    Handlers (``@client.on("event")``, routed by ``event_field``) run on the event loop
    thread; a handler's return value (if not ``None``) is sent back as the reply.
    """

    _platform = "raw"

    def __init__(
        self,
        url: str,
        *,
        ack_field: str | None = None,
        event_field: str | None = None,
        text: bool = False,
        heartbeat: float = 15.0,
        dead_after: float = 10.0,
        connect_timeout: float = 10.0,
        close_timeout: float = 5.0,
        outbox_capacity: int = 1024,
        policy: str = "backpressure",
        backoff_base: float = 0.25,
        backoff_cap: float = 30.0,
        max_attempts: int | None = None,
        reconnect: bool = True,
        request_timeout: float = 30.0,
        ca_file: str | os.PathLike[str] | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        max_message_size: int = 16 * 1024 * 1024,
        event_capacity: int = 1024,
        compression: bool = True,
        compression_threshold: int = 1024,
    ) -> None:
        if policy not in _POLICIES:
            raise ConfigError(f"policy must be one of {', '.join(_POLICIES)}, not {policy!r}")
        self._url = url
        self._options: dict[str, Any] = {
            "mode": "text" if text else "json",
            "ack_field": ack_field,
            "event_field": event_field,
            "heartbeat": heartbeat,
            "dead_after": dead_after,
            "connect_timeout": connect_timeout,
            "close_timeout": close_timeout,
            "outbox_capacity": outbox_capacity,
            "policy": policy,
            "backoff_base": backoff_base,
            "backoff_cap": backoff_cap,
            "max_attempts": max_attempts,
            "reconnect": reconnect,
            "request_timeout": request_timeout,
            "ca_file": os.fspath(ca_file) if ca_file is not None else None,
            "token": token,
            "headers": list(headers.items()) if headers else None,
            "max_message_size": max_message_size,
            "event_capacity": event_capacity,
            "compression": compression,
            "compression_threshold": compression_threshold,
        }
        self._event_field = event_field
        self._event_capacity = max(1, event_capacity)
        self._native: _native.NativeClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd = -1
        self._tokens = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._handlers: dict[str, Handler] = {}
        self._any: Handler | None = None
        self._subs: list[_Subscription] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ready_waiters: list[asyncio.Future[None]] = []
        self._handler_errors = 0
        self._ended = False
        self._paused = False
        self._closed_state: tuple[str, str, str | None, bool] | None = None
        self._closing: asyncio.Future[Any] | None = None
        self._replies: list[Any] | None = None
        self._wake_due = False

    # -- lifecycle -------------------------------------------------------------------

    def _start(self) -> _native.NativeClient:
        if self._native is not None:
            return self._native
        if self._closed_state is not None:
            raise ClientStopped("client closed", False)
        loop = asyncio.get_running_loop()
        native = _native.NativeClient(self._platform, self._url, **self._options)
        self._native = native
        self._loop = loop
        self._fd = native.fileno()
        loop.add_reader(self._fd, self._on_wake)
        return native

    def _require(self) -> _native.NativeClient:
        if self._native is None:
            return self._start()
        return self._native

    async def start(self) -> None:
        """Starts connecting in the background (sends queue meanwhile)."""
        self._start()

    async def ready(self, timeout: float | None = None) -> None:
        """Waits until the client is ready; raises ``ClientStopped`` if it stopped first,
        ``TimeoutError`` after ``timeout`` seconds."""
        native = self._require()
        while True:
            _, name, detail, fatal = (
                native.state() if self._closed_state is None else self._closed_state
            )
            if name == "ready":
                return
            if name == "closed":
                raise ClientStopped(detail or "closed", fatal)
            assert self._loop is not None
            fut: asyncio.Future[None] = self._loop.create_future()
            self._ready_waiters.append(fut)
            if timeout is None:
                await fut
            else:
                await asyncio.wait_for(fut, timeout)

    async def __aenter__(self) -> Client:
        await self.ready()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> State:
        """Closes the connection (close handshake) and stops the client; returns the final
        state. Messages still held are handed back through their receipts. Calling it
        again returns at once."""
        if self._native is None:
            self._closed_state = ("state", "closed", "closed by client", False)
            return State.CLOSED
        if self._closing is None:
            token, fut = self._new_future()
            self._native.close(token)
            self._closing = fut
        self._closed_state = await asyncio.shield(self._closing)
        return State.CLOSED

    def __del__(self) -> None:
        native = getattr(self, "_native", None)
        if native is not None and getattr(self, "_closed_state", None) is None:
            try:
                native.request_close()
            except Exception:
                pass

    # -- the wake-up ---------------------------------------------------------------

    def _on_wake(self) -> None:
        try:
            os.read(self._fd, 4096)
        except (BlockingIOError, InterruptedError):
            pass
        native = self._native
        if native is None:
            return
        items = native.take()
        # Handlers' replies in this batch cross back in one `send_many` (one engine wake-up
        # instead of one per reply), in the order the handlers returned them.
        replies: list[Any] = []
        self._replies = replies
        try:
            if self._any is not None and not self._handlers and not self._subs:
                self._dispatch_to_any(items, replies)
            elif self._any is None and not self._handlers and len(self._subs) == 1:
                self._dispatch_to_subscriber(items, self._subs[0])
            else:
                for item in items:
                    if type(item) is tuple:
                        self._on_item(item)
                    else:
                        self._on_message(item)
        finally:
            self._replies = None
            if replies:
                self._flush_replies(native, replies)
        if self._ended and not self._pending:
            self._stop_reading()

    def _dispatch_to_any(self, items: list[Any], replies: list[Any]) -> None:
        """A batch when ``on_any``'s handler takes every message (no named handlers, no
        subscribers): ``_on_message`` and ``_run_handler`` inlined, the hot path of a
        handler-driven client."""
        handler = self._any
        raw = self._platform == "raw"
        for item in items:
            if type(item) is tuple:
                self._on_item(item)
                continue
            if self._handlers or self._subs or self._any is not handler:
                self._on_message(item)  # a handler changed the routing mid-batch
                continue
            assert handler is not None
            try:
                result = handler(item)
            except Exception as e:
                self._handler_failed(None, e)
                continue
            if result is None:
                continue
            if raw and type(result) in _PLAIN:
                replies.append(result)
            else:
                self._take_result(result, None)

    def _dispatch_to_subscriber(self, items: list[Any], sub: _Subscription) -> None:
        """A batch when one subscriber takes everything (no handlers): appended at once, its
        waiter woken once."""
        put = sub.items.append
        for item in items:
            if type(item) is tuple:
                self._on_item(item)
            else:
                put(item)
        w = sub.waiter
        if w is not None and not w.done():
            w.set_result(None)
        if len(sub.items) >= self._event_capacity and not self._paused:
            self._stop_reading()

    def _stop_reading(self) -> None:
        if self._loop is not None and self._fd >= 0 and not self._paused:
            try:
                self._loop.remove_reader(self._fd)
            except Exception:  # the loop is closed
                pass
        self._paused = True

    def _on_message(self, message: Any) -> None:
        if self._handlers:
            name = self._message_name(message)
            handler = self._handlers.get(name) if name is not None else None
            if handler is None:
                handler = self._any
        else:
            name, handler = None, self._any
        if handler is not None:
            self._run_handler(handler, name, message)
        if self._subs:
            self._publish(message)

    def _message_name(self, message: Any) -> str | None:
        name: str | None = message.name
        return name

    def _run_handler(self, handler: Handler, name: str | None, message: Any) -> None:
        try:
            result = handler(message)
        except Exception as e:
            self._handler_failed(name, e)
            return
        if result is not None:
            self._take_result(result, name)

    def _take_result(self, result: Any, name: str | None) -> None:
        """A handler's return value: the reply, or awaited in a task for the reply."""
        if type(result) not in _PLAIN and inspect.isawaitable(result):
            self._await_in_task(result, name)
        else:
            self._reply(result)

    def _await_in_task(self, result: Awaitable[Any], name: str | None) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self._await_handler(result, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _await_handler(self, result: Awaitable[Any], name: str | None) -> None:
        try:
            reply = await result
        except Exception as e:
            self._handler_failed(name, e)
            return
        if reply is not None:
            self._reply(reply)

    def _handler_failed(self, name: str | None, error: Exception) -> None:
        self._handler_errors += 1
        logger.error("handler for %r failed", name, exc_info=error)
        self._publish(HandlerFailed(name, error))

    def _flush_replies(self, native: _native.NativeClient, replies: list[Any]) -> None:
        try:
            native.send_many(replies, 0)
        except (TypeError, ValueError):
            # One reply JSON cannot encode: send the others one by one, report that one.
            for reply in replies:
                self._reply(reply)

    def _reply(self, reply: Any) -> None:
        """Queues a handler's reply; nobody awaits its receipt."""
        if self._replies is not None and self._platform == "raw":
            self._replies.append(reply)
            return
        try:
            self._send_reply(reply)
        except NotDelivered as e:
            logger.warning("reply not sent: %s", e)
            self._publish(Undelivered(e))
        except (TypeError, ValueError) as e:
            self._handler_failed(None, e)

    def _send_reply(self, reply: Any) -> None:
        self._require().send(reply, 0)

    def _on_item(self, item: tuple[Any, ...]) -> None:
        tag = item[0]
        if tag == "done":
            _, token, ok, value = item
            fut = self._pending.pop(token, None)
            if fut is None or fut.done():
                return
            if ok:
                fut.set_result(value)
            elif isinstance(value, BaseException):
                fut.set_exception(value)
            elif isinstance(value, list):
                fut.set_exception(_BatchFailures(value))
            else:
                queued, batch, error, rest = value
                fut.set_exception(BatchNotQueued(queued, BatchReceipt(self, batch), error, rest))
        elif tag == "state":
            _, name, detail, fatal = item
            if name in ("ready", "closed"):
                waiters, self._ready_waiters = self._ready_waiters, []
                for w in waiters:
                    if not w.done():
                        w.set_result(None)
            self._publish(StateChanged(State(name), detail, fatal))
        elif tag == "end":
            self._ended = True
            for sub in self._subs:
                sub.put(_END)
        elif tag == "disconnected":
            self._publish(Disconnected(item[1], item[2], item[3]))
        elif tag == "ack":
            self._publish(Acked(item[1], item[2]))
        elif tag == "dropped":
            self._publish(Dropped(item[1], Transmission(item[2])))
        elif tag == "decode_error":
            self._publish(DecodeFailed(item[1], item[2]))
        elif tag == "undelivered":
            self._publish(Undelivered(item[1]))

    def _publish(self, event: Any) -> None:
        for sub in self._subs:
            sub.put(event)
            if len(sub.items) >= self._event_capacity and not self._paused:
                # The consumer lags: stop taking from the engine, which stops reading
                # from the socket once its own queue is full (nothing is dropped).
                self._stop_reading()

    def _maybe_resume(self) -> None:
        if not self._paused or self._ended or self._loop is None or self._native is None:
            return
        if all(len(s.items) < self._event_capacity // 2 + 1 for s in self._subs):
            self._paused = False
            self._loop.add_reader(self._fd, self._on_wake)
            self._loop.call_soon(self._on_wake)

    def _new_future(self) -> tuple[int, asyncio.Future[Any]]:
        self._require()
        assert self._loop is not None
        token = next(self._tokens)
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._pending[token] = fut
        if self._ended and self._paused:
            # The engine has ended and the loop stopped watching: watch again until this
            # completion (e.g. of `close()` after a fatal stop) has come.
            try:
                self._loop.add_reader(self._fd, self._on_wake)
                self._paused = False
            except RuntimeError:  # the loop is closed: nothing can await the future
                pass
        return token, fut

    # -- sending -------------------------------------------------------------------

    async def send(self, obj: Any, *, deadline: float | None = None) -> Receipt:
        """Queues ``obj`` (a JSON value; ``str`` in text mode; ``bytes`` for a binary frame)
        and returns once it is queued (at once when the outbox has room; under the
        ``backpressure`` policy it waits for room). Await the ``Receipt`` for delivery.

        Raises ``OutboxFull`` (``reject`` policy), ``MessageTooLarge``, ``ClientClosed``,
        ``TypeError``/``ValueError`` for an object JSON cannot encode."""
        native = self._require()
        token = next(self._tokens)
        # Queued without waking the engine; one wake-up at the end of this turn of the
        # loop writes everything the turn sent.
        receipt = native.send(obj, token, deadline, True)
        self._wake_at_end_of_turn()
        if receipt is None:
            assert self._loop is not None
            fut: asyncio.Future[Any] = self._loop.create_future()
            self._pending[token] = fut
            receipt = await fut
        return Receipt(self, receipt)

    def _wake_at_end_of_turn(self) -> None:
        """Has the engine woken once this turn of the loop ends, to write what the turn
        queued with ``defer`` (at most one wake-up is scheduled at a time)."""
        if not self._wake_due:
            self._wake_due = True
            assert self._loop is not None
            self._loop.call_soon(self._wake)

    def _wake(self) -> None:
        self._wake_due = False
        if self._native is not None:
            self._native.wake()

    async def send_many(self, objs: Iterable[Any]) -> BatchReceipt:
        """Queues many messages in order with one boundary crossing (the way to hand tether
        a burst); returns once all are queued. Raises ``BatchNotQueued`` when one is refused
        (the ones before it stay queued)."""
        native = self._require()
        token = next(self._tokens)
        assert self._loop is not None
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._pending[token] = fut
        batch = native.send_many(objs if isinstance(objs, (list, tuple)) else list(objs), token)
        if batch is None:
            batch = await fut
        else:
            self._pending.pop(token, None)
        return BatchReceipt(self, batch)

    async def request(self, obj: Any, *, timeout: float | None = None) -> Any:
        """Sends ``obj`` (which must carry the ``ack_field``) and returns the inbound
        message with the same key. Raises ``RequestTimeout`` after ``timeout`` seconds
        (default: ``request_timeout``); cancelling the awaiting task withdraws the request
        from the outbox."""
        token, fut = self._new_future()
        native = self._require()
        native.request(obj, token, timeout)
        try:
            return await fut
        except asyncio.CancelledError:
            self._pending.pop(token, None)
            native.cancel(token)
            raise

    def dry_run(self, obj: Any) -> tuple[str | bytes, str | None]:
        """The exact frame ``send(obj)`` would write, and its ack key (``None``: delivered
        once flushed). Needs a running client."""
        return self._require().encode_preview(obj)

    # -- receiving -----------------------------------------------------------------

    def on(self, event: str) -> Callable[[H], H]:
        """Registers a handler for inbound messages whose ``event_field`` is ``event``::

        @client.on("ping")
        async def pong(msg: tether.Message) -> dict[str, object]:
            return {"type": "pong", "id": msg["id"]}
        """
        if self._event_field is None:
            raise ConfigError("on(event) routes by event_field: give Client(event_field=...)")

        def register(handler: H) -> H:
            self._handlers[event] = handler
            return handler

        return register

    def on_any(self, handler: H) -> H:
        """Registers the handler for inbound messages no named handler takes."""
        self._any = handler
        return handler

    async def events(self) -> AsyncIterator[Event]:
        """Everything that happens from now on, in order: inbound messages (after their
        handler ran), state changes, disconnections, acks, drops, decode and handler
        failures. Ends once the client has closed."""
        sub = self._subscribe()
        try:
            async for item in self._iterate(sub):
                yield item
        finally:
            if sub in self._subs:
                self._subs.remove(sub)

    def _subscribe(self) -> _Subscription:
        self._require()
        sub = _Subscription()
        if self._ended:
            sub.put(_END)
        self._subs.append(sub)
        return sub

    async def _iterate(self, sub: _Subscription) -> AsyncIterator[Any]:
        while True:
            while sub.items:
                item = sub.items.popleft()
                if self._paused:
                    self._maybe_resume()
                if item is _END:
                    return
                yield item
            await self._wait(sub)

    async def _batches(self, sub: _Subscription) -> AsyncIterator[list[Any]]:
        """What ``_iterate`` yields, a batch at a time: everything waiting in ``sub``, in
        order (one generator step per wake-up instead of one per item)."""
        items = sub.items
        while True:
            if items:
                batch = list(items)
                items.clear()
                if self._paused:
                    self._maybe_resume()
                if self._ended:
                    for i, item in enumerate(batch):
                        if item is _END:
                            if i:
                                yield batch[:i]
                            return
                yield batch
            else:
                await self._wait(sub)

    async def _wait(self, sub: _Subscription) -> None:
        """Sleeps until something is put into ``sub``."""
        assert self._loop is not None
        sub.waiter = self._loop.create_future()
        try:
            await sub.waiter
        finally:
            sub.waiter = None

    # -- state ---------------------------------------------------------------------

    @property
    def state(self) -> State:
        """The connection state now."""
        if self._closed_state is not None:
            return State.CLOSED
        if self._native is None:
            return State.IDLE
        return State(self._native.state()[1])

    def stats(self) -> Stats:
        """The engine's counters now."""
        if self._native is None:
            return Stats(0, 0, 0, 0, 0, 0, 0, 0, self._handler_errors, 0, 0, None, None, 0, 0)
        s = self._native.stats()
        return Stats(handler_errors=self._handler_errors, **s)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact_url(self._url)!r}, state={self.state.value!r})"
