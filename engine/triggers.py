"""What waits for a time or a price: good-till-date expiries and untriggered stops.

Both are heaps of ``(key, order id)``: the expiries keyed by ``expire_at`` (the exchange's
one :class:`Schedule`), each market's stops by trigger price (:class:`Stops`: buy stops
lowest trigger first, sell stops highest first). Checking whether anything is due is then a
look at the top, O(1), which is what happens after every trade and every log entry; taking
what is due is O(log n) per order.

The heaps are *lazy*: an order that fills, is cancelled, expires or gets a new trigger is
not looked for in them (that would be O(n)); its entry goes stale and is skipped when it
reaches the top, by asking the exchange whether the order still waits with that key
(``Exchange._expiring``, ``Exchange._armed``). The same question drops every stale entry
once a heap has doubled since it was last cleaned (:meth:`Schedule.push` says when), so a
heap holds at most about twice the orders that really wait, at O(1) amortised per order.

Nothing here is canonical state: a snapshot stores each order's ``expire_at`` and
``trigger``, and a restore rebuilds the heaps from them. Stale entries change no result, as
they are skipped, and the live ones come off in a total order (key, then order id).
"""

from collections.abc import Callable
from heapq import heapify, heappop, heappush
from typing import Final

_CLEAN_AT_LEAST: Final = 64  # entries a heap may hold before stale ones are worth dropping

#: Whether the order with this id still waits with this key (see the module docstring).
Waiting = Callable[[int, int], bool]


class Schedule:
    """A min-heap of (key, order id) whose entries go stale instead of being removed."""

    __slots__ = ("clean_at", "entries")

    def __init__(self) -> None:
        self.entries: list[tuple[int, int]] = []
        self.clean_at = _CLEAN_AT_LEAST  # size at which to drop the stale entries

    def push(self, key: int, order_id: int) -> bool:
        """Add an entry; True when the heap has grown enough to call :meth:`clean`."""
        entries = self.entries
        heappush(entries, (key, order_id))
        return len(entries) > self.clean_at

    def clean(self, waiting: Waiting) -> None:
        """Keep only the entries whose orders still wait with their key."""
        entries = [entry for entry in self.entries if waiting(entry[0], entry[1])]
        heapify(entries)
        self.entries = entries
        self.clean_at = max(_CLEAN_AT_LEAST, 2 * len(entries))

    def due(self, bound: int) -> bool:
        """Whether the top entry's key is at most ``bound`` (stale or not)."""
        entries = self.entries
        return bool(entries) and entries[0][0] <= bound

    def pop(self) -> tuple[int, int]:
        return heappop(self.entries)

    def first(self, waiting: Waiting) -> int | None:
        """The smallest key of an order still waiting (stale entries above it are dropped)."""
        entries = self.entries
        while entries:
            key, order_id = entries[0]
            if waiting(key, order_id):
                return key
            heappop(entries)
        return None


class Stops:
    """One market's untriggered stops: a buy stop triggers once the last trade price is at
    or above its trigger, so the lowest comes first; a sell stop at or below, the highest
    first (kept as a min-heap of negated triggers)."""

    __slots__ = ("buys", "sells")

    def __init__(self) -> None:
        self.buys = Schedule()
        self.sells = Schedule()

    def add(self, is_buy: bool, trigger: int, order_id: int) -> bool:
        """Add a stop; True when :meth:`clean` is due."""
        if is_buy:
            return self.buys.push(trigger, order_id)
        return self.sells.push(-trigger, order_id)

    def clean(self, armed: Waiting) -> None:
        """Drop the entries of stops no longer waiting with that trigger (``armed``)."""
        self.buys.clean(armed)
        self.sells.clean(lambda key, order_id: armed(-key, order_id))

    def crossed(self, last: int) -> bool:
        """Whether the top of either heap is crossed by the last trade price ``last`` (0:
        none yet, which crosses nothing). The usual answer: no."""
        return last > 0 and (self.buys.due(last) or self.sells.due(-last))

    def pop_crossed(self, last: int) -> tuple[int, int] | None:
        """(trigger, order id) of an entry ``last`` crosses, taken off its heap, or None.

        Stale entries come out too: the caller checks each (``Exchange._armed``)."""
        if last <= 0:
            return None
        if self.buys.due(last):
            return self.buys.pop()
        if self.sells.due(-last):
            key, order_id = self.sells.pop()
            return -key, order_id
        return None
