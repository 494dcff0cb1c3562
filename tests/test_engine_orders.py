"""Order types, matching, events, ids and queries of the engine (public API only)."""

import pytest
from engine_helpers import BTC, ETH, UNKNOWN, Driver, kinds, of, one

from engine import (
    Accepted,
    Cancel,
    Cancelled,
    CreateMarket,
    Done,
    Exchange,
    MarketCreated,
    Rejected,
    Submit,
    Trade,
)

# ---------------------------------------------------------------------- markets


def test_create_market_event_and_queries():
    ex = Exchange()
    events = ex.apply(CreateMarket(BTC, "BTC", "USD", "0.01", "0.001"), 7)
    assert events == [MarketCreated(BTC, "BTC", "USD", "0.01", "0.001", 7)]
    market = ex.market(BTC)
    assert market is not None
    assert (market.symbol, market.base, market.quote, market.tick, market.lot) == (
        BTC,
        "BTC",
        "USD",
        "0.01",
        "0.001",
    )
    assert list(ex.markets) == [BTC]
    assert ex.market(ETH) is None
    assert ex.depth(BTC) == ([], [])
    assert ex.applied_index == 7


def test_creating_an_existing_market_is_rejected_and_changes_nothing():
    d = Driver(BTC)
    d.rest("alice", "buy", 100, 5)
    before = d.ex.depth(BTC)
    events = d.apply(CreateMarket(BTC, "BTC", "USD", "1", "1"))
    [rejected] = events
    assert isinstance(rejected, Rejected)
    assert (rejected.op, rejected.code, rejected.index) == ("create_market", "invalid", d.index)
    market = d.ex.market(BTC)
    assert market is not None
    assert (market.tick, market.lot) == ("0.01", "0.001")
    assert d.ex.depth(BTC) == before


def test_markets_are_listed_in_creation_order():
    d = Driver(ETH, BTC)
    assert list(d.ex.markets) == [ETH, BTC]


# ---------------------------------------------------------------------- limit GTC


def test_gtc_on_empty_book_rests_with_full_events():
    d = Driver()
    events = d.buy("alice", 100, 5, client_id="x1")
    assert kinds(events) == ["Accepted", "Done"]
    accepted, done = events
    assert accepted == Accepted(1, "x1", "alice", BTC, "buy", "limit", 100, 5, d.index)
    assert done == Done(1, "x1", "alice", BTC, "resting", None, 0, 5, 0, (), d.index, 0, False)
    assert d.ex.depth(BTC) == ([(100, 5, 1)], [])
    [view] = d.ex.open_orders("alice")
    assert (view.order_id, view.price, view.qty, view.filled_qty, view.remaining_qty) == (
        1,
        100,
        5,
        0,
        5,
    )
    assert (view.status, view.tif, view.post_only, view.stp, view.index) == (
        "resting",
        "gtc",
        False,
        "none",
        d.index,
    )


def test_full_cross_trade_event_fields():
    d = Driver()
    maker = d.rest("alice", "sell", 100, 5)
    events = d.buy("bob", 100, 5)
    assert kinds(events) == ["Accepted", "Trade", "Done"]
    trade = one(events, Trade)
    assert trade == Trade(1, BTC, 100, 5, "buy", maker, 2, "alice", "bob", 0, d.index)
    done = one(events, Done)
    assert (done.order_id, done.status, done.filled_qty, done.remaining_qty) == (2, "filled", 5, 0)
    assert done.notional == 500
    assert done.trades == (trade,)
    assert done.reason is None
    assert d.ex.depth(BTC) == ([], [])
    assert d.status(maker) == "filled"
    assert d.ex.open_orders("alice") == []
    assert d.ex.open_orders("bob") == []


def test_sell_taker_aggressor_is_sell():
    d = Driver()
    maker = d.rest("alice", "buy", 100, 5)
    trade = one(d.sell("bob", 99, 2), Trade)
    assert (trade.aggressor, trade.maker_order, trade.taker_order) == ("sell", maker, 2)
    assert (trade.maker_owner, trade.taker_owner, trade.maker_remaining) == ("alice", "bob", 3)


