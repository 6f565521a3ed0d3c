"""A drop-in for the Moobius SDK's websocket client (``moobius`` 1.8.0, ``WSClient``), on
tether's engine.

Change ``from moobius.network.ws_client import WSClient`` to
``from tether.moobius import WSClient``: the constructor, ``connect``, ``send``,
``receive``, ``safe_handle``, ``dumps`` and every builder keep the SDK's names, arguments
and return values, and each builder's message is byte for byte the SDK's (tether's Rust
builders write it; ``dry_run=True`` returns it without sending). What the SDK lacks comes
with it:

- the login that ``on_connect`` sends (``service_login``, or ``user_login`` and the
  ``join_channel`` calls after it) is sent again on every reconnect, before anything
  queued;
- messages keep their order across reconnects (the SDK re-queues a failed send at the
  tail) in a bounded outbox;
- WebSocket pings notice a dead server; reconnects back off with jitter; ``ws://`` works
  (the SDK busy-loops on it);
- the access token never shows in ``repr`` or logs (the SDK logs every message it sends).

::

    async def handle(message: str) -> None:
        print(json.loads(message))

    client = WSClient("ws://127.0.0.1:8785/", handle=handle)
    client.on_connect = lambda: client.service_login("svc-1", access_token)
    await client.connect()
    await client.message_down("svc-1", "svc-1", "ch-1", "user-1", "text", {"text": "hi"}, "svc-1")
    await client.receive()

Moobius has no acknowledgements: a message is delivered once written and flushed; one in
a socket that then dies is lost, and nobody can tell (the SDK cannot tell either).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from . import _native
from ._client import Client, redact_url
from ._early import EarlyOutbox
from ._native import Message
from .errors import ClientClosed
from .events import DecodeFailed, StateChanged, Undelivered

__all__ = [
    "BottomButton",
    "Button",
    "CanvasItem",
    "ChannelInfo",
    "Dialog",
    "InputComponent",
    "MenuItem",
    "MessageContent",
    "StyleItem",
    "WSClient",
]

logger = logging.getLogger("tether.moobius")


# -- the SDK's dataclasses (moobius.types), for builder arguments --------------------------


@dataclasses.dataclass
class InputComponent:
    """A place in a dialog where the user selects or enters something."""

    label: str
    type: str
    required: bool | None = False
    placeholder: str | None = None
    choices: list[str] | None = None


@dataclasses.dataclass
class BottomButton:
    """A button at the bottom of a dialog."""

    id: str
    text: str
    submit: bool


@dataclasses.dataclass
class Dialog:
    """A dialog box a button or menu item opens."""

    title: str = "Dialog"
    components: list[InputComponent] | None = None
    bottom_buttons: list[BottomButton] | None = None


@dataclasses.dataclass
class Button:
    """A button the recipients see."""

    button_id: str
    button_text: str
    dialog: Dialog | None = None


@dataclasses.dataclass
class MenuItem:
    """An item of the right-click menu on messages."""

    menu_item_id: str
    menu_item_text: str
    message_subtypes: str | list[str]
    dialog: Dialog | None = None


@dataclasses.dataclass
class MessageContent:
    """What a message carries (``None`` fields are left out when sent)."""

    text: str | None = None
    path: str | None = None
    size: int | None = None
    filename: str | None = None
    link: str | None = None
    title: str | None = None
    button: str | None = None


@dataclasses.dataclass
class CanvasItem:
    """An element of the canvas."""

    text: str | None = None
    path: str | None = None


@dataclasses.dataclass
class StyleItem:
    """A visual style element."""

    widget: str
    display: str
    expand: bool | None = None
    button_id: str | None = None
    text: str | None = None


@dataclasses.dataclass
class ChannelInfo:
    """A channel's name and description."""

    channel_id: str
    channel_name: str
    channel_description: str
    channel_type: str


def _assert_strs(*strs: Any) -> None:
    """The SDK's ``types.assert_strs``: every id argument must be a ``str``."""
    for i, s in enumerate(strs):
        if type(s) is not str:
            raise Exception(f"Element[{i}] is not a str")


