"""Every operation of spec/rpc.md end to end: the Python client, real HTTP on loopback, a
local backend. Alice and Bob trade on one shared ledger through two peers."""

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
from rpc_helpers import BTC, ETH, START_MS, LocalBackend, Peer, serving

from net.rpc import RpcError

DECIMAL = re.compile(r"^(0|[1-9]\d*)(\.\d*[1-9])?$")  # plain: no exponent, no trailing zeros


@pytest.fixture
async def alice() -> AsyncIterator[Peer]:
    async with serving(LocalBackend("alice")) as peer:
        yield peer


@pytest.fixture
async def bob(alice: Peer) -> AsyncIterator[Peer]:
    async with serving(LocalBackend("bob", alice.backend.ledger)) as peer:
        yield peer


async def submit(peer: Peer, side: str, price: object, qty: object, **fields: object) -> dict:
    payload = {"op": "submit", "market": BTC, "side": side, "qty": qty, **fields}
    if price is not None:
        payload["price"] = price
    result = await peer.call(payload)
    assert isinstance(result, dict)
    return result


async def fails(
    peer: Peer, payload: object, code: str, message: str = "", *, commits: bool = False
) -> RpcError:
    """The call raises RpcError ``code`` whose message contains ``message``.

    ``commits``: the engine decided it (a command was committed and rejected); otherwise the
    RPC refused it before anything was committed.
    """
    executed = len(peer.backend.executed)
    with pytest.raises(RpcError) as raised:
        await peer.call(payload)
    assert raised.value.code == code, raised.value
    assert message in raised.value.message
    assert len(peer.backend.executed) == executed + commits
    return raised.value


# ---------------------------------------------------------------------- status, markets


async def test_status_is_the_backends(alice: Peer) -> None:
    assert await alice.call({"op": "status"}) == alice.backend.status()


async def test_markets(alice: Peer) -> None:
    assert await alice.call({"op": "markets"}) == [
        {"symbol": BTC, "base": "BTC", "quote": "USD", "tick": "0.1", "lot": "0.001"},
        {"symbol": ETH, "base": "ETH", "quote": "USD", "tick": "0.01", "lot": "0.01"},
    ]


# ---------------------------------------------------------------------- submit


async def test_a_resting_order_and_its_generated_client_id(alice: Peer) -> None:
    result = await submit(alice, "buy", "100.5", "0.25")
    client_id = result.pop("client_id")
    assert re.fullmatch(r"[0-9a-f]{32}", client_id)
    assert result == {
        "order_id": 1,
        "status": "resting",
        "reason": None,
        "filled_qty": "0",
        "remaining_qty": "0.25",
        "avg_price": None,
        "trades": [],
        "time": START_MS,
        "index": alice.backend.ledger.index,
    }
    found = await alice.call({"op": "order", "client_id": client_id})
    assert found["order_id"] == 1


async def test_a_fill_over_two_makers(alice: Peer, bob: Peer) -> None:
    first = await submit(bob, "sell", "100.1", "0.5")
    second = await submit(bob, "sell", "100.3", "0.5")
    result = await submit(alice, "buy", "100.3", "0.7", client_id="take-1")
    index = alice.backend.ledger.index

    def fill(trade_id: int, price: str, qty: str, maker: dict) -> dict:
        return {
            "trade_id": trade_id,
            "market": BTC,
            "price": price,
            "qty": qty,
            "aggressor": "buy",
            "maker_order": maker["order_id"],
            "taker_order": 3,
            "maker_owner": "bob",
            "taker_owner": "alice",
            "time": START_MS,
            "index": index,
        }

    assert result == {
        "order_id": 3,
        "client_id": "take-1",
        "status": "filled",
        "reason": None,
        "filled_qty": "0.7",
        "remaining_qty": "0",
        # (1001 * 500 + 1003 * 200) / 700 ticks, rounded to 1 + 8 places
        "avg_price": "100.157142857",
        "trades": [fill(1, "100.1", "0.5", first), fill(2, "100.3", "0.2", second)],
        "time": START_MS,
        "index": index,
    }


async def test_an_exact_average_price(alice: Peer, bob: Peer) -> None:
    await submit(bob, "sell", "100.1", "0.5")
    await submit(bob, "sell", "100.2", "0.5")
    result = await submit(alice, "buy", "100.2", "1")
    assert (result["avg_price"], result["filled_qty"]) == ("100.15", "1")


