"""The trade tape's content: the newest trades of one market, newest first.

Each trade carries the consensus time of the log entry that made it (the leader's clock,
``docs/engine.md``), so every terminal shows the same time for the same trade, trades from
before this terminal started included.

Each row carries the aggressor (taker) side, which colours it, and its tick against the
previous trade, shown as an arrow: colour by who crossed, arrow by where the price went.
"""

from collections import deque
from dataclasses import dataclass

from engine import Exchange

TAPE_ROWS = 200


@dataclass(frozen=True, slots=True)
class TapeRow:
    trade_id: int
    time: int  # consensus time, ms since the epoch
    price: int  # ticks
    qty: int  # lots
    aggressor: str  # "buy" or "sell": the taker's side
    tick: int  # +1 uptick, -1 downtick, 0 same price
    own: bool  # this peer's trader was maker or taker


class Tape:
    """Per market, the last :data:`TAPE_ROWS` trades; :meth:`update` reads what is new."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._rows: dict[str, deque[TapeRow]] = {}
        self._last_id: dict[str, int] = {}

    def rows(self, symbol: str) -> deque[TapeRow]:
        return self._rows.get(symbol, deque())

    def update(self, exchange: Exchange, symbol: str) -> bool:
        """Take in the market's trades newer than the last seen; True if there were any."""
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
        previous = rows[0].price if rows else None
        owner = self.owner
        for trade in new:
            tick = 0 if previous is None else (trade.price > previous) - (trade.price < previous)
            own = owner in (trade.maker_owner, trade.taker_owner)
            rows.appendleft(
                TapeRow(
                    trade.trade_id, trade.time, trade.price, trade.qty, trade.aggressor, tick, own
                )
            )
            previous = trade.price
        self._last_id[symbol] = new[-1].trade_id
        return True
