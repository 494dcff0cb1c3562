"""Snapshots and digests: canonical versioned bytes; restore refuses anything else."""

import json

import pytest
from engine_helpers import BTC, ETH, Driver, one, run
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Cancel, CancelAll, Done, Exchange, InvalidInput, Submit

PREFIX = b"dex-engine-snapshot/"


def _busy() -> Driver:
    """Two markets with resting, partially filled, filled, cancelled and rejected orders, a
    good-till-date order, stops waiting for their trigger and a time."""
    d = Driver(BTC, ETH)
    d.advance(1_800_000_000_000)
    d.rest("alice", "sell", 123, 7, client_id="k1")
    d.rest("alice", "sell", 124, 5, client_id="k2", post_only=True)
    d.buy("bob", 123, 3, client_id="k1")  # partial fill of alice's first
    d.rest("bob", "buy", 120, 4, stp="cancel_both")
    d.rest("carol", "buy", 120, 2, market=ETH)
    d.sell("carol", 119, 1, market=ETH, tif="ioc")  # fills carol's own bid (stp none)
    oid = d.rest("carol", "sell", 130, 9)
    d.cancel("carol", oid)
    d.buy("dave", 150, 100, tif="fok")  # rejected
    d.buy("dave", None, 1, type="market")
    d.rest("erin", "buy", 110, 3, expire_at=1_800_000_600_000)
    d.submit("erin", "buy", None, 2, type="stop", trigger=140)  # waits: last is 123
    d.submit("erin", "sell", 105, 2, type="stop_limit", trigger=106, market=ETH, tif="fok")
    return d


def _body(data: bytes) -> object:
    header, _, body = data.partition(b"\n")
    assert header.startswith(PREFIX)
    return json.loads(body)


def _views(ex: Exchange) -> list:
    return [ex.order(i) for i in range(1, ex.next_order_id + 2)]


def _queries(ex: Exchange) -> tuple:
    return (
        list(ex.markets),
        [ex.depth(s) for s in ex.markets],
        [ex.recent_trades(s) for s in ex.markets],
        [ex.open_orders(o) for o in ("alice", "bob", "carol", "dave", "erin")],
        _views(ex),
        (ex.next_order_id, ex.next_trade_id, ex.applied_index),
    )


def test_snapshot_has_a_version_header_then_json():
    data = _busy().ex.snapshot()
    header, newline, body = data.partition(b"\n")
    assert newline == b"\n"
    assert header.startswith(PREFIX)
    version = header[len(PREFIX) :]
    assert version.isdigit()
    assert int(version) >= 1
    json.loads(body)


def test_snapshot_holds_no_floats():
    def walk(value: object) -> None:
        assert not isinstance(value, float), value
        if isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(_body(_busy().ex.snapshot()))


def test_restore_reproduces_the_state():
    d = _busy()
    data = d.ex.snapshot()
    restored = Exchange.restore(data)
    assert restored.snapshot() == data
    assert restored.digest() == d.ex.digest()
    assert _queries(restored) == _queries(d.ex)


def test_restore_of_an_empty_exchange():
    ex = Exchange()
    restored = Exchange.restore(ex.snapshot())
    assert restored.digest() == ex.digest()
    assert restored.markets == {}
    assert (restored.next_order_id, restored.next_trade_id, restored.applied_index) == (1, 1, 0)


def test_restored_exchange_continues_identically():
    d = _busy()
    restored = Exchange.restore(d.ex.snapshot())
    more = [
        Submit("bob", BTC, "buy", "limit", 124, 20, stp="cancel_maker"),  # sweeps alice
        Submit("bob", BTC, "buy", "limit", 123, 3, client_id="k1"),  # duplicate
        Submit("alice", BTC, "sell", "limit", 123, 1, client_id="k1"),  # duplicate
        Cancel("alice", client_id="k2"),
        Submit("carol", ETH, "sell", "market", None, 5, "ioc"),
    ]
    start = d.index + 1
    _, original = run(more, d.ex, start)
    _, copy = run(more, restored, start)
    assert copy == original
    assert restored.digest() == d.ex.digest()
    assert original[1][0].duplicate is True
    assert original[2][0].duplicate is True


