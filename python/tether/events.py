"""What ``Client.events()`` yields besides inbound ``Message``s, and the client's state."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Union

from ._native import DatadivrMessage, Message
from .errors import NotDelivered, Transmission

__all__ = [
    "Acked",
    "DecodeFailed",
    "Disconnected",
    "Dropped",
    "Event",
    "HandlerFailed",
    "State",
    "StateChanged",
    "Stats",
    "Undelivered",
]


class State(str, enum.Enum):
    """Where a client is in its life."""

    IDLE = "idle"
    """Not started yet (first ``async with``, ``start()`` or send starts it)."""
    CONNECTING = "connecting"
    OPEN = "open"
    READY = "ready"
    RECONNECTING = "reconnecting"
    CLOSING = "closing"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The state changed; ``detail`` says why a client closed or when it reconnects."""

    state: State
    detail: str | None
    fatal: bool


@dataclass(frozen=True, slots=True)
class Disconnected:
    """A connection was lost (or an attempt failed)."""

    error: str
    fatal: bool
    close_code: int | None


@dataclass(frozen=True, slots=True)
class Acked:
    """A message was acknowledged (``refused`` holds the peer's reason when it refused)."""

    key: str
    refused: str | None


@dataclass(frozen=True, slots=True)
class Dropped:
    """A message was dropped from a full outbox (``drop_oldest``)."""

    message: Any
    transmission: Transmission


@dataclass(frozen=True, slots=True)
class DecodeFailed:
    """An inbound frame could not be decoded; the connection goes on."""

    reason: str
    excerpt: str


@dataclass(frozen=True, slots=True)
class Undelivered:
    """A message left the outbox undelivered (the error its receipt gets too)."""

    error: NotDelivered


@dataclass(frozen=True, slots=True)
class HandlerFailed:
    """A handler raised; the client goes on."""

    event: str | None
    error: BaseException


@dataclass(frozen=True, slots=True)
class Stats:
    """The client's counters (cumulative) and its outbox."""

    messages_in: int
    messages_out: int
    bytes_in: int
    bytes_out: int
    connects: int
    reconnects: int
    dropped: int
    decode_errors: int
    handler_errors: int
    acked: int
    replayed: int
    heartbeat_rtt: float | None
    time_to_first_ready: float | None
    pending: int
    capacity: int
    #: Bytes read and written on the WebSocket byte stream (frames as they travelled,
    #: compressed where permessage-deflate was used; 0 for ``tcp://`` and ``tls://``).
    wire_bytes_in: int = 0
    wire_bytes_out: int = 0
    #: Connections on which permessage-deflate was negotiated (of ``connects``).
    deflate_connects: int = 0


Event = Union[  # noqa: UP007 (a runtime alias, also for Python 3.10)
    Message,
    DatadivrMessage,
    StateChanged,
    Disconnected,
    Acked,
    Dropped,
    DecodeFailed,
    Undelivered,
    HandlerFailed,
]
"""Anything ``Client.events()`` yields."""
