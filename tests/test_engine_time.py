"""Consensus time in the engine: ``Exchange.advance``, events and orders stamped with time,
good-till-date orders (accepted, refused, expired in order, funds released), the expiry
index (``next_expiry``), the candles fed by trades, and time in snapshots."""

import json

import pytest
from engine_helpers import BTC, ETH, Driver, bal, bank, kinds, of, one

from engine import (
    Accepted,
    Amended,
    Cancelled,
    Done,
    Exchange,
    InvalidInput,
    Rejected,
    Submit,
    Trade,
    encode_command,
    parse_command,
)

T0 = 1_800_000_000_000  # ms since the epoch: some day in 2027
HEADER = b"dex-engine-snapshot/3\n"


def timed(*symbols: str) -> Driver:
    d = Driver(*symbols)
    assert d.advance(T0) == []
    return d


# ---------------------------------------------------------------------- advance


def test_time_starts_at_zero_and_advance_sets_it_and_the_index():
    d = Driver()
    assert d.ex.time == 0
    assert d.advance(T0) == []
    assert (d.ex.time, d.ex.applied_index) == (T0, d.index)


def test_time_never_goes_back():
    d = timed()
    d.advance(T0 - 5_000)
    assert d.ex.time == T0
    d.advance(T0 + 1)
    assert d.ex.time == T0 + 1


def test_advance_behind_the_applied_index_is_refused():
    d = timed()
    with pytest.raises(ValueError, match="behind"):
        d.ex.advance(T0 + 1, d.index - 1)
    assert d.ex.time == T0


def test_commands_of_an_entry_share_its_index_and_time():
    d = timed()
    d.index += 1
    d.ex.advance(T0 + 7, d.index)
    first, second = d.ex.apply_batch(
        [Submit("alice", BTC, "sell", "limit", 100, 1), Submit("bob", BTC, "buy", "limit", 100, 1)],
        d.index,
    )
    assert {(e.index, e.time) for e in first + second} == {(d.index, T0 + 7)}


def test_every_event_of_an_order_carries_the_time_of_its_entry():
    d = timed()
    ask = d.rest("alice", "sell", 100, 5)
    d.advance(T0 + 10)
    trade_events = d.buy("bob", 100, 2)
    d.advance(T0 + 20)
    amended = d.amend("alice", ask, price=101)
    d.advance(T0 + 30)
    cancelled = d.cancel("alice", ask)
    refused = d.cancel("alice", ask)
    assert [e.time for e in trade_events] == [T0 + 10] * 3
    assert kinds(trade_events) == ["Accepted", "Trade", "Done"]
    assert one(trade_events, Done).trades[0].time == T0 + 10
    assert [type(e) for e in amended] == [Amended, Done] and {e.time for e in amended} == {T0 + 20}
    assert one(cancelled, Cancelled).time == T0 + 30
    assert one(refused, Rejected).time == T0 + 30
    assert d.ex.recent_trades(BTC)[0].time == T0 + 10


def test_an_order_remembers_the_time_it_took_its_place():
    d = timed()
    bid = d.rest("alice", "buy", 90, 5)
    view = d.ex.order(bid)
    assert view is not None
    assert (view.time, view.expire_at, view.trigger) == (T0, None, None)
    d.advance(T0 + 50)
    d.amend("alice", bid, qty=4)  # keeps its place: and its time
    assert d.ex.order(bid).time == T0  # type: ignore[union-attr]
    d.amend("alice", bid, price=91)  # re-queued: a new place, a new time
    assert d.ex.order(bid).time == T0 + 50  # type: ignore[union-attr]


# ---------------------------------------------------------------------- good-till-date


def test_a_gtd_order_rests_with_its_expiry():
    d = timed()
    events = d.buy("alice", 100, 5, expire_at=T0 + 1_000)
    assert kinds(events) == ["Accepted", "Done"]
    assert one(events, Done).status == "resting"
    view = d.ex.order(one(events, Done).order_id)
    assert view is not None and (view.tif, view.expire_at) == ("gtd", T0 + 1_000)
    assert d.ex.next_expiry() == T0 + 1_000


@pytest.mark.parametrize("expire_at", [T0, T0 - 1, 1])
def test_a_gtd_order_not_expiring_after_the_time_is_rejected_and_holds_nothing(expire_at):
    d = bank()
    d.advance(T0)
    events = d.buy("alice", 100, 5, expire_at=expire_at)
    assert kinds(events) == ["Rejected", "Done"]
    refusal = one(events, Rejected)
    assert refusal.code == "invalid" and refusal.reason.startswith("expire_at: ")
    assert str(T0) in refusal.reason
    assert one(events, Done).status == "rejected"
    assert d.ex.depth(BTC) == ([], []) and bal(d, "alice", "USD")[1] == 0
    assert d.ex.next_expiry() is None


