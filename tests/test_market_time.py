"""Consensus time across real peers: the same times, candles and ticker on every peer (a
restarted one and a late joiner included), a good-till-date order expiring with no other
traffic, and a stop triggering identically everywhere.

The peers are ``dex-tui --headless`` processes started one after another, spoken to over
spec/rpc.md; time is the leader's clock stamped into the log (``net/machine.py``).
"""

import time

from cluster_helpers import converged, until

BTC = "BTC/USD"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def _everywhere(peers, payload: dict) -> list:
    """The same read on every peer, once they have applied the same log."""
    await converged(peers)
    return [await p.call(payload) for p in peers]


async def test_trades_candles_and_ticker_carry_the_same_time_on_every_peer(make_cluster):
    cluster = make_cluster()
    peers = await cluster.grow(3)
    before = now_ms()
    for n, (buyer, seller) in enumerate([(0, 1), (1, 2), (2, 0)]):
        price = str(100 + n)
        await peers[buyer].call({"op": "submit", "market": BTC, "side": "buy", "price": price,
                                 "qty": "1"})  # fmt: skip
        await peers[seller].call({"op": "submit", "market": BTC, "side": "sell",
                                  "price": price, "qty": "1"})  # fmt: skip
    after = now_ms()
    tapes = await _everywhere(peers, {"op": "trades", "market": BTC})
    assert len(tapes[0]) == 3 and all(tape == tapes[0] for tape in tapes)
    times = [t["time"] for t in tapes[0]]
    assert times == sorted(times) and before <= times[0] and times[-1] <= after + 1000
    bars = await _everywhere(peers, {"op": "candles", "market": BTC, "interval": "1m"})
    assert all(b == bars[0] for b in bars) and bars[0]
    assert sum(float(b["volume"]) for b in bars[0]) == 3
    assert bars[0][-1]["close"] == "102"
    tickers = await _everywhere(peers, {"op": "ticker", "market": BTC})
    assert {t["last"] for t in tickers} == {"102"} and tickers[0]["high"] == "102"
    assert tickers[0]["low"] == "100" and tickers[0]["volume"] == "3"

    # a member restarted from its data dir, and a newcomer, see the same history and times
    await peers[2].stop()
    await peers[2].start()
    late = await cluster.start("late", "--peer", peers[0].addr)
    await until(lambda: _traded(late, 3), 60, "the newcomer to catch up")
    everyone = [*peers, late]
    history = await _everywhere(everyone, {"op": "trades", "market": BTC})
    assert all(tape == tapes[0] for tape in history)
    again = await _everywhere(everyone, {"op": "candles", "market": BTC, "interval": "5m"})
    assert all(b == again[0] for b in again)


async def test_a_good_till_date_order_expires_on_time_with_no_other_traffic(make_cluster):
    cluster = make_cluster()
    peers = await cluster.grow(3)
    expire_at = now_ms() + 1500
    placed = await peers[1].call({"op": "submit", "market": BTC, "side": "buy", "price": "90",
                                  "qty": "2", "tif": "gtd", "expire_at": expire_at})  # fmt: skip
    assert placed["status"] == "resting"
    order = {"op": "order", "order_id": placed["order_id"]}
    for peer in peers:
        assert (await peer.call(order))["expire_at"] == expire_at
    gone_at = 0

    async def gone() -> bool:
        nonlocal gone_at
        book = await peers[0].call({"op": "book", "market": BTC})
        gone_at = now_ms()
        return not book["bids"]

    await until(gone, 10, "the order to expire")
    assert gone_at - expire_at < 1000, f"left the book {gone_at - expire_at} ms after its time"
    views = await _everywhere(peers, order)
    assert {(v["status"], v["remaining_qty"]) for v in views} == {("cancelled", "2")}
    held = await _everywhere(peers, {"op": "digest"})
    assert len({d["digest"] for d in held}) == 1
    usd = [b for b in await peers[1].call({"op": "balances"}) if b["asset"] == "USD"]
    assert usd[0]["held"] in ("0", "0.00")  # the expired order's funds came back


async def test_a_stop_triggers_identically_on_every_peer(make_cluster):
    cluster = make_cluster()
    peers = await cluster.grow(3)
    bid = {"op": "submit", "market": BTC, "side": "buy", "qty": "1"}
    await peers[0].call({**bid, "price": "94"})  # what the stop will sell into
    stop = await peers[2].call({"op": "submit", "market": BTC, "side": "sell", "type": "stop",
                                "trigger": "95", "qty": "1"})  # fmt: skip
    assert stop["status"] == "untriggered"
    await peers[0].call({**bid, "price": "95"})
    await peers[1].call({"op": "submit", "market": BTC, "side": "sell", "price": "95",
                         "qty": "1"})  # the trade at 95 crosses the trigger  # fmt: skip
    order = {"op": "order", "order_id": stop["order_id"]}
    views = await _everywhere(peers, order)
    assert {(v["status"], v["filled_qty"]) for v in views} == {("filled", "1")}
    tapes = await _everywhere(peers, {"op": "trades", "market": BTC})
    assert all(tape == tapes[0] for tape in tapes)
    assert [(t["price"], t["taker_order"]) for t in tapes[0]][-1] == ("94", stop["order_id"])


async def _traded(peer, count: int) -> bool:
    return len(await peer.call({"op": "trades", "market": BTC})) >= count
