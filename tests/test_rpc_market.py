"""Time and market data through the RPC (spec/rpc.md): orders and trades carry consensus
time, good-till-date and stop orders are submitted, amended and refused field by field,
and candles and the ticker render as decimals. The backend is a local exchange whose
time the test moves (rpc_helpers.Ledger)."""

from collections.abc import AsyncIterator

import pytest
from rpc_helpers import BTC, START_MS, Peer, serving

from net.rpc.errors import RpcError

LIMIT = {"op": "submit", "market": BTC, "side": "buy", "price": "100", "qty": "1"}


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    async with serving() as served:
        yield served


async def refused(peer: Peer, payload: dict) -> str:
    with pytest.raises(RpcError) as caught:
        await peer.call(payload)
    return str(caught.value)


async def test_orders_and_trades_carry_the_time_of_their_entry(peer):
    ledger = peer.backend.ledger
    placed = await peer.call(LIMIT)
    assert placed["time"] == START_MS
    assert (await peer.call({"op": "order", "order_id": placed["order_id"]}))["time"] == START_MS
    ledger.time += 1234
    sold = await peer.call({**LIMIT, "side": "sell"})
    assert [t["time"] for t in sold["trades"]] == [START_MS + 1234]
    assert (await peer.call({"op": "trades", "market": BTC}))[0]["time"] == START_MS + 1234


async def test_a_good_till_date_order_rests_until_its_time_then_leaves(peer):
    ledger = peer.backend.ledger
    placed = await peer.call({**LIMIT, "tif": "gtd", "expire_at": START_MS + 5000})
    order = {"op": "order", "order_id": placed["order_id"]}
    assert (await peer.call(order))["expire_at"] == START_MS + 5000
    ledger.tick(4999)
    assert (await peer.call(order))["status"] == "resting"
    ledger.tick(1)
    assert (await peer.call(order))["status"] == "cancelled"
    assert (await peer.call({"op": "book", "market": BTC}))["bids"] == []


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"tif": "gtd"}, "expire_at"),  # required
        ({"tif": "gtd", "expire_at": "soon"}, "expire_at"),
        ({"expire_at": START_MS + 1000}, "expire_at"),  # only with tif gtd
        ({"type": "stop"}, "trigger"),  # required
        ({"type": "stop_limit", "trigger": "99.95"}, "trigger"),  # off the tick
        ({"trigger": "99"}, "trigger"),  # only on stops
    ],
)
async def test_bad_time_and_trigger_fields_are_refused_naming_the_field(peer, extra, field):
    message = await refused(peer, {**LIMIT, **extra})
    assert message.startswith(f"ERR_INVALID: {field}"), message
    assert await peer.call({"op": "orders"}) == []  # nothing was placed


async def test_a_good_till_date_order_already_past_its_time_is_rejected(peer):
    placed = await peer.call({**LIMIT, "tif": "gtd", "expire_at": START_MS})
    assert placed["status"] == "rejected" and placed["reason"].startswith("expire_at")
    assert await peer.call({"op": "orders"}) == []


async def test_a_stop_waits_untriggered_can_be_amended_and_triggers_on_the_last_price(peer):
    stop = await peer.call({**LIMIT, "type": "stop_limit", "price": "106", "trigger": "105"})
    assert stop["status"] == "untriggered"
    order = {"op": "order", "order_id": stop["order_id"]}
    amended = await peer.call({"op": "amend", "order_id": stop["order_id"], "trigger": "104"})
    assert amended["trigger"] == "104" and amended["status"] == "untriggered"
    await peer.call({**LIMIT, "side": "sell", "price": "104", "qty": "2"})  # rests
    await peer.call({**LIMIT, "price": "104"})  # trades at 104: the stop fires
    view = await peer.call(order)
    assert view["status"] == "filled" and view["trigger"] == "104"


async def test_candles_and_ticker_render_decimals_oldest_first(peer):
    ledger = peer.backend.ledger
    for n, price in enumerate(["100", "101.5", "99"]):
        ledger.time = START_MS + n * 60_000
        await peer.call({**LIMIT, "side": "sell", "price": price})
        await peer.call({**LIMIT, "price": price})
    bars = await peer.call({"op": "candles", "market": BTC, "interval": "1m", "limit": 2})
    assert [(b["open"], b["close"], b["volume"]) for b in bars] == [
        ("101.5", "101.5", "1"),
        ("99", "99", "1"),
    ]
    assert bars[0]["time"] < bars[1]["time"]
    five = await peer.call({"op": "candles", "market": BTC, "interval": "5m"})
    assert len(five) == 1 and five[0]["high"] == "101.5" and five[0]["low"] == "99"
    ticker = await peer.call({"op": "ticker", "market": BTC})
    assert ticker["last"] == "99" and ticker["change"] == "-1" and ticker["volume"] == "3"
    assert ticker["time"] == ledger.time


async def test_candles_and_ticker_refuse_bad_fields(peer):
    assert (await refused(peer, {"op": "candles", "market": BTC, "interval": "2m"})).startswith(
        "ERR_INVALID: interval"
    )
    assert (await refused(peer, {"op": "candles", "market": BTC, "limit": 0})).startswith(
        "ERR_INVALID: limit"
    )
    assert (await refused(peer, {"op": "ticker", "market": "X/Y"})).startswith(
        "ERR_INVALID: market"
    )
    never = await peer.call({"op": "ticker", "market": BTC})
    assert never["last"] is None and never["volume"] == "0"
