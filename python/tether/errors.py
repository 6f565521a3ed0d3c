"""Exceptions of tether: one class per outcome a caller acts on.

Every error about a message carries it (``.message``) and says whether it may have reached
the peer (``.transmission``, ``.may_have_arrived``): a message that was *not sent* is safe to
send again; an *unconfirmed* one was written and may have arrived.

::

    try:
        await (await client.send({"id": 1}))
    except tether.errors.NotDelivered as e:
        if not e.may_have_arrived:
            await client.send(e.message)
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "BatchNotQueued",
    "ClientClosed",
    "ClientStopped",
    "ConfigError",
    "DeadlineExceeded",
    "Dropped",
    "ForkError",
    "MessageTooLarge",
    "NoCorrelationKey",
    "NotAllDelivered",
    "NotDelivered",
    "OutboxFull",
    "Rejected",
    "RequestTimeout",
    "StoppedBeforeDelivery",
    "TetherError",
    "Transmission",
]


class Transmission(str, enum.Enum):
    """What is known of a message handed back undelivered."""

    NOT_SENT = "not_sent"
    """Never written on any connection: sending it again cannot duplicate it."""
    UNCONFIRMED = "unconfirmed"
    """Written and not acknowledged: it may have arrived."""
    REFUSED = "refused"
    """It reached the peer, which refused it."""


class TetherError(Exception):
    """Base class of every tether exception."""


class ConfigError(TetherError, ValueError):
    """A configuration, URL or CA file that cannot work."""


class ForkError(TetherError, RuntimeError):
    """tether was used in a child process forked after the parent had started it."""


class ClientStopped(TetherError):
    """The client stopped for good (fatal error, attempt limit, or closed) before what was
    awaited happened. ``reason`` is the engine's text; ``fatal`` tells an error from a close."""

    def __init__(self, reason: str, fatal: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fatal = fatal


class NotDelivered(TetherError):
    """A message was not delivered. ``message`` is the message handed back."""

    def __init__(
        self,
        text: str,
        message: Any = None,
        transmission: Transmission = Transmission.NOT_SENT,
    ) -> None:
        super().__init__(text)
        self.message = message
        self.transmission = transmission

    @property
    def may_have_arrived(self) -> bool:
        """Whether the peer may have received it (sending it again may duplicate it)."""
        return self.transmission is not Transmission.NOT_SENT


class OutboxFull(NotDelivered):
    """The outbox is at capacity and the policy is ``reject``. Not sent."""


class MessageTooLarge(NotDelivered):
    """The message exceeds ``max_message_size``. Not sent."""


class ClientClosed(NotDelivered):
    """The client was closing or closed before the message was delivered."""


class StoppedBeforeDelivery(NotDelivered):
    """The client stopped on a fatal error before the message was delivered."""

    reason: str | None = None


class DeadlineExceeded(NotDelivered):
    """The message's deadline passed before it was delivered."""


class Dropped(NotDelivered):
    """Dropped from a full outbox under the ``drop_oldest`` policy."""


class Rejected(NotDelivered):
    """The peer acknowledged the message negatively: it arrived and was refused."""

    reason: str | None = None


class RequestTimeout(NotDelivered, TimeoutError):
    """No reply came in time; the request was withdrawn. A late reply may still show up on
    ``events()`` when ``may_have_arrived``."""

    timeout: float | None = None


class NoCorrelationKey(NotDelivered, ValueError):
    """A request without the ``ack_field``: no reply could ever be matched to it."""


class BatchNotQueued(TetherError):
    """``send_many`` stopped before queuing every message. The first ``queued`` messages
    stay queued (await ``receipt``), ``error`` carries the refused one, ``rest`` the ones
    after it (not queued)."""

    def __init__(self, queued: int, receipt: Any, error: NotDelivered, rest: list[Any]) -> None:
        super().__init__(f"batch stopped after {queued} queued message(s): {error}")
        self.queued = queued
        self.receipt = receipt
        self.error = error
        self.rest = rest


class NotAllDelivered(TetherError):
    """Some messages of a ``send_many`` were not delivered (the others were)."""

    def __init__(self, failures: list[NotDelivered]) -> None:
        super().__init__(f"{len(failures)} message(s) not delivered: {failures[0]}")
        self.failures = failures


_KINDS: dict[str, type[NotDelivered]] = {
    "full": OutboxFull,
    "closed": ClientClosed,
    "fatal": StoppedBeforeDelivery,
    "deadline": DeadlineExceeded,
    "dropped": Dropped,
    "rejected": Rejected,
    "too_large": MessageTooLarge,
    "timeout": RequestTimeout,
    "no_correlation": NoCorrelationKey,
}


def _native_error(
    kind: str, text: str, transmission: str, message: Any, extra: Any
) -> NotDelivered:
    """Builds the exception for an engine outcome (called by ``tether._native``)."""
    cls = _KINDS.get(kind, NotDelivered)
    error = cls(text, message, Transmission(transmission))
    if isinstance(error, RequestTimeout):
        error.timeout = extra
    elif isinstance(error, (Rejected, StoppedBeforeDelivery)):
        error.reason = extra
    return error
