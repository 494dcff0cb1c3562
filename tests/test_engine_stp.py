"""Self-trade prevention: none / cancel_taker / cancel_maker / cancel_both; the taker's mode
applies."""

import pytest
from engine_helpers import BTC, Driver, kinds, of, one

from engine import Cancelled, Done, Rejected, Trade


def _book_with_own_order_first() -> tuple[Driver, int, int]:
    """alice sells 10 @ 100 first, then bob sells 10 @ 100."""
    d = Driver()
    own = d.rest("alice", "sell", 100, 10)
    other = d.rest("bob", "sell", 100, 10)
    return d, own, other


def test_none_allows_a_self_trade():
    d, own, other = _book_with_own_order_first()
    events = d.buy("alice", 100, 15, stp="none")
    trades = of(events, Trade)
    assert [(t.maker_order, t.maker_owner, t.taker_owner, t.qty) for t in trades] == [
        (own, "alice", "alice", 10),
        (other, "bob", "alice", 5),
    ]
    assert of(events, Cancelled) == []
    assert one(events, Done).status == "filled"


def test_cancel_taker_cancels_the_incoming_order_and_keeps_the_maker():
    d, own, other = _book_with_own_order_first()
    events = d.buy("alice", 100, 15, stp="cancel_taker")
    assert kinds(events) == ["Accepted", "Cancelled", "Done"]
    cancelled = one(events, Cancelled)
    assert (cancelled.order_id, cancelled.reason, cancelled.remaining_qty) == (3, "self_trade", 15)
    done = one(events, Done)
    assert (done.status, done.reason, done.filled_qty, done.remaining_qty) == (
        "cancelled",
        "self_trade",
        0,
        15,
    )
    assert (d.status(own), d.status(other)) == ("resting", "resting")
    assert d.ex.depth(BTC) == ([], [(100, 20, 2)])


def test_cancel_maker_cancels_own_resting_orders_and_keeps_matching():
    d, own, other = _book_with_own_order_first()
    events = d.buy("alice", 100, 15, stp="cancel_maker")
    assert kinds(events) == ["Accepted", "Cancelled", "Trade", "Done"]
    cancelled = one(events, Cancelled)
    assert cancelled == Cancelled(own, "alice", BTC, 10, "self_trade", d.index)
    trade = one(events, Trade)
    assert (trade.maker_order, trade.qty) == (other, 10)
    done = one(events, Done)
    assert (done.status, done.filled_qty, done.remaining_qty) == ("partially_filled", 10, 5)
    assert d.status(own) == "cancelled"
    assert d.ex.depth(BTC) == ([(100, 5, 1)], [])  # the GTC remainder rests


def test_cancel_both_cancels_maker_and_taker():
    d, own, other = _book_with_own_order_first()
    events = d.buy("alice", 100, 15, stp="cancel_both")
    assert kinds(events) == ["Accepted", "Cancelled", "Cancelled", "Done"]
    maker_cxl, taker_cxl = of(events, Cancelled)
    assert (maker_cxl.order_id, maker_cxl.reason, maker_cxl.remaining_qty) == (
        own,
        "self_trade",
        10,
    )
    assert (taker_cxl.order_id, taker_cxl.reason, taker_cxl.remaining_qty) == (3, "self_trade", 15)
    assert one(events, Done).status == "cancelled"
    assert (d.status(own), d.status(other)) == ("cancelled", "resting")
    assert d.ex.depth(BTC) == ([], [(100, 10, 1)])


def test_cancel_maker_on_several_levels_and_orders():
    d = Driver()
    own1 = d.rest("alice", "sell", 100, 3)
    own2 = d.rest("alice", "sell", 100, 3)
    other = d.rest("bob", "sell", 101, 4)
    own3 = d.rest("alice", "sell", 101, 3)
    events = d.buy("alice", 102, 5, stp="cancel_maker", tif="ioc")
    assert [(t.maker_order, t.qty) for t in of(events, Trade)] == [(other, 4)]
    # own3 is reached (and cancelled) with 1 lot still wanted; then the IOC rest goes
    assert [(c.order_id, c.reason) for c in of(events, Cancelled)] == [
        (own1, "self_trade"),
        (own2, "self_trade"),
        (own3, "self_trade"),
        (5, "unfilled"),
    ]
    assert kinds(events) == [
        "Accepted", "Cancelled", "Cancelled", "Trade", "Cancelled", "Cancelled", "Done"
    ]  # fmt: skip
    assert d.ex.depth(BTC) == ([], [])


