"""Amend: qty down at the same price keeps time priority; price change or qty up re-queues."""

import pytest
from engine_helpers import BTC, Driver, kinds, of, one

from engine import Amended, Cancelled, Done, Rejected, Trade


def _two_asks() -> tuple[Driver, int, int]:
    d = Driver()
    first = d.rest("alice", "sell", 100, 10)
    second = d.rest("bob", "sell", 100, 10)
    return d, first, second


def _first_maker_hit(d: Driver) -> int:
    return of(d.buy("carol", 100, 1), Trade)[0].maker_order


def test_qty_down_same_price_keeps_priority():
    d, first, _ = _two_asks()
    events = d.amend("alice", first, qty=4)
    assert events == [Amended(first, "alice", BTC, 100, 4, 4, True, None, d.index)]
    assert d.ex.depth(BTC) == ([], [(100, 14, 2)])
    view = d.ex.order(first)
    assert view is not None
    assert (view.qty, view.remaining_qty, view.index) == (4, 4, 1 + 1)  # index of its submit
    assert _first_maker_hit(d) == first


def test_qty_up_requeues_at_the_back():
    d, first, second = _two_asks()
    events = d.amend("alice", first, qty=12)
    assert kinds(events) == ["Amended", "Done"]
    amended = one(events, Amended)
    assert (amended.qty, amended.remaining_qty, amended.kept_priority) == (12, 12, False)
    done = one(events, Done)
    assert (done.order_id, done.status, done.index, done.trades) == (first, "resting", d.index, ())
    assert d.ex.depth(BTC) == ([], [(100, 22, 2)])
    view = d.ex.order(first)
    assert view is not None
    assert view.index == d.index  # its time is now the amend's
    assert _first_maker_hit(d) == second


def test_price_change_requeues_even_back_at_the_old_price():
    d, first, second = _two_asks()
    assert one(d.amend("alice", first, price=101), Amended).kept_priority is False
    assert d.ex.depth(BTC) == ([], [(100, 10, 1), (101, 10, 1)])
    d.amend("alice", first, price=100)
    assert d.ex.depth(BTC) == ([], [(100, 20, 2)])
    assert _first_maker_hit(d) == second


def test_repriced_order_does_not_trade_at_its_old_price():
    d = Driver()
    moved = d.rest("alice", "sell", 97, 1)
    stays = d.rest("bob", "sell", 97, 1)
    d.amend("alice", moved, price=98)
    assert d.ex.depth(BTC) == ([], [(97, 1, 1), (98, 1, 1)])
    trade = one(d.buy("carol", 97, 1), Trade)
    assert (trade.maker_order, trade.price) == (stays, 97)
    assert d.ex.depth(BTC) == ([], [(98, 1, 1)])
    assert d.status(moved) == "resting"


def test_book_stays_consistent_after_a_reprice_out_of_a_shared_level():
    d = Driver()
    moved = d.rest("alice", "sell", 97, 1)
    stays = d.rest("bob", "sell", 97, 1)
    d.amend("alice", moved, price=98)
    d.buy("carol", 97, 1)
    # whichever order traded, the book and the orders must agree, and cancels must work
    for oid in (moved, stays):
        view = d.ex.order(oid)
        assert view is not None
        if view.status in ("resting", "partially_filled"):
            assert one(d.cancel(view.owner, oid), Cancelled).order_id == oid
    assert d.ex.depth(BTC) == ([], [])


def test_qty_up_requeues_behind_orders_at_a_fresh_level():
    # the order was alone at 101, so its level is rebuilt: it must be behind bob now
    d = Driver()
    first = d.rest("alice", "sell", 101, 10)
    d.amend("alice", first, price=100)  # leaves 101 (now empty), rests at 100
    second = d.rest("bob", "sell", 101, 10)
    d.amend("alice", first, price=101)
    assert of(d.buy("carol", 101, 1), Trade)[0].maker_order == second


def test_price_change_with_qty_down_requeues():
    d, first, _ = _two_asks()
    amended = one(d.amend("alice", first, qty=5, price=99), Amended)
    assert (amended.price, amended.qty, amended.kept_priority) == (99, 5, False)
    assert d.ex.depth(BTC) == ([], [(99, 5, 1), (100, 10, 1)])
    assert _first_maker_hit(d) == first  # better price now


def test_reprice_that_crosses_trades_as_taker():
    d = Driver()
    bid = d.rest("alice", "buy", 99, 10)
    ask = d.rest("bob", "sell", 100, 4)
    events = d.amend("alice", bid, price=100)
    assert kinds(events) == ["Amended", "Trade", "Done"]
    trade = one(events, Trade)
    assert trade == Trade(1, BTC, 100, 4, "buy", ask, bid, "bob", "alice", 0, d.index)
    done = one(events, Done)
    assert (done.order_id, done.status, done.filled_qty, done.remaining_qty) == (
        bid,
        "partially_filled",
        4,
        6,
    )
    assert (done.trades, done.index) == ((trade,), d.index)
    assert d.ex.depth(BTC) == ([(100, 6, 1)], [])