def test_trade_happens_at_the_makers_price():
    d = Driver()
    d.rest("alice", "sell", 100, 5)
    d.rest("carol", "buy", 90, 5)
    assert one(d.buy("bob", 105, 5), Trade).price == 100
    assert one(d.sell("bob", 80, 5), Trade).price == 90


def test_non_crossing_orders_both_rest():
    d = Driver()
    d.rest("alice", "sell", 101, 5)
    d.rest("bob", "buy", 100, 5)
    assert d.ex.depth(BTC) == ([(100, 5, 1)], [(101, 5, 1)])
    assert d.ex.recent_trades(BTC) == []


def test_partial_fill_taker_rests_remainder():
    d = Driver()
    d.rest("alice", "sell", 100, 3)
    events = d.buy("bob", 101, 10)
    trade = one(events, Trade)
    assert (trade.price, trade.qty, trade.maker_remaining) == (100, 3, 0)
    done = one(events, Done)
    assert (done.status, done.filled_qty, done.remaining_qty, done.notional) == (
        "partially_filled",
        3,
        7,
        300,
    )
    assert of(events, Cancelled) == []
    assert d.ex.depth(BTC) == ([(101, 7, 1)], [])
    [view] = d.ex.open_orders("bob")
    assert (view.status, view.filled_qty, view.remaining_qty, view.qty) == (
        "partially_filled",
        3,
        7,
        10,
    )


def test_partial_fill_of_maker_leaves_rest_in_book():
    d = Driver()
    maker = d.rest("alice", "sell", 100, 10)
    trade = one(d.buy("bob", 100, 4), Trade)
    assert (trade.qty, trade.maker_remaining) == (4, 6)
    assert d.ex.depth(BTC) == ([], [(100, 6, 1)])
    view = d.ex.order(maker)
    assert view is not None
    assert (view.status, view.filled_qty, view.remaining_qty, view.notional) == (
        "partially_filled",
        4,
        6,
        400,
    )


def test_sweep_several_levels_stops_at_limit():
    d = Driver()
    a = d.rest("a", "sell", 100, 10)
    b = d.rest("b", "sell", 101, 10)
    c = d.rest("c", "sell", 102, 10)
    events = d.buy("bob", 101, 25)
    trades = of(events, Trade)
    assert [(t.maker_order, t.price, t.qty) for t in trades] == [(a, 100, 10), (b, 101, 10)]
    done = one(events, Done)
    assert (done.filled_qty, done.remaining_qty, done.notional) == (20, 5, 100 * 10 + 101 * 10)
    assert d.ex.depth(BTC) == ([(101, 5, 1)], [(102, 10, 1)])
    assert d.status(c) == "resting"


def test_price_time_priority_asks():
    d = Driver()
    a = d.rest("a", "sell", 100, 10)
    b = d.rest("b", "sell", 100, 10)
    c = d.rest("c", "sell", 99, 10)
    trades = of(d.buy("bob", 100, 25), Trade)
    assert [(t.maker_order, t.qty) for t in trades] == [(c, 10), (a, 10), (b, 5)]


def test_price_time_priority_bids():
    d = Driver()
    a = d.rest("a", "buy", 100, 10)
    b = d.rest("b", "buy", 100, 10)
    c = d.rest("c", "buy", 101, 10)
    e = d.rest("e", "buy", 99, 10)
    trades = of(d.sell("bob", 99, 35), Trade)
    assert [(t.maker_order, t.price, t.qty) for t in trades] == [
        (c, 101, 10),
        (a, 100, 10),
        (b, 100, 10),
        (e, 99, 5),
    ]


# ---------------------------------------------------------------------- IOC


def test_ioc_partial_fill_cancels_remainder():
    d = Driver()
    d.rest("alice", "sell", 100, 3)
    events = d.buy("bob", 100, 10, tif="ioc")
    assert kinds(events) == ["Accepted", "Trade", "Cancelled", "Done"]
    cancelled = one(events, Cancelled)
    assert cancelled == Cancelled(2, "bob", BTC, 7, "unfilled", d.index)
    done = one(events, Done)
    assert (done.status, done.reason, done.filled_qty, done.remaining_qty) == (
        "cancelled",
        "unfilled",
        3,
        7,
    )
    assert d.ex.depth(BTC) == ([], [])
    assert d.ex.open_orders("bob") == []


