"""A market: its symbol, tick and lot, its book and its recent trades.

The tick and lot are kept as the decimal strings the market was created with (they are
part of the canonical state) and as Decimals for the edge conversions; inside the engine
a price is a count of ticks and a quantity a count of lots.
"""

from collections import deque
from decimal import Decimal

from .book import Book
from .units import average_text, from_units, to_units


class Market:
    __slots__ = (
        "base",
        "book",
        "lot",
        "lot_step",
        "quote",
        "symbol",
        "tick",
        "tick_step",
        "trades",
    )

    def __init__(
        self, symbol: str, base: str, quote: str, tick: str, lot: str, trade_history: int
    ) -> None:
        self.symbol = symbol
        self.base = base
        self.quote = quote
        self.tick = tick
        self.lot = lot
        self.tick_step = Decimal(tick)
        self.lot_step = Decimal(lot)
        self.book = Book()
        self.trades: deque = deque(maxlen=trade_history)  # recent Trade events, oldest first

    def price_units(self, value: object, field: str = "price") -> int:
        """A decimal price (string or JSON integer) as ticks, or InvalidInput."""
        return to_units(value, self.tick_step, field)

    def qty_units(self, value: object, field: str = "qty") -> int:
        """A decimal quantity as lots, or InvalidInput."""
        return to_units(value, self.lot_step, field)

    def price_text(self, ticks: int) -> str:
        return from_units(ticks, self.tick_step)

    def qty_text(self, lots: int) -> str:
        return from_units(lots, self.lot_step)

    def avg_price_text(self, notional: int, filled: int) -> str | None:
        """The average price of ``filled`` lots whose notional (ticks * lots) is
        ``notional``; None when nothing filled."""
        return average_text(notional, filled, self.tick_step) if filled else None
