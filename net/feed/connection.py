"""One feed connection: a bounded queue and the one task that writes it to the socket.

Fan-out must never wait for a client: the hub runs inside the peer's apply path, so
:meth:`Connection.send` only appends to this connection's queue and wakes its writer. The
writer is the only code that awaits the socket; a client that reads slowly stalls only its
own writer, and its queue grows. When the queue passes ``queue_messages`` or
``queue_bytes`` the connection is dropped: the queue is discarded, the writer cancelled and
the socket closed with code 1008 (policy violation) and the reason, e.g. ``slow consumer:
2001 messages queued``. A client that is merely quiet gets ``{"event": "heartbeat"}``
after ``heartbeat`` seconds without a message, so silence always means trouble.

Messages are JSON text made once per fan-out and shared by every connection (they are
ASCII, so a message's length is its size in bytes).
"""

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Final

from aiohttp import web

from .limits import FeedLimits
from .protocol import Key, Subscription

log = logging.getLogger(__name__)

SLOW_CONSUMER: Final = 1008  # close code of a dropped connection (policy violation)
GOING_AWAY: Final = 1001  # the peer is stopping
INTERNAL_ERROR: Final = 1011
SERVICE_RESTART: Final = 1012  # the peer's log starts over (it moved to another cluster)


class Connection:
    """A subscriber: what it is subscribed to, and its queue to the socket."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None,
        limits: FeedLimits,
        heartbeat: Callable[[], str],
        on_drop: Callable[["Connection"], None],
        name: str,
    ) -> None:
        self.ws = ws
        self.transport = transport  # cut when the client will not take its close frame
        self.name = name  # the client's address, for the log
        self.limits = limits
        self.subscriptions: dict[Key, Subscription] = {}  # live ones
        self.waiting: dict[Key, Subscription] = {}  # until their `since` or the next flush
        self.waiters: dict[Key, asyncio.Task] = {}  # the tasks waiting for a `since`
        self.closed = False
        self.close_code: int | None = None  # set once closing: why
        self._queue: deque[str] = deque()
        self._queued_bytes = 0
        self._ready = asyncio.Event()
        self._heartbeat = heartbeat
        self._on_drop = on_drop  # told at once: the close may take until close_within
        self._writer = asyncio.create_task(self._write(), name=f"feed-writer {name}")
        self._closer: asyncio.Task | None = None

    def taken(self, key: Key) -> bool:
        return key in self.subscriptions or key in self.waiting

    def count(self) -> int:
        return len(self.subscriptions) + len(self.waiting)

    def send(self, text: str) -> None:
        """Queue one message; never waits. Drops the connection if that overflows it."""
        if self.closed:
            return
        queue = self._queue
        queue.append(text)
        self._queued_bytes += len(text)
        limits = self.limits
        if len(queue) > limits.queue_messages:
            self.drop(f"slow consumer: {len(queue)} messages queued")
        elif self._queued_bytes > limits.queue_bytes:
            self.drop(f"slow consumer: {self._queued_bytes} bytes queued")
        else:
            self._ready.set()

    def drop(self, reason: str) -> None:
        """Stop at once: discard the queue, stop writing, close with 1008 and ``reason``."""
        if self.closed:
            return
        log.warning("feed: dropped %s: %s", self.name, reason)
        self.close_soon(SLOW_CONSUMER, reason)
        self._on_drop(self)

    def close_soon(self, code: int, reason: str) -> None:
        """Start closing with ``code`` and ``reason`` (unless closing already); nothing
        more is sent."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self._queue.clear()
        self._queued_bytes = 0
        self._writer.cancel()  # it may be stuck in a write the client will never read
        for task in self.waiters.values():
            task.cancel()
        self._closer = asyncio.create_task(
            self._close(code, reason), name=f"feed-close {self.name}"
        )

    async def close(self, code: int = GOING_AWAY, reason: str = "") -> None:
        """Close (if nothing closed it yet) and wait until it is closed, within
        ``close_within`` seconds: after that the socket is cut."""
        if not self.closed:
            self.close_soon(code, reason)
        assert self._closer is not None
        await asyncio.shield(self._closer)

    async def _close(self, code: int, reason: str) -> None:
        """The close handshake, bounded: a client that never reads never takes the close
        frame, and its socket is then aborted (so it cannot hold the peer's memory)."""
        await asyncio.gather(self._writer, return_exceptions=True)  # (it was cancelled)
        ws = self.ws
        try:
            async with asyncio.timeout(self.limits.close_within):
                await ws.close(code=code, message=reason.encode())
        except TimeoutError:
            log.info(
                "feed: %s did not take its close frame within %.0f s; cut",
                self.name,
                self.limits.close_within,
            )
        except ConnectionError:
            pass
        finally:
            transport = self.transport
            if transport is not None and not transport.is_closing():
                transport.abort()

    async def _write(self) -> None:
        """Write the queue out, in order; a heartbeat after ``heartbeat`` s of silence."""
        queue, ws, ready = self._queue, self.ws, self._ready
        try:
            while True:
                while queue:
                    text = queue.popleft()
                    self._queued_bytes -= len(text)
                    await ws.send_str(text)
                ready.clear()
                try:
                    async with asyncio.timeout(self.limits.heartbeat):
                        await ready.wait()
                except TimeoutError:
                    self.send(self._heartbeat())
        except ConnectionError:  # the client went away; the reader sees it too
            pass
        except Exception:  # a bug: say so, and close rather than let the queue fill up
            log.exception("feed: writing to %s failed", self.name)
            self.close_soon(INTERNAL_ERROR, "the peer failed to write to this connection")
