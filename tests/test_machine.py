"""The replicated state machine: signed trader batches, registration, the member directory,
request dedupe, and refusing what no trader signed."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import (
    FOUNDING_MARKETS,
    Cancel,
    Configure,
    CreateMarket,
    Exchange,
    OpenAccount,
    Submit,
    Transfer,
    encode_command,
)
from engine.accounts import DEFAULT_GRANT
from net.machine import Machine, Requests
from net.traders import Register, TraderKey, encode_trader_command, signed_payload
from net.writes import entry_payload

CLUSTER = "c-42"
ALICE = TraderKey.from_seed(b"a" * 32)
BOB = TraderKey.from_seed(b"b" * 32)
MALLORY = TraderKey.from_seed(b"m" * 32)


def founded() -> Machine:
    """A machine after a founding entry: cluster id, a market, money on."""
    m = Machine()
    m.apply(1, json.dumps({"cluster": CLUSTER}).encode())
    setup = (*FOUNDING_MARKETS, Configure(DEFAULT_GRANT))
    m.apply(2, entry_payload([[1, n, encode_command(c)] for n, c in enumerate(setup, 1)]))
    return m


def signed(key: TraderKey, *items: tuple[int, int, object], cluster: str = CLUSTER) -> bytes:
    return signed_payload(key, cluster, [[o, s, encode_trader_command(c)] for o, s, c in items])  # type: ignore[arg-type]


def trading(*keys: tuple[TraderKey, str]) -> Machine:
    """A founded machine with these traders registered (origin 1, seqs 1, 2...)."""
    m = founded()
    for n, (key, name) in enumerate(keys, 3):
        (outcome,) = m.apply(n, signed(key, (1, 1, Register(name))))
        assert outcome.error is None, outcome
    return m


def buy(price: int, qty: int = 1, client_id: str | None = None) -> Submit:
    # the owner is not signed: the machine sets it from the key
    return Submit("", "BTC/USD", "buy", "limit", price, qty, client_id=client_id)


def test_commands_apply_in_order_with_their_index_and_their_key_s_owner() -> None:
    m = trading((ALICE, "alice"), (BOB, "bob"))
    results = list(m.apply(9, signed(ALICE, (1, 2, buy(100)), (1, 3, buy(101)))))
    results += list(m.apply(10, signed(BOB, (2, 2, buy(102)))))
    assert [(r.origin, r.seq, r.index) for r in results] == [(1, 2, 9), (1, 3, 9), (2, 2, 10)]
    assert m.exchange.depth("BTC/USD")[0] == [(102, 1, 1), (101, 1, 1), (100, 1, 1)]
    assert [o.order_id for o in m.exchange.open_orders("alice")] == [1, 2]
    assert [o.order_id for o in m.exchange.open_orders("bob")] == [3]
    assert m.applied_index == 10


def test_registration_is_first_come_first_served_and_credits_the_grant() -> None:
    m = trading((ALICE, "alice"))
    assert m.traders == {ALICE.hex: "alice"} and m.names == {"alice": ALICE.hex}
    assert dict((a, v) for a, v, _ in m.exchange.balances("alice"))["BTC"] == 10_000  # 10 BTC
    (taken,) = m.apply(9, signed(MALLORY, (5, 1, Register("alice"))))
    assert taken.error == "name: 'alice' belongs to another key"
    (again,) = m.apply(10, signed(ALICE, (1, 2, Register("alice"))))
    assert again.error is None and again.events == []  # the same name again: nothing changes
    (second,) = m.apply(11, signed(ALICE, (1, 3, Register("alice2"))))
    assert second.error == "name: this key is registered as 'alice' already"
    assert m.names == {"alice": ALICE.hex}


def test_a_command_from_a_key_without_a_name_is_refused() -> None:
    m = founded()
    (outcome,) = m.apply(3, signed(ALICE, (1, 1, buy(100))))
    assert outcome.error is not None and outcome.error.startswith("trader:")
    assert m.exchange.depth("BTC/USD") == ([], [])


def test_unsigned_trader_commands_are_refused_unanswered() -> None:
    m = trading((ALICE, "alice"))
    m.apply(9, signed(ALICE, (1, 2, buy(100))))
    before = m.exchange.digest()
    sell = Submit("alice", "BTC/USD", "sell", "limit", 90, 5)
    forged = [[1, 3, encode_command(Cancel("alice", 1))], [1, 4, encode_command(sell)]]
    assert m.apply(10, entry_payload(forged)) == []  # nothing vouches for origin/seq: no answer
    assert m.refused == 2
    assert m.exchange.digest() == before


def test_a_batch_whose_signature_does_not_verify_is_refused_whole() -> None:
    m = trading((ALICE, "alice"), (MALLORY, "mallory"))
    before = m.exchange.digest()
    honest = json.loads(signed(MALLORY, (7, 1, buy(100))))
    key, signature, items = honest["t"]
    for forged in (
        [ALICE.hex, signature, items],  # mallory's signature, alice's key
        [key, signature, [[7, 1, encode_trader_command(buy(200))]]],  # altered commands
        [key, "00" * 64, items],  # no signature at all
        [key[:-2], signature, items],  # a malformed key
    ):
        assert m.apply(9, json.dumps({"t": forged}, separators=(",", ":")).encode()) == []
    assert m.apply(10, json.dumps(honest).encode()) == []  # not laid out as signed
    assert m.refused == 5
    assert m.exchange.digest() == before


def test_a_signed_command_cannot_name_another_owner() -> None:
    m = trading((ALICE, "alice"), (MALLORY, "mallory"))
    alice_order = m.apply(9, signed(ALICE, (1, 2, buy(100))))[0].events
    assert alice_order is not None
    cancel = encode_command(Cancel("alice", 1))  # keeps its owner field
    payload = signed_payload(MALLORY, CLUSTER, [[7, 2, cancel]])
    (outcome,) = m.apply(10, payload)
    assert outcome.error == "owner: a signed command's owner is its key's name"
    (own,) = m.apply(11, signed(MALLORY, (7, 3, Cancel("", 1))))  # as mallory: not hers
    assert own.events is not None and own.events[0].code == "forbidden"
    assert [o.order_id for o in m.exchange.open_orders("alice")] == [1]


def test_a_replayed_batch_applies_nothing_twice() -> None:
    m = trading((ALICE, "alice"))
    payload = signed(ALICE, (1, 2, buy(100)), (1, 3, buy(101)))
    first = m.apply(9, payload)
    assert all(o.events for o in first)
    replay = m.apply(10, payload)
    assert [o.events for o in replay] == [None, None]  # duplicates: nothing applied
    assert len(m.exchange.open_orders("alice")) == 2


def test_a_batch_signed_for_another_cluster_is_refused() -> None:
    m = trading((ALICE, "alice"))
    assert m.apply(9, signed(ALICE, (1, 2, buy(100)), cluster="c-other")) == []
    assert m.refused == 1 and m.exchange.depth("BTC/USD") == ([], [])


def test_another_key_cannot_spend_a_trader_s_request_numbers() -> None:
    """Request numbers are de-duplicated per key: mallory using alice's origin and seq does
    not make alice's own request look like a duplicate."""
    m = trading((ALICE, "alice"), (MALLORY, "mallory"))
    m.apply(9, signed(MALLORY, (1, 2, buy(50))))
    (alice,) = m.apply(10, signed(ALICE, (1, 2, buy(100))))
    assert alice.events is not None and [o.price for o in m.exchange.open_orders("alice")] == [100]