@pytest.mark.parametrize("maker_stp", ["none", "cancel_taker", "cancel_maker", "cancel_both"])
def test_the_takers_mode_applies_not_the_makers(maker_stp):
    d = Driver()
    own = d.rest("alice", "sell", 100, 10, stp=maker_stp)
    events = d.buy("alice", 100, 4, stp="none")
    trade = one(events, Trade)
    assert (trade.maker_order, trade.qty) == (own, 4)
    events = d.buy("alice", 100, 4, stp="cancel_taker")
    assert of(events, Trade) == []
    assert one(events, Cancelled).reason == "self_trade"
    assert d.status(own) == "partially_filled"


def test_stp_after_partial_fill_cancels_the_rest_of_the_taker():
    d = Driver()
    other = d.rest("bob", "sell", 100, 5)
    own = d.rest("alice", "sell", 100, 5)
    events = d.buy("alice", 100, 10, stp="cancel_taker")
    assert [(t.maker_order, t.qty) for t in of(events, Trade)] == [(other, 5)]
    cancelled = one(events, Cancelled)
    assert (cancelled.reason, cancelled.remaining_qty) == ("self_trade", 5)
    done = one(events, Done)
    assert (done.status, done.filled_qty, done.remaining_qty) == ("cancelled", 5, 5)
    assert d.status(own) == "resting"


def test_stp_not_triggered_when_taker_fills_before_reaching_own_order():
    d = Driver()
    d.rest("bob", "sell", 100, 10)
    own = d.rest("alice", "sell", 101, 10)
    events = d.buy("alice", 101, 10, stp="cancel_both")
    assert of(events, Cancelled) == []
    assert one(events, Done).status == "filled"
    assert d.status(own) == "resting"


def test_stp_only_concerns_the_same_owner():
    d = Driver()
    d.rest("bob", "sell", 100, 10)
    events = d.buy("alice", 100, 10, stp="cancel_both")
    assert one(events, Done).status == "filled"


def test_stp_with_market_order():
    d, own, other = _book_with_own_order_first()
    events = d.buy("alice", None, 20, type="market", stp="cancel_maker")
    assert [(c.order_id, c.reason) for c in of(events, Cancelled)] == [
        (own, "self_trade"),
        (3, "unfilled"),
    ]
    assert [(t.maker_order, t.qty) for t in of(events, Trade)] == [(other, 10)]
    assert d.ex.depth(BTC) == ([], [])


# ---------------------------------------------------------------------- FOK with STP


@pytest.mark.parametrize("stp", ["cancel_taker", "cancel_both"])
def test_fok_blocked_by_own_order_is_unfillable_and_cancels_nothing(stp):
    d, own, other = _book_with_own_order_first()
    events = d.buy("alice", 100, 5, tif="fok", stp=stp)
    assert one(events, Rejected).code == "unfillable"
    assert of(events, Cancelled) == []
    assert of(events, Trade) == []
    assert (d.status(own), d.status(other)) == ("resting", "resting")


def test_fok_cancel_maker_counts_only_other_owners_liquidity():
    d, own, other = _book_with_own_order_first()
    events = d.buy("alice", 100, 15, tif="fok", stp="cancel_maker")
    assert one(events, Rejected).code == "unfillable"
    assert d.status(own) == "resting"  # nothing happened
    events = d.buy("alice", 100, 10, tif="fok", stp="cancel_maker")
    assert one(events, Cancelled).order_id == own
    assert [(t.maker_order, t.qty) for t in of(events, Trade)] == [(other, 10)]
    assert one(events, Done).status == "filled"


def test_fok_none_counts_own_liquidity_and_self_trades():
    d, own, other = _book_with_own_order_first()
    events = d.buy("alice", 100, 20, tif="fok", stp="none")
    assert [t.maker_order for t in of(events, Trade)] == [own, other]
    assert one(events, Done).status == "filled"


def test_fok_cancel_taker_fillable_before_own_order():
    d = Driver()
    d.rest("bob", "sell", 100, 10)
    own = d.rest("alice", "sell", 101, 10)
    assert one(d.buy("alice", 101, 10, tif="fok", stp="cancel_taker"), Done).status == "filled"
    assert d.status(own) == "resting"
    # now the own order is first: anything more is blocked
    assert one(d.buy("alice", 101, 1, tif="fok", stp="cancel_taker"), Rejected).code == (
        "unfillable"
    )
