"""Client order ids make submission idempotent per owner."""

import pytest
from engine_helpers import BTC, ETH, UNKNOWN, Driver, of, one

from engine import Cancel, CreateMarket, Done, Submit, Trade


def _first_done(d: Driver, **kw: object) -> Done:
    return one(d.buy("alice", 100, 5, client_id="c1", **kw), Done)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "duplicate",
    [
        Submit("alice", BTC, "buy", "limit", 100, 5, client_id="c1"),  # identical
        Submit("alice", BTC, "sell", "limit", 90, 50, client_id="c1"),  # different terms
        Submit("alice", ETH, "buy", "market", None, 1, "ioc", client_id="c1"),
        Submit("alice", UNKNOWN, "buy", "limit", 1, 1, client_id="c1"),
    ],
)
def test_duplicate_returns_original_done_and_changes_nothing(duplicate):
    d = Driver(BTC, ETH)
    d.rest("bob", "sell", 101, 5)
    original = _first_done(d)
    digest = d.ex.digest()
    ids = (d.ex.next_order_id, d.ex.next_trade_id)
    events = d.apply(duplicate, same_index=True)
    assert events == [original._replace(duplicate=True)]
    assert events[0].duplicate is True
    assert d.ex.digest() == digest
    assert (d.ex.next_order_id, d.ex.next_trade_id) == ids
    assert d.ex.depth(BTC) == ([(100, 5, 1)], [(101, 5, 1)])
    assert d.ex.depth(ETH) == ([], [])


def test_duplicate_at_a_later_index_equals_a_no_op():
    # the digest covers the applied index, so compare with a twin that applied a no-op
    d, twin = Driver(), Driver()
    for x in (d, twin):
        x.rest("bob", "sell", 101, 5)
        _first_done(x)
    d.apply(Submit("alice", BTC, "buy", "limit", 101, 5, client_id="c1"))
    twin.apply(Cancel("nobody", 999))  # rejected: changes nothing but the applied index
    assert d.ex.digest() == twin.ex.digest()


def test_duplicate_returns_the_submit_outcome_not_the_current_state():
    d = Driver()
    original = _first_done(d)
    assert original.status == "resting"
    d.sell("bob", 100, 2)  # the order is now partially filled
    d.amend("alice", original.order_id, qty=4)
    events = d.buy("alice", 100, 5, client_id="c1")
    assert events == [original._replace(duplicate=True)]
    view = d.ex.order(original.order_id)
    assert view is not None
    assert (view.filled_qty, view.remaining_qty) == (2, 2)


@pytest.mark.parametrize("ending", ["filled", "cancelled", "rejected", "unknown_market", "ioc"])
def test_duplicate_of_a_finished_order_is_still_a_duplicate(ending):
    d = Driver()
    if ending == "filled":
        d.rest("bob", "sell", 100, 5)
        original = _first_done(d)
    elif ending == "cancelled":
        original = _first_done(d)
        d.cancel("alice", client_id="c1")
    elif ending == "rejected":
        d.rest("bob", "sell", 100, 5)
        original = _first_done(d, post_only=True)
    elif ending == "unknown_market":
        original = _first_done(d, market=UNKNOWN)
    else:
        original = _first_done(d, tif="ioc")
    events = d.buy("alice", 100, 5, client_id="c1")
    assert events == [original._replace(duplicate=True)]
    assert of(events, Trade) == []


def test_duplicate_of_a_filled_order_keeps_its_trades():
    d = Driver()
    d.rest("bob", "sell", 100, 5)
    original = _first_done(d)
    assert len(original.trades) == 1
    [dup] = d.buy("alice", 100, 5, client_id="c1")
    assert dup.trades == original.trades
    assert d.ex.depth(BTC) == ([], [])


def test_another_owner_may_reuse_the_client_id():
    d = Driver()
    first = _first_done(d)
    events = d.buy("bob", 100, 5, client_id="c1")
    done = one(events, Done)
    assert done.duplicate is False
    assert done.order_id == first.order_id + 1
    assert d.ex.depth(BTC) == ([(100, 10, 2)], [])
    alice = d.ex.order_by_client_id("alice", "c1")
    bob = d.ex.order_by_client_id("bob", "c1")
    assert alice is not None and bob is not None
    assert (alice.order_id, bob.order_id) == (first.order_id, done.order_id)


def test_submits_without_client_id_are_never_duplicates():
    d = Driver()
    d.buy("alice", 100, 5)
    done = one(d.buy("alice", 100, 5), Done)
    assert (done.order_id, done.duplicate) == (2, False)
    assert d.ex.depth(BTC) == ([(100, 10, 2)], [])


def test_duplicates_are_deterministic_across_instances():
    stream = [
        Submit("alice", BTC, "buy", "limit", 100, 5, client_id="c1"),
        Submit("alice", BTC, "buy", "limit", 100, 5, client_id="c1"),
        Submit("bob", BTC, "sell", "limit", 100, 7, client_id="c1"),
        Submit("bob", BTC, "sell", "limit", 100, 7, client_id="c1"),
    ]
    results = []
    for _ in range(2):
        d = Driver()
        results.append(([d.apply(c) for c in stream], d.ex.digest()))
    assert results[0] == results[1]
    events = results[0][0]
    assert [e.duplicate for e in events[1]] == [True]
    assert [e.duplicate for e in events[3]] == [True]


def test_history_limit_bounds_the_deduplication_window():
    # finished orders are forgotten oldest first; then their client id is free again
    d = Driver(history_limit=2)
    first = one(d.buy("alice", 100, 1, client_id="old", tif="ioc"), Done)
    for _ in range(3):
        d.buy("alice", 100, 1, tif="ioc")
    assert d.ex.order(first.order_id) is None
    assert d.ex.order_by_client_id("alice", "old") is None
    again = one(d.buy("alice", 100, 1, client_id="old", tif="ioc"), Done)
    assert (again.duplicate, again.order_id) == (False, 5)


@pytest.mark.parametrize("limit", [1, 2])
def test_an_order_forgotten_earlier_in_the_same_batch_no_longer_deduplicates(limit):
    """Forgetting is exact inside a log entry, where the tables are cleaned up later."""
    from engine import Exchange

    ex = Exchange(history_limit=limit)
    ex.apply(CreateMarket(BTC, "BTC", "USD", "0.1", "0.001"), 1)
    ioc = [Submit("alice", BTC, "buy", "limit", 100, 1, "ioc", client_id=f"k{i}") for i in range(3)]
    again = Submit("alice", BTC, "buy", "limit", 100, 1, "ioc", client_id="k0")
    *_, new, repeat = ex.apply_batch([*ioc, again, again], 2)
    assert not one(new, Done).duplicate and one(new, Done).order_id == 4
    assert one(repeat, Done) == one(new, Done)._replace(duplicate=True)
    assert ex.order(1) is None and ex.order_by_client_id("alice", "k0").order_id == 4  # type: ignore[union-attr]
    assert Exchange.restore(ex.snapshot()).snapshot() == ex.snapshot()