@pytest.mark.parametrize(
    ("fields", "status", "reason"),
    [
        ({"tif": "ioc"}, "partially_filled", None),  # see the assert below: cancelled
        ({"tif": "fok"}, "rejected", "tif: fill-or-kill order cannot be filled in full"),
        ({"post_only": True}, "rejected", "post_only: the order would take liquidity"),
    ],
)
async def test_rule_outcomes_are_results_not_errors(
    alice: Peer, bob: Peer, fields: dict, status: str, reason: str | None
) -> None:
    await submit(bob, "sell", "100", "0.5")
    result = await submit(alice, "buy", "100", "1", **fields)
    if fields.get("tif") == "ioc":
        status, reason = "cancelled", "unfilled"
        assert (result["filled_qty"], result["remaining_qty"]) == ("0.5", "0.5")
    else:
        assert (result["filled_qty"], result["trades"]) == ("0", [])
    assert (result["status"], result["reason"]) == (status, reason)


async def test_self_trade_prevention_cancels_the_taker(alice: Peer) -> None:
    await submit(alice, "sell", "100", "1")
    result = await submit(alice, "buy", "100", "1", stp="cancel_taker")
    assert (result["status"], result["reason"], result["trades"]) == ("cancelled", "self_trade", [])


async def test_market_orders_with_and_without_protection(alice: Peer, bob: Peer) -> None:
    await submit(bob, "sell", "100", "1")
    await submit(bob, "sell", "101", "1")
    protected = await submit(alice, "buy", "100", "2", type="market")
    assert (protected["status"], protected["filled_qty"]) == ("cancelled", "1")
    unprotected = await submit(alice, "buy", None, "1", type="market")
    assert (unprotected["status"], unprotected["avg_price"]) == ("filled", "101")


async def test_a_repeated_client_id_returns_the_first_result(alice: Peer, bob: Peer) -> None:
    await submit(bob, "sell", "100", "0.4")
    first = await submit(alice, "buy", "100", "1", client_id="once")
    exchange = alice.backend.exchange
    state = (exchange.next_order_id, exchange.next_trade_id, exchange.depth(BTC))
    again = await submit(alice, "buy", "100", "1", client_id="once")
    changed = await submit(alice, "sell", "200", "3", client_id="once")  # same id, other order
    assert first == again == changed
    assert first["status"] == "partially_filled" and len(first["trades"]) == 1
    assert (exchange.next_order_id, exchange.next_trade_id, exchange.depth(BTC)) == state
    assert len(alice.backend.executed) == 3  # all committed: the engine ignored the repeats


async def test_json_numbers_are_read_through_their_decimal_text(alice: Peer) -> None:
    body = b'["r", "dex_rpc", {"op": "submit", "market": "ETH/USD", "side": "buy",'
    status, _, raw = await alice.post(body + b' "price": 100.25, "qty": 1.5e0}]')
    assert status == 200
    order = alice.backend.exchange.order(1)
    assert order is not None and (order.price, order.qty) == (10025, 150)
    assert b'"remaining_qty":"1.5"' in raw


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"price": "100.05"}, "price: 100.05 is not a multiple of 0.1"),
        ({"price": 100.05}, "price: 100.05 is not a multiple of 0.1"),
        ({"qty": "0.0005"}, "qty: 0.0005 is not a multiple of 0.001"),
        ({"price": "0"}, "price: must be greater than zero"),
        ({"price": "-1"}, "price: must be greater than zero"),
        ({"price": "NaN"}, "price: must be a finite number"),
        ({"price": "1e400"}, "price: out of range"),
        ({"price": 10**30}, "price: out of range"),
        ({"price": 10**50}, "price: expected a decimal string of 1 to 40 characters"),
        ({"price": True}, "price: expected a decimal string, got bool"),
        ({"price": None}, "price: required for a limit order"),
        ({"qty": None}, "qty: required"),
        ({"market": "DOGE/USD"}, "market: unknown market 'DOGE/USD'"),
        ({"market": None}, "market: required"),
        ({"market": 7}, "market: expected a market symbol"),
        ({"side": "up"}, "side: expected one of buy, sell"),
        ({"type": "stop"}, "trigger: required for a stop order"),
        ({"type": "iceberg"}, "type: expected one of limit, market, stop, stop_limit"),
        ({"tif": "day"}, "tif: expected one of gtc, ioc, fok"),
        ({"stp": "yes"}, "stp: expected one of none"),
        ({"post_only": "yes"}, "post_only: expected true or false"),
        ({"post_only": True, "tif": "ioc"}, "post_only: only a good-till-cancelled"),
        ({"type": "market", "tif": "gtc"}, "tif: a market order cannot rest"),
        ({"client_id": ""}, "client_id: expected 1 to 64 printable characters"),
        ({"client_id": "x" * 65}, "client_id: expected 1 to 64 printable characters"),
        ({"client_id": "a\nb"}, "client_id: expected 1 to 64 printable characters"),
        ({"owner": "bob"}, "owner: unknown field for submit"),
        ({"pirce": "100"}, "pirce: unknown field for submit"),
    ],
)
async def test_invalid_submits(alice: Peer, fields: dict, message: str) -> None:
    payload = {"op": "submit", "market": BTC, "side": "buy", "price": "100", "qty": "1"}
    await fails(alice, {**payload, **fields}, "ERR_INVALID", message)


