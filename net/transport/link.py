"""One authenticated connection to one peer: a bounded send queue drained in batches, a reader.

The writer wakes once per burst, not once per message: it seals everything queued since its
last write into one frame (one HMAC, one websocket write, one wake-up on the other side), so
the busier the link, the bigger the frames and the cheaper each message. The reader checks
each frame's tag, decodes it whole, and only then delivers its messages in order; a frame that
fails either check is counted, nothing of it is delivered, and the connection is closed.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web

from net.raft.messages import Msg

from . import codec
from .auth import TAG, AuthError, Session
from .control import PeerInfo
from .wire import DecodeError

log = logging.getLogger(__name__)

#: Either end of a websocket: links work the same whichever side dialed.
Socket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse
#: Called with the sender's node id and each message, in order.
Deliver = Callable[[int, codec.Message], None]
#: Decides whether a decoded frame's messages are what this connection may carry.
Accept = Callable[[list[codec.Message]], bool]

REPLACED = 4001  # close code: another connection to the same peer is kept instead
_ENDED = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED)


@dataclass(slots=True)
class Stats:
    """Counters over every connection of one :class:`~net.transport.links.PeerLinks`."""

    frames_in: int = 0  # frames received after a handshake, good or bad
    frames_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    messages_in: int = 0  # delivered
    messages_out: int = 0  # written to a socket
    refused: int = 0  # send() calls that returned False: no link, or its queue full
    dropped_auth: int = 0  # frames failing their tag; handshakes failing verification
    dropped_malformed: int = 0  # authentic frames that do not decode or are misaddressed


@dataclass(frozen=True, slots=True)
class Limits:
    max_frame: int = 4 << 20  # bytes of one websocket message, both ways; see max_message
    batch_bytes: int = 1 << 20  # a frame stops growing here (one bigger message still goes)
    queue_limit: int = 4096  # messages waiting per peer before send() refuses
    queue_bytes: int = 32 << 20  # bytes waiting per peer before send() refuses
    handshake_timeout: float = 5.0  # seconds to connect and authenticate
    max_handshakes: int = 16  # inbound connections authenticating or joining at once
    join_timeout: float = 30.0  # seconds the node's join handler may take to decide
    heartbeat: float = 5.0  # websocket ping period; no pong within half of it: link dead
    close_timeout: float = 1.0  # seconds to wait for the other side's close frame

    def __post_init__(self) -> None:
        if not 0 < self.batch_bytes <= self.max_frame - TAG or self.queue_bytes < self.max_frame:
            raise ValueError("need 0 < batch_bytes <= max_frame - 32, and queue_bytes >= max_frame")

    @property
    def max_message(self) -> int:
        """The largest encoded message: a frame holding only it, its length and the tag."""
        return self.max_frame - TAG - 4


class Link:
    """A running connection to ``peer``; it runs from creation until :meth:`stop` or a drop."""

    def __init__(
        self,
        me: int,
        peer: int,
        ws: Socket,
        session: Session,
        *,
        outbound: bool,
        limits: Limits,
        stats: Stats,
        deliver: Deliver,
        on_closed: Callable[["Link"], None],
    ) -> None:
        self.me = me
        self.peer = peer
        self.outbound = outbound  # we dialed it
        self.closed = asyncio.Event()
        self._ws = ws
        self._session = session
        self._limits = limits
        self._stats = stats
        self._deliver = deliver
        self._on_closed = on_closed
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        self._code: int = WSCloseCode.OK
        self._stopping = False
        self._running = False  # a task cancelled before its first step would skip its cleanup
        self._task = asyncio.create_task(self._run(), name=f"peer-link-{me}-{peer}")

    def send(self, data: bytes) -> bool:
        """Queue one encoded message; False if the link is stopping or its queue is full."""
        if (
            self._stopping
            or len(self._queue) >= self._limits.queue_limit
            or self._queued_bytes + len(data) > self._limits.queue_bytes
        ):
            return False
        self._queue.append(data)
        self._queued_bytes += len(data)
        self._wake.set()
        return True

    def take_unsent(self) -> list[bytes]:
        """Remove and return the messages still queued, oldest first (for a replacement)."""
        unsent = list(self._queue)
        self._queue.clear()
        self._queued_bytes = 0
        return unsent

    def stop(self, code: int) -> None:
        """Close the connection with websocket close ``code``; queued messages are dropped."""
        if not self._stopping:
            self._stopping = True
            self._code = code
            if self._running:
                self._task.cancel()  # else _run sees _stopping and goes straight to closing

    async def _run(self) -> None:
        self._running = True
        writer = asyncio.create_task(self._write(), name=f"peer-writer-{self.me}-{self.peer}")
        try:
            if not self._stopping:
                await self._read()
        finally:
            self._stopping = True  # from here on, stop() must not interrupt the closing
            try:
                writer.cancel()
                await asyncio.wait([writer])
                await self._ws.close(code=self._code)
            finally:
                self._queue.clear()
                self._on_closed(self)
                self.closed.set()

    async def _read(self) -> None:
        while True:
            received = await self._ws.receive()
            if received.type is WSMsgType.BINARY:
                messages = read_frame(
                    self._session, received.data, self._stats, self._expected, self.peer
                )
                if messages is None:
                    self._code = WSCloseCode.POLICY_VIOLATION
                    return
                for message in messages:
                    try:
                        self._deliver(self.peer, message)
                    except Exception:
                        log.exception(
                            "peer %d: the message handler failed on %s", self.peer, message
                        )
            elif received.type in _ENDED:
                return
            else:  # text, or a websocket protocol error such as an oversized message
                self._stats.dropped_malformed += 1
                log.warning("peer %d: %s on the link; closing", self.peer, received.type.name)
                self._code = WSCloseCode.POLICY_VIOLATION
                return

    def _expected(self, messages: list[codec.Message]) -> bool:
        """Links carry raft messages from one end to the other, and address gossip."""
        return all(
            (m.frm == self.peer and m.to == self.me) if type(m) is Msg else type(m) is PeerInfo
            for m in messages
        )

    async def _write(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    frame = write_frame(self._session, self._take_batch(), self._stats)
                    await self._ws.send_bytes(frame)
        except ConnectionError as error:
            log.debug("peer %d: write failed: %s", self.peer, error)
            self.stop(WSCloseCode.GOING_AWAY)

    def _take_batch(self) -> list[bytes]:
        queue = self._queue
        batch = [queue.popleft()]
        size = 4 + len(batch[0])
        limit = self._limits.batch_bytes
        while queue and size + 4 + len(queue[0]) <= limit:
            data = queue.popleft()
            batch.append(data)
            size += 4 + len(data)
        self._queued_bytes -= size - 4 * len(batch)
        return batch


def write_frame(session: Session, encoded: list[bytes], stats: Stats) -> bytes:
    """Seal already encoded messages into the next frame of ``session``, counted."""
    frame = session.seal(codec.encode_batch(encoded))
    stats.frames_out += 1
    stats.bytes_out += len(frame)
    stats.messages_out += len(encoded)
    return frame


def read_frame(
    session: Session, frame: bytes, stats: Stats, accept: Accept, peer: int
) -> list[codec.Message] | None:
    """The messages of the next received frame, or None (counted, logged) if it is refused."""
    stats.frames_in += 1
    stats.bytes_in += len(frame)
    try:
        messages = codec.decode_batch(frame, session.open(frame))
    except AuthError as error:
        stats.dropped_auth += 1
        log.warning("peer %d: dropped a frame: %s", peer, error)
        return None
    except DecodeError as error:
        stats.dropped_malformed += 1
        log.warning("peer %d: dropped a malformed frame: %s", peer, error)
        return None
    if not accept(messages):
        stats.dropped_malformed += 1
        log.warning("peer %d: dropped a frame with unexpected messages", peer)
        return None
    stats.messages_in += len(messages)
    return messages
