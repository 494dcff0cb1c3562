"""The trade tape's content: the newest trades of one market, newest first.

The engine keeps trades without times (it has no clock); the tape stamps each trade with
the time this terminal first saw it applied, from an injected clock (tests fix it). Trades
that were already in the book when a market was first shown have no known time.

Each row carries the aggressor (taker) side, which colours it, and its tick against the
previous trade, shown as an arrow: colour by who crossed, arrow by where the price went.
"""

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from engine import Exchange

TAPE_ROWS = 200


@dataclass(frozen=True, slots=True)
class TapeRow:
    trade_id: int
    time: float | None  # seconds since the epoch when first seen; None: before this session
    price: int  # ticks
    qty: int  # lots
    aggressor: str  # "buy" or "sell": the taker's side
    tick: int  # +1 uptick, -1 downtick, 0 same price
    own: bool  # this peer's trader was maker or taker


class Tape:
    """Per market, the last :data:`TAPE_ROWS` trades; :meth:`update` reads what is new."""

    def __init__(self, owner: str, clock: Callable[[], float]) -> None:
        self.owner = owner
        self.clock = clock
        self._rows: dict[str, deque[TapeRow]] = {}
        self._last_id: dict[str, int] = {}

    def rows(self, symbol: str) -> deque[TapeRow]:
        return self._rows.get(symbol, deque())

    def update(self, exchange: Exchange, symbol: str) -> bool:
        """Take in the market's trades newer than the last seen; True if there were any."""
        first_look = symbol not in self._rows
        rows = self._rows.setdefault(symbol, deque(maxlen=TAPE_ROWS))
        since = self._last_id.get(symbol, 0)
        new = []  # the newest trades after ``since``, at most a tape's worth, newest first
        for trade in reversed(exchange.markets[symbol].trades):
            if trade.trade_id <= since or len(new) == TAPE_ROWS:
                break
            new.append(trade)
        if not new:
            return False
        new.reverse()
        now = None if first_look else self.clock()
        previous = rows[0].price if rows else None
        owner = self.owner
        for trade in new:
            tick = 0 if previous is None else (trade.price > previous) - (trade.price < previous)
            own = owner in (trade.maker_owner, trade.taker_owner)
            rows.appendleft(
                TapeRow(trade.trade_id, now, trade.price, trade.qty, trade.aggressor, tick, own)
            )
            previous = trade.price
        self._last_id[symbol] = new[-1].trade_id
        return True