def test_ioc_not_crossing_is_cancelled_unfilled():
    d = Driver()
    d.rest("alice", "sell", 101, 3)
    events = d.buy("bob", 100, 10, tif="ioc")
    assert kinds(events) == ["Accepted", "Cancelled", "Done"]
    assert one(events, Cancelled).remaining_qty == 10
    assert one(events, Done).status == "cancelled"
    assert d.ex.depth(BTC) == ([], [(101, 3, 1)])


def test_ioc_full_fill_is_filled_without_cancel():
    d = Driver()
    d.rest("alice", "sell", 100, 10)
    events = d.buy("bob", 100, 10, tif="ioc")
    assert of(events, Cancelled) == []
    assert one(events, Done).status == "filled"


# ---------------------------------------------------------------------- FOK


def test_fok_fills_in_full_across_levels():
    d = Driver()
    d.rest("a", "sell", 100, 4)
    d.rest("b", "sell", 101, 4)
    d.rest("c", "sell", 102, 4)
    events = d.buy("bob", 102, 10, tif="fok")
    assert [(t.price, t.qty) for t in of(events, Trade)] == [(100, 4), (101, 4), (102, 2)]
    assert one(events, Done).status == "filled"
    assert d.ex.depth(BTC) == ([], [(102, 2, 1)])


def test_fok_exact_quantity_fills():
    d = Driver()
    d.rest("a", "sell", 100, 4)
    d.rest("b", "sell", 101, 6)
    assert one(d.buy("bob", 101, 10, tif="fok"), Done).status == "filled"
    assert d.ex.depth(BTC) == ([], [])


def test_fok_not_fillable_within_limit_is_rejected_and_changes_nothing():
    d = Driver()
    d.rest("a", "sell", 100, 4)
    d.rest("b", "sell", 101, 4)
    d.rest("c", "sell", 103, 100)  # plenty, but beyond the limit
    before = (d.ex.depth(BTC), d.ex.next_trade_id)
    events = d.buy("bob", 102, 10, tif="fok")
    assert kinds(events) == ["Accepted", "Rejected", "Done"]
    rejected = one(events, Rejected)
    assert (rejected.op, rejected.code, rejected.order_id, rejected.owner) == (
        "submit",
        "unfillable",
        4,
        "bob",
    )
    assert rejected.index == d.index
    done = one(events, Done)
    assert (done.status, done.filled_qty, done.remaining_qty, done.trades) == (
        "rejected",
        0,
        10,
        (),
    )
    assert (d.ex.depth(BTC), d.ex.next_trade_id) == before
    assert d.status(4) == "rejected"


def test_fok_on_empty_book_is_unfillable():
    d = Driver()
    assert one(d.sell("bob", 100, 1, tif="fok"), Rejected).code == "unfillable"
    assert d.ex.depth(BTC) == ([], [])


# ---------------------------------------------------------------------- post-only


def test_post_only_rests_when_not_crossing():
    d = Driver()
    d.rest("a", "sell", 101, 4)
    events = d.buy("bob", 100, 5, post_only=True)
    assert one(events, Done).status == "resting"
    view = d.ex.order(2)
    assert view is not None
    assert view.post_only is True
    assert d.ex.depth(BTC) == ([(100, 5, 1)], [(101, 4, 1)])


@pytest.mark.parametrize("price", [101, 102])
def test_post_only_that_would_cross_is_rejected(price):
    d = Driver()
    d.rest("a", "sell", 101, 4)
    events = d.buy("bob", price, 5, post_only=True)
    assert kinds(events) == ["Accepted", "Rejected", "Done"]
    assert one(events, Rejected).code == "would_cross"
    assert one(events, Done).status == "rejected"
    assert d.ex.depth(BTC) == ([], [(101, 4, 1)])
    assert d.ex.recent_trades(BTC) == []


