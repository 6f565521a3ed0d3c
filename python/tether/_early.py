"""Messages sent before the engine exists (a ``WSClient.send`` before ``connect``): held with
the engine's outbox limits and overflow policy, then handed to the engine in order (``pop``
until empty, then ``close``)."""

from __future__ import annotations

import asyncio
import collections
import logging

from .errors import MessageTooLarge, OutboxFull

logger = logging.getLogger("tether")


class EarlyOutbox:
    """At most ``capacity`` messages, kept in order until popped. When full, the
    ``policy`` applies as in the engine's outbox: ``backpressure`` makes ``put`` wait for
    room (it comes when the engine takes over), ``reject`` raises ``OutboxFull``, and
    ``drop_oldest`` drops the oldest held message (logged, as the engine's undelivered
    ones are). A message over ``max_message_size`` bytes raises ``MessageTooLarge``."""

    def __init__(self, capacity: int, policy: str, max_message_size: int) -> None:
        self.capacity = capacity
        self.policy = policy
        self.max_message_size = max_message_size
        self._held: collections.deque[str] = collections.deque()
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._taken = False

    def __len__(self) -> int:
        return len(self._held)

    def held(self) -> list[str]:
        """The held messages, oldest first (a copy)."""
        return list(self._held)

    async def put(self, text: str) -> bool:
        """Holds ``text``; ``False`` when closed (before or while waiting for room): the
        caller then sends it through the engine itself."""
        if len(text.encode()) > self.max_message_size:
            raise MessageTooLarge(
                f"message of {len(text.encode())} bytes exceeds max_message_size "
                f"({self.max_message_size})",
                text,
            )
        while not self._taken and len(self._held) >= self.capacity:
            if self.policy == "reject":
                raise OutboxFull("outbox full: message rejected", text)
            if self.policy == "drop_oldest":
                self._held.popleft()
                logger.warning("message not delivered: dropped (outbox full, drop_oldest)")
                break
            room: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append(room)
            try:
                await room
            finally:
                if room in self._waiting:
                    self._waiting.remove(room)
        if self._taken:
            return False
        self._held.append(text)
        return True

    def pop(self) -> str | None:
        """The oldest held message (``None``: none), making room for one waiting sender."""
        if not self._held:
            return None
        text = self._held.popleft()
        while self._waiting:
            room = self._waiting.popleft()
            if not room.done():
                room.set_result(None)
                break
        return text

    def close(self) -> None:
        """From now on ``put`` holds nothing: the senders waiting for room go on, in the
        order they came, to the engine (``put`` returns ``False``)."""
        self._taken = True
        while self._waiting:
            room = self._waiting.popleft()
            if not room.done():
                room.set_result(None)
