"""Orders as the engine holds them, and the read-only view it hands out.

:class:`Order` is mutable and lives in the books; it has ``__slots__`` because the engine
creates one per submit on its hot path. Callers never get one: queries return
an :class:`OrderView`, a copy that later commands cannot change under them.
"""

from typing import TYPE_CHECKING, Final

from .accounts import Balance
from .events import Done
from .records import Record, mypyc_attr

if TYPE_CHECKING:
    from .book import Level

RESTING: Final = "resting"
PARTIALLY_FILLED: Final = "partially_filled"
FILLED: Final = "filled"
CANCELLED: Final = "cancelled"
REJECTED: Final = "rejected"
UNTRIGGERED: Final = "untriggered"  # a stop waiting for its trigger price: open, not in a book


def _hash_keeping_dict() -> dict:
    """An empty dict that stores each key's hash in its own entries (speed only).

    CPython gives a dict whose keys are all strings a compact layout without the hashes,
    so a probe that meets another key must read that string's cached hash from the string
    itself: one more cache miss per probe, and one per key whenever the table is rebuilt.
    The client-id tables are large, cold and churned (one insert per submit, one delete per
    forgotten order), and there that miss is about a tenth of the engine's time. A dict
    that once held a non-string key keeps the general layout for good, through resizes;
    the behaviour is identical either way.
    """
    table: dict = {0: None}
    del table[0]
    return table


class Owner:
    """One trader's orders (the open ones, and every remembered one by client id) and, once
    the trader has an account (``funded``), its balances: a :class:`Balance` per asset id
    (``engine.accounts``).

    Kept per owner (rather than one table keyed by (owner, client id)) so the hot path
    touches small tables and each order can point at its owner's directly.

    The open orders (resting in a book, or stops waiting for their trigger) are a plain list
    in no particular order, not a dict by id: an order
    knows its position (``Order.slot``), so adding is an append and removing moves the
    last entry into the hole. No hashing, no table resizes, and the entries touched are
    the order itself and the owner's most recent one; with many resting orders a dict
    here cost a quarter of the engine's time. The few readers (cancel-all, queries) sort
    by order id.
    """

    __slots__ = ("balances", "by_client", "funded", "open")

    def __init__(self) -> None:
        self.open: list[Order] = []  # the owner's live orders, each at its ``slot``
        self.by_client: dict[str, Order] = _hash_keeping_dict()
        self.funded = False
        self.balances: list[Balance] = []  # per asset id, once funded

    def add_open(self, order: "Order") -> None:
        order.slot = len(self.open)
        self.open.append(order)

    def remove_open(self, order: "Order") -> None:
        """Take ``order`` out of the open list in O(1): the last entry fills its slot."""
        open_ = self.open
        last = open_.pop()
        if last is not order:
            slot = order.slot
            open_[slot] = last
            last.slot = slot

    def open_by_id(self) -> list["Order"]:
        """The open orders, oldest (lowest id) first."""
        return sorted(self.open, key=_order_id)


def _order_id(order: "Order") -> int:
    return order.order_id


class Order:
    __slots__ = (
        "account",
        "budget",
        "client_id",
        "expire_at",
        "filled",
        "gets",
        "hold",
        "hold_per_lot",
        "index",
        "level",
        "live",
        "market",
        "notional",
        "order_id",
        "outcome",
        "owner",
        "post_only",
        "price",
        "qty",
        "remaining",
        "side",
        "slot",
        "status",
        "stp",
        "tif",
        "time",
        "trigger",
        "type",
    )

    def __init__(
        self,
        order_id: int,
        client_id: str | None,
        owner: str,
        account: Owner,
        market: str,
        side: str,
        type_: str,
        price: int | None,
        qty: int,
        tif: str,
        post_only: bool,
        stp: str,
        index: int,
        time: int,
        expire_at: int | None,
        trigger: int | None,
    ) -> None:
        self.order_id: int = order_id
        self.client_id: str | None = client_id
        self.owner: str = owner
        self.account = account
        self.market: str = market
        self.side: str = side
        self.type: str = type_
        self.price: int | None = price
        self.qty: int = qty
        self.remaining: int = qty
        self.filled = 0
        self.notional = 0
        self.status = RESTING
        self.tif: str = tif
        self.post_only: bool = post_only
        self.stp: str = stp
        # The log index and consensus time of the command that put the order where it is:
        # its submit, or the amend that re-queued it, or the trade that triggered it.
        self.index: int = index
        self.time: int = time
        self.expire_at: int | None = expire_at  # a gtd order's, in ms
        self.trigger: int | None = trigger  # a stop's trigger price, in ticks
        self.live = False  # True while the order sits in a book
        self.level: Level | None = None  # the price level it sits in, while live
        self.slot = 0  # its position in its owner's open list, while live
        self.outcome: Done | None = None  # the Done its submit returned, for duplicates
        # Money, when the exchange holds it: each remaining lot holds ``hold_per_lot`` units
        # of the owner's balance ``hold`` (a buy: its price in quote; a sell: one lot of
        # base), and fills are received into ``gets`` (the other asset of the market). A
        # market buy without a price holds a ``budget`` instead (hold_per_lot 0).
        self.hold: Balance | None = None
        self.gets: Balance | None = None
        self.hold_per_lot = 0
        self.budget = 0

    def view(self) -> "OrderView":
        return OrderView(
            self.order_id,
            self.client_id,
            self.owner,
            self.market,
            self.side,
            self.type,
            self.price,
            self.qty,
            self.filled,
            self.remaining,
            self.notional,
            self.status,
            self.tif,
            self.post_only,
            self.stp,
            self.index,
            self.time,
            self.expire_at,
            self.trigger,
        )


