"""Invariants over random command streams (several owners, one or two markets, every order
type, time in force and STP mode, stops and good-till-date orders, ticks of time, cancels
and amends of random ids, repeated client ids)."""

from collections import defaultdict
from itertools import pairwise

from engine_helpers import (
    OPEN,
    OWNERS,
    Tick,
    command_streams,
    own_events,
    run_stream,
    step,
    wire,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import (
    Accepted,
    Amended,
    Cancel,
    Cancelled,
    Done,
    Exchange,
    Submit,
    Trade,
    Triggered,
)

STREAMS = command_streams()


def _check_book(ex: Exchange) -> None:
    """Never crossed; levels sorted best first, non-empty; depth equals the open orders in
    the book (not the stops waiting for their trigger)."""
    views = [v for owner in OWNERS for v in ex.open_orders(owner)]
    open_views = [v for v in views if v.status != "untriggered"]
    assert all(v.status in (*OPEN, "untriggered") for v in views)
    for symbol in ex.markets:
        bids, asks = ex.depth(symbol, 10**6)
        if bids and asks:
            assert bids[0][0] < asks[0][0], (symbol, bids[0], asks[0])
        assert [p for p, _, _ in bids] == sorted({p for p, _, _ in bids}, reverse=True)
        assert [p for p, _, _ in asks] == sorted({p for p, _, _ in asks})
        for side, levels in (("buy", bids), ("sell", asks)):
            expected: dict[int, list[int]] = defaultdict(lambda: [0, 0])
            for v in open_views:
                if v.market == symbol and v.side == side:
                    expected[v.price][0] += v.remaining_qty  # type: ignore[index]
                    expected[v.price][1] += 1  # type: ignore[index]
            assert {p: [q, n] for p, q, n in levels} == dict(expected)
            assert all(q > 0 and n > 0 for _, q, n in levels)


@settings(max_examples=150, deadline=None)
@given(STREAMS)
def test_book_is_never_crossed_and_depth_matches_open_orders(stream):
    ex = Exchange()
    for i, item in enumerate(stream, 1):
        step(ex, item, i)
        _check_book(ex)


@settings(max_examples=150, deadline=None)
@given(STREAMS)
def test_quantity_is_conserved(stream):
    ex, _, results = run_stream(stream)
    trades = [e for events in results for e in events if type(e) is Trade]
    by_order: dict[int, list[Trade]] = defaultdict(list)
    maker_qty = taker_qty = 0
    for t in trades:
        assert t.qty > 0
        assert t.maker_order != t.taker_order
        by_order[t.maker_order].append(t)
        by_order[t.taker_order].append(t)
        maker_qty += t.qty
        taker_qty += t.qty
    assert maker_qty == taker_qty
    assert [t.trade_id for t in trades] == list(range(1, len(trades) + 1))
    total_filled = 0
    for order_id in range(1, ex.next_order_id):
        view = ex.order(order_id)
        assert view is not None
        fills = by_order.get(order_id, [])
        assert view.filled_qty + view.remaining_qty == view.qty
        assert view.filled_qty == sum(t.qty for t in fills)
        assert view.notional == sum(t.qty * t.price for t in fills)
        assert 0 <= view.remaining_qty <= view.qty
        if view.status == "filled":
            assert view.remaining_qty == 0
        elif view.status == "resting":
            assert view.filled_qty == 0
        elif view.status == "partially_filled":
            assert 0 < view.filled_qty < view.qty
        elif view.status in ("rejected", "untriggered"):
            assert view.filled_qty == 0
        else:
            assert view.status == "cancelled"
        total_filled += view.filled_qty
    assert total_filled == 2 * maker_qty
    # a maker's remaining after each trade, as reported, is its remaining at that moment
    left: dict[int, int] = {}
    for events in results:
        for e in events:
            if type(e) is Accepted:
                left[e.order_id] = e.qty
            elif type(e) is Amended:
                left[e.order_id] = e.remaining_qty
            elif type(e) is Trade:
                left[e.maker_order] -= e.qty
                left[e.taker_order] -= e.qty
                assert left[e.maker_order] == e.maker_remaining
            elif type(e) is Done and not e.duplicate:
                if e.order_id not in left:  # refused before acceptance (unknown market)
                    assert (e.status, e.filled_qty) == ("rejected", 0)
                    continue
                assert left[e.order_id] == e.remaining_qty
                assert e.status not in OPEN or e.remaining_qty > 0


def _check_triggered(events: list, time: int) -> None:
    """After a command's own events, groups each of a ``Triggered`` then that order's
    trades, cancels (its own, or a maker's by self-trade prevention), rejection and its
    ``Done`` last; the groups in order id order while crossed by the same price."""
    groups: list[list] = []
    for e in events[len(own_events(events)) :]:
        if type(e) is Triggered:
            groups.append([])
        groups[-1].append(e)
    for group in groups:
        trigger, done = group[0], group[-1]
        assert type(done) is Done and done.order_id == trigger.order_id and not done.duplicate
        assert [e for e in group if type(e) is Done] == [done]
        assert [t for t in group if type(t) is Trade] == list(done.trades)
        assert all(t.taker_order == trigger.order_id for t in done.trades)
        assert trigger.time == time
        crossed = trigger.last_price >= trigger.trigger if trigger.side == "buy" else (
            trigger.last_price <= trigger.trigger)  # fmt: skip
        assert crossed, trigger
    for first, second in pairwise(groups):
        if first[0].last_price == second[0].last_price:
            assert first[0].order_id < second[0].order_id


@settings(max_examples=150, deadline=None)
@given(STREAMS)
def test_every_submit_ends_in_one_done_and_ids_count_up(stream):
    ex = Exchange()
    next_id = 1
    for index, cmd in enumerate(stream, 1):
        events = step(ex, cmd, index)
        for e in events:
            if not (type(e) is Done and e.duplicate):
                assert (e.index, e.time) == (index, ex.time), e
        if isinstance(cmd, Tick):  # expiries only: each a Cancelled (expired) then its Done
            assert [type(e) for e in events] == [Cancelled, Done] * (len(events) // 2)
            assert all(e.reason == "expired" for e in events)
            continue
        _check_triggered(events, ex.time)
        events = own_events(events)
        dones = [e for e in events if type(e) is Done]
        if isinstance(cmd, Submit):
            assert len(dones) == 1
            done = dones[0]
            assert done.owner == cmd.owner and done.client_id == cmd.client_id
            if done.duplicate:
                assert len(events) == 1
                assert done.order_id < next_id
            else:
                assert done.order_id == next_id
                next_id += 1
                assert events[-1] is done
                assert done.filled_qty + done.remaining_qty == cmd.qty
                assert list(done.trades) == [e for e in events if type(e) is Trade]
        for e in events:
            if type(e) is Trade:
                assert e.taker_order == (events[0].order_id if isinstance(cmd, Submit)
                                         else cmd.order_id)  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(STREAMS, st.data())
def test_snapshot_and_restore_mid_stream_change_nothing(stream, data):
    cut = data.draw(st.integers(0, len(stream)), label="cut")
    original = Exchange()
    for i, cmd in enumerate(stream[:cut], 1):
        step(original, cmd, i)
    blob = original.snapshot()
    copy = Exchange.restore(blob)
    assert copy.digest() == original.digest()
    assert copy.snapshot() == blob
    for i, cmd in enumerate(stream[cut:], cut + 1):
        assert step(copy, cmd, i) == step(original, cmd, i), cmd
        assert copy.digest() == original.digest()
        assert copy.next_expiry() == original.next_expiry()
    for symbol in original.markets:
        assert copy.depth(symbol) == original.depth(symbol)
        assert copy.recent_trades(symbol) == original.recent_trades(symbol)
        assert copy.candles(symbol, "1m", 1000) == original.candles(symbol, "1m", 1000)


@settings(max_examples=100, deadline=None)
@given(STREAMS)
def test_same_stream_gives_same_digest_and_events(stream):
    first, second = Exchange(), Exchange()
    digests = []
    for i, cmd in enumerate(stream, 1):
        logged = wire(cmd)  # what a peer gets from the log
        assert logged == cmd
        assert step(first, cmd, i) == step(second, logged, i)
        digests.append(first.digest())
        assert digests[-1] == second.digest()
    assert first.snapshot() == second.snapshot()
    # sanity: the digest tells different states apart
    probe = Submit("zed", next(iter(first.markets)), "buy", "limit", 1, 1)
    before = first.digest()
    first.apply(probe, len(stream))
    after_submit = first.digest()
    first.apply(Cancel("zed", first.next_order_id - 1), len(stream))
    after_cancel = first.digest()
    assert len({before, after_submit, after_cancel}) == 3
    assert second.digest() == before