def test_advance_expires_due_orders_in_expiry_then_id_order_each_cancelled_then_done():
    d = timed()
    late = d.rest("alice", "sell", 110, 1, expire_at=T0 + 300)
    first = d.rest("bob", "buy", 90, 2, expire_at=T0 + 100)
    tie_a = d.rest("carol", "sell", 111, 3, expire_at=T0 + 200)
    tie_b = d.rest("alice", "buy", 89, 4, expire_at=T0 + 200)
    keeps = d.rest("bob", "buy", 88, 1)  # good till cancelled
    assert d.ex.next_expiry() == T0 + 100
    assert d.advance(T0 + 99) == []
    events = d.advance(T0 + 200)  # first, then both due at +200 by id; late is not due
    assert kinds(events) == ["Cancelled", "Done"] * 3
    assert [e.order_id for e in of(events, Cancelled)] == [first, tie_a, tie_b]
    assert {(e.reason, e.index, e.time) for e in of(events, Cancelled)} == {
        ("expired", d.index, T0 + 200)
    }
    assert [(e.status, e.reason) for e in of(events, Done)] == [("cancelled", "expired")] * 3
    assert [e.remaining_qty for e in of(events, Done)] == [2, 3, 4]
    assert d.ex.next_expiry() == T0 + 300
    assert [v.order_id for o in ("alice", "bob", "carol") for v in d.ex.open_orders(o)] == [
        late,
        keeps,
    ]
    assert one(d.advance(T0 + 10_000), Cancelled).order_id == late
    assert d.ex.next_expiry() is None and d.ex.depth(BTC) == ([(88, 1, 1)], [])


def test_an_expiry_releases_what_the_order_held():
    d = bank()
    d.advance(T0)
    d.rest("alice", "buy", 100, 5, expire_at=T0 + 10)
    d.rest("bob", "sell", 120, 7, expire_at=T0 + 10)
    assert bal(d, "alice", "USD")[1] == 500 and bal(d, "bob", "BTC")[1] == 7
    d.advance(T0 + 10)
    assert bal(d, "alice", "USD") == (10_000_000, 0)
    assert bal(d, "bob", "BTC") == (1_000, 0)
    assert d.ex.totals() == d.ex.granted()


def test_a_partly_filled_gtd_order_expires_with_what_is_left():
    d = timed()
    bid = d.rest("alice", "buy", 100, 5, expire_at=T0 + 10)
    d.sell("bob", 100, 2)
    events = d.advance(T0 + 10)
    assert one(events, Cancelled).remaining_qty == 3
    done = one(events, Done)
    assert (done.order_id, done.filled_qty, done.remaining_qty, done.notional) == (bid, 2, 3, 200)
    assert d.status(bid) == "cancelled"


def test_a_filled_or_cancelled_gtd_order_no_longer_expires():
    d = timed()
    d.rest("alice", "buy", 100, 5, expire_at=T0 + 10)
    d.sell("bob", 100, 5)
    gone = d.rest("carol", "buy", 99, 1, expire_at=T0 + 20)
    d.cancel("carol", gone)
    assert d.ex.next_expiry() is None
    assert d.advance(T0 + 100) == []


def test_an_amended_gtd_order_keeps_its_expiry():
    d = timed()
    bid = d.rest("alice", "buy", 100, 5, expire_at=T0 + 10)
    d.amend("alice", bid, qty=3)  # in place
    d.amend("alice", bid, price=98)  # re-queued
    view = d.ex.order(bid)
    assert view is not None and (view.expire_at, view.price, view.qty) == (T0 + 10, 98, 3)
    assert d.ex.next_expiry() == T0 + 10
    assert one(d.advance(T0 + 10), Cancelled).order_id == bid


def test_a_gtd_order_may_trade_at_once_and_rest_what_is_left():
    d = timed()
    d.rest("alice", "sell", 100, 2)
    events = d.buy("bob", 100, 5, expire_at=T0 + 10)
    assert one(events, Done).status == "partially_filled"
    assert one(d.advance(T0 + 10), Done).remaining_qty == 3