async def test_a_minority_peer_cannot_submit(alice: Peer) -> None:
    alice.backend.failure = RpcError("ERR_NO_QUORUM", "no leader reachable")
    error = await fails(
        alice,
        {"op": "submit", "market": BTC, "side": "buy", "price": "1", "qty": "1"},
        "ERR_NO_QUORUM",
        "no leader reachable",
    )
    assert re.search(r"client_id [0-9a-f]{32}: query or retry with it", error.message)
    given = {
        "op": "submit",
        "market": BTC,
        "side": "buy",
        "price": "1",
        "qty": "1",
        "client_id": "mine",
    }
    assert (await fails(alice, given, "ERR_NO_QUORUM")).message == "no leader reachable"
    await fails(alice, {"op": "cancel", "order_id": 1}, "ERR_NO_QUORUM")


# ---------------------------------------------------------------------- cancel, amend


async def test_cancel_by_order_id_and_by_client_id(alice: Peer) -> None:
    one = await submit(alice, "buy", "100", "0.5")
    await submit(alice, "buy", "99", "0.25", client_id="two")
    cancelled = await alice.call({"op": "cancel", "order_id": one["order_id"]})
    index = alice.backend.ledger.index
    assert cancelled == {
        "order_id": 1,
        "status": "cancelled",
        "remaining_qty": "0.5",
        "index": index,
    }
    by_client = await alice.call({"op": "cancel", "client_id": "two"})
    assert by_client["order_id"] == 2
    not_found = "ERR_NOT_FOUND"
    await fails(
        alice, {"op": "cancel", "order_id": 1}, not_found, "order_id: no open", commits=True
    )
    await fails(alice, {"op": "cancel", "client_id": "two"}, not_found, "client_id", commits=True)
    await fails(alice, {"op": "cancel", "order_id": 99}, not_found, commits=True)
    await fails(alice, {"op": "cancel"}, "ERR_INVALID", "order_id: give exactly one")
    await fails(alice, {"op": "cancel", "order_id": 1, "client_id": "two"}, "ERR_INVALID")
    await fails(alice, {"op": "cancel", "order_id": "1"}, "ERR_INVALID", "order_id: expected")


async def test_only_the_owner_may_cancel_or_amend(alice: Peer, bob: Peer) -> None:
    order = await submit(bob, "sell", "100", "1")
    message = f"order_id: order {order['order_id']} is not yours"
    cancel = {"op": "cancel", "order_id": order["order_id"]}
    await fails(alice, cancel, "ERR_FORBIDDEN", message, commits=True)
    amend = {"op": "amend", "order_id": order["order_id"], "qty": "0.5"}
    await fails(alice, amend, "ERR_FORBIDDEN", message, commits=True)
    assert (await alice.call({"op": "cancel_all"}))["cancelled"] == []
    assert alice.backend.exchange.depth(BTC) == ([], [(1000, 1000, 1)])  # bob's, untouched


async def test_cancel_all_everywhere_or_in_one_market(alice: Peer) -> None:
    await submit(alice, "buy", "100", "1")
    await submit(alice, "buy", "10", "1", market=ETH)
    await submit(alice, "sell", "200", "1")
    eth = await alice.call({"op": "cancel_all", "market": ETH})
    assert eth == {"cancelled": [2], "index": alice.backend.ledger.index}
    assert (await alice.call({"op": "cancel_all"}))["cancelled"] == [1, 3]
    assert (await alice.call({"op": "cancel_all"}))["cancelled"] == []
    await fails(alice, {"op": "cancel_all", "market": "X/Y"}, "ERR_INVALID", "market: unknown")