def test_a_request_proposed_twice_applies_once_even_out_of_order() -> None:
    m = trading((ALICE, "alice"))
    first = list(m.apply(9, signed(ALICE, (1, 3, buy(100)))))
    late = list(m.apply(10, signed(ALICE, (1, 2, buy(99)), (1, 3, buy(100)))))
    assert first[0].events is not None
    assert late[0].events is not None  # seq 2 was never applied: it is new
    assert late[1].events is None  # seq 3 again: a duplicate
    assert m.exchange.depth("BTC/USD")[0] == [(100, 1, 1), (99, 1, 1)]


def test_transfers_move_money_between_registered_traders() -> None:
    m = trading((ALICE, "alice"), (BOB, "bob"))
    (moved,) = m.apply(9, signed(ALICE, (1, 2, Transfer("", "bob", "BTC", 1_500))))
    assert moved.events is not None and type(moved.events[0]).__name__ == "Transferred"
    btc = {o: dict((a, v) for a, v, _ in m.exchange.balances(o))["BTC"] for o in ("alice", "bob")}
    assert btc == {"alice": 8_500, "bob": 11_500}
    assert m.exchange.totals() == m.exchange.granted()


def test_directory_and_cluster_id() -> None:
    m = Machine()
    m.apply(1, b'{"cluster":"c-42"}')
    list(m.apply(2, b'{"cluster":"c-other"}'))  # only the founding entry counts
    m.apply(3, b'{"m":[7,"alice","127.0.0.1:4001"]}')
    assert m.cluster_id == "c-42"
    assert m.members[7].addr == "127.0.0.1:4001"