def test_a_gtd_order_may_be_post_only_ioc_has_no_expiry():
    d = timed()
    assert one(d.buy("alice", 90, 1, expire_at=T0 + 5, post_only=True), Done).status == "resting"
    d.rest("bob", "sell", 95, 1)
    crossing = d.buy("carol", 95, 1, expire_at=T0 + 5, post_only=True)
    assert one(crossing, Rejected).code == "would_cross"
    with pytest.raises(InvalidInput) as info:
        parse_command({"op": "submit", "owner": "a", "market": BTC, "side": "buy", "price": 1,
                       "qty": 1, "tif": "ioc", "expire_at": T0})  # fmt: skip
    assert info.value.field == "expire_at"


def test_a_duplicate_of_an_expired_order_gets_its_first_answer():
    d = timed()
    first = d.buy("alice", 100, 5, expire_at=T0 + 10, client_id="k")
    d.advance(T0 + 10)
    again = d.buy("alice", 100, 5, expire_at=T0 + 99, client_id="k")
    assert again == [one(first, Done)._replace(duplicate=True)]


def test_expiries_of_an_entry_come_before_its_commands():
    d = timed()
    d.rest("alice", "sell", 100, 1, expire_at=T0 + 10)
    d.index += 1
    expired = d.ex.advance(T0 + 10, d.index)
    (after,) = d.ex.apply_batch([Submit("bob", BTC, "buy", "limit", 100, 1)], d.index)
    assert kinds(expired) == ["Cancelled", "Done"]
    assert one(after, Done).status == "resting"  # nothing left to trade with


def test_the_expiry_index_drops_stale_entries_so_it_stays_small():
    d = timed()
    for n in range(500):  # every one filled or cancelled before it could expire
        oid = d.rest("alice", "buy", 90, 1, expire_at=T0 + 1_000 + n)
        d.cancel("alice", oid)
    keep = d.rest("bob", "buy", 90, 1, expire_at=T0 + 5_000)
    assert len(d.ex.expiries.entries) <= 2 * 1 + 64
    assert d.ex.next_expiry() == T0 + 5_000
    assert one(d.advance(T0 + 5_000), Cancelled).order_id == keep


def test_many_due_orders_expire_in_one_advance():
    d = timed()
    ids = [d.rest("alice", "buy", 50 + n % 40, 1, expire_at=T0 + 1 + n % 7) for n in range(200)]
    events = d.advance(T0 + 7)
    expected = sorted(ids, key=lambda oid: (T0 + 1 + (oid - ids[0]) % 7, oid))
    assert [e.order_id for e in of(events, Cancelled)] == expected
    assert d.ex.depth(BTC) == ([], []) and d.ex.next_expiry() is None


# ---------------------------------------------------------------------- parsing


SUBMIT = {"op": "submit", "owner": "a", "market": BTC, "side": "buy", "price": 100, "qty": 1}


@pytest.mark.parametrize(
    "fields",
    [
        {"tif": "gtd"},  # required
        {"tif": "gtd", "expire_at": None},
        {"tif": "gtd", "expire_at": 0},
        {"tif": "gtd", "expire_at": -5},
        {"tif": "gtd", "expire_at": 2**53},
        {"tif": "gtd", "expire_at": True},
        {"tif": "gtd", "expire_at": 1.5e12},
        {"tif": "gtd", "expire_at": "1800000000000"},
        {"tif": "gtc", "expire_at": T0},  # forbidden otherwise
        {"expire_at": T0},
        {"type": "market", "price": None, "tif": "ioc", "expire_at": T0},
    ],
)
def test_expire_at_is_strict_and_named(fields):
    with pytest.raises(InvalidInput) as info:
        parse_command({**SUBMIT, **fields})
    assert info.value.field == "expire_at"


@pytest.mark.parametrize("kind", ["market", "stop"])
def test_an_order_that_becomes_a_market_order_cannot_be_gtd(kind):
    with pytest.raises(InvalidInput) as info:
        parse_command({**SUBMIT, "type": kind, "tif": "gtd", "expire_at": T0, "trigger": 5})
    assert info.value.field == "tif"


def test_a_gtd_submit_round_trips_and_null_new_fields_are_not_encoded():
    gtd = parse_command({**SUBMIT, "tif": "gtd", "expire_at": T0})
    assert gtd == Submit("a", BTC, "buy", "limit", 100, 1, "gtd", expire_at=T0)
    assert parse_command(json.loads(json.dumps(encode_command(gtd)))) == gtd
    plain = encode_command(Submit("a", BTC, "buy", "limit", 100, 1))
    assert "expire_at" not in plain and "trigger" not in plain  # encoded as before time
    assert parse_command(plain) == Submit("a", BTC, "buy", "limit", 100, 1)