def test_post_only_sell_that_would_cross_is_rejected():
    d = Driver()
    d.rest("a", "buy", 100, 4)
    assert one(d.sell("bob", 100, 5, post_only=True), Rejected).code == "would_cross"
    assert one(d.sell("bob", 101, 5, post_only=True), Done).status == "resting"


# ---------------------------------------------------------------------- market orders


def test_market_order_sweeps_every_level_and_never_rests():
    d = Driver()
    d.rest("a", "sell", 100, 4)
    d.rest("b", "sell", 150, 4)
    events = d.buy("bob", None, 10, type="market")
    accepted = one(events, Accepted)
    assert (accepted.type, accepted.price, accepted.qty) == ("market", None, 10)
    assert [(t.price, t.qty) for t in of(events, Trade)] == [(100, 4), (150, 4)]
    cancelled = one(events, Cancelled)
    assert (cancelled.remaining_qty, cancelled.reason) == (2, "unfilled")
    done = one(events, Done)
    assert (done.status, done.filled_qty, done.remaining_qty, done.notional) == (
        "cancelled",
        8,
        2,
        1000,
    )
    assert d.ex.depth(BTC) == ([], [])
    assert d.ex.open_orders("bob") == []


def test_market_order_full_fill():
    d = Driver()
    d.rest("a", "buy", 100, 4)
    events = d.sell("bob", None, 3, type="market")
    assert one(events, Done).status == "filled"
    assert d.ex.depth(BTC) == ([(100, 1, 1)], [])


def test_market_order_on_empty_book_is_cancelled_unfilled():
    d = Driver()
    events = d.buy("bob", None, 3, type="market")
    assert kinds(events) == ["Accepted", "Cancelled", "Done"]
    assert one(events, Cancelled).reason == "unfilled"
    assert one(events, Done).status == "cancelled"
    view = d.ex.order(1)
    assert view is not None
    assert (view.status, view.remaining_qty, view.filled_qty) == ("cancelled", 3, 0)


def test_market_buy_with_protection_price_stops_there():
    d = Driver()
    d.rest("a", "sell", 100, 10)
    d.rest("b", "sell", 101, 10)
    d.rest("c", "sell", 102, 10)
    events = d.buy("bob", 101, 30, type="market")
    assert one(events, Accepted).price == 101
    assert [(t.price, t.qty) for t in of(events, Trade)] == [(100, 10), (101, 10)]
    assert one(events, Cancelled).remaining_qty == 10
    assert d.ex.depth(BTC) == ([], [(102, 10, 1)])


def test_market_sell_with_protection_price_stops_there():
    d = Driver()
    d.rest("a", "buy", 100, 10)
    d.rest("b", "buy", 99, 10)
    events = d.sell("bob", 100, 30, type="market")
    assert [(t.price, t.qty) for t in of(events, Trade)] == [(100, 10)]
    assert one(events, Done).status == "cancelled"
    assert d.ex.depth(BTC) == ([(99, 10, 1)], [])


def test_market_fok_is_all_or_nothing():
    d = Driver()
    d.rest("a", "sell", 100, 5)
    d.rest("b", "sell", 105, 5)
    assert one(d.buy("bob", 104, 10, type="market", tif="fok"), Rejected).code == "unfillable"
    assert d.ex.depth(BTC) == ([], [(100, 5, 1), (105, 5, 1)])
    assert one(d.buy("bob", None, 10, type="market", tif="fok"), Done).status == "filled"
    assert d.ex.depth(BTC) == ([], [])


# ---------------------------------------------------------------------- rejections


def test_submit_to_unknown_market_is_rejected_invalid():
    d = Driver()
    events = d.buy("alice", 100, 5, market=UNKNOWN, client_id="k")
    assert kinds(events) == ["Rejected", "Done"]
    rejected = one(events, Rejected)
    assert (rejected.op, rejected.code, rejected.order_id, rejected.client_id) == (
        "submit",
        "invalid",
        1,
        "k",
    )
    assert rejected.owner == "alice"
    assert one(events, Done).status == "rejected"
    assert d.status(1) == "rejected"
    assert d.ex.next_order_id == 2


