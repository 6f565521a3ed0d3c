"""The extension module (crates/tether-py): the engine's thin Python boundary.

Not public API: use ``tether.Client`` and ``tether.datadivr``.
"""

from collections.abc import Iterable
from typing import Any

__version__: str

def shutdown(timeout: float = 2.0) -> None: ...
def dumps(obj: Any) -> str: ...
def datadivr_wire_text(event_name: Any, payload: Any, to: Any, message: Any) -> str | None:
    """The datadivr SDK's wire text of ``send_message``; ``None``: use Python's ``json``."""

def moobius_build(
    builder: str, kwargs: dict[str, Any], request_id: str, timestamp_ms: int
) -> str | None:
    """The wire text of the Moobius SDK builder ``builder`` with ``kwargs`` (tether's Rust
    builders), or ``None`` where the SDK sends nothing."""

def hiven_check_token(token: str, client_type: str | None = None) -> str:
    """``"bot"`` or ``"user"``; raises ``tether.hiven.InvalidToken`` /
    ``InvalidClientType``."""

def gather_descriptor() -> bytes:
    """The Gather schema's ``FileDescriptorSet``."""

def gather_actions() -> list[tuple[str, str, str]]:
    """Every Gather action: ``(SDK method name, ClientServerAction field, SDK docstring)``."""

class NativeHivenPoster:
    def post(self, room_id: str, content: str) -> str:
        """Queues a post, waits until it is posted; the created message as JSON text."""

class Message:
    """An inbound message of the raw platform; ``data`` is decoded on first access."""

    @property
    def data(self) -> Any:
        """The JSON value (JSON mode), else the text (bytes for a binary frame)."""
    @property
    def text(self) -> str | None:
        """The frame's text (``None`` for a binary frame)."""
    @property
    def raw(self) -> bytes:
        """The frame's bytes."""
    @property
    def name(self) -> str | None:
        """The event name (the ``event_field``'s string value), if any."""
    @property
    def is_json(self) -> bool:
        """Whether the frame parsed as JSON."""
    def __getitem__(self, key: Any) -> Any: ...

class DatadivrMessage:
    @property
    def event_name(self) -> str: ...
    @property
    def payload(self) -> Any: ...
    @property
    def to(self) -> str: ...
    @property
    def from_id(self) -> str: ...
    @property
    def message(self) -> str | None: ...

class NativeReceipt: ...

class NativeBatch:
    @property
    def count(self) -> int: ...

class NativeClient:
    def __init__(
        self,
        platform: str,
        url: str,
        *,
        mode: str = "json",
        ack_field: str | None = None,
        event_field: str | None = None,
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
        ca_file: str | None = None,
        token: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        max_message_size: int = 16777216,
        event_capacity: int = 1024,
        compression: bool = True,
        compression_threshold: int = 1024,
        platform_options: dict[str, Any] | None = None,
    ) -> None: ...
    def hiven_poster(self) -> NativeHivenPoster: ...
    def send_action(self, name: str, args: Any, token: int) -> tuple[int, NativeReceipt | None]: ...
    def wake(self) -> None: ...
    def gather_user_id(self) -> str | None: ...
    def fileno(self) -> int: ...
    def take(self, max: int = 4096) -> list[Any]: ...
    def send(
        self, obj: Any, token: int, deadline: float | None = None, defer: bool = False
    ) -> NativeReceipt | None: ...
    def send_text(self, text: str, token: int) -> NativeReceipt | None: ...
    def send_many(self, objs: Iterable[Any], token: int) -> NativeBatch | None: ...
    def watch(self, receipt: NativeReceipt, token: int) -> None: ...
    def watch_batch(self, batch: NativeBatch, token: int) -> None: ...
    def request(self, obj: Any, token: int, timeout: float | None = None) -> None: ...
    def cancel(self, token: int) -> None: ...
    def close(self, token: int) -> None: ...
    def request_close(self) -> None: ...
    def state(self) -> tuple[str, str, str | None, bool]: ...
    def stats(self) -> dict[str, Any]: ...
    def encode_preview(self, obj: Any) -> tuple[str | bytes, str | None]: ...

class NativeHpx:
    def __init__(
        self,
        name: str,
        *,
        session_id: str = "",
        tls: bool = False,
        ca_file: str | None = None,
        ca_certs: list[bytes] = ...,
        timeout: float = 60.0,
        auto_reconnect: bool = False,
        backoff_base: float = 0.25,
        backoff_cap: float = 30.0,
        max_attempts: int | None = None,
    ) -> None: ...
    def connect(self, host: str, port: int) -> None: ...
    def handshake(
        self, user: str | None = None, password: str | None = None, ignore_err: bool = False
    ) -> bool: ...
    def request_handshake(
        self, user: str | None = None, password: str | None = None, ignore_err: bool = False
    ) -> bool: ...
    def send(self, data: Any, raise_on_auth: bool = True) -> str: ...
    def send_text(self, text: bytes, raise_on_auth: bool = True) -> str: ...
    def close(self) -> None: ...
    def status(self) -> tuple[bool, bool, bool, str, str | None, bool]:
        """``(alive, ready, accepted, session, version JSON or None, guest_allowed)``."""
