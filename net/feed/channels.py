"""The trades and candles channels of one market (the book's is ``net/feed/book.py``, the
trader's orders ``net/feed/orders.py``).

Both are driven the same way by the hub: ``subscribe`` returns a new subscriber's first
messages (called only when every message up to the exchange's index has been sent, so they
join the stream exactly), ``refresh`` sends what the last round changed.

Trades come from the engine's ``Trade`` events, collected as they are applied (every one,
however many a round brings); a resume (``since``) replays the market's remembered trades
(the engine keeps the last ``trade_history`` per market, identically on every peer, which is
what lets a client resume on any peer).
"""

from typing import Protocol

from engine import Exchange, Trade
from net.rpc.views import candle_view, trade_view

from .connection import Connection
from .messages import encode
from .protocol import FeedInputError, Subscription

REPLAY_CHUNK = 100  # trades per message of a replay


class Channel(Protocol):
    """What the hub drives: one channel of one market (``symbol`` None: of every market,
    refreshed every round)."""

    @property
    def symbol(self) -> str | None: ...

    def subscribe(self, conn: Connection, sub: Subscription, exchange: Exchange) -> list[str]:
        """Add ``conn``; its first messages. FeedInputError (and nothing added) if the
        subscription cannot be served."""
        ...

    def unsubscribe(self, conn: Connection) -> None: ...

    def empty(self) -> bool: ...

    def refresh(self, exchange: Exchange) -> None:
        """Send the subscribers what the entries applied since the last refresh changed."""
        ...


class Broadcast:
    """A channel whose subscribers all get the same messages."""

    def __init__(self, symbol: str | None) -> None:
        self.symbol = symbol
        self.subscribers: set[Connection] = set()

    def empty(self) -> bool:
        return not self.subscribers

    def unsubscribe(self, conn: Connection) -> None:
        self.subscribers.discard(conn)

    def broadcast(self, text: str) -> None:
        for conn in self.subscribers:
            conn.send(text)


class TradesChannel(Broadcast):
    symbol: str

    def __init__(self, symbol: str) -> None:
        super().__init__(symbol)
        self.pending: list[Trade] = []  # applied since the last refresh

    def subscribe(self, conn: Connection, sub: Subscription, exchange: Exchange) -> list[str]:
        """Live trades from now; with ``since``, the remembered trades after that index
        first (FeedInputError naming the oldest index served when some are forgotten)."""
        since = sub.since
        replay = [] if since is None else remembered_after(exchange, self.symbol, since)
        self.subscribers.add(conn)
        index = exchange.applied_index
        return [
            self._message(exchange, replay[i : i + REPLAY_CHUNK], index)
            for i in range(0, len(replay), REPLAY_CHUNK)
        ]

    def refresh(self, exchange: Exchange) -> None:
        if self.pending:
            trades, self.pending = self.pending, []
            self.broadcast(self._message(exchange, trades, exchange.applied_index))

    def _message(self, exchange: Exchange, trades: list[Trade], index: int) -> str:
        market = exchange.markets[self.symbol]
        return encode(
            {
                "channel": "trades",
                "type": "update",
                "market": self.symbol,
                "index": index,
                "trades": [trade_view(market, t) for t in trades],
            }
        )


def remembered_after(exchange: Exchange, symbol: str, since: int) -> list[Trade]:
    """The market's trades with index > ``since``, oldest first, if the engine still holds
    all of them: when its trade memory is full and starts after ``since`` some may be gone."""
    remembered = exchange.markets[symbol].trades
    if remembered and len(remembered) == remembered.maxlen and remembered[0].index > since:
        oldest = remembered[0].index
        raise FeedInputError(
            "since",
            f"index {since} is too old: this peer remembers the trades of {symbol} "
            f"from index {oldest} on (subscribe with since >= {oldest}, or without since)",
            oldest=oldest,
        )
    found = []
    for trade in reversed(remembered):
        if trade.index <= since:
            break
        found.append(trade)
    found.reverse()
    return found


class CandlesChannel(Broadcast):
    """One market's candles of one interval: the last bars, then the current bar each time
    it changes."""

    symbol: str

    def __init__(self, symbol: str, interval: str) -> None:
        super().__init__(symbol)
        self.interval = interval
        self.last: tuple | None = None  # the bar last sent

    def subscribe(self, conn: Connection, sub: Subscription, exchange: Exchange) -> list[str]:
        bars = exchange.candles(self.symbol, self.interval, sub.limit)
        self.last = bars[-1] if bars else None
        self.subscribers.add(conn)
        market = exchange.markets[self.symbol]
        return [
            encode(
                {
                    "channel": "candles",
                    "type": "snapshot",
                    "market": self.symbol,
                    "interval": self.interval,
                    "index": exchange.applied_index,
                    "candles": [candle_view(market, bar) for bar in bars],
                }
            )
        ]

    def refresh(self, exchange: Exchange) -> None:
        bars = exchange.candles(self.symbol, self.interval, 1)
        bar = bars[-1] if bars else None
        if bar is None or bar == self.last:
            return
        self.last = bar
        self.broadcast(
            encode(
                {
                    "channel": "candles",
                    "type": "update",
                    "market": self.symbol,
                    "interval": self.interval,
                    "index": exchange.applied_index,
                    "candle": candle_view(exchange.markets[self.symbol], bar),
                }
            )
        )
