"""The engine equals a deliberately simple reference exchange on random command streams.

The reference below follows the rules of ``docs/engine.md`` the obvious way: every resting
order sits in one plain list; to match, the opposite side is sorted by (price, arrival) and
scanned linearly. Stops waiting for their trigger sit in another list, scanned after every
trade; good-till-date orders are found by scanning both at every tick. No caches, heaps,
lazy deletion or cleverness. Both sides' events are compared in a normalised tuple form,
then the final depth and every order's state.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from engine_helpers import (
    BTC,
    Tick,
    command_streams,
    market_commands,
    run_stream,
)
from hypothesis import example, given, settings

from engine import (
    Accepted,
    Amend,
    Amended,
    Cancel,
    CancelAll,
    Cancelled,
    CreateMarket,
    Done,
    MarketCreated,
    Rejected,
    Submit,
    Trade,
    Triggered,
)


@dataclass
class RefOrder:
    order_id: int
    owner: str
    market: str
    side: str
    type: str
    price: int | None
    qty: int
    tif: str
    post_only: bool
    stp: str
    client_id: str | None
    expire_at: int | None = None
    trigger: int | None = None
    filled: int = 0
    notional: int = 0
    status: str = "new"
    arrival: int = 0  # time priority: larger is later
    done: tuple | None = None  # the normalised Done of its submit

    @property
    def remaining(self) -> int:
        return self.qty - self.filled


def normalise(event: object) -> tuple:
    """The fields of an engine event that the reference predicts."""
    if isinstance(event, MarketCreated):
        return ("market", event.symbol)
    if isinstance(event, Accepted):
        return ("accepted", event.order_id, event.owner, event.market, event.side, event.type,
                event.price, event.qty)  # fmt: skip
    if isinstance(event, Rejected):
        return ("rejected", event.op, event.order_id, event.owner, event.code)
    if isinstance(event, Trade):
        return ("trade", event.trade_id, event.market, event.price, event.qty, event.aggressor,
                event.maker_order, event.taker_order, event.maker_owner, event.taker_owner,
                event.maker_remaining)  # fmt: skip
    if isinstance(event, Cancelled):
        return ("cancelled", event.order_id, event.owner, event.market, event.remaining_qty,
                event.reason)  # fmt: skip
    if isinstance(event, Amended):
        return ("amended", event.order_id, event.price, event.qty, event.remaining_qty,
                event.kept_priority, event.trigger)  # fmt: skip
    if isinstance(event, Triggered):
        return ("triggered", event.order_id, event.trigger, event.last_price)
    if isinstance(event, Done):
        reason = event.reason if event.status == "cancelled" else None
        return ("done", event.order_id, event.owner, event.status, reason, event.filled_qty,
                event.remaining_qty, event.notional, tuple(t.trade_id for t in event.trades),
                event.duplicate)  # fmt: skip
    raise AssertionError(f"unexpected event {event!r}")


class ReferenceExchange:
    def __init__(self) -> None:
        self.markets: list[str] = []
        self.orders: dict[int, RefOrder] = {}
        self.book: list[RefOrder] = []  # every resting order of every market
        self.waiting: list[RefOrder] = []  # every stop waiting for its trigger
        self.last: dict[str, int] = {}  # each market's last trade price
        self.by_client: dict[tuple[str, str], RefOrder] = {}
        self.next_order_id = 1
        self.next_trade_id = 1
        self.clock = 0
        self.time = 0

    # ------------------------------------------------------------------ queries

    def depth(self, market: str) -> tuple[list, list]:
        def side(name: str, best_first: bool) -> list:
            prices = sorted({o.price for o in self.book if o.market == market and o.side == name})
            if best_first:
                prices.reverse()
            rows = []
            for p in prices:
                here = [o for o in self.book if o.market == market and o.side == name
                        and o.price == p]  # fmt: skip
                rows.append((p, sum(o.remaining for o in here), len(here)))
            return rows

        return side("buy", True), side("sell", False)

    def statuses(self) -> dict[int, tuple]:
        return {i: (o.status, o.qty, o.filled, o.remaining, o.price, o.notional)
                for i, o in self.orders.items()}  # fmt: skip

    # ------------------------------------------------------------------ applying

    def apply(self, cmd: object) -> list[tuple]:
        out: list[tuple] = []
        if isinstance(cmd, Tick):
            self.time = max(self.time, cmd.time)
            due = [o for o in self.book + self.waiting
                   if o.expire_at is not None and o.expire_at <= self.time]  # fmt: skip
            for o in sorted(due, key=lambda o: (o.expire_at, o.order_id)):
                self.remove(o, "cancelled", "expired", out)
                self.finish(o, "expired", [], out)
        elif isinstance(cmd, CreateMarket):
            if cmd.symbol in self.markets:
                out.append(("rejected", "create_market", None, "", "invalid"))
            else:
                self.markets.append(cmd.symbol)
                out.append(("market", cmd.symbol))
        elif isinstance(cmd, Submit):
            self.submit(cmd, out)
        elif isinstance(cmd, Cancel):
            self.cancel(cmd, out)
        elif isinstance(cmd, CancelAll):
            if cmd.market is not None and cmd.market not in self.markets:
                out.append(("rejected", "cancel_all", None, cmd.owner, "invalid"))
            else:
                mine = sorted(
                    (o for o in self.book + self.waiting if o.owner == cmd.owner
                     and (cmd.market is None or o.market == cmd.market)),
                    key=lambda o: o.order_id,
                )  # fmt: skip
                for o in mine:
                    self.remove(o, "cancelled", "user", out)
        elif isinstance(cmd, Amend):
            self.amend(cmd, out)
        else:
            raise AssertionError(cmd)
        return out

    def submit(self, cmd: Submit, out: list) -> None:
        if cmd.client_id is not None and (cmd.owner, cmd.client_id) in self.by_client:
            first = self.by_client[(cmd.owner, cmd.client_id)].done
            assert first is not None
            out.append((*first[:-1], True))
            return
        o = RefOrder(self.next_order_id, cmd.owner, cmd.market, cmd.side, cmd.type, cmd.price,
                     cmd.qty, cmd.tif, cmd.post_only, cmd.stp, cmd.client_id, cmd.expire_at,
                     cmd.trigger)  # fmt: skip
        self.next_order_id += 1
        self.orders[o.order_id] = o
        if cmd.client_id is not None:
            self.by_client[(cmd.owner, cmd.client_id)] = o
        if cmd.market not in self.markets or (o.expire_at is not None
                                              and o.expire_at <= self.time):  # fmt: skip
            self.reject(o, "invalid", out)
            return
        out.append(("accepted", o.order_id, o.owner, o.market, o.side, o.type, o.price, o.qty))
        if o.trigger is None:
            self.execute(o, out)
        elif self.crossed(o, self.last.get(o.market, 0)):
            self.fire(o, self.last[o.market], out)
        else:
            o.status = "untriggered"
            self.waiting.append(o)
            self.finish(o, None, [], out)
        self.cascade(o.market, out)

    def crossed(self, o: RefOrder, last: int) -> bool:
        assert o.trigger is not None
        return last > 0 and (last >= o.trigger if o.side == "buy" else last <= o.trigger)

    def fire(self, o: RefOrder, last: int, out: list) -> None:
        out.append(("triggered", o.order_id, o.trigger, last))
        self.execute(o, out)

    def cascade(self, market: str, out: list) -> None:
        """Every waiting stop the last price crosses, lowest id first; stops crossed by the
        new last price of a triggered order's trades join those still to fire."""
        pending: dict[int, int] = {}  # order id -> the last price that crossed it
        last = None
        while True:
            if self.last.get(market) != last:
                last = self.last.get(market, 0)
                for o in [o for o in self.waiting if o.market == market]:
                    if self.crossed(o, last):
                        self.waiting.remove(o)
                        pending[o.order_id] = last
            if not pending:
                return
            first = min(pending)
            self.fire(self.orders[first], pending.pop(first), out)

    def reject(self, o: RefOrder, code: str, out: list) -> None:
        o.status = "rejected"
        out.append(("rejected", "submit", o.order_id, o.owner, code))
        self.finish(o, None, [], out)

    def finish(self, o: RefOrder, reason: str | None, trade_ids: list, out: list) -> None:
        done = ("done", o.order_id, o.owner, o.status, reason, o.filled, o.remaining,
                o.notional, tuple(trade_ids), False)  # fmt: skip
        if o.done is None:
            o.done = done
        out.append(done)

    def acceptable(self, taker: RefOrder, price: int) -> bool:
        if taker.price is None:
            return True
        return price <= taker.price if taker.side == "buy" else price >= taker.price

    def makers(self, taker: RefOrder) -> list[RefOrder]:
        """The opposite side in priority order, only the prices the taker accepts."""
        found = [m for m in self.book if m.market == taker.market and m.side != taker.side
                 and self.acceptable(taker, m.price)]  # type: ignore[arg-type]  # fmt: skip
        sign = 1 if taker.side == "buy" else -1  # a buyer wants the lowest ask first
        return sorted(found, key=lambda m: (sign * m.price, m.arrival))

    def execute(self, o: RefOrder, out: list) -> None:
        makers = self.makers(o)
        if makers and o.post_only:
            self.reject(o, "would_cross", out)
            return
        if o.tif == "fok":
            available = 0
            for m in makers:
                if m.owner == o.owner and o.stp != "none":
                    if o.stp == "cancel_maker":
                        continue
                    break  # the taker would be cancelled here
                available += m.remaining
            if available < o.remaining:
                self.reject(o, "unfillable", out)
                return
        trade_ids = []
        stopped = False
        for m in makers:
            if o.remaining == 0:
                break
            if m.owner == o.owner and o.stp != "none":
                if o.stp in ("cancel_maker", "cancel_both"):
                    self.remove(m, "cancelled", "self_trade", out)
                if o.stp in ("cancel_taker", "cancel_both"):
                    stopped = True
                    break
                continue
            qty = min(o.remaining, m.remaining)
            for order in (o, m):
                order.filled += qty
                order.notional += qty * m.price  # type: ignore[operator]
            out.append(("trade", self.next_trade_id, o.market, m.price, qty, o.side, m.order_id,
                        o.order_id, m.owner, o.owner, m.remaining))  # fmt: skip
            self.last[o.market] = m.price  # type: ignore[assignment]
            trade_ids.append(self.next_trade_id)
            self.next_trade_id += 1
            if m.remaining == 0:
                self.book.remove(m)
                m.status = "filled"
            else:
                m.status = "partially_filled"
        reason = None
        if o.remaining == 0:
            o.status = "filled"
        elif stopped or o.tif not in ("gtc", "gtd"):
            reason = "self_trade" if stopped else "unfilled"
            o.status = "cancelled"
            out.append(("cancelled", o.order_id, o.owner, o.market, o.remaining, reason))
        else:
            o.status = "partially_filled" if o.filled else "resting"
            self.clock += 1
            o.arrival = self.clock
            self.book.append(o)
        self.finish(o, reason, trade_ids, out)

    def remove(self, o: RefOrder, status: str, reason: str, out: list) -> None:
        (self.waiting if o.status == "untriggered" else self.book).remove(o)
        o.status = status
        out.append(("cancelled", o.order_id, o.owner, o.market, o.remaining, reason))

    def open_order(self, op: str, o: RefOrder | None, owner: str, out: list) -> RefOrder | None:
        if o is None or (o not in self.book and o not in self.waiting):
            out.append(("rejected", op, None, owner, "not_found"))
            return None
        if o.owner != owner:
            out.append(("rejected", op, o.order_id, owner, "forbidden"))
            return None
        return o

    def cancel(self, cmd: Cancel, out: list) -> None:
        if cmd.order_id is not None:
            found = self.orders.get(cmd.order_id)
        else:
            found = self.by_client.get((cmd.owner, cmd.client_id))  # type: ignore[arg-type]
        o = self.open_order("cancel", found, cmd.owner, out)
        if o is not None:
            self.remove(o, "cancelled", "user", out)

    def amend(self, cmd: Amend, out: list) -> None:
        o = self.open_order("amend", self.orders.get(cmd.order_id), cmd.owner, out)
        if o is None:
            return
        if o.status == "untriggered":
            self.amend_stop(o, cmd, out)
            return
        qty = o.qty if cmd.qty is None else cmd.qty
        price = o.price if cmd.price is None else cmd.price
        assert price is not None
        crossing = [m for m in self.book if m.market == o.market and m.side != o.side
                    and (m.price <= price if o.side == "buy" else m.price >= price)]  # fmt: skip
        if cmd.trigger is not None or qty <= o.filled or (qty == o.qty and price == o.price):
            out.append(("rejected", "amend", o.order_id, o.owner, "invalid"))
            return
        if o.post_only and crossing:
            out.append(("rejected", "amend", o.order_id, o.owner, "would_cross"))
            return
        keeps_place = price == o.price and qty < o.qty
        o.qty, o.price = qty, price
        out.append(("amended", o.order_id, price, qty, o.remaining, keeps_place, o.trigger))
        if not keeps_place:
            self.book.remove(o)
            self.execute(o, out)
            self.cascade(o.market, out)

    def amend_stop(self, o: RefOrder, cmd: Amend, out: list) -> None:
        qty = o.qty if cmd.qty is None else cmd.qty
        price = o.price if cmd.price is None else cmd.price
        trigger = o.trigger if cmd.trigger is None else cmd.trigger
        if (qty, price, trigger) == (o.qty, o.price, o.trigger):
            out.append(("rejected", "amend", o.order_id, o.owner, "invalid"))
            return
        o.qty, o.price, o.trigger = qty, price, trigger
        out.append(("amended", o.order_id, price, qty, qty, True, trigger))
        last = self.last.get(o.market, 0)
        if self.crossed(o, last):
            self.waiting.remove(o)
            self.fire(o, last, out)
            self.cascade(o.market, out)