def test_restore_keeps_time_priority_within_a_level():
    d = Driver()
    first = d.rest("a", "sell", 100, 1)
    second = d.rest("b", "sell", 100, 1)
    d.cancel("a", first)
    third = d.rest("c", "sell", 100, 1)
    restored = Exchange.restore(d.ex.snapshot())
    events = restored.apply(Submit("x", BTC, "buy", "limit", 100, 2), d.index + 1)
    assert [t.maker_order for t in one(events, Done).trades] == [second, third]


def test_digest_is_hex_sha256_and_changes_with_state():
    d = Driver()
    digests = [d.ex.digest()]
    oid = d.rest("a", "sell", 100, 1)
    digests.append(d.ex.digest())
    d.amend("a", oid, qty=2)
    digests.append(d.ex.digest())
    d.cancel("a", oid)
    digests.append(d.ex.digest())
    assert len(set(digests)) == len(digests)
    assert all(len(x) == 64 and int(x, 16) >= 0 for x in digests)
    assert d.ex.digest() == d.ex.digest()  # queries do not change it


def test_queries_do_not_change_the_digest():
    d = _busy()
    before = d.ex.digest()
    _queries(d.ex)
    d.ex.order_by_client_id("someone-new", "x")
    d.ex.snapshot()
    assert d.ex.digest() == before


# ---------------------------------------------------------------------- bad snapshots

GOOD = _busy().ex.snapshot()
HEADER, _, BODY = GOOD.partition(b"\n")
HEADER += b"\n"

BAD = [
    b"",
    b"garbage",
    b"\x00\xff\xfe",
    BODY,  # no header
    HEADER,  # header only
    b"dex-engine-snapshot/999\n" + BODY,
    b"dex-engine-snapshot/0\n" + BODY,
    b"DEX-ENGINE-SNAPSHOT/1\n" + BODY,
    b"other-format/1\n" + BODY,
    HEADER.rstrip(b"\n") + BODY,  # no newline after the header
    HEADER + b"not json",
    HEADER + b"\xff\xfe\xfd",
    HEADER + b"{}",
    HEADER + b"[]",
    HEADER + b"null",
    HEADER + b"42",
    HEADER + b'"text"',
    HEADER + b"[1, 2, 3]",
    HEADER + b"[1, 2, 3, 4, 5, 6, 7]",
    HEADER + b'[100, 10, 1, 1, 0, "markets", []]',
    HEADER + b"[100, 10, 1, 1, 0, [[1, 2]], []]",
    HEADER + b"[100, 10, 1, 1, 0, [], [[1, 2, 3]]]",
    HEADER + b'[100, -1, 1, 1, 0, [["A/B", "A", "B", "1", "1", [], [], []]], []]',
    HEADER + b'[100, 10, 1, 1, 0, [["A/B", "A", "B", "x", "1", [], [], []]], []]',
    HEADER + b"[null, 10, 1, 1, 0, [], []]",
    HEADER + BODY + b"]",
    HEADER + BODY + BODY,
]


@pytest.mark.parametrize("data", BAD)
def test_restore_refuses_garbage(data):
    with pytest.raises(InvalidInput) as info:
        Exchange.restore(data)
    assert info.value.field == "snapshot"


@pytest.mark.parametrize("value", ["not bytes", None, 5, [GOOD], bytearray(b"x")])
def test_restore_refuses_what_is_not_bytes(value):
    with pytest.raises(InvalidInput) as info:
        Exchange.restore(value)
    assert info.value.field == "snapshot"


def test_restore_refuses_every_truncation():
    for cut in range(len(GOOD)):
        with pytest.raises(InvalidInput):
            Exchange.restore(GOOD[:cut])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_after_the_header_never_raise_anything_else(tail):
    try:
        Exchange.restore(HEADER + tail)
    except InvalidInput as exc:
        assert exc.field == "snapshot"


def test_deeply_nested_snapshot_is_invalid_input():
    with pytest.raises(InvalidInput):
        Exchange.restore(HEADER + b"[" * 100_000)


# Mutations of one resting order row or one trade row, found by content rather than by
# position so that the tests do not depend on the snapshot's layout.


def _find_rows(value: object, match) -> list[list]:
    found = []
    if isinstance(value, list):
        if match(value):
            found.append(value)
        for item in value:
            found.extend(_find_rows(item, match))
    return found


