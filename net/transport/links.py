"""Persistent, authenticated, ordered links to the other peers, over websockets (aiohttp).

The node tells :class:`PeerLinks` which peers to reach (:meth:`~PeerLinks.set_peer`), hands
it messages (:meth:`~PeerLinks.send`, which never blocks and may drop: Raft retries) and gets
every arriving message through ``on_message``. Inbound links arrive on the node's own aiohttp
server (:meth:`~PeerLinks.route`, or :meth:`~PeerLinks.accept` from a low-level handler), so
peer links and the RPC share one port.

One connection per pair of peers carries both directions, in order. Both ends dial the peers
they know; when two connections meet, the one dialed by the lower node id is kept (both ends
apply the same rule, so they agree without talking), and a later connection of the same kind
replaces an earlier one (the peer restarted). A dialer waits while a link exists, redials at
once when a long-lived link drops, and otherwise backs off exponentially from 50 ms to 1.5 s
with jitter, so a restarting cluster neither stampedes nor waits long.
"""

import asyncio
import contextlib
import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web

from net.raft.messages import Msg

from .auth import AuthError, ClientHandshake, Purpose, ServerHandshake, Session
from .codec import Message, encode
from .control import JoinReply, JoinRequest, PeerInfo
from .link import REPLACED, Deliver, Limits, Link, Socket, Stats, read_frame, write_frame

log = logging.getLogger(__name__)

#: The node's answer to a join: called once per authenticated JoinRequest.
JoinHandler = Callable[[JoinRequest], Awaitable[JoinReply]]

BACKOFF_MIN = 0.05
BACKOFF_MAX = 1.5
_ADDR = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})")


class TransportError(Exception):
    """A one-off exchange failed: peer unreachable, not proven, or no answer in time."""


@dataclass(eq=False)
class _Dialer:
    addr: str
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # set: the address changed
    task: "asyncio.Task[None] | None" = None
    failure: str = ""  # the last dial error logged, so a repeating one is logged once