# ---------------------------------------------------------------------- comparison


def compare(stream: list, reference: type | None = None) -> None:
    ex, applied, results = run_stream(stream)
    ref = (reference or ReferenceExchange)()
    for cmd, events in zip(applied, results, strict=True):
        expected = ref.apply(cmd)
        assert [normalise(e) for e in events] == expected, cmd
    for symbol in ref.markets:
        assert ex.depth(symbol, 1000) == ref.depth(symbol), symbol
    assert (ex.next_order_id, ex.next_trade_id) == (ref.next_order_id, ref.next_trade_id)
    for order_id, state in ref.statuses().items():
        view = ex.order(order_id)
        assert view is not None
        assert (view.status, view.qty, view.filled_qty, view.remaining_qty, view.price,
                view.notional) == state, order_id  # fmt: skip


# Regressions: re-queued orders once came back to life at their old place in the queue.
REQUEUE_SAME_PRICE = [
    *market_commands((BTC,)),
    Submit("alice", BTC, "sell", "limit", 100, 5),
    Submit("bob", BTC, "sell", "limit", 100, 5),
    Amend("alice", 1, 6, None),
    Submit("carol", BTC, "buy", "limit", 100, 1),
]
REQUEUE_NEW_PRICE = [
    *market_commands((BTC,)),
    Submit("alice", BTC, "sell", "limit", 97, 1),
    Submit("alice", BTC, "sell", "limit", 97, 1),
    Amend("alice", 1, None, 98),
    Submit("alice", BTC, "buy", "limit", 97, 1),
    CancelAll("alice", None),
]


