"""The replicated state machine: engine commands, member directory, request dedupe."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import CreateMarket, Submit, encode_command
from net.machine import Machine, Requests

MARKET = encode_command(CreateMarket("BTC/USD", "BTC", "USD", "0.1", "0.001"))


def batch(*items: tuple[int, int, object]) -> bytes:
    return json.dumps({"c": [[o, s, encode_command(c)] for o, s, c in items]}).encode()


def buy(price: int, qty: int = 1, client_id: str | None = None) -> Submit:
    return Submit("alice", "BTC/USD", "buy", "limit", price, qty, client_id=client_id)


def test_commands_apply_in_order_with_their_index() -> None:
    m = Machine()
    results = list(m.apply(3, json.dumps({"c": [[1, 1, MARKET]]}).encode()))
    results += list(m.apply(4, batch((1, 2, buy(100)), (2, 1, buy(101)))))
    assert [(r.origin, r.seq, r.index) for r in results] == [(1, 1, 3), (1, 2, 4), (2, 1, 4)]
    assert m.exchange.depth("BTC/USD")[0] == [(101, 1, 1), (100, 1, 1)]
    assert m.applied_index == 4


def test_a_request_proposed_twice_applies_once_even_out_of_order() -> None:
    m = Machine()
    m.apply(1, json.dumps({"c": [[1, 1, MARKET]]}).encode())
    first = list(m.apply(2, batch((1, 3, buy(100)))))
    late = list(m.apply(3, batch((1, 2, buy(99)), (1, 3, buy(100)))))
    assert first[0].events is not None
    assert late[0].events is not None  # seq 2 was never applied: it is new
    assert late[1].events is None  # seq 3 again: a duplicate
    assert m.exchange.depth("BTC/USD")[0] == [(100, 1, 1), (99, 1, 1)]


def test_directory_and_cluster_id() -> None:
    m = Machine()
    m.apply(1, b'{"cluster":"c-42"}')
    list(m.apply(2, b'{"cluster":"c-other"}'))  # only the founding entry counts
    m.apply(3, b'{"m":[7,"alice","127.0.0.1:4001"]}')
    assert m.cluster_id == "c-42"
    assert m.members[7].addr == "127.0.0.1:4001"


def test_snapshot_restores_everything() -> None:
    m = Machine()
    m.apply(1, b'{"cluster":"c-42"}')
    m.apply(2, b'{"m":[7,"alice","127.0.0.1:4001"]}')
    m.apply(3, json.dumps({"c": [[1, 1, MARKET]]}).encode())
    m.apply(4, batch((1, 2, buy(100, client_id="x"))))
    copy = Machine.restore(m.snapshot())
    assert copy.snapshot() == m.snapshot()
    assert copy.digest() == m.digest()
    assert copy.apply(5, batch((1, 2, buy(100))))[0].events is None  # dedupe survived


def test_the_dedupe_window_slides() -> None:
    table = Requests()
    assert all(table.admit(1, s) for s in range(1, 250_001))
    assert not table.admit(1, 1)  # at or below the floor: done long ago
    assert table.admit(2, 1)  # origins are independent


def test_a_bad_command_in_a_batch_is_reported_not_fatal() -> None:
    m = Machine()
    m.apply(1, json.dumps({"c": [[1, 1, MARKET]]}).encode())
    payload = json.dumps({"c": [[1, 2, {"op": "submit"}], [1, 3, encode_command(buy(100))]]})
    results = list(m.apply(2, payload.encode()))
    assert results[0].error is not None and results[0].events is None
    assert results[1].events is not None


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                              lambda inner: st.lists(inner, max_size=4)
                              | st.dictionaries(st.sampled_from(["c", "m", "cluster", "x"]),
                                                inner, max_size=2),
                              max_leaves=12).map(lambda v: json.dumps(v).encode())))  # fmt: skip
def test_no_payload_crashes_the_machine(payload: bytes) -> None:
    m = Machine()
    m.apply(1, json.dumps({"c": [[1, 1, MARKET]]}).encode())
    m.apply(2, payload)
    assert m.applied_index == 2


def test_a_cluster_is_pristine_until_a_trader_command_applies() -> None:
    m = Machine()
    m.apply(1, b'{"cluster":"c-42"}')
    m.apply(2, json.dumps({"c": [[1, 1, MARKET]]}).encode())
    assert m.pristine  # founding entries only: it may merge into another cluster
    m.apply(3, batch((1, 2, buy(100))))
    assert not m.pristine
    assert not Machine.restore(m.snapshot()).pristine  # it travels in snapshots


def test_an_entry_goes_to_the_engine_in_one_batch_with_the_same_outcome_as_one_by_one() -> None:
    """The peer applies an entry's commands with Exchange.apply_batch: events and state are
    exactly what applying them one at a time gives."""
    from engine import Exchange, parse_command

    commands = [buy(100 + n % 7, 1 + n % 3, client_id=f"c{n % 11}") for n in range(60)]
    m = Machine()
    m.apply(1, json.dumps({"c": [[1, 1, MARKET]]}).encode())
    outcomes = m.apply(2, batch(*((1, 2 + n, c) for n, c in enumerate(commands))))
    one_by_one = Exchange()
    one_by_one.apply(parse_command(MARKET), 1)
    expected = [one_by_one.apply(parse_command(encode_command(c)), 2) for c in commands]
    assert [o.events for o in outcomes] == expected
    assert m.exchange.digest() == one_by_one.digest()
