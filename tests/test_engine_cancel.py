"""Cancel by order id or client id, and cancel-all (all markets or one)."""

import pytest
from engine_helpers import BTC, ETH, UNKNOWN, Driver, kinds, of, one

from engine import Cancelled, Exchange, Rejected, Trade


def test_cancel_by_order_id():
    d = Driver()
    oid = d.rest("alice", "buy", 100, 5)
    events = d.cancel("alice", order_id=oid)
    assert events == [Cancelled(oid, "alice", BTC, 5, "user", d.index)]
    assert d.status(oid) == "cancelled"
    assert d.ex.depth(BTC) == ([], [])
    assert d.ex.open_orders("alice") == []


def test_cancel_by_client_id():
    d = Driver()
    d.rest("alice", "buy", 99, 1, client_id="other")
    oid = d.rest("alice", "buy", 100, 5, client_id="mine")
    events = d.cancel("alice", client_id="mine")
    assert events == [Cancelled(oid, "alice", BTC, 5, "user", d.index)]
    assert d.ex.depth(BTC) == ([(99, 1, 1)], [])


def test_cancel_partially_filled_reports_what_was_left():
    d = Driver()
    oid = d.rest("alice", "sell", 100, 10)
    d.buy("bob", 100, 3)
    assert one(d.cancel("alice", oid), Cancelled).remaining_qty == 7
    view = d.ex.order(oid)
    assert view is not None
    assert (view.status, view.filled_qty, view.remaining_qty) == ("cancelled", 3, 7)


def test_cancel_someone_elses_order_is_forbidden():
    d = Driver()
    oid = d.rest("alice", "buy", 100, 5, client_id="c")
    events = d.cancel("bob", order_id=oid)
    rejected = one(events, Rejected)
    assert (rejected.op, rejected.code, rejected.order_id, rejected.owner) == (
        "cancel",
        "forbidden",
        oid,
        "bob",
    )
    assert rejected.index == d.index
    assert d.status(oid) == "resting"
    # client ids are per owner: bob's "c" is not alice's "c"
    assert one(d.cancel("bob", client_id="c"), Rejected).code == "not_found"
    assert d.ex.depth(BTC) == ([(100, 5, 1)], [])


@pytest.mark.parametrize("what", ["unknown", "cancelled", "filled", "ioc", "rejected"])
def test_cancel_of_an_order_that_is_not_open_is_not_found(what):
    d = Driver()
    if what == "unknown":
        oid = 77
    elif what == "cancelled":
        oid = d.rest("alice", "buy", 100, 5)
        d.cancel("alice", oid)
    elif what == "filled":
        oid = d.rest("alice", "buy", 100, 5)
        d.sell("bob", 100, 5)
    elif what == "ioc":
        oid = of(d.buy("alice", 100, 5, tif="ioc"), Cancelled)[0].order_id
    else:
        oid = one(d.buy("alice", 100, 5, market=UNKNOWN), Rejected).order_id
    events = d.cancel("alice", oid)
    rejected = one(events, Rejected)
    assert (rejected.op, rejected.code, rejected.order_id) == ("cancel", "not_found", None)
    assert kinds(events) == ["Rejected"]


def test_cancel_unknown_client_id_is_not_found():
    d = Driver()
    rejected = one(d.cancel("alice", client_id="nope"), Rejected)
    assert (rejected.op, rejected.code, rejected.client_id) == ("cancel", "not_found", None)


def test_cancel_in_the_middle_keeps_the_others_priority():
    d = Driver()
    a = d.rest("a", "sell", 100, 1)
    b = d.rest("b", "sell", 100, 1)
    c = d.rest("c", "sell", 100, 1)
    d.cancel("b", b)
    assert d.ex.depth(BTC) == ([], [(100, 2, 2)])
    assert [t.maker_order for t in of(d.buy("x", 100, 2), Trade)] == [a, c]
    assert d.ex.depth(BTC) == ([], [])


