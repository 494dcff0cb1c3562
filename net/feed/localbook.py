"""A client's copy of one market's book, kept from a snapshot and updates, and checked.

This is what any feed client has to do (``docs/feed.md``), in Python: a snapshot replaces
the book; an update's ``[side, price, qty]`` sets a level, qty ``"0"`` removes it; after
each message the checksum of the copy must equal the message's ``checksum``, or the copy is
wrong (:class:`BookMismatch`) and the client should subscribe again. Prices are kept as the
exact strings the peer sends (they are canonical: one text per price), and sorted by their
decimal value.
"""

from decimal import Decimal

from .checksum import book_checksum


class BookMismatch(ValueError):
    """The copy's checksum differs from the peer's: a message was lost or misapplied."""


class LocalBook:
    def __init__(self, market: str) -> None:
        self.market = market
        self.bids: dict[str, str] = {}  # price text -> qty text
        self.asks: dict[str, str] = {}
        self.index = 0  # of the last message applied
        self.depth = 0

    def apply(self, message: dict) -> None:
        """Apply a book ``snapshot`` or ``update`` message, then verify its checksum."""
        kind = message["type"]
        if kind == "snapshot":
            self.bids = {price: qty for price, qty in message["bids"]}
            self.asks = {price: qty for price, qty in message["asks"]}
            self.depth = message["depth"]
        elif kind == "update":
            for side, price, qty in message["changes"]:
                levels = self.bids if side == "bid" else self.asks
                if qty == "0":
                    levels.pop(price, None)
                else:
                    levels[price] = qty
        else:
            raise ValueError(f"type: not a book message type: {kind!r}")
        self.index = message["index"]
        mine = self.checksum()
        if mine != message["checksum"]:
            raise BookMismatch(
                f"{self.market} at index {self.index}: checksum {mine}, the peer's "
                f"{message['checksum']}"
            )

    def levels(self, side: str) -> list[tuple[str, str]]:
        """One side's levels, best first: bids highest first, asks lowest first."""
        levels = self.bids if side == "bid" else self.asks
        return sorted(levels.items(), key=lambda level: Decimal(level[0]), reverse=side == "bid")

    def checksum(self) -> int:
        return book_checksum(self.levels("bid"), self.levels("ask"))