@mypyc_attr(acyclic=True)
class OrderView(Record):
    """A copy of an order's state at the time of the query. ``index`` and ``time`` are the
    log index and consensus time of the command that put the order where it is (its submit,
    a re-queueing amend, the trade that triggered a stop); ``expire_at`` (a gtd order's) and
    ``trigger`` (a stop's) are None when they do not apply."""

    _fields = ("order_id", "client_id", "owner", "market", "side", "type", "price", "qty",
               "filled_qty", "remaining_qty", "notional", "status", "tif", "post_only", "stp",
               "index", "time", "expire_at", "trigger")  # fmt: skip
    __slots__ = _fields

    def __init__(self, order_id: int, client_id: str | None, owner: str, market: str,
                 side: str, type: str, price: int | None, qty: int, filled_qty: int,
                 remaining_qty: int, notional: int, status: str, tif: str, post_only: bool,
                 stp: str, index: int, time: int = 0, expire_at: int | None = None,
                 trigger: int | None = None) -> None:  # fmt: skip
        self.order_id = order_id
        self.client_id = client_id
        self.owner = owner
        self.market = market
        self.side = side
        self.type = type
        self.price = price
        self.qty = qty
        self.filled_qty = filled_qty
        self.remaining_qty = remaining_qty
        self.notional = notional
        self.status = status
        self.tif = tif
        self.post_only = post_only
        self.stp = stp
        self.index = index
        self.time = time
        self.expire_at = expire_at
        self.trigger = trigger


class OrderTable:
    """Orders by id: open ones and the finished ones still remembered.

    Ids are handed out in sequence and what is remembered is mostly recent, so the table
    is a list indexed by ``id - base`` (a *window* of recent ids, with ``None`` for ids no
    longer remembered) plus a dict for the stragglers below the window (long-lived open
    orders). A lookup is then a subtraction and a list index instead of a probe into a
    table of hundreds of thousands of entries (three cache misses, and a boxed int to
    compare). When holes make up more than half the window, its older half is cut off and
    the orders still in it move to the dict, so memory stays proportional to what is
    remembered. Nothing iterates the table in an order that could leak: ``items`` sorts.
    """

    __slots__ = ("base", "count", "old", "slack", "window")

    def __init__(self, slack: int = 4096) -> None:
        self.slack = slack  # holes the window may hold beyond twice its entries
        self.base = 1  # the id of window[0]
        self.window: list[Order | None] = []
        self.count = 0  # entries of the window that are not None
        self.old: dict[int, Order] = {}  # remembered orders with ids below ``base``

    def get(self, order_id: int) -> "Order | None":
        i = order_id - self.base
        window = self.window
        if 0 <= i < len(window):
            return window[i]
        return self.old.get(order_id) if i < 0 else None

    def put(self, order: "Order") -> None:
        """Add ``order``, or replace the entry with its id."""
        i = order.order_id - self.base
        window = self.window
        n = len(window)
        if i == n:  # the usual case: a new order, the next id
            window.append(order)
            self.count += 1
        elif 0 <= i < n:
            if window[i] is None:
                self.count += 1
            window[i] = order
        elif i < 0:
            self.old[order.order_id] = order
        elif self.count == 0 or i - n > 2 * self.count + self.slack:
            # past a gap (ids forgotten before a restore) with nothing to keep, or too wide
            # to hold in the window: the window starts here, what it held moves to ``old``
            for kept in window:
                if kept is not None:
                    self.old[kept.order_id] = kept
            self.base = order.order_id
            self.window = [order]
            self.count = 1
        else:  # past a small gap
            window.extend([None] * (i - n))
            window.append(order)
            self.count += 1
            self._shrink()

    def remove(self, order_id: int) -> None:
        i = order_id - self.base
        window = self.window
        if i < 0:
            del self.old[order_id]
            return
        assert window[i] is not None
        window[i] = None
        self.count -= 1
        if len(window) > 2 * self.count + self.slack:
            self._shrink()

    def _shrink(self) -> None:
        """While holes are most of the window, cut off its older half (orders still in it
        move to ``old``). Each id leaves the window once: O(1) amortised per order."""
        window = self.window
        old = self.old
        while len(window) > 2 * self.count + self.slack:
            cut = (len(window) + 1) // 2
            for order in window[:cut]:
                if order is not None:
                    old[order.order_id] = order
                    self.count -= 1
            del window[:cut]
            self.base += cut

    def __len__(self) -> int:
        return self.count + len(self.old)

    def __contains__(self, order_id: int) -> bool:
        return self.get(order_id) is not None

    def __getitem__(self, order_id: int) -> "Order":
        order = self.get(order_id)
        if order is None:
            raise KeyError(order_id)
        return order

    def values(self) -> list["Order"]:
        """Every remembered order, by id."""
        found = sorted(self.old.values(), key=_order_id)
        found.extend([order for order in self.window if order is not None])
        return found

    def items(self) -> list[tuple[int, "Order"]]:
        """(id, order) of every remembered order, by id."""
        return [(order.order_id, order) for order in self.values()]
