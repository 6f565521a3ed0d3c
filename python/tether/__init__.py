"""tether for Python: clients that stay attached to realtime servers.

The engine (reconnect with backoff, a bounded ordered outbox replayed until acknowledged,
dead-peer detection, request/reply) is tether's Rust engine; this package is its asyncio
surface. ``tether.Client`` is the raw platform (JSON or text over WebSocket, JSON lines over
TCP); the platform modules are drop-ins for their SDKs: ``tether.datadivr`` (datadivr),
``tether.moobius`` (moobius's ``WSClient``), ``tether.happypandax`` (happypandax-client),
``tether.hiven`` (openhivenpy's ``HivenClient``) and ``tether.gather`` (gather-client-ws).

Logging goes through :mod:`logging` (logger ``tether`` and its children, e.g.
``tether.engine`` for the engine's own records).
"""

from __future__ import annotations

import atexit

from . import errors
from ._client import BatchReceipt, Client, Handler, Receipt
from ._native import Message, shutdown
from .events import Event, State, Stats

__all__ = [
    "BatchReceipt",
    "Client",
    "Event",
    "Handler",
    "Message",
    "Receipt",
    "State",
    "Stats",
    "errors",
    "shutdown",
]

__version__ = "0.1.0"

# Live clients are closed (close handshake, bounded) and the engine's runtime stopped
# before the interpreter finalizes, so exiting with a live client neither hangs nor crashes.
atexit.register(shutdown)
