"""The trader's RPC: whoami, balances, transfer, funds checked on submit, and the API token
that off-loopback writes need. Real HTTP on loopback, a local backend on one ledger."""

from collections.abc import AsyncIterator

import pytest
from rpc_helpers import BTC, Ledger, LocalBackend, Peer, serving

from net.rpc import RpcError
from net.traders import fingerprint

TOKEN = "a-token-of-sixteen-chars"


@pytest.fixture
async def alice() -> AsyncIterator[Peer]:
    ledger = Ledger(grant="BTC=10,ETH=100,USD=1000000")  # the default grant of a real peer
    async with serving(LocalBackend("alice", ledger)) as peer:
        yield peer


@pytest.fixture
async def bob(alice: Peer) -> AsyncIterator[Peer]:
    async with serving(LocalBackend("bob", alice.backend.ledger)) as peer:
        yield peer


def balances(rows: list[dict]) -> dict[str, tuple[str, str]]:
    return {row["asset"]: (row["available"], row["held"]) for row in rows}


async def test_whoami_names_the_trader_and_its_key(alice: Peer) -> None:
    key = alice.backend.trader_key
    assert await alice.call({"op": "whoami"}) == {
        "name": "alice",
        "key": key,
        "fingerprint": fingerprint(key),
    }


async def test_balances_start_at_the_grant_and_hold_what_orders_may_spend(alice: Peer) -> None:
    assert balances(await alice.call({"op": "balances"})) == {
        "BTC": ("10", "0"), "USD": ("1000000", "0"), "ETH": ("100", "0"),
    }  # fmt: skip
    await alice.call({"op": "submit", "market": BTC, "side": "buy", "price": "100.5", "qty": "2"})
    await alice.call({"op": "submit", "market": BTC, "side": "sell", "price": "200", "qty": "1.5"})
    assert balances(await alice.call({"op": "balances"})) == {
        "BTC": ("8.5", "1.5"), "USD": ("999799", "201"), "ETH": ("100", "0"),
    }  # fmt: skip


async def test_a_fill_settles_both_sides_at_the_trade_price(alice: Peer, bob: Peer) -> None:
    await alice.call({"op": "submit", "market": BTC, "side": "sell", "price": "100", "qty": "1"})
    result = await bob.call(
        {"op": "submit", "market": BTC, "side": "buy", "price": "110", "qty": "1"}
    )
    assert result["status"] == "filled" and result["avg_price"] == "100"
    assert balances(await bob.call({"op": "balances"}))["USD"] == ("999900", "0")  # 10 back
    assert balances(await bob.call({"op": "balances"}))["BTC"] == ("11", "0")
    assert balances(await alice.call({"op": "balances"}))["USD"] == ("1000100", "0")


async def test_a_submit_the_trader_cannot_fund_is_rejected_naming_the_asset(alice: Peer) -> None:
    result = await alice.call(
        {"op": "submit", "market": BTC, "side": "sell", "price": "100", "qty": "10.5"}
    )
    assert result["status"] == "rejected"
    assert result["reason"] == "insufficient_funds: BTC short by 0.5 (needs 10.5, available 10)"
    assert balances(await alice.call({"op": "balances"}))["BTC"] == ("10", "0")


async def test_transfer_moves_available_money(alice: Peer, bob: Peer) -> None:
    moved = await alice.call({"op": "transfer", "to": "bob", "asset": "ETH", "amount": "2.5"})
    assert balances(moved["balances"])["ETH"] == ("97.5", "0")
    assert moved["index"] == alice.backend.exchange.applied_index
    assert balances(await bob.call({"op": "balances"}))["ETH"] == ("102.5", "0")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"to": "bob", "asset": "XRP", "amount": "1"}, "asset: unknown asset 'XRP'"),
        ({"to": "bob", "asset": "BTC", "amount": "0.0001"}, "amount: 0.0001 is not a multiple"),
        ({"to": "bob", "asset": "BTC", "amount": "-1"}, "amount: must be greater than zero"),
        ({"to": "bob", "asset": "BTC"}, "amount: required"),
        ({"to": "", "asset": "BTC", "amount": "1"}, "to: expected a non-empty string"),
        ({"to": "carol", "asset": "BTC", "amount": "1"}, "to: no trader named carol"),
        ({"to": "alice", "asset": "BTC", "amount": "1"}, "to: a transfer to oneself"),
        ({"to": "bob", "asset": "BTC", "amount": "11"},
         "amount: insufficient_funds: BTC short by 1"),
        ({"to": "bob", "asset": "BTC", "amount": "1", "memo": "x"}, "memo: unknown field"),
    ],
)  # fmt: skip
async def test_a_transfer_that_cannot_be_made_names_the_field(
    alice: Peer, bob: Peer, payload: dict, message: str
) -> None:
    with pytest.raises(RpcError) as raised:
        await alice.call({"op": "transfer", **payload})
    assert raised.value.code == "ERR_INVALID"
    assert raised.value.message.startswith(message), raised.value.message
    assert alice.backend.exchange.balances("alice") == bob.backend.exchange.balances("bob")
    assert alice.backend.exchange.totals() == alice.backend.exchange.granted()


@pytest.fixture
async def guarded() -> AsyncIterator[Peer]:
    """A peer as one listening beyond loopback with --api-token is served."""
    async with serving(LocalBackend("alice"), write_token=TOKEN) as peer:
        yield peer


WRITE = {"op": "submit", "market": BTC, "side": "buy", "price": "100", "qty": "1"}


async def test_off_loopback_a_write_needs_the_api_token(guarded: Peer) -> None:
    for token in (None, "wrong", "", 42):
        payload = dict(WRITE) if token is None else {**WRITE, "token": token}
        with pytest.raises(RpcError) as raised:
            await guarded.call(payload)
        assert raised.value.code == "ERR_FORBIDDEN"
        assert raised.value.message == "token: writes need this peer's API token"
    assert guarded.backend.executed == []
    result = await guarded.call({**WRITE, "token": TOKEN})
    assert result["status"] == "resting"


async def test_off_loopback_reads_need_no_token(guarded: Peer) -> None:
    assert (await guarded.call({"op": "book", "market": BTC}))["market"] == BTC
    assert (await guarded.call({"op": "whoami", "token": "anything"}))["name"] == "alice"


async def test_off_loopback_without_a_token_no_write_is_taken() -> None:
    async with serving(LocalBackend("alice"), write_token="") as peer:
        for payload in (WRITE, {**WRITE, "token": ""}, {"op": "cancel_all"}):
            with pytest.raises(RpcError) as raised:
                await peer.call(payload)
            assert raised.value.code == "ERR_FORBIDDEN"
            assert "no --api-token" in raised.value.message
        assert peer.backend.executed == []