async def test_amend_down_keeps_the_order_and_reports_it(alice: Peer) -> None:
    placed = await submit(alice, "buy", "100", "1", client_id="a1")
    amended = await alice.call({"op": "amend", "order_id": placed["order_id"], "qty": "0.4"})
    assert amended == {
        "order_id": placed["order_id"],
        "client_id": "a1",
        "owner": "alice",
        "market": BTC,
        "side": "buy",
        "type": "limit",
        "price": "100",
        "qty": "0.4",
        "filled_qty": "0",
        "remaining_qty": "0.4",
        "status": "resting",
        "tif": "gtc",
        "expire_at": None,
        "trigger": None,
        "post_only": False,
        "time": START_MS,
        "index": alice.backend.ledger.index,
    }
    assert amended == await alice.call({"op": "order", "client_id": "a1"})


async def test_amend_across_the_spread_trades(alice: Peer, bob: Peer) -> None:
    await submit(bob, "sell", "101", "0.3")
    placed = await submit(alice, "buy", "100", "1")
    amended = await alice.call({"op": "amend", "order_id": placed["order_id"], "price": "101"})
    assert amended["status"] == "partially_filled"
    assert (amended["price"], amended["filled_qty"], amended["remaining_qty"]) == (
        "101",
        "0.3",
        "0.7",
    )
    await fails(
        alice,
        {"op": "amend", "order_id": placed["order_id"], "qty": "0.3"},
        "ERR_INVALID",
        "qty: must be above the filled quantity",
        commits=True,
    )
    await fails(
        alice,
        {"op": "amend", "order_id": placed["order_id"], "price": "101"},
        "ERR_INVALID",
        "qty: nothing to change",
        commits=True,
    )
    await fails(
        alice,
        {"op": "amend", "order_id": placed["order_id"]},
        "ERR_INVALID",
        "qty: give qty, price or both",
    )
    await fails(
        alice,
        {"op": "amend", "order_id": placed["order_id"], "price": "100.05"},
        "ERR_INVALID",
        "price: 100.05 is not a multiple of 0.1",
    )
    await fails(alice, {"op": "amend", "order_id": 77, "qty": "1"}, "ERR_NOT_FOUND", "no order 77")


# ---------------------------------------------------------------------- reads


async def test_book_best_first_with_depth(alice: Peer, bob: Peer) -> None:
    await submit(alice, "buy", "99.9", "1")
    await submit(bob, "buy", "100", "0.5")
    await submit(alice, "buy", "100", "0.25")
    await submit(bob, "sell", "101", "2")
    await submit(bob, "sell", "100.5", "1000000")
    book = await alice.call({"op": "book", "market": BTC})
    assert book == {
        "market": BTC,
        "index": alice.backend.exchange.applied_index,
        "bids": [["100", "0.75", 2], ["99.9", "1", 1]],
        "asks": [["100.5", "1000000", 1], ["101", "2", 1]],
    }
    top = await alice.call({"op": "book", "market": BTC, "depth": 1})
    assert (top["bids"], top["asks"]) == ([["100", "0.75", 2]], [["100.5", "1000000", 1]])
    for depth in (0, 1001, "5", 2.5):
        await fails(alice, {"op": "book", "market": BTC, "depth": depth}, "ERR_INVALID", "depth")
    await fails(alice, {"op": "book"}, "ERR_INVALID", "market: required")


async def test_trades_since_and_limit(alice: Peer, bob: Peer) -> None:
    for price in ("100", "100.1", "100.2"):
        await submit(bob, "sell", price, "0.001")
    await submit(alice, "buy", "101", "0.003")
    trades = await alice.call({"op": "trades", "market": BTC})
    assert [(t["trade_id"], t["price"], t["qty"]) for t in trades] == [
        (1, "100", "0.001"),
        (2, "100.1", "0.001"),
        (3, "100.2", "0.001"),
    ]
    assert set(trades[0]) == {
        "trade_id",
        "market",
        "price",
        "qty",
        "aggressor",
        "maker_order",
        "taker_order",
        "maker_owner",
        "taker_owner",
        "time",
        "index",
    }
    later = await alice.call({"op": "trades", "market": BTC, "since": 1, "limit": 1})
    assert [t["trade_id"] for t in later] == [2]
    assert await alice.call({"op": "trades", "market": ETH}) == []
    await fails(alice, {"op": "trades", "market": BTC, "limit": 1001}, "ERR_INVALID", "limit")
    await fails(alice, {"op": "trades", "market": BTC, "since": -1}, "ERR_INVALID", "since")