# ---------------------------------------------------------------------- candles


def test_trades_feed_the_candles_at_the_exchange_time():
    d = timed(BTC, ETH)
    assert d.ex.candles(BTC, "1m", 10) == [] and d.ex.ticker(BTC) is None
    d.rest("alice", "sell", 100, 10)
    d.rest("alice", "sell", 104, 10)
    d.buy("bob", 100, 3)
    d.advance(T0 + 60_000)
    d.buy("bob", 104, 10)  # 7 at 100, then 3 at 104
    assert d.ex.candles(BTC, "1m", 10) == [(T0, 100, 100, 100, 100, 3),
                                           (T0 + 60_000, 100, 104, 100, 104, 10)]  # fmt: skip
    assert d.ex.candles(BTC, "5m", 10) == [(T0 - T0 % 300_000, 100, 104, 100, 104, 13)]
    assert d.ex.ticker(BTC) == (104, 4, 104, 100, 13)
    assert d.ex.candles(ETH, "1h", 5) == []


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda ex: ex.candles("XRP/USD", "1m", 10), "market"),
        (lambda ex: ex.ticker("XRP/USD"), "market"),
        (lambda ex: ex.candles(BTC, "2m", 10), "interval"),
        (lambda ex: ex.candles(BTC, "1m", 0), "limit"),
    ],
)
def test_candle_queries_name_the_bad_field(call, field):
    with pytest.raises(InvalidInput) as info:
        call(timed().ex)
    assert info.value.field == field


# ---------------------------------------------------------------------- snapshots


def _state(ex: Exchange) -> list:
    return json.loads(ex.snapshot()[len(HEADER) :])


def test_the_snapshot_carries_time_expiries_and_candles():
    d = timed()
    d.rest("alice", "buy", 100, 5, expire_at=T0 + 10)
    d.rest("bob", "sell", 101, 5, expire_at=T0 + 20)
    d.sell("carol", 100, 1)
    blob = d.ex.snapshot()
    assert blob.startswith(HEADER)
    copy = Exchange.restore(blob)
    assert copy.snapshot() == blob and copy.digest() == d.ex.digest()
    assert copy.time == T0 and copy.next_expiry() == T0 + 10
    assert copy.candles(BTC, "1m", 5) == d.ex.candles(BTC, "1m", 5) != []
    index = d.index + 1
    assert copy.advance(T0 + 20, index) == d.ex.advance(T0 + 20, index) != []
    assert copy.digest() == d.ex.digest()


def test_time_alone_changes_the_digest():
    d = timed()
    before = d.ex.digest()
    d.advance(T0 + 1)
    assert d.ex.digest() != before


def _restore_with(ex: Exchange, change) -> None:
    state = _state(ex)
    change(state)
    Exchange.restore(HEADER + json.dumps(state, separators=(",", ":")).encode())


def _bid_row(state: list) -> list:
    return state[6][0][5][0]  # the first market's first bid


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.__setitem__(5, -1),  # a negative time
        lambda s: _bid_row(s).__setitem__(17, T0),  # expires at (not after) the time
        lambda s: _bid_row(s).__setitem__(17, None),  # gtd without expire_at
        lambda s: _bid_row(s).__setitem__(12, "gtc"),  # expire_at without gtd
        lambda s: _bid_row(s).__setitem__(16, T0 + 1),  # an order from the future
        lambda s: s.__setitem__(5, T0 - 1),  # (the same, by moving time back)
    ],
)
def test_a_snapshot_with_impossible_times_is_refused(change):
    d = timed()
    d.rest("alice", "buy", 100, 5, expire_at=T0 + 10)
    _restore_with(d.ex, lambda s: None)  # the re-encoding alone is fine
    with pytest.raises(InvalidInput) as info:
        _restore_with(d.ex, change)
    assert info.value.field == "snapshot"


def test_an_older_snapshot_version_is_refused():
    blob = timed().ex.snapshot().replace(HEADER, b"dex-engine-snapshot/2\n")
    with pytest.raises(InvalidInput, match="version 3"):
        Exchange.restore(blob)


def test_accepted_carries_the_time_too():
    d = timed()
    d.advance(T0 + 3)
    assert one(d.buy("alice", 100, 1), Accepted).time == T0 + 3
    assert of(d.sell("bob", 100, 1), Trade)[0].time == T0 + 3