def _plain(x: Any) -> Any:
    """Dataclasses (anywhere inside ``x``) as dicts, as the SDK's JSON writer sees them."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return dataclasses.asdict(x)
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def _clicked(the_message: Any) -> Any:
    """A menu click's message: an id, a dict, or a received message body (dataclass with
    ``message_id``, ``subtype``, ``content``; the SDK raises ``AttributeError`` there)."""
    if dataclasses.is_dataclass(the_message) and not isinstance(the_message, type):
        d = dataclasses.asdict(the_message)
        return {
            "message_id": d.get("message_id"),
            "message_subtype": d.get("subtype", d.get("message_subtype")),
            "content": d.get("content"),
        }
    return the_message


class _Login:
    """What ``on_connect`` sent, captured so the engine sends it on every connect."""

    __slots__ = ("channels", "others", "service_id", "token")

    def __init__(self) -> None:
        self.service_id: str | None = None
        self.token: str | None = None
        self.channels: list[tuple[str, str]] = []
        self.others: list[str] = []

    def __repr__(self) -> str:
        return f"_Login(service_id={self.service_id!r}, token=<redacted>)"


class _Engine(Client):
    _platform = "moobius"

    def _message_name(self, message: Any) -> str | None:
        return None


def _default_on_connect() -> Awaitable[None]:
    async def noop() -> None:
        return None

    return noop()


async def _default_handle(message: str) -> None:
    logger.debug("%s", message)


class WSClient:
    """The SDK's ``WSClient``. Extra keyword arguments (tether's):

    - ``heartbeat``: seconds between the SDK's ``heartbeat`` messages (default 30, the
      SDK's interval; ``None``: none);
    - ``send_timeout``: a deadline per message (seconds; default ``None``: a message waits
      in the outbox, in order, until the connection is back);
    - ``ping_interval``: seconds between WebSocket pings (default 15);
    - the engine options of ``tether.Client``: ``dead_after``, ``connect_timeout``,
      ``outbox_capacity``, ``policy``, ``backoff_base``, ``backoff_cap``,
      ``max_attempts``, ``ca_file``, ...
    """

    def __init__(
        self,
        ws_server_uri: str,
        on_connect: Callable[[], Awaitable[Any]] | None = None,
        handle: Callable[[str], Awaitable[Any]] | None = None,
        report_str: str | None = None,
        *,
        heartbeat: float | None = 30.0,
        send_timeout: float | None = None,
        ping_interval: float = 15.0,
        **options: Any,
    ) -> None:
        self.websocket: Client | None = None
        self.ws_server_uri = ws_server_uri
        self.on_connect: Callable[[], Awaitable[Any]] = on_connect or _default_on_connect
        self.handle: Callable[[str], Awaitable[Any]] = handle or _default_handle
        self.timeout = 16
        self.report_str = report_str if report_str else ""
        self._heartbeat = heartbeat
        self._send_timeout = send_timeout
        self._options = {"heartbeat": ping_interval, **options}
        self._capture: _Login | None = None
        self._login: _Login | None = None
        self._early = self._early_outbox()
        self._sub: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._connecting: asyncio.Future[None] | None = None

    # -- standard socket interaction ---------------------------------------------------

    @property
    def is_connected(self) -> bool:
        """Whether the connection is up and the login sent."""
        return self.websocket is not None and self.websocket.state.value == "ready"

    async def connect(self) -> None:
        """Connects and runs ``on_connect`` (the SDK's login). The login it sends is sent
        again on every reconnect, before anything queued, by the engine; ``connect`` waits
        (as the SDK, which keeps trying) until the connection is up. A refused token (the
        server closes with 4001) raises ``tether.errors.ClientStopped``."""
        if self.websocket is not None:
            await self.websocket.ready()
            return
        if self._connecting is not None:
            await asyncio.shield(self._connecting)
            return
        loop = asyncio.get_running_loop()
        self._connecting = loop.create_future()
        try:
            await self._start()
            self._connecting.set_result(None)
        except BaseException as e:
            self._connecting.set_exception(e)
            self._connecting.exception()  # retrieved: the caller gets it
            raise
        finally:
            self._connecting = None

    async def _start(self) -> None:
        login = _Login()
        self._capture = login
        try:
            await self.on_connect()
        finally:
            self._capture = None
        if login.token is not None:
            client: Client = _Engine(self.ws_server_uri, **self._options)
            client._options["platform_options"] = {
                "access_token": login.token,
                "service_id": login.service_id,
                "channels": login.channels,
                "app_heartbeat": self._heartbeat,
            }
        else:
            # No login: text frames as they are, nothing sent on connect.
            client = Client(self.ws_server_uri, text=True, **self._options)
        self._login = login
        client._start()
        self._sub = client._subscribe()
        try:
            await client.ready()
        except BaseException:
            await client.close()
            self._sub = None
            raise
        # The login's companions, then what was sent before connect, in order; sends made
        # meanwhile join the early outbox's tail until it closes.
        for text in login.others:
            await self._queue(client, text)
        while (early := self._early.pop()) is not None:
            await self._queue(client, early)
        self._early.close()
        self.websocket = client
        logger.info("connected to %s%s", redact_url(self.ws_server_uri), self.report_str)

    def _early_outbox(self) -> EarlyOutbox:
        """The outbox of messages sent before ``connect``: the engine's limits and policy
        (the ``outbox_capacity``, ``policy`` and ``max_message_size`` options)."""
        return EarlyOutbox(
            int(self._options.get("outbox_capacity", 1024)),
            str(self._options.get("policy", "backpressure")),
            int(self._options.get("max_message_size", 16 * 1024 * 1024)),
        )

    async def _queue(self, client: Client, text: str) -> None:
        await client.send(text, deadline=self._send_timeout)

    async def send(self, message: Any) -> None:
        """Queues a dict-valued message (dataclasses inside become dicts) or a JSON string;
        returns once it is queued (sent in order; after a reconnect if the connection is
        down). Before ``connect()`` it is held in order for the connection, with the
        engine's outbox limits and policy (``outbox_capacity``, ``policy``: waits for room,
        raises ``OutboxFull``, or drops the oldest; ``max_message_size``)."""
        if type(message) is dict:
            message = self.dumps(message)
        elif type(message) is not str:
            raise Exception("must send a string or dict-valued message into ws_client.send")
        if self._capture is not None:
            self._capture.others.append(message)
            return
        if self.websocket is None and await self._early.put(message):
            return
        if self.websocket is None:
            raise ClientClosed("the client was closed before the message was sent", message)
        await self._queue(self.websocket, message)

    async def receive(self) -> None:
        """Hands every message received to ``safe_handle`` (as its text, in a task of its
        own, as the SDK does) until the client is closed. Connects first if needed."""
        if self.websocket is None:
            await self.connect()
        client, sub = self.websocket, self._sub
        assert client is not None and sub is not None
        loop = asyncio.get_running_loop()
        async for item in client._iterate(sub):
            if isinstance(item, str):
                text: str | None = item
            elif isinstance(item, Message):
                text = item.text
            else:
                if isinstance(item, Undelivered):
                    logger.warning("message not delivered: %s", item.error)
                elif isinstance(item, DecodeFailed):
                    logger.warning("bad message from the server: %s", item.reason)
                elif isinstance(item, StateChanged):
                    logger.info("connection %s%s", item.state.value, self.report_str)
                continue
            if text is None:
                continue
            task = loop.create_task(self.safe_handle(text))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def safe_handle(self, message: str) -> None:
        """Runs ``self.handle(message)``, logging (not raising) its errors."""
        try:
            result = self.handle(message)
            if inspect.isawaitable(result):
                await result
        except Exception as e:
            logger.error("handle failed: %s", e, exc_info=e)

    async def close(self) -> None:
        """Closes the connection (close handshake) and stops the client (tether's; the
        SDK has none). ``receive`` returns."""
        client, self.websocket = self.websocket, None
        self._sub = None
        # Senders waiting for room before connect get ClientClosed; a later connect
        # starts a new early outbox.
        early, self._early = self._early, self._early_outbox()
        early.close()
        if client is not None:
            await client.close()

    disconnect = close

    async def __aenter__(self) -> WSClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @staticmethod
    def dumps(data: Any) -> str:
        """The SDK's JSON writer: ``json.dumps`` (Python's defaults) with dataclasses as
        dicts."""
        return json.dumps(_plain(data), indent=None)

    # -- builders --------------------------------------------------------------------

    async def _build(self, name: str, dry_run: bool, **kwargs: Any) -> dict[str, Any] | None:
        text = _native.moobius_build(name, kwargs, str(uuid.uuid4()), int(time.time() * 1000))
        if text is None:
            return None
        message: dict[str, Any] = json.loads(text)
        if dry_run:
            return message
        capture = self._capture
        if capture is not None and name == "service_login":
            capture.service_id, capture.token = kwargs["service_id"], kwargs["access_token"]
        elif capture is not None and name == "user_login":
            capture.service_id, capture.token = None, kwargs["access_token"]
        elif (
            capture is not None
            and name == "join_channel"
            and capture.token is not None
            and capture.service_id is None
        ):
            capture.channels.append((kwargs["user_id"], kwargs["channel_id"]))
        else:
            await self.send(text)
        return message

    async def heartbeat(self, *, dry_run: bool = False) -> dict[str, Any]:
        """Sends a heartbeat (the client also sends one every ``heartbeat`` seconds)."""
        message = await self._build("heartbeat", dry_run)
        assert message is not None
        return message

    async def service_login(
        self, service_id: str, access_token: str, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Logs in as a service. Sent from ``on_connect``, it is sent on every connect."""
        _assert_strs(service_id, access_token)
        message = await self._build(
            "service_login", dry_run, service_id=service_id, access_token=access_token
        )
        assert message is not None
        return message

    async def user_login(self, access_token: str, *, dry_run: bool = False) -> dict[str, Any]:
        """Logs in as a user. Sent from ``on_connect``, it is sent on every connect (with
        the ``join_channel`` calls that follow it there)."""
        _assert_strs(access_token)
        message = await self._build("user_login", dry_run, access_token=access_token)
        assert message is not None
        return message

    async def leave_channel(
        self, user_id: str, channel_id: str, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """A user leaves a channel."""
        _assert_strs(user_id, channel_id)
        message = await self._build(
            "leave_channel", dry_run, user_id=user_id, channel_id=channel_id
        )
        assert message is not None
        return message

    async def join_channel(
        self, user_id: str, channel_id: str, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """A user joins a channel."""
        _assert_strs(user_id, channel_id)
        message = await self._build("join_channel", dry_run, user_id=user_id, channel_id=channel_id)
        assert message is not None
        return message

    async def send_characters(
        self,
        characters: str,
        service_id: str,
        channel_id: str,
        recipients: str,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any] | None:
        """Updates the characters the recipients see (``None``, nothing sent, without
        recipients)."""
        if not recipients:
            return None
        _assert_strs(characters, service_id, channel_id, recipients)
        return await self._build(
            "send_characters",
            dry_run,
            characters=characters,
            service_id=service_id,
            channel_id=channel_id,
            recipients=recipients,
        )

    async def send_buttons(
        self,
        buttons: Any,
        service_id: str,
        channel_id: str,
        recipients: str,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any] | None:
        """Updates the buttons the recipients see (a ``Button``, a dict, or a list)."""
        if not recipients:
            return None
        if type(buttons) not in (list, tuple):
            buttons = [buttons]
        _assert_strs(service_id, channel_id, recipients)
        return await self._build(
            "send_buttons",
            dry_run,
            buttons=_plain(buttons),
            service_id=service_id,
            channel_id=channel_id,
            recipients=recipients,
        )

    async def send_menu(
        self,
        menu_items: Any,
        service_id: str,
        channel_id: str,
        recipients: str,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any] | None:
        """Updates the right-click menu (a list of ``MenuItem`` or dicts)."""
        if not recipients:
            return None
        _assert_strs(service_id, channel_id, recipients)
        return await self._build(
            "send_menu",
            dry_run,
            menu_items=_plain(menu_items),
            service_id=service_id,
            channel_id=channel_id,
            recipients=recipients,
        )

    async def send_style(
        self,
        style_items: Any,
        service_id: str,
        channel_id: str,
        recipients: str,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any] | None:
        """Updates the look and feel (a ``StyleItem``, a dict, or a list)."""
        if not recipients:
            return None
        if type(style_items) not in (list, tuple):
            style_items = [style_items]
        _assert_strs(service_id, channel_id, recipients)
        return await self._build(
            "send_style",
            dry_run,
            style_items=_plain(style_items),
            service_id=service_id,
            channel_id=channel_id,
            recipients=recipients,
        )

    async def update_channel_info(
        self, channel_info: Any, service_id: str, channel_id: str, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Updates a channel's name and description (a dict argument gains its
        ``context``, as in the SDK)."""
        _assert_strs(service_id, channel_id)
        message = await self._build(
            "update_channel_info",
            dry_run,
            channel_info=_plain(channel_info),
            service_id=service_id,
            channel_id=channel_id,
        )
        assert message is not None
        if type(channel_info) is dict:
            channel_info["context"] = message["body"]["context"]
        return message

    async def update_canvas(
        self,
        service_id: str,
        channel_id: str,
        canvas_items: Any,
        recipients: str,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any] | None:
        """Updates the canvas (a ``CanvasItem``, a dict, or a list). Note the SDK's
        argument order."""
        if not recipients:
            return None
        if type(canvas_items) is dict or isinstance(canvas_items, CanvasItem):
            canvas_items = [canvas_items]
        _assert_strs(service_id, channel_id, recipients)
        return await self._build(
            "update_canvas",
            dry_run,
            service_id=service_id,
            channel_id=channel_id,
            canvas_items=_plain(canvas_items),
            recipients=recipients,
        )

    async def update(
        self, data: Any, target_client_id: str, service_id: str, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """A generic update whose body is ``data`` (``target_client_id`` is not sent, as in
        the SDK)."""
        _assert_strs(service_id, target_client_id)
        message = await self._build(
            "update",
            dry_run,
            data=_plain(data),
            target_client_id=target_client_id,
            service_id=service_id,
        )
        assert message is not None
        return message

    async def message_up(
        self,
        user_id: str,
        service_id: str,
        channel_id: str,
        recipients: str,
        subtype: str,
        content: Any,
        context: dict[str, Any] | None = None,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any] | None:
        """A user's message (``content``: a ``MessageContent`` or dict; ``None`` fields are
        left out)."""
        if not recipients:
            return None
        _assert_strs(user_id, service_id, channel_id, recipients, subtype)
        return await self._build(
            "message_up",
            dry_run,
            user_id=user_id,
            service_id=service_id,
            channel_id=channel_id,
            recipients=recipients,
            subtype=subtype,
            content=_plain(content),
            context=_plain(context) if context else None,
        )

    async def message_down(
        self,
        user_id: str,
        service_id: str,
        channel_id: str,
        recipients: str,
        subtype: str,
        content: Any,
        sender: str,
        context: dict[str, Any] | None = None,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any] | None:
        """A service's message to the recipients, shown as sent by ``sender``."""
        if not recipients:
            return None
        _assert_strs(user_id, service_id, channel_id, recipients, subtype)
        return await self._build(
            "message_down",
            dry_run,
            user_id=user_id,
            service_id=service_id,
            channel_id=channel_id,
            recipients=recipients,
            subtype=subtype,
            content=_plain(content),
            sender=sender,
            context=_plain(context) if context else None,
        )

    async def send_button_click(
        self,
        button_id: str,
        bottom_button_id: str,
        button_args: Any,
        channel_id: str,
        user_id: str,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """A user's button click (``arguments`` is ``[button_args]``, as in the SDK)."""
        _assert_strs(button_id, bottom_button_id, user_id, channel_id)
        message = await self._build(
            "send_button_click",
            dry_run,
            button_id=button_id,
            bottom_button_id=bottom_button_id,
            button_args=_plain(button_args) if button_args not in (None, False) else None,
            channel_id=channel_id,
            user_id=user_id,
        )
        assert message is not None
        return message

    async def send_menu_item_click(
        self,
        menu_item_id: str,
        bottom_button_id: str,
        button_args: Any,
        the_message: Any,
        channel_id: str,
        user_id: str,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """A user's click on a menu item of a message (``the_message``: its id, a dict
        with ``message_id``, ``message_subtype`` and ``content``, or a received message
        body)."""
        _assert_strs(menu_item_id, bottom_button_id, user_id, channel_id)
        the_message = _clicked(the_message)
        if type(the_message) is not dict:
            _assert_strs(the_message)
        message = await self._build(
            "send_menu_item_click",
            dry_run,
            menu_item_id=menu_item_id,
            bottom_button_id=bottom_button_id,
            button_args=_plain(button_args) if button_args not in (None, False) else None,
            the_message=_plain(the_message),
            channel_id=channel_id,
            user_id=user_id,
        )
        assert message is not None
        return message

    async def refresh_as_user(
        self, user_id: str, channel_id: str, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Asks for everything the user sees again."""
        _assert_strs(user_id, channel_id)
        message = await self._build(
            "refresh_as_user", dry_run, user_id=user_id, channel_id=channel_id
        )
        assert message is not None
        return message

    def __str__(self) -> str:
        return (
            f"tether.moobius.WSClient(ws_server_uri={redact_url(self.ws_server_uri)}, "
            f"on_connect={self.on_connect}, handle={self.handle})"
        )

    __repr__ = __str__