# ---------------------------------------------------------------------- ids and index


def test_order_and_trade_ids_are_counters_across_markets():
    d = Driver(BTC, ETH)
    assert (d.ex.next_order_id, d.ex.next_trade_id) == (1, 1)
    ids = [one(d.sell("a", 100, 1, market=m), Accepted).order_id for m in (BTC, ETH, BTC)]
    assert ids == [1, 2, 3]
    rejected = d.buy("a", 100, 1, market=UNKNOWN)
    assert one(rejected, Done).order_id == 4  # a rejected submit uses an id too
    t1 = one(d.buy("b", 100, 1, market=ETH), Trade)
    trades = of(d.buy("b", 100, 2, market=BTC), Trade)
    assert [t1.trade_id, *(t.trade_id for t in trades)] == [1, 2, 3]
    assert [t1.taker_order, trades[0].taker_order] == [5, 6]
    assert (d.ex.next_order_id, d.ex.next_trade_id) == (7, 4)


def test_cancel_does_not_use_an_order_id():
    d = Driver()
    oid = d.rest("a", "buy", 100, 1)
    d.cancel("a", oid)
    assert one(d.buy("a", 100, 1), Accepted).order_id == oid + 1


def test_index_is_recorded_on_every_event_and_view():
    d = Driver()
    d.ex.apply(Submit("a", BTC, "sell", "limit", 100, 3), 10)
    events = d.ex.apply(Submit("b", BTC, "buy", "limit", 100, 5), 12)
    assert {e.index for e in events} == {12}
    assert d.ex.applied_index == 12
    view = d.ex.order(2)
    assert view is not None
    assert view.index == 12
    assert [t.index for t in d.ex.recent_trades(BTC)] == [12]


def test_apply_at_an_older_index_raises_and_same_index_is_allowed():
    d = Driver()
    d.ex.apply(Submit("a", BTC, "sell", "limit", 100, 3), 5)
    d.ex.apply(Submit("a", BTC, "sell", "limit", 101, 3), 5)  # a batch shares an index
    with pytest.raises(ValueError):
        d.ex.apply(Submit("a", BTC, "sell", "limit", 102, 3), 4)
    assert d.ex.applied_index == 5
    assert d.ex.depth(BTC) == ([], [(100, 3, 1), (101, 3, 1)])


def test_apply_refuses_what_is_not_a_command():
    ex = Exchange()
    with pytest.raises(TypeError):
        ex.apply({"op": "submit"}, 1)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- queries


def test_depth_aggregates_levels_with_counts_best_first():
    d = Driver()
    for price, qty in [(100, 1), (100, 2), (98, 5), (99, 4), (100, 3)]:
        d.rest("a", "buy", price, qty)
    for price, qty in [(103, 1), (101, 2), (101, 7), (102, 5)]:
        d.rest("b", "sell", price, qty)
    bids, asks = d.ex.depth(BTC)
    assert bids == [(100, 6, 3), (99, 4, 1), (98, 5, 1)]
    assert asks == [(101, 9, 2), (102, 5, 1), (103, 1, 1)]
    assert d.ex.depth(BTC, 2) == (bids[:2], asks[:2])
    assert d.ex.depth(BTC, 1) == ([(100, 6, 3)], [(101, 9, 2)])
    assert d.ex.depth(BTC, 0) == ([], [])


def test_depth_reflects_fills_and_cancels():
    d = Driver()
    a = d.rest("a", "sell", 101, 2)
    d.rest("a", "sell", 101, 7)
    d.buy("b", 101, 3)
    assert d.ex.depth(BTC) == ([], [(101, 6, 1)])
    d.rest("a", "sell", 101, 1)
    d.cancel("a", a)  # already filled: not found, nothing changes
    assert d.ex.depth(BTC) == ([], [(101, 7, 2)])


