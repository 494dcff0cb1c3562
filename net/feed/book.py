"""The book channel of one market: a snapshot per subscriber, then the changes of its window.

Each subscriber sees a *window*: the best ``depth`` levels of each side. Subscribers are
grouped by depth, and each group remembers the window it last sent. Once per round of
applied entries, for a market whose events touched it, :meth:`MarketBook.refresh` reads
the book once (at the largest depth any group wants) and, if anything in it changed, sends
each group the levels of its window that differ from what it last sent: ``[side, price,
qty]`` with qty ``"0"`` for a level that left the window (it emptied, or a better level
pushed it out), and a level that entered it (from beyond the window, too) with its qty. A
client that applies them holds exactly the new window, whose checksum
(``net/feed/checksum.py``, over the top 25) the message carries.

All work is on integers (ticks, lots); only what is sent is rendered.
"""

from engine import Exchange

from .checksum import CHECKSUM_LEVELS, pieces_checksum
from .connection import Connection
from .messages import encode
from .protocol import Subscription
from .texts import Texts

Levels = list[tuple[int, int]]  # (ticks, lots), best first


class BookGroup:
    """The subscribers of one depth and the window they were last sent."""

    __slots__ = ("asks", "bids", "depth", "subscribers")

    def __init__(self, depth: int, bids: Levels, asks: Levels) -> None:
        self.depth = depth
        self.subscribers: set[Connection] = set()
        self.bids = dict(bids[:depth])
        self.asks = dict(asks[:depth])


class MarketBook:
    """One market's book channel: its groups and the book as last read."""

    def __init__(self, texts: Texts) -> None:
        self.texts = texts
        self.symbol = texts.market.symbol
        self.groups: dict[int, BookGroup] = {}
        self.bids: Levels = []
        self.asks: Levels = []
        self._read_bids: list = []  # as Exchange.depth gave them (with order counts)
        self._read_asks: list = []
        self.checksum = 0
        self.index = 0  # the exchange index of the last read

    def empty(self) -> bool:
        return not self.groups

    def subscribe(self, conn: Connection, sub: Subscription, exchange: Exchange) -> list[str]:
        """Add ``conn`` at ``sub.depth``; its snapshot. The hub calls this only when every
        message up to the exchange's index has been sent, so the snapshot joins the
        stream of updates exactly where the others are."""
        depth = sub.depth
        group = self.groups.get(depth)
        if group is None:
            if depth > self._depth():
                self._read(exchange, depth)
            group = self.groups[depth] = BookGroup(depth, self.bids, self.asks)
        group.subscribers.add(conn)
        texts = self.texts
        message = {
            "channel": "book",
            "type": "snapshot",
            "market": self.symbol,
            "depth": depth,
            "index": exchange.applied_index,  # (the book is as last read: nothing changed it)
            "bids": [[texts.price(p), texts.qty(q)] for p, q in self.bids[:depth]],
            "asks": [[texts.price(p), texts.qty(q)] for p, q in self.asks[:depth]],
            "checksum": self.checksum,
        }
        return [encode(message)]

    def unsubscribe(self, conn: Connection) -> None:
        for depth, group in list(self.groups.items()):
            group.subscribers.discard(conn)
            if not group.subscribers:
                del self.groups[depth]

    def refresh(self, exchange: Exchange) -> None:
        """Send every group what changed in its window since its last message."""
        if not self._read(exchange, self._depth()):
            return
        texts = self.texts
        for group in self.groups.values():
            changes = _changes("bid", group.bids, self.bids[: group.depth], texts)
            changes += _changes("ask", group.asks, self.asks[: group.depth], texts)
            if not changes:
                continue
            group.bids = dict(self.bids[: group.depth])
            group.asks = dict(self.asks[: group.depth])
            text = encode(
                {
                    "channel": "book",
                    "type": "update",
                    "market": self.symbol,
                    "depth": group.depth,
                    "index": self.index,
                    "changes": changes,
                    "checksum": self.checksum,
                }
            )
            for conn in group.subscribers:
                conn.send(text)

    def _depth(self) -> int:
        return max(self.groups, default=0)

    def _read(self, exchange: Exchange, depth: int) -> bool:
        """Read the book to ``depth``; whether it differs from the last read."""
        self.index = exchange.applied_index
        bids, asks = exchange.depth(self.symbol, depth)  # (ticks, lots, orders) levels
        if bids == self._read_bids and asks == self._read_asks:
            return False
        self._read_bids, self._read_asks = bids, asks
        self.bids = [(p, q) for p, q, _ in bids]
        self.asks = [(p, q) for p, q, _ in asks]
        piece, top = self.texts.piece, CHECKSUM_LEVELS
        self.checksum = pieces_checksum(
            [piece(p, q, True) for p, q in self.bids[:top]],
            [piece(p, q, False) for p, q in self.asks[:top]],
        )
        return True


def _changes(side: str, sent: dict[int, int], now: Levels, texts: Texts) -> list[list[str]]:
    """``[side, price, qty]`` for each level of ``now`` that ``sent`` lacks or differs on,
    then ``[side, price, "0"]`` for each level of ``sent`` no longer in ``now``."""
    changes = [[side, texts.price(p), texts.qty(q)] for p, q in now if sent.get(p) != q]
    if len(sent) + len(changes) > len(now):  # some level of ``sent`` is gone
        kept = {p for p, _ in now}
        changes += [[side, texts.price(p), "0"] for p in sent if p not in kept]
    return changes
