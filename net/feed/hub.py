"""The feed hub: subscriptions, and fan-out of what each round of applied entries changed.

One hub per peer. The peer hands it every applied command's events (:meth:`FeedHub.on_events`,
an events listener: it only notes which markets changed and keeps the trades and the
trader's events) and calls :meth:`FeedHub.flush` after each round of applied entries,
which refreshes the channels of the markets that changed (nothing is computed for a market
nobody subscribes to) and queues the messages on each subscriber's connection. Neither ever
waits: each connection's own writer task does the socket writes (``net/feed/connection.py``).

The log index is the sequence number. Every peer applies the same log, so the book, trades
and candles at an index are the same on every peer, and a client can resume on any peer by
index: messages carry the index they reflect (the exchange's applied index, as the RPC's
``book`` reports it). A subscription is answered only at an index whose messages have all
been queued (right away if nothing was applied since the last flush, else at the next
flush), so its snapshot joins the stream of updates exactly. ``since`` makes a book or
trades subscription wait (``since_wait`` s at most) until this peer has applied that index:
a client that moves to a peer that lags never sees the index go back.

When the peer's exchange is replaced (it installed a snapshot from its leader, skipping
entries whose events it never saw), every subscription starts again from a fresh snapshot
(trades: a replay after the last index sent). When the peer moves to another cluster its
index starts over, so every connection is closed with 1012 and the reason.

The protocol is ``net/feed/protocol.py`` and ``docs/feed.md``.
"""

import asyncio
import contextlib
import logging
import socket
from dataclasses import replace

from aiohttp import WSMsgType, web

from engine import Event, Exchange, Trade
from net.peer import Peer
from net.rpc.errors import RpcError

from . import messages
from .book import MarketBook
from .channels import CandlesChannel, Channel, TradesChannel
from .connection import SERVICE_RESTART, Connection
from .limits import FeedLimits
from .orders import OrdersChannel
from .protocol import FeedInputError, Key, Request, Subscription, parse_message
from .texts import Texts

log = logging.getLogger(__name__)