def test_many_cancels_in_one_level_keep_time_priority_and_totals():
    d = Driver()
    ids = [d.rest(f"o{i % 3}", "sell", 100, 1 + i % 4) for i in range(120)]
    cancelled = [oid for i, oid in enumerate(ids) if i % 5 != 0]  # leave one in five
    for oid in cancelled:
        owner = d.ex.order(oid).owner  # type: ignore[union-attr]
        assert one(d.cancel(owner, oid), Cancelled).reason == "user"
    left = [oid for oid in ids if oid not in cancelled]
    total = sum(d.ex.order(oid).remaining_qty for oid in left)  # type: ignore[union-attr]
    assert d.ex.depth(BTC) == ([], [(100, total, len(left))])
    trades = of(d.buy("x", 100, total), Trade)
    assert [t.maker_order for t in trades] == left
    assert d.ex.depth(BTC) == ([], [])


def test_a_long_level_filled_a_few_at_a_time_keeps_priority():
    # the level's queue drops its filled front in pieces; cancels land before and after it
    d = Driver()
    ids = [d.rest(f"o{i % 3}", "sell", 100, 1 + i % 3) for i in range(150)]
    expected = list(ids)
    for step in range(40):
        if step % 4 == 3:  # cancel a few in the middle and near the front
            for oid in (expected[len(expected) // 2], expected[1]):
                d.cancel(d.ex.order(oid).owner, oid)  # type: ignore[union-attr]
                expected.remove(oid)
        makers = [t.maker_order for t in of(d.buy("x", 100, 4), Trade)]
        assert makers == expected[: len(makers)]
        expected = expected[len(makers) - 1 :]  # the last maker may be partly filled
        if d.ex.order(expected[0]).status == "filled":  # type: ignore[union-attr]
            expected.pop(0)
        restored = Exchange.restore(d.ex.snapshot())
        assert restored.depth(BTC) == d.ex.depth(BTC)
        assert restored.snapshot() == d.ex.snapshot()
    total = sum(d.ex.order(oid).remaining_qty for oid in expected)  # type: ignore[union-attr]
    assert d.ex.depth(BTC) == ([], [(100, total, len(expected))])
    assert [t.maker_order for t in of(d.buy("x", 100, total), Trade)] == expected


def test_cancel_all_across_markets_leaves_other_owners_alone():
    d = Driver(BTC, ETH)
    a1 = d.rest("alice", "buy", 100, 1)
    b1 = d.rest("bob", "buy", 100, 2)
    a2 = d.rest("alice", "sell", 110, 3, market=ETH)
    a3 = d.rest("alice", "sell", 111, 4)
    events = d.cancel_all("alice")
    assert events == [
        Cancelled(a1, "alice", BTC, 1, "user", d.index),
        Cancelled(a2, "alice", ETH, 3, "user", d.index),
        Cancelled(a3, "alice", BTC, 4, "user", d.index),
    ]
    assert d.ex.open_orders("alice") == []
    assert [v.order_id for v in d.ex.open_orders("bob")] == [b1]
    assert d.ex.depth(BTC) == ([(100, 2, 1)], [])
    assert d.ex.depth(ETH) == ([], [])


def test_cancel_all_in_one_market():
    d = Driver(BTC, ETH)
    a1 = d.rest("alice", "buy", 100, 1)
    a2 = d.rest("alice", "sell", 110, 3, market=ETH)
    d.rest("bob", "sell", 110, 3, market=ETH)
    events = d.cancel_all("alice", market=ETH)
    assert [(c.order_id, c.market) for c in events] == [(a2, ETH)]
    assert [v.order_id for v in d.ex.open_orders("alice")] == [a1]
    assert d.ex.depth(ETH) == ([], [(110, 3, 1)])


def test_cancel_all_with_nothing_open_does_nothing():
    d = Driver()
    d.rest("bob", "buy", 100, 2)
    assert d.cancel_all("alice") == []
    assert d.cancel_all("alice", BTC) == []
    assert d.ex.depth(BTC) == ([(100, 2, 1)], [])


def test_cancel_all_in_unknown_market_is_invalid():
    d = Driver()
    d.rest("alice", "buy", 100, 2)
    [rejected] = d.cancel_all("alice", UNKNOWN)
    assert isinstance(rejected, Rejected)
    assert (rejected.op, rejected.code, rejected.owner) == ("cancel_all", "invalid", "alice")
    assert d.ex.depth(BTC) == ([(100, 2, 1)], [])