def test_reprice_that_crosses_fully_fills():
    d = Driver()
    ask = d.rest("alice", "sell", 105, 3)
    d.rest("bob", "buy", 101, 5)
    events = d.amend("alice", ask, price=100)
    assert [(t.price, t.qty, t.aggressor) for t in of(events, Trade)] == [(101, 3, "sell")]
    assert one(events, Done).status == "filled"
    assert d.ex.open_orders("alice") == []
    assert d.ex.depth(BTC) == ([(101, 2, 1)], [])


def test_reprice_into_own_order_applies_the_orders_stp_mode():
    d = Driver()
    own = d.rest("alice", "sell", 101, 3)
    bid = d.rest("alice", "buy", 99, 5, stp="cancel_taker")
    events = d.amend("alice", bid, price=101)
    assert of(events, Trade) == []
    assert one(events, Cancelled).reason == "self_trade"
    assert one(events, Done).status == "cancelled"
    assert d.status(own) == "resting"
    assert d.ex.open_orders("alice")[0].order_id == own


def test_amend_of_partially_filled_order():
    d = Driver()
    oid = d.rest("alice", "sell", 100, 10)
    d.buy("bob", 100, 6)
    # qty not above the filled quantity is refused
    for qty in (6, 5, 1):
        rejected = one(d.amend("alice", oid, qty=qty), Rejected)
        assert (rejected.op, rejected.code, rejected.order_id) == ("amend", "invalid", oid)
    assert d.ex.depth(BTC) == ([], [(100, 4, 1)])
    # 7 total = 1 left, same price: kept in place
    amended = one(d.amend("alice", oid, qty=7), Amended)
    assert (amended.qty, amended.remaining_qty, amended.kept_priority) == (7, 1, True)
    assert d.ex.depth(BTC) == ([], [(100, 1, 1)])
    # up again: 12 total, 6 left, re-queued
    amended = one(d.amend("alice", oid, qty=12), Amended)
    assert (amended.qty, amended.remaining_qty, amended.kept_priority) == (12, 6, False)
    view = d.ex.order(oid)
    assert view is not None
    assert (view.qty, view.filled_qty, view.remaining_qty, view.status) == (
        12,
        6,
        6,
        "partially_filled",
    )
    assert d.ex.depth(BTC) == ([], [(100, 6, 1)])


def test_amend_with_nothing_to_change_is_invalid():
    d, first, _ = _two_asks()
    assert one(d.amend("alice", first, qty=10), Rejected).code == "invalid"
    assert one(d.amend("alice", first, price=100), Rejected).code == "invalid"
    assert one(d.amend("alice", first, qty=10, price=100), Rejected).code == "invalid"
    assert _first_maker_hit(d) == first


def test_post_only_reprice_that_would_cross_is_rejected_and_keeps_the_order():
    d = Driver()
    d.rest("bob", "sell", 101, 5)
    oid = d.rest("alice", "buy", 99, 5, post_only=True)
    d.rest("carol", "buy", 99, 5)
    events = d.amend("alice", oid, price=101)
    assert events == [
        Rejected("amend", oid, None, "alice", "would_cross", events[0].reason, d.index)
    ]
    assert d.ex.depth(BTC) == ([(99, 10, 2)], [(101, 5, 1)])
    assert of(d.sell("dave", 99, 1), Trade)[0].maker_order == oid  # priority kept
    assert one(d.amend("alice", oid, price=100), Amended).price == 100  # not crossing: fine


def test_amend_someone_elses_order_is_forbidden():
    d, first, _ = _two_asks()
    events = d.amend("bob", first, qty=1)
    rejected = one(events, Rejected)
    assert (rejected.op, rejected.code, rejected.order_id, rejected.owner) == (
        "amend",
        "forbidden",
        first,
        "bob",
    )
    view = d.ex.order(first)
    assert view is not None
    assert (view.qty, view.price) == (10, 100)


@pytest.mark.parametrize("what", ["unknown", "filled", "cancelled", "ioc", "rejected"])
def test_amend_of_an_order_that_is_not_open_is_not_found(what):
    d = Driver()
    if what == "unknown":
        oid = 99
    elif what == "filled":
        oid = d.rest("alice", "sell", 100, 1)
        d.buy("bob", 100, 1)
    elif what == "cancelled":
        oid = d.rest("alice", "sell", 100, 1)
        d.cancel("alice", oid)
    elif what == "ioc":
        oid = one(d.sell("alice", 100, 1, tif="ioc"), Done).order_id
    else:
        oid = one(d.sell("alice", 100, 1, market="NO/PE"), Done).order_id
    events = d.amend("alice", oid, qty=5)
    rejected = one(events, Rejected)
    assert (rejected.op, rejected.code, rejected.order_id) == ("amend", "not_found", None)
    assert d.ex.depth(BTC) == ([], [])


def test_amend_reduce_then_match_uses_new_quantity():
    d, first, second = _two_asks()
    d.amend("alice", first, qty=2)
    trades = of(d.buy("carol", 100, 5), Trade)
    assert [(t.maker_order, t.qty, t.maker_remaining) for t in trades] == [
        (first, 2, 0),
        (second, 3, 7),
    ]
    assert d.status(first) == "filled"