class FeedHub:
    """Serves ``GET /ws`` (:meth:`handle`) for one peer."""

    def __init__(self, peer: Peer, limits: FeedLimits | None = None) -> None:
        self.peer = peer
        self.limits = limits or FeedLimits()
        self.index = 0  # every message up to this exchange index is queued
        self.connections: set[Connection] = set()
        self.dropped = 0  # connections dropped as slow consumers
        self._exchange: Exchange | None = None  # the one the channels were built on
        self._epoch = peer.epoch
        self._channels: dict[Key, Channel] = {}  # by the key of their subscriptions
        self._trades: dict[str, TradesChannel] = {}  # the trades channels: fed by on_events
        self._orders: list[OrdersChannel] = []  # the orders channels: fed by on_events
        self._texts: dict[str, Texts] = {}
        self._dirty: set[str] = set()  # markets whose events came since the last flush
        self._deferred: list[tuple[Connection, Request]] = []  # answered at the next flush
        self._closing = False

    # ------------------------------------------------------------------ the apply path

    def on_events(self, index: int, events: list[Event]) -> None:
        """One applied command's events (a ``Node.listeners`` listener): note them (none
        when nobody subscribes: a new subscription starts from a snapshot anyway)."""
        if not self._channels:
            return
        dirty, trades = self._dirty, self._trades
        for event in events:
            market = getattr(event, "market", None)
            if market is not None:
                dirty.add(market)
                if trades and type(event) is Trade and market in trades:
                    trades[market].pending.append(event)  # type: ignore[arg-type]
        for orders in self._orders:
            orders.pending.append(events)

    def flush(self) -> None:
        """Send what the entries applied since the last flush changed; answer waiting
        subscriptions. Call it after each round of applied entries (cheap when nothing
        changed)."""
        peer = self.peer
        if peer.epoch != self._epoch:
            self._restart(peer.epoch)
        exchange = peer.exchange
        if exchange is not self._exchange:
            self._resync(exchange)
        elif self._dirty or self._orders:
            self._refresh(exchange)
        self.index = exchange.applied_index
        if self._deferred:
            deferred, self._deferred = self._deferred, []
            for conn, request in deferred:
                sub = request.subscription
                if conn.waiting.get(sub.key) is sub:  # (not unsubscribed meanwhile)
                    del conn.waiting[sub.key]
                    self._activate(conn, sub, request.id)

    def _refresh(self, exchange: Exchange) -> None:
        dirty, self._dirty = self._dirty, set()
        for channel in self._channels.values():
            if channel.symbol is None or channel.symbol in dirty:
                channel.refresh(exchange)

    def _resync(self, exchange: Exchange) -> None:
        """Start every subscription again on a new exchange (see the module doc)."""
        live = [(conn, sub) for conn in self.connections for sub in conn.subscriptions.values()]
        sent = self.index
        self._reset()
        self._exchange = exchange
        self.index = exchange.applied_index
        for conn, sub in live:
            del conn.subscriptions[sub.key]
            self._activate(
                conn,
                replace(sub, since=sent) if sub.channel == "trades" else sub,
                None,
                reply=False,
            )

    def _restart(self, epoch: int) -> None:
        """The peer moved to another cluster: its log (so the index) starts over."""
        reason = "this peer moved to another cluster and its log index starts over: reconnect"
        for conn in list(self.connections):
            conn.close_soon(SERVICE_RESTART, reason)
            self._forget(conn)
        self._reset()
        self._deferred = []
        self._exchange = None
        self._epoch = epoch

    def _reset(self) -> None:
        self._channels, self._trades, self._orders = {}, {}, []
        self._texts, self._dirty = {}, set()

    # ------------------------------------------------------------------ subscriptions

    def _caught_up(self) -> bool:
        """Every message up to the exchange's applied index is queued."""
        exchange = self.peer.exchange
        return exchange is self._exchange and exchange.applied_index == self.index

    def on_text(self, conn: Connection, data: str | bytes) -> None:
        """One message from a client: a reply or an error event, never an exception."""
        try:
            request = parse_message(data, self.peer.exchange, self.limits.message_bytes)
        except FeedInputError as error:
            conn.send(messages.error(str(error), self.index, error.context))
            return
        sub = request.subscription
        context = {**sub.named(), **({} if request.id is None else {"id": request.id})}
        if request.op == "unsubscribe":
            self._unsubscribe(conn, request, context)
        elif conn.taken(sub.key):
            conn.send(
                messages.error(f"channel: already subscribed to {_named(sub)}", self.index, context)
            )
        elif conn.count() >= self.limits.subscriptions:
            conn.send(
                messages.error(
                    f"channel: at most {self.limits.subscriptions} subscriptions per connection",
                    self.index,
                    context,
                )
            )
        elif sub.since is not None and sub.since > self.peer.exchange.applied_index:
            conn.waiting[sub.key] = sub
            conn.waiters[sub.key] = asyncio.create_task(self._wait_since(conn, request, context))
        elif self._caught_up():
            self._activate(conn, sub, request.id)
        else:
            conn.waiting[sub.key] = sub
            self._deferred.append((conn, request))

    async def _wait_since(self, conn: Connection, request: Request, context: dict) -> None:
        sub = request.subscription
        assert sub.since is not None
        try:
            await self.peer.wait_applied(sub.since, self.limits.since_wait)
        except RpcError:
            applied = self.peer.exchange.applied_index
            conn.waiting.pop(sub.key, None)
            conn.send(
                messages.error(
                    f"since: this peer has applied index {applied}, not yet {sub.since} (waited "
                    f"{self.limits.since_wait:g} s); subscribe again, or on another peer",
                    self.index,
                    context,
                )
            )
            return
        finally:
            conn.waiters.pop(sub.key, None)
        if self._caught_up():
            del conn.waiting[sub.key]
            self._activate(conn, sub, request.id)
        else:
            self._deferred.append((conn, request))

    def _activate(
        self, conn: Connection, sub: Subscription, request_id: object, reply: bool = True
    ) -> None:
        """Subscribe ``conn`` now (caught up): the reply, then the first messages."""
        assert self._exchange is not None
        if conn.closed:  # (it closed while its subscription waited)
            return
        try:
            first = self._join(conn, sub, self._exchange)
        except FeedInputError as error:
            context = {**sub.named(), **({} if request_id is None else {"id": request_id})}
            conn.send(messages.error(str(error), self.index, context, **error.extra))
            return
        conn.subscriptions[sub.key] = sub
        if reply:
            conn.send(messages.reply("subscribed", sub, self.index, request_id))
        for text in first:
            conn.send(text)

    def _join(self, conn: Connection, sub: Subscription, exchange: Exchange) -> list[str]:
        """Add ``conn`` to the channel ``sub`` names (made if need be); its first messages
        (FeedInputError, and nothing added, when it cannot be served)."""
        channel = self._channels.get(sub.key)
        made = channel is None
        if channel is None:
            channel = self._make(sub, exchange)
        first = channel.subscribe(conn, sub, exchange)
        if made:
            self._channels[sub.key] = channel
            if isinstance(channel, TradesChannel):
                self._trades[channel.symbol] = channel
            elif isinstance(channel, OrdersChannel):
                self._orders.append(channel)
        return first

    def _make(self, sub: Subscription, exchange: Exchange) -> Channel:
        symbol = sub.market
        if sub.channel == "orders":
            return OrdersChannel(self.peer.owner, symbol)
        assert symbol is not None
        if sub.channel == "book":
            return MarketBook(self._texts_of(exchange, symbol))
        if sub.channel == "trades":
            return TradesChannel(symbol)
        assert sub.interval is not None
        return CandlesChannel(symbol, sub.interval)

    def _unsubscribe(self, conn: Connection, request: Request, context: dict) -> None:
        key = request.subscription.key
        if key in conn.waiting:
            sub = conn.waiting.pop(key)
            task = conn.waiters.pop(key, None)
            if task is not None:
                task.cancel()
        elif key in conn.subscriptions:
            sub = conn.subscriptions.pop(key)
            self._leave(conn, sub)
        else:
            conn.send(
                messages.error(
                    f"channel: not subscribed to {_named(request.subscription)}",
                    self.index,
                    context,
                )
            )
            return
        conn.send(messages.reply("unsubscribed", sub, self.index, request.id))

    def _leave(self, conn: Connection, sub: Subscription) -> None:
        """Take ``conn`` off the channel of ``sub``; a channel nobody is left on goes."""
        channel = self._channels.get(sub.key)
        if channel is None:
            return
        channel.unsubscribe(conn)
        if channel.empty():
            del self._channels[sub.key]
            if isinstance(channel, TradesChannel):
                del self._trades[channel.symbol]
            elif isinstance(channel, OrdersChannel):
                self._orders.remove(channel)

    def _texts_of(self, exchange: Exchange, symbol: str) -> Texts:
        texts = self._texts.get(symbol)
        if texts is None:
            texts = self._texts[symbol] = Texts(exchange.markets[symbol])
        return texts

    # ------------------------------------------------------------------ connections

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """``GET /ws``: one websocket connection, until either side closes it."""
        if self._closing:
            return web.Response(status=503, text="feed: this peer is stopping\n")
        if len(self.connections) >= self.limits.connections:
            return web.Response(
                status=503,
                text=f"feed: this peer serves at most {self.limits.connections} feed connections\n",
            )
        ws = web.WebSocketResponse(
            compress=False,  # one encoding of each message serves every connection
            max_msg_size=self.limits.frame_bytes,
            writer_limit=self.limits.socket_buffer,  # bytes aiohttp writes before it waits
        )
        if not ws.can_prepare(request).ok:
            return web.Response(
                status=400,
                text="feed: /ws is a websocket; connect with GET "
                "and 'Upgrade: websocket' (see docs/feed.md)\n",
            )
        await ws.prepare(request)
        transport = request.transport
        peername = transport.get_extra_info("peername") if transport is not None else None
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.limits.socket_buffer)
        name = f"{peername[0]}:{peername[1]}" if peername else "a client"
        heartbeat = lambda: messages.heartbeat(self.index)  # noqa: E731
        conn = Connection(ws, transport, self.limits, heartbeat, self._dropped, name)
        self.connections.add(conn)
        try:
            async for message in ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    self.on_text(conn, message.data)
        finally:
            self._forget(conn)
            await conn.close()
        return ws

    def _dropped(self, conn: Connection) -> None:
        """A slow consumer was dropped: count it, and take it off its channels right after
        this fan-out (which may be iterating over them; a closed connection takes nothing)."""
        self.dropped += 1
        asyncio.get_running_loop().call_soon(self._forget, conn)

    def _forget(self, conn: Connection) -> None:
        self.connections.discard(conn)
        for task in conn.waiters.values():
            task.cancel()
        for sub in conn.subscriptions.values():
            self._leave(conn, sub)
        conn.subscriptions.clear()
        conn.waiting.clear()

    async def close(self) -> None:
        """Close every connection (the peer is stopping); new ones are refused."""
        self._closing = True
        await asyncio.gather(
            *(conn.close(reason="the peer is stopping") for conn in list(self.connections)),
            return_exceptions=True,
        )


def _named(sub: Subscription) -> str:
    """A subscription in words: ``book BTC/USD``, ``candles BTC/USD 1m``, ``orders``."""
    return " ".join(part for part in (sub.channel, sub.market, sub.interval) if part)