def test_snapshot_restores_everything() -> None:
    m = trading((ALICE, "alice"))
    m.apply(8, b'{"m":[7,"alice","127.0.0.1:4001"]}')
    m.apply(9, signed(ALICE, (1, 2, buy(100, client_id="x"))))
    m.apply(10, entry_payload([[1, 9, encode_command(Cancel("alice", 1))]]))  # refused
    copy = Machine.restore(m.snapshot())
    assert copy.snapshot() == m.snapshot()
    assert copy.digest() == m.digest()
    assert (copy.traders, copy.names, copy.refused) == (m.traders, m.names, 1)
    assert copy.apply(11, signed(ALICE, (1, 2, buy(100))))[0].events is None  # dedupe survived


def test_the_dedupe_window_slides() -> None:
    table = Requests()
    assert all(table.admit("k1", s) for s in range(1, 250_001))
    assert not table.admit("k1", 1)  # at or below the floor: done long ago
    assert table.admit("k2", 1)  # traders are independent


def test_a_bad_command_in_a_batch_is_reported_not_fatal() -> None:
    m = trading((ALICE, "alice"))
    items = [[1, 2, {"op": "submit"}], [1, 3, encode_trader_command(buy(100))]]
    results = list(m.apply(9, signed_payload(ALICE, CLUSTER, items)))
    assert results[0].error is not None and results[0].events is None
    assert results[1].events is not None


def test_a_trader_cannot_sign_the_exchange_s_own_commands() -> None:
    m = trading((ALICE, "alice"))
    items = [[1, 2, encode_command(CreateMarket("ETH/USD", "ETH", "USD", "0.01", "0.01"))],
             [1, 3, {"op": "open_account", "owner": "x"}]]  # fmt: skip
    results = m.apply(9, signed_payload(ALICE, CLUSTER, items))
    assert [r.error for r in results] == [
        "op: 'create_market' is not a trader command",
        "op: 'open_account' is not a trader command",
    ]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                              lambda inner: st.lists(inner, max_size=4)
                              | st.dictionaries(st.sampled_from(["c", "m", "t", "cluster", "x"]),
                                                inner, max_size=2),
                              max_leaves=12).map(lambda v: json.dumps(v).encode())))  # fmt: skip
def test_no_payload_crashes_the_machine(payload: bytes) -> None:
    m = trading((ALICE, "alice"))
    m.apply(9, payload)
    assert m.applied_index == 9


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_signed_batch_altered_anywhere_applies_nothing_of_its_own(data: st.DataObject) -> None:
    """Any change to a signed entry's bytes leaves the state as if it never came, or (when the
    change is one JSON does not see) applies exactly the original."""
    payload = signed(ALICE, (1, 2, buy(100, 2)), (1, 3, Transfer("", "bob", "USD", 10)))
    position = data.draw(st.integers(0, len(payload) - 1))
    # (a zero first byte makes it a leader's time stamp: the leader's to write, not a signer's)
    low = 1 if position == 0 else 0
    byte = data.draw(st.integers(low, 255).filter(lambda b: b != payload[position]))
    altered = payload[:position] + bytes([byte]) + payload[position + 1 :]
    untouched, original, m = (trading((ALICE, "alice"), (BOB, "bob")) for _ in range(3))
    original.apply(9, payload)
    m.apply(9, altered)
    untouched.apply(9, b"")
    assert m.digest() in (untouched.digest(), original.digest())


def test_a_cluster_is_pristine_until_a_trader_command_applies() -> None:
    m = founded()
    assert m.pristine  # founding entries only: it may merge into another cluster
    m.apply(3, signed(ALICE, (1, 1, Register("alice"))))
    assert m.pristine  # a registration is not trading: every peer registers at once
    m.apply(4, signed(ALICE, (1, 2, buy(100))))
    assert not m.pristine
    assert not Machine.restore(m.snapshot()).pristine  # it travels in snapshots


def test_an_entry_goes_to_the_engine_in_one_batch_with_the_same_outcome_as_one_by_one() -> None:
    """The peer applies an entry's commands with Exchange.apply_batch: events and state are
    exactly what applying them one at a time gives."""
    commands = [buy(100 + n % 7, 1 + n % 3, client_id=f"c{n % 11}") for n in range(60)]
    m = trading((ALICE, "alice"))
    outcomes = m.apply(9, signed(ALICE, *((1, 2 + n, c) for n, c in enumerate(commands))))
    one_by_one = Exchange()
    one_by_one.apply_batch([*FOUNDING_MARKETS, Configure(DEFAULT_GRANT)], 2)
    one_by_one.apply(OpenAccount("alice"), 3)
    expected = [one_by_one.apply(c._replace(owner="alice"), 9) for c in commands]
    assert [o.events for o in outcomes] == expected
    assert m.exchange.digest() == one_by_one.digest()
