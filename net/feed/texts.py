"""Decimal text of ticks and lots, remembered: the book channel renders the same few prices
every round, and ``Market.price_text`` builds a Decimal each time (microseconds apiece);
likewise each level's piece of the checksum text."""

from typing import Final

from engine import Market

from .checksum import piece

_KEEP: Final = 4096  # texts remembered per kind before starting over


class Texts:
    """``Market.price_text`` and ``qty_text`` of one market, and checksum pieces, cached."""

    __slots__ = ("_pieces", "_prices", "_qtys", "market")

    def __init__(self, market: Market) -> None:
        self.market = market
        self._prices: dict[int, str] = {}
        self._qtys: dict[int, str] = {}
        self._pieces: dict[tuple[int, int, bool], str] = {}

    def price(self, ticks: int) -> str:
        text = self._prices.get(ticks)
        if text is None:
            text = _remember(self._prices, ticks, self.market.price_text(ticks))
        return text

    def qty(self, lots: int) -> str:
        text = self._qtys.get(lots)
        if text is None:
            text = _remember(self._qtys, lots, self.market.qty_text(lots))
        return text

    def piece(self, ticks: int, lots: int, is_bid: bool) -> str:
        """The level's piece of the checksum text (``net.feed.checksum.piece``)."""
        key = (ticks, lots, is_bid)
        text = self._pieces.get(key)
        if text is None:
            text = _remember(self._pieces, key, piece((self.price(ticks), self.qty(lots)), is_bid))
        return text


def _remember(cache: dict, key: object, text: str) -> str:
    if len(cache) >= _KEEP:
        cache.clear()
    cache[key] = text
    return text