@settings(max_examples=300, deadline=None)
@example(REQUEUE_SAME_PRICE)
@example(REQUEUE_NEW_PRICE)
@given(command_streams())
def test_engine_matches_reference(stream):
    compare(stream)


class LastInFirstOut(ReferenceExchange):
    """A wrong reference: newest order first within a price."""

    def makers(self, taker: RefOrder) -> list[RefOrder]:
        return sorted(
            super().makers(taker),
            key=lambda m: (m.price * (1 if taker.side == "buy" else -1), -m.arrival),
        )


def test_comparison_detects_a_wrong_rule():
    stream = [
        *market_commands((BTC,)),
        Submit("a", BTC, "sell", "limit", 100, 5),
        Submit("b", BTC, "sell", "limit", 100, 5),
        Submit("c", BTC, "buy", "limit", 100, 1),
    ]
    compare(stream)
    with pytest.raises(AssertionError):
        compare(stream, reference=LastInFirstOut)


def test_reference_scenarios_agree():
    """A hand-written stream touching every rule, through both."""
    stream = [
        *market_commands((BTC,)),
        Submit("a", BTC, "sell", "limit", 101, 5, client_id="x"),
        Submit("b", BTC, "sell", "limit", 100, 5, stp="cancel_maker"),
        Submit("a", BTC, "buy", "limit", 101, 12, stp="cancel_maker"),
        Submit("a", BTC, "sell", "limit", 101, 5, client_id="x"),
        Amend("a", 3, 4, 99),
        Cancel("b", 3),
        CancelAll("a", None),
        Submit("c", BTC, "buy", "market", None, 3, "ioc"),
    ]
    compare(stream)
    ref = ReferenceExchange()
    for cmd in stream:
        ref.apply(cmd)
    assert ref.depth(BTC) == ([], [])
    assert ref.statuses()[3][0] == "cancelled"