async def test_orders_are_the_callers_own(alice: Peer, bob: Peer) -> None:
    await submit(bob, "sell", "100", "0.5")  # 1, bob's
    await submit(alice, "buy", "100", "0.5")  # 2, filled
    await submit(alice, "buy", "90", "1")  # 3, open
    await submit(alice, "buy", "10", "1", market=ETH)  # 4, open
    await alice.call({"op": "cancel", "order_id": 4})

    def ids(orders: list[dict]) -> list[int]:
        return [o["order_id"] for o in orders]

    assert ids(await alice.call({"op": "orders"})) == [3]
    assert ids(await alice.call({"op": "orders", "open": False})) == [2, 3, 4]
    assert ids(await alice.call({"op": "orders", "open": False, "market": ETH})) == [4]
    assert ids(await alice.call({"op": "orders", "open": False, "since": 2, "limit": 1})) == [3]
    assert ids(await bob.call({"op": "orders", "open": False})) == [1]
    orders = await alice.call({"op": "orders", "open": False})
    assert [o["status"] for o in orders] == ["filled", "resting", "cancelled"]
    assert {o["index"] for o in orders} == {alice.backend.exchange.applied_index}
    await fails(alice, {"op": "orders", "open": "no"}, "ERR_INVALID", "open: expected true")


async def test_order_by_id_or_client_id(alice: Peer, bob: Peer) -> None:
    await submit(bob, "sell", "100", "0.5", client_id="b1")
    order = await alice.call({"op": "order", "order_id": 1})
    assert (order["owner"], order["client_id"], order["status"]) == ("bob", "b1", "resting")
    assert order["index"] == alice.backend.exchange.applied_index
    market = await submit(alice, "buy", None, "0.1", type="market")
    assert (await alice.call({"op": "order", "order_id": market["order_id"]}))["price"] is None
    await fails(alice, {"op": "order", "client_id": "b1"}, "ERR_NOT_FOUND", "client_id")
    await fails(alice, {"op": "order", "order_id": 42}, "ERR_NOT_FOUND", "order_id: no order 42")
    await fails(alice, {"op": "order"}, "ERR_INVALID", "give exactly one")


async def test_digest_is_the_exchanges(alice: Peer) -> None:
    await submit(alice, "buy", "100", "1")
    exchange = alice.backend.exchange
    digest = await alice.call({"op": "digest"})
    assert digest == {"index": exchange.applied_index, "digest": exchange.digest()}
    assert re.fullmatch(r"[0-9a-f]{64}", digest["digest"])


async def test_sync_answers_once_the_index_is_applied(alice: Peer) -> None:
    now = alice.backend.exchange.applied_index
    assert await alice.call({"op": "sync", "index": now}) == {"index": now}
    waiting = asyncio.create_task(alice.call({"op": "sync", "index": now + 1, "timeout_ms": 5000}))
    await submit(alice, "buy", "100", "1")
    assert await waiting == {"index": now + 1}
    await fails(alice, {"op": "sync", "index": now + 5, "timeout_ms": 20}, "ERR_TIMEOUT")
    await fails(alice, {"op": "sync"}, "ERR_INVALID", "index: required")
    await fails(alice, {"op": "sync", "index": 1, "timeout_ms": 60001}, "ERR_INVALID")


async def test_unknown_and_missing_ops(alice: Peer) -> None:
    await fails(alice, {"op": "create_market"}, "ERR_UNKNOWN_OP", "op: unknown operation")
    await fails(alice, {"op": "x" * 1000}, "ERR_UNKNOWN_OP", "...")
    await fails(alice, {}, "ERR_INVALID", "op: expected the name of an operation")
    await fails(alice, ["status"], "ERR_INVALID", "payload: expected an object")
    await fails(alice, {"op": "status", "verbose": True}, "ERR_INVALID", "verbose: unknown field")


async def test_amounts_are_plain_decimal_strings(alice: Peer, bob: Peer) -> None:
    for price, qty in (("100000000", "1000000"), ("0.1", "0.001"), ("1E+3", "10.000")):
        await submit(bob, "sell", price, qty)
    await submit(alice, "buy", "0.1", "0.001")
    texts = []
    for order in await bob.call({"op": "orders", "open": False}):
        texts += [order["price"], order["qty"], order["filled_qty"], order["remaining_qty"]]
    assert texts == [
        "100000000",
        "1000000",
        "0",
        "1000000",
        "0.1",
        "0.001",
        "0.001",
        "0",
        "1000",
        "10",
        "0",
        "10",
    ]
    assert all(DECIMAL.match(text) for text in texts)
