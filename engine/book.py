"""One side of one market's order book: price levels in price-time priority.

Why it looks like this (the engine's speed budget is about a microsecond per operation):

* ``levels`` maps a price (ticks) to a :class:`Level`; ``keys`` keeps the prices sorted
  for depth queries and for moving ``best`` on, and ``best`` caches the best price so the
  matching loop reads an attribute, not a sorted structure. ``keys`` is a
  :class:`SortedKeys`, ordered so that the best price is *last* (prices for bids, negated
  prices for asks): levels come and go mostly at the best price, where that is a few
  native list operations. (It replaces a ``SortedList``, which is pure Python and cost
  about a tenth of the engine's time.)
* A level is a FIFO queue: a list read from ``head``, so resting appends and filling the
  front order moves ``head`` on, both native list operations once compiled (a ``deque``'s
  methods are generic calls there). The gone prefix is cut off once it is most of the
  list. Cancelling does not search the queue: the order is marked dead
  (``live = False``) and the level's totals drop at once, so cancel is O(1). Dead orders
  are skipped when they reach the front; a level with more dead than live orders is
  compacted, which keeps memory bounded at O(1) amortised per cancel. A level whose last
  live order goes is removed with its dead ones. Every entry before ``head`` has left
  the book (``live`` is False), so readers may scan the whole list and skip those.
"""

from bisect import bisect_left, bisect_right, insort
from typing import Final

from .orders import Order

_COMPACT_MIN: Final = 32  # dead orders a level may carry before compaction is considered


class Level:
    __slots__ = ("count", "dead", "head", "orders", "price", "qty", "side")

    def __init__(self, price: int, side: "BookSide") -> None:
        self.price = price
        self.side = side  # so a live order reaches its book side through its level
        self.orders: list[Order] = []  # in time priority from ``head`` on
        self.head = 0
        self.qty = 0  # sum of remaining quantity of live orders
        self.count = 0  # live orders
        self.dead = 0  # dead orders in the queue from ``head`` on

    def advance(self, head: int) -> None:
        """The queue now starts at ``head`` (what was before it filled or was dropped)."""
        if head > _COMPACT_MIN and 2 * head > len(self.orders):
            del self.orders[:head]
            head = 0
        self.head = head


_CHUNK: Final = 512  # keys per chunk of a SortedKeys, at most twice this


class SortedKeys:
    """Sorted integers in chunks of at most ``2 * _CHUNK`` (a small ``SortedList``).

    Compiled, so adding or removing near the largest key, the book's usual case, is a
    bisect and a short list insert or pop in the last chunk; anywhere else it moves at
    most one chunk's entries plus one entry per chunk, not the whole list.
    """

    __slots__ = ("chunks", "firsts", "size")

    def __init__(self) -> None:
        self.chunks: list[list[int]] = []  # each ascending, and ascending one after another
        self.firsts: list[int] = []  # the first key of each chunk
        self.size = 0

    def add(self, key: int) -> None:
        chunks, firsts = self.chunks, self.firsts
        self.size += 1
        if not chunks:
            chunks.append([key])
            firsts.append(key)
            return
        i = bisect_right(firsts, key) - 1
        if i < 0:  # below every key: the first chunk takes it
            i = 0
            firsts[0] = key
        chunk = chunks[i]
        insort(chunk, key)
        if len(chunk) > 2 * _CHUNK:
            chunks.insert(i + 1, chunk[_CHUNK:])
            firsts.insert(i + 1, chunk[_CHUNK])
            del chunk[_CHUNK:]

    def remove(self, key: int) -> None:
        """Remove ``key``, which must be present."""
        chunks = self.chunks
        self.size -= 1
        i = len(chunks) - 1
        chunk = chunks[i]
        if chunk[-1] == key:  # the usual case: the largest key goes
            chunk.pop()
        else:
            i = bisect_right(self.firsts, key) - 1
            chunk = chunks[i]
            at = bisect_left(chunk, key)
            del chunk[at]
            if at == 0 and chunk:
                self.firsts[i] = chunk[0]
        if not chunk:
            del chunks[i]
            del self.firsts[i]

    def last(self) -> int:
        """The largest key (there must be one)."""
        return self.chunks[-1][-1]

    def largest(self, n: int) -> list[int]:
        """The ``n`` largest keys (all of them if ``n`` is larger), largest first."""
        found: list[int] = []
        for chunk in reversed(self.chunks):
            if len(found) >= n:
                break
            found.extend(chunk[::-1])
        return found[:n]


class BookSide:
    __slots__ = ("best", "best_level", "is_bid", "keys", "levels")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[int, Level] = {}
        self.keys = SortedKeys()  # price for bids, -price for asks: the best is the largest
        self.best: int | None = None
        self.best_level: Level | None = None  # the level at ``best``: matching starts here

    def rest(self, order: Order) -> None:
        """Queue an order at the back of its price level."""
        price = order.price
        assert price is not None  # market orders never rest
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = Level(price, self)
            self.keys.add(price if self.is_bid else -price)
            best = self.best
            if best is None or (price > best if self.is_bid else price < best):
                self.best = price
                self.best_level = level
        level.orders.append(order)
        level.qty += order.remaining
        level.count += 1
        order.live = True
        order.level = level

    def unlink(self, order: Order) -> None:
        """Take a live order out of the book in O(1) (it stays in the queue, dead)."""
        order.live = False
        level = order.level  # no lookup: the order knows its level while it is live
        assert level is not None
        order.level = None
        level.qty -= order.remaining
        level.count -= 1
        if level.count == 0:
            self.drop_level(level.price)
            return
        level.dead += 1
        if level.dead > _COMPACT_MIN and level.dead > level.count:
            level.orders = [o for o in level.orders if o.live]
            level.head = level.dead = 0

    def drop_level(self, price: int) -> None:
        del self.levels[price]
        keys = self.keys
        keys.remove(price if self.is_bid else -price)
        if price == self.best:
            if not keys.size:
                self.best = None
                self.best_level = None
            else:
                best = keys.last() if self.is_bid else -keys.last()
                self.best = best
                self.best_level = self.levels[best]

    def prices(self, limit: int) -> list[int]:
        """Up to ``limit`` prices that have a level, best first."""
        keys = self.keys.largest(limit)
        return keys if self.is_bid else [-key for key in keys]

    def depth(self, limit: int) -> list[tuple[int, int, int]]:
        """Up to ``limit`` levels, best first, as (price, qty, order count)."""
        if limit >= 0:
            prices = self.prices(limit)
        else:  # as slicing the best-first list would (empty for bids, as it always was)
            prices = [] if self.is_bid else self.prices(self.keys.size)[:limit]
        levels = self.levels
        return [(p, levels[p].qty, levels[p].count) for p in prices]

    def queue(self):
        """Every live order, best price first, in time priority within a price."""
        for price in self.prices(self.keys.size):
            for order in self.levels[price].orders:
                if order.live:
                    yield order


class Book:
    """Both sides of one market."""

    __slots__ = ("asks", "bids")

    def __init__(self) -> None:
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)
