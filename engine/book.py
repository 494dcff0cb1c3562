"""One side of one market's order book: price levels in price-time priority.

Why it looks like this (the engine's speed budget is about a microsecond per operation):

* ``levels`` maps a price (ticks) to a :class:`Level`; ``prices`` keeps the prices sorted
  (``SortedList``: O(log n) insert and remove) for depth queries, and ``best`` caches the
  best price so the matching loop reads an attribute, not a sorted structure.
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

from typing import Final

from sortedcontainers import SortedList

from .orders import Order

_COMPACT_MIN: Final = 32  # dead orders a level may carry before compaction is considered


class Level:
    __slots__ = ("count", "dead", "head", "orders", "price", "qty")

    def __init__(self, price: int) -> None:
        self.price = price
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


class BookSide:
    __slots__ = ("best", "is_bid", "levels", "prices")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[int, Level] = {}
        self.prices = SortedList()
        self.best: int | None = None

    def rest(self, order: Order) -> None:
        """Queue an order at the back of its price level."""
        price = order.price
        assert price is not None  # market orders never rest
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = Level(price)
            self.prices.add(price)
            best = self.best
            if best is None or (price > best if self.is_bid else price < best):
                self.best = price
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
        prices = self.prices
        prices.remove(price)
        if price == self.best:
            self.best = (prices[-1] if self.is_bid else prices[0]) if prices else None

    def depth(self, limit: int) -> list[tuple[int, int, int]]:
        """Up to ``limit`` levels, best first, as (price, qty, order count)."""
        prices = self.prices
        if self.is_bid:
            chosen = prices.islice(max(0, len(prices) - limit), len(prices), reverse=True)
        else:
            chosen = prices.islice(0, limit)
        levels = self.levels
        return [(p, levels[p].qty, levels[p].count) for p in chosen]

    def queue(self):
        """Every live order, best price first, in time priority within a price."""
        prices = reversed(self.prices) if self.is_bid else iter(self.prices)
        for price in prices:
            for order in self.levels[price].orders:
                if order.live:
                    yield order


class Book:
    """Both sides of one market."""

    __slots__ = ("asks", "bids")

    def __init__(self) -> None:
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)