def test_open_orders_oldest_first_and_filtered_by_market():
    d = Driver(BTC, ETH)
    a = d.rest("alice", "buy", 90, 1)
    b = d.rest("alice", "sell", 110, 1, market=ETH)
    c = d.rest("alice", "buy", 95, 1)
    d.rest("bob", "buy", 91, 1)
    d.buy("alice", None, 1, type="market")  # never rests
    assert [v.order_id for v in d.ex.open_orders("alice")] == [a, b, c]
    assert [v.order_id for v in d.ex.open_orders("alice", BTC)] == [a, c]
    assert [v.order_id for v in d.ex.open_orders("alice", ETH)] == [b]
    assert d.ex.open_orders("nobody") == []


def test_order_views_are_copies():
    d = Driver()
    oid = d.rest("alice", "sell", 100, 5)
    before = d.ex.order(oid)
    d.buy("bob", 100, 2)
    after = d.ex.order(oid)
    assert before is not None and after is not None
    assert (before.remaining_qty, after.remaining_qty) == (5, 3)
    assert d.ex.order(999) is None


def test_order_by_client_id_is_per_owner():
    d = Driver()
    oid = d.rest("alice", "buy", 100, 1, client_id="c")
    view = d.ex.order_by_client_id("alice", "c")
    assert view is not None
    assert view.order_id == oid
    assert d.ex.order_by_client_id("bob", "c") is None
    assert d.ex.order_by_client_id("alice", "other") is None


def test_recent_trades_since_and_limit():
    d = Driver(BTC, ETH)
    for _ in range(5):
        d.rest("a", "sell", 100, 1)
        d.rest("a", "sell", 100, 1, market=ETH)
    d.buy("b", 100, 5)  # trades 1..5 in BTC
    d.buy("b", 100, 5, market=ETH)  # trades 6..10 in ETH
    assert [t.trade_id for t in d.ex.recent_trades(BTC)] == [1, 2, 3, 4, 5]
    assert [t.trade_id for t in d.ex.recent_trades(ETH)] == [6, 7, 8, 9, 10]
    assert [t.trade_id for t in d.ex.recent_trades(BTC, since=3)] == [4, 5]
    assert [t.trade_id for t in d.ex.recent_trades(BTC, limit=2)] == [1, 2]
    assert [t.trade_id for t in d.ex.recent_trades(ETH, since=6, limit=2)] == [7, 8]
    assert d.ex.recent_trades(BTC, since=5) == []
    assert all(t.market == ETH for t in d.ex.recent_trades(ETH))


def test_recent_trades_equal_the_trade_events():
    d = Driver()
    d.rest("a", "sell", 100, 1)
    d.rest("a", "sell", 101, 1)
    events = d.buy("b", 101, 2)
    assert d.ex.recent_trades(BTC) == of(events, Trade)


def test_trade_history_keeps_the_most_recent():
    d = Driver(trade_history=3)
    for _ in range(5):
        d.rest("a", "sell", 100, 1)
    d.buy("b", 100, 5)
    assert [t.trade_id for t in d.ex.recent_trades(BTC)] == [3, 4, 5]


# ---------------------------------------------------------------------- several markets


def test_markets_are_independent():
    d = Driver(BTC, ETH)
    d.rest("a", "sell", 100, 5, market=BTC)
    events = d.buy("b", 100, 5, market=ETH)
    assert of(events, Trade) == []
    assert d.ex.depth(BTC) == ([], [(100, 5, 1)])
    assert d.ex.depth(ETH) == ([(100, 5, 1)], [])
    trade = one(d.buy("c", 100, 2, market=BTC), Trade)
    assert trade.market == BTC
    assert d.ex.depth(ETH) == ([(100, 5, 1)], [])
    assert d.ex.recent_trades(ETH) == []


def test_cancel_rejection_leaves_every_market_alone():
    d = Driver(BTC, ETH)
    d.rest("a", "sell", 100, 5, market=ETH)
    events = d.apply(Cancel("a", 42))
    assert one(events, Rejected).code == "not_found"
    assert d.ex.depth(ETH) == ([], [(100, 5, 1)])