def _mutated(kind: str, old: object, new: object) -> bytes:
    state = _body(GOOD)

    def resting_row(row: list) -> bool:  # alice's partially filled sell 7 @ 123
        return row[:1] == [1] and "partially_filled" in row and "limit" in row

    def trade_row(row: list) -> bool:  # the 3 @ 123 trade
        return row[:1] == [1] and "limit" not in row and 123 in row and "buy" in row

    rows = _find_rows(state, resting_row if kind == "order" else trade_row)
    assert rows, "row not found"
    for row in rows[:1]:
        row[row.index(old)] = new
    data = HEADER + json.dumps(state).encode()
    assert data != GOOD
    return data


def test_resting_order_without_price_is_invalid_input():
    with pytest.raises(InvalidInput):
        Exchange.restore(_mutated("order", 123, None))


@pytest.mark.parametrize(
    ("kind", "old", "new"),
    [
        ("trade", 123, 1.5),  # a float price in the trade tape
        ("trade", 3, "three"),  # a string quantity in the trade tape
        ("order", "sell", "up"),  # a side that does not exist
        ("order", "partially_filled", "bogus"),  # a status that does not exist
        ("order", 7, -7),  # a negative remaining quantity
        ("order", "BTC/USD", "ETH/USD"),  # an order parked in another market's book
    ],
)
def test_restore_refuses_impossible_values(kind, old, new):
    with pytest.raises(InvalidInput):
        Exchange.restore(_mutated(kind, old, new))


def test_restored_foreign_order_does_not_crash_apply():
    try:
        ex = Exchange.restore(_mutated("order", "BTC/USD", "ETH/USD"))
    except InvalidInput:
        return  # refusing the snapshot is fine too
    ex.apply(Cancel("alice", 1), 100)


def _scalar_paths(value: object, path: tuple = ()) -> list[tuple]:
    if not isinstance(value, list):
        return [path]
    return [p for i, item in enumerate(value) for p in _scalar_paths(item, (*path, i))]


GOOD_STATE = _body(GOOD)
PATHS = _scalar_paths(GOOD_STATE)
replacements = (
    st.none()
    | st.booleans()
    | st.integers(-3, 300)
    | st.floats(allow_nan=False)
    | st.just([])
    | st.sampled_from(("", "buy", "sell", "limit", "market", "gtc", "fok", "resting", "filled",
                       "cancelled", BTC, ETH, "alice", "bob", "k1", "none", "cancel_both"))
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PATHS), replacements), min_size=1, max_size=3))
def test_corrupted_snapshot_is_refused_or_usable(changes):
    state = json.loads(json.dumps(GOOD_STATE))
    for path, value in changes:
        target = state
        for i in path[:-1]:
            target = target[i]
        target[path[-1]] = value
    try:
        ex = Exchange.restore(HEADER + json.dumps(state).encode())
    except InvalidInput as exc:
        assert exc.field == "snapshot"
        return
    # accepted: then it must work like any exchange
    index = ex.applied_index + 1
    for symbol in ex.markets:
        for side in ("buy", "sell"):
            ex.apply(Submit("x", symbol, side, "market", None, 1000, "ioc"), index)
    for owner in ("alice", "bob", "carol", "dave", "erin"):
        ex.apply(CancelAll(owner), index)
    assert Exchange.restore(ex.snapshot()).digest() == ex.digest()


def _with_top_level(value_of: str, new: int) -> bytes:
    """GOOD with one of the exchange's counters (found by value) replaced."""
    ex = Exchange.restore(GOOD)
    old = getattr(ex, value_of)
    state = _body(GOOD)
    assert isinstance(state, list) and state.count(old) == 1
    state[state.index(old)] = new
    return HEADER + json.dumps(state).encode()


@pytest.mark.parametrize("counter", ["next_order_id", "next_trade_id"])
def test_restore_refuses_counters_behind_existing_ids(counter):
    with pytest.raises(InvalidInput):
        Exchange.restore(_with_top_level(counter, 1))


def test_restore_refuses_a_crossed_book():
    state = _body(GOOD)
    [bid] = _find_rows(state, lambda r: "bob" in r and "resting" in r and 120 in r and 4 in r)
    bid[bid.index(120)] = 130  # above alice's ask at 123
    with pytest.raises(InvalidInput):
        Exchange.restore(HEADER + json.dumps(state).encode())
