"""Decimal text of ticks and lots, remembered: the book channel renders the same few prices
every round, and ``Market.price_text`` builds a Decimal each time (microseconds apiece)."""

from typing import Final

from engine import Market

_KEEP: Final = 4096  # texts remembered per kind before starting over


class Texts:
    """``Market.price_text`` and ``qty_text`` of one market, cached."""

    __slots__ = ("_prices", "_qtys", "market")

    def __init__(self, market: Market) -> None:
        self.market = market
        self._prices: dict[int, str] = {}
        self._qtys: dict[int, str] = {}

    def price(self, ticks: int) -> str:
        text = self._prices.get(ticks)
        if text is None:
            if len(self._prices) >= _KEEP:
                self._prices.clear()
            text = self._prices[ticks] = self.market.price_text(ticks)
        return text

    def qty(self, lots: int) -> str:
        text = self._qtys.get(lots)
        if text is None:
            if len(self._qtys) >= _KEEP:
                self._qtys.clear()
            text = self._qtys[lots] = self.market.qty_text(lots)
        return text