class PeerLinks:
    """Links of node ``node_id`` in cluster ``cluster_id``, authenticated with ``secret``.

    Use from the event loop. ``on_message(sender_id, message)`` is called for every arriving
    :class:`~net.raft.messages.Msg` (always from the authenticated sender and to this node)
    and :class:`PeerInfo`; ``on_join`` answers :meth:`request_join` from other peers (without
    it, joins are refused). Every peer must use the same ``path``. ``cluster_id`` may be ""
    while the node is in no cluster yet (it then links with any) and be set later: each
    handshake uses its value at the time.
    """

    def __init__(
        self,
        node_id: int,
        cluster_id: str,
        secret: bytes,
        on_message: Deliver,
        *,
        on_join: JoinHandler | None = None,
        path: str = "/peer",
        limits: Limits | None = None,
    ) -> None:
        if not 0 < node_id < 1 << 64:
            raise ValueError(f"node id {node_id} is not in 1..2**64-1")
        self.node_id = node_id
        self.cluster_id = cluster_id
        self.path = path
        self.stats = Stats()
        self._secret = secret
        self._deliver = on_message
        self._on_join = on_join
        self._limits = limits or Limits()
        self._links: dict[int, Link] = {}  # the link in use, per peer
        self._live: set[Link] = set()  # every link not yet closed, replaced ones included
        self._dialers: dict[int, _Dialer] = {}
        self._pending: set[web.WebSocketResponse] = set()  # inbound, authenticating or joining
        self._http: aiohttp.ClientSession | None = None
        self._closing = False

    # --- the node's side --------------------------------------------------------------------

    def route(self, app: web.Application) -> None:
        """Accept inbound links on ``GET {path}`` of ``app``; closed when the app shuts down."""
        app.router.add_get(self.path, self.accept)
        app.on_shutdown.append(self._on_app_shutdown)

    def set_peer(self, node_id: int, addr: str) -> None:
        """Keep a link to ``node_id`` at ``addr`` ("host:port"); a changed address is dialed
        at once (a link that is up stays until it drops)."""
        if node_id == self.node_id or not 0 < node_id < 1 << 64:
            raise ValueError(f"cannot link node {self.node_id} to node {node_id}")
        _check_addr(addr)
        if self._closing:
            raise RuntimeError("the links are closed")
        dialer = self._dialers.get(node_id)
        if dialer is None:
            dialer = self._dialers[node_id] = _Dialer(addr)
            dialer.task = asyncio.create_task(
                self._dial_loop(node_id, dialer), name=f"peer-dial-{self.node_id}-{node_id}"
            )
        elif dialer.addr != addr:
            dialer.addr = addr
            dialer.wake.set()

    def remove_peer(self, node_id: int) -> None:
        """Stop dialing ``node_id`` and close its link (it may dial back: that is accepted)."""
        dialer = self._dialers.pop(node_id, None)
        if dialer is not None and dialer.task is not None:
            dialer.task.cancel()
        link = self._links.get(node_id)
        if link is not None:
            link.stop(WSCloseCode.OK)

    def send(self, to: int, message: Msg | PeerInfo) -> bool:
        """Queue ``message`` for node ``to`` without blocking; False (dropped) if there is no
        link to it or its queue is full. ValueError if it could never fit in a frame."""
        if type(message) is not Msg and type(message) is not PeerInfo:
            raise TypeError(f"links carry Msg and PeerInfo, not {type(message).__name__}")
        link = self._links.get(to)
        if link is not None:
            data = encode(message)
            if len(data) > self._limits.max_message:
                raise ValueError(
                    f"a message of {len(data)} bytes is over the {self._limits.max_message}-byte"
                    " limit (Limits.max_frame)"
                )
            if link.send(data):
                return True
        self.stats.refused += 1
        return False

    def connected(self) -> set[int]:
        """Node ids with an authenticated link up now."""
        return set(self._links)

    async def request_join(self, addr: str, request: JoinRequest, timeout: float) -> JoinReply:
        """Ask the peer at ``addr`` to let ``request.node_id`` (this node) in; its reply.

        TransportError if it cannot be reached, does not prove the cluster secret, or does
        not answer within ``timeout`` seconds.
        """
        if request.node_id != self.node_id:
            raise ValueError(f"a join request for node {request.node_id} from {self.node_id}")
        _check_addr(addr)
        if self._closing:
            raise RuntimeError("the links are closed")
        try:
            async with asyncio.timeout(timeout):
                ws, session, server = await self._connect(addr, Purpose.JOIN)
                try:
                    await ws.send_bytes(write_frame(session, [encode(request)], self.stats))
                    reply = read_frame(session, await _receive(ws), self.stats, _one_reply, server)
                finally:
                    await ws.close()
        except TimeoutError:
            raise TransportError(f"{addr}: no join reply within {timeout} s") from None
        except (AuthError, aiohttp.ClientError, OSError) as error:
            raise TransportError(f"{addr}: {error}") from None
        if reply is None:
            raise TransportError(f"{addr}: malformed join reply")
        return cast(JoinReply, reply[0])  # _one_reply checked it

    async def close(self) -> None:
        """Stop dialing, close every link and inbound handshake, and the HTTP client."""
        self._closing = True
        dialers = [d.task for d in self._dialers.values() if d.task is not None]
        self._dialers.clear()
        for task in dialers:
            task.cancel()
        if dialers:
            await asyncio.wait(dialers)
        live = list(self._live)
        for link in live:
            link.stop(WSCloseCode.GOING_AWAY)
        await asyncio.gather(
            *(ws.close(code=WSCloseCode.GOING_AWAY) for ws in list(self._pending)),
            *(link.closed.wait() for link in live),
        )
        if self._http is not None:
            await self._http.close()
            self._http = None

    # --- inbound ----------------------------------------------------------------------------

    async def accept(self, request: web.BaseRequest) -> web.StreamResponse:
        """The aiohttp handler of inbound links: a websocket that must authenticate first."""
        ws = web.WebSocketResponse(
            timeout=self._limits.close_timeout,
            heartbeat=self._limits.heartbeat,
            compress=False,
            max_msg_size=self._limits.max_frame,
        )
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="dex peer link: websocket upgrade expected\n")
        if self._closing or len(self._pending) >= self._limits.max_handshakes:
            return web.Response(status=503, text="dex peer link: busy\n")
        await ws.prepare(request)
        self._pending.add(ws)
        try:
            handshake = ServerHandshake(self._secret, self.cluster_id, self.node_id)
            session = await self._authenticate(ws, handshake, request.remote)
            if session is None:
                return ws
            if handshake.purpose is Purpose.JOIN:
                await self._answer_join(ws, session, handshake.peer)
                return ws
        finally:
            self._pending.discard(ws)
        link = self._install(handshake.peer, ws, session, outbound=False)
        if link is None:
            await ws.close(code=REPLACED)
            return ws
        try:
            await link.closed.wait()
        except asyncio.CancelledError:  # the server is going down
            link.stop(WSCloseCode.GOING_AWAY)
            raise
        return ws

    async def _authenticate(
        self, ws: web.WebSocketResponse, handshake: ServerHandshake, remote: str | None
    ) -> Session | None:
        try:
            async with asyncio.timeout(self._limits.handshake_timeout):
                await ws.send_bytes(handshake.challenge(await _receive(ws)))
                return handshake.finish(await _receive(ws))
        except AuthError as error:
            self.stats.dropped_auth += 1
            log.warning("peer link from %s refused: %s", remote, error)
            reason = str(error).encode()[:120].decode(errors="ignore").encode()  # close: 123 B
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=reason)
        except (ConnectionError, TimeoutError) as error:
            log.debug("peer link from %s: handshake not completed: %r", remote, error)
            await ws.close(code=WSCloseCode.POLICY_VIOLATION)
        return None

    async def _answer_join(self, ws: web.WebSocketResponse, session: Session, peer: int) -> None:
        def one_request(messages: list[Message]) -> bool:
            first = messages[0]  # a decoded batch is never empty
            return len(messages) == 1 and type(first) is JoinRequest and first.node_id == peer

        try:
            async with asyncio.timeout(self._limits.handshake_timeout):
                request = read_frame(session, await _receive(ws), self.stats, one_request, peer)
            if request is None:
                await ws.close(code=WSCloseCode.POLICY_VIOLATION)
                return
            reply = await self._decide_join(cast(JoinRequest, request[0]))
            await ws.send_bytes(write_frame(session, [encode(reply)], self.stats))
            await ws.close()
        except (ConnectionError, TimeoutError, AuthError) as error:
            log.debug("join from node %d not completed: %r", peer, error)
            await ws.close(code=WSCloseCode.POLICY_VIOLATION)

    async def _decide_join(self, request: JoinRequest) -> JoinReply:
        if self._on_join is None:
            return JoinReply(ok=False, reason="this peer does not take join requests")
        try:
            async with asyncio.timeout(self._limits.join_timeout):
                return await self._on_join(request)
        except TimeoutError:
            return JoinReply(ok=False, reason="no decision in time; try again")
        except Exception:
            log.exception("the join handler failed on %s", request)
            return JoinReply(ok=False, reason="internal error (logged by the peer)")

    async def _on_app_shutdown(self, app: web.Application) -> None:
        await self.close()

    # --- outbound ---------------------------------------------------------------------------

    async def _dial_loop(self, peer: int, dialer: _Dialer) -> None:
        loop = asyncio.get_running_loop()
        delay = BACKOFF_MIN
        while True:
            while (current := self._links.get(peer)) is not None:
                await current.closed.wait()
            dialer.wake.clear()
            started = loop.time()
            link = await self._dial(peer, dialer)
            if link is not None:
                await link.closed.wait()
                if loop.time() - started > BACKOFF_MAX:
                    delay = BACKOFF_MIN
                    continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(random.uniform(delay / 2, delay)):
                    await dialer.wake.wait()
            delay = min(2 * delay, BACKOFF_MAX)

    async def _dial(self, peer: int, dialer: _Dialer) -> Link | None:
        try:
            ws, session, _ = await self._connect(dialer.addr, Purpose.LINK, expect=peer)
        except (AuthError, aiohttp.ClientError, OSError) as error:
            failure = f"{type(error).__name__}: {error}"
            level = logging.DEBUG if failure == dialer.failure else logging.WARNING
            log.log(level, "cannot link to node %d at %s: %s", peer, dialer.addr, failure)
            dialer.failure = failure
            return None
        dialer.failure = ""
        link = self._install(peer, ws, session, outbound=True)
        if link is None:
            await ws.close(code=REPLACED)
        return link

    async def _connect(
        self, addr: str, purpose: Purpose, expect: int = 0
    ) -> tuple[aiohttp.ClientWebSocketResponse, Session, int]:
        """An authenticated websocket to ``addr``, its session and the proven server id."""
        handshake = ClientHandshake(self._secret, self.cluster_id, self.node_id, purpose, expect)
        if self._http is None:
            self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        async with asyncio.timeout(self._limits.handshake_timeout):
            ws = await self._http.ws_connect(
                f"http://{addr}{self.path}",
                timeout=aiohttp.ClientWSTimeout(ws_close=self._limits.close_timeout),
                heartbeat=self._limits.heartbeat,
                max_msg_size=self._limits.max_frame,
            )
            try:
                await ws.send_bytes(handshake.hello())
                proof, session = handshake.finish(await _receive(ws))
                await ws.send_bytes(proof)
            except AuthError:
                self.stats.dropped_auth += 1
                await ws.close(code=WSCloseCode.POLICY_VIOLATION)
                raise
            except BaseException:
                await ws.close()
                raise
        return ws, session, handshake.peer

    # --- both -------------------------------------------------------------------------------

    def _install(self, peer: int, ws: Socket, session: Session, *, outbound: bool) -> Link | None:
        """Start a link on an authenticated connection, unless the one in use is to be kept."""
        if self._closing:
            return None
        current = self._links.get(peer)
        unsent: list[bytes] = []
        if current is not None:
            if current.outbound != outbound and self._dialed_by_lower(peer, current.outbound):
                return None  # the one both ends keep is up: this is the duplicate
            current.stop(REPLACED)  # a duplicate, or the peer reconnected
            unsent = current.take_unsent()
        link = Link(
            self.node_id,
            peer,
            ws,
            session,
            outbound=outbound,
            limits=self._limits,
            stats=self.stats,
            deliver=self._deliver,
            on_closed=self._forget,
        )
        for data in unsent:
            link.send(data)
        self._links[peer] = link
        self._live.add(link)
        return link

    def _dialed_by_lower(self, peer: int, outbound: bool) -> bool:
        """Whether a connection to ``peer`` is the one both ends keep when they both dial."""
        return (self.node_id < peer) == outbound

    def _forget(self, link: Link) -> None:
        self._live.discard(link)
        if self._links.get(link.peer) is link:
            del self._links[link.peer]


def _one_reply(messages: list[Message]) -> bool:
    return len(messages) == 1 and type(messages[0]) is JoinReply


async def _receive(ws: Socket) -> bytes:
    """The next message of a handshake or join: binary, or else the exchange is over."""
    received = await ws.receive()
    if received.type is WSMsgType.BINARY:
        return bytes(received.data)
    if received.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
        reason = f": {received.extra}" if received.extra else ""
        raise ConnectionResetError(f"closed by the other side (code {ws.close_code}){reason}")
    raise AuthError(f"expected a binary message, got {received.type.name}")


def _check_addr(addr: str) -> None:
    match = _ADDR.fullmatch(addr)
    if match is None or not 0 < int(match[2]) < 65536:
        raise ValueError(f"peer address {addr!r} is not host:port")
