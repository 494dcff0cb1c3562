"""A market: its symbol, tick and lot, its book, its recent trades, its last trade price,
its untriggered stops and its candles.

The tick and lot are kept as the decimal strings the market was created with (they are
part of the canonical state) and as Decimals for the edge conversions; inside the engine
a price is a count of ticks and a quantity a count of lots.
"""

from collections import deque
from decimal import Decimal

from .accounts import Asset, places_of
from .book import Book
from .candles import Candles
from .triggers import Stops
from .units import average_text, from_units, to_units


class Market:
    __slots__ = (
        "base",
        "base_id",
        "base_per_lot",
        "book",
        "candles",
        "last",
        "lot",
        "lot_step",
        "quote",
        "quote_id",
        "quote_per_notional",
        "stops",
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
        # Money (engine.accounts): the assets' ids, and their units per lot of base and
        # per tick x lot of quote; set by ``set_units`` before the market is used.
        self.base_id = self.quote_id = 0
        self.base_per_lot = self.quote_per_notional = 1
        self.trades: deque = deque(maxlen=trade_history)  # recent Trade events, oldest first
        self.last = 0  # the last trade's price, in ticks (0: never traded); triggers stops
        self.stops: Stops | None = None  # its untriggered stops, from the first one on
        self.candles = Candles()  # fed every trade at the exchange's time

    def base_places(self) -> int:
        """Decimal places the base asset's unit needs for this market's amounts."""
        return places_of(self.lot_step)

    def quote_places(self) -> int:
        return places_of(self.tick_step * self.lot_step)

    def set_units(self, base: Asset, quote: Asset) -> None:
        """Use these assets (whose units divide this market's steps) for its money."""
        self.base_id, self.quote_id = base.asset_id, quote.asset_id
        self.base_per_lot = int(self.lot_step.scaleb(base.places))
        self.quote_per_notional = int((self.tick_step * self.lot_step).scaleb(quote.places))

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
