"""The feed over a real websocket, in process: the protocol, every channel, resume, limits.

The peer is the RPC tests' ``LocalBackend`` (commands applied at once to a shared ledger)
with a :class:`FeedHub` fed as a node feeds it: each applied command's events, then a flush
per round. The server is the real ``RpcServer`` with the feed on ``GET /ws``.
"""

import asyncio
import json

import aiohttp
import pytest
from rpc_helpers import BTC, ETH, GRANT, Ledger
from test_feed_helpers import (
    WAIT,
    RawWebsocket,
    buy,
    next_json,
    request,
    sell,
    serving,
    until_message,
)

from engine import FOUNDING_MARKETS, Cancel, Configure, Exchange, OpenAccount, Submit
from net.config import ConfigError
from net.feed.client import FeedClient, FeedClosed
from net.feed.limits import FeedLimits

# ---------------------------------------------------------------------- the protocol

BAD = [
    ("not json", "message: not JSON"),
    ("[1, 2]", "message: expected a JSON object"),
    ("[" * 3000 + "]" * 3000, "message: 6000 characters, over the limit of 4096"),
    ({"op": "watch", "channel": "book"}, "op: expected 'subscribe' or 'unsubscribe', got 'watch'"),
    ({"op": "subscribe", "channel": "tape", "market": BTC}, "channel: expected one of book, "
     "trades, orders, candles, got 'tape'"),
    ({"op": "subscribe", "channel": "book", "market": "X"}, "market: 'X' is not a market"),
    ({"op": "subscribe", "channel": "book"}, "market: required"),
    ({"op": "subscribe", "channel": "book", "market": 7}, "market: expected a market symbol"),
    ({"op": "subscribe", "channel": "book", "market": BTC, "depth": 24},
     "depth: expected an integer from 25 to 100"),
    ({"op": "subscribe", "channel": "book", "market": BTC, "depth": "25"},
     "depth: expected an integer from 25 to 100"),
    ({"op": "subscribe", "channel": "book", "market": BTC, "dpeth": 30},
     "dpeth: not a field of subscribe book"),
    ({"op": "subscribe", "channel": "trades", "market": BTC, "since": -1},
     "since: expected an integer from 0 to"),
    ({"op": "subscribe", "channel": "candles", "market": BTC}, "interval: expected one of 1m, 5m, "
     "1h, got None"),
    ({"op": "unsubscribe", "channel": "book", "market": BTC, "depth": 25},
     "depth: not a field of unsubscribe book"),
    ({"op": "unsubscribe", "channel": "book", "market": BTC}, "channel: not subscribed to book "
     "BTC/USD"),
    ({"op": "subscribe", "channel": "book", "market": BTC, "id": [1]},
     "id: expected a string or integer"),
]  # fmt: skip


@pytest.mark.parametrize(("payload", "reason"), BAD)
async def test_a_bad_message_gets_an_error_naming_the_field_and_changes_nothing(payload, reason):
    async with serving() as served:
        ws = await served.ws()
        error = await request(ws, payload)
        assert error["event"] == "error"
        assert error["reason"].startswith(reason), error
        assert error["index"] == served.ledger.index
        # the connection is still good, and nothing was subscribed by the bad message
        reply = await request(ws, {"op": "subscribe", "channel": "trades", "market": ETH})
        assert reply == {"event": "subscribed", "channel": "trades", "market": ETH,
                         "index": served.ledger.index}  # fmt: skip
        assert served.hub._channels.keys() == {("trades", ETH, None)}
        await ws.close()


async def test_an_error_echoes_the_request_id_channel_and_market():
    async with serving() as served:
        ws = await served.ws()
        error = await request(ws, {"op": "subscribe", "channel": "book", "market": "DOGE/USD",
                                   "id": "r1"})  # fmt: skip
        assert error == {"event": "error", "id": "r1", "channel": "book", "market": "DOGE/USD",
                         "reason": "market: 'DOGE/USD' is not a market",
                         "index": served.ledger.index}  # fmt: skip


async def test_a_binary_frame_is_an_error_too():
    async with serving() as served:
        ws = await served.ws()
        await ws.send_bytes(b'{"op": "subscribe"}')
        error = await next_json(ws)
        assert error["reason"] == "message: expected a text frame holding a JSON object"


async def test_subscribing_twice_and_past_the_limit_are_refused():
    async with serving(FeedLimits(subscriptions=2)) as served:
        ws = await served.ws()
        book = {"op": "subscribe", "channel": "book", "market": BTC}
        assert (await request(ws, book))["event"] == "subscribed"
        await next_json(ws)  # its snapshot
        again = await request(ws, {**book, "depth": 50})
        assert again["reason"] == "channel: already subscribed to book BTC/USD"
        assert (await request(ws, {"op": "subscribe", "channel": "orders", "id": 3}))["id"] == 3
        await next_json(ws)  # its snapshot
        third = await request(ws, {"op": "subscribe", "channel": "trades", "market": BTC})
        assert third["reason"] == "channel: at most 2 subscriptions per connection"


async def test_a_frame_far_over_the_limit_closes_the_connection_with_1009():
    async with serving(FeedLimits(message_bytes=100)) as served:
        ws = await served.ws()
        await ws.send_str("x" * 5000)  # over 16 x message_bytes: never buffered whole
        message = await ws.receive(timeout=WAIT)
        assert message.type is aiohttp.WSMsgType.CLOSE and message.data == 1009


async def test_a_plain_get_of_ws_is_told_what_it_is_and_the_rpc_still_answers():
    async with serving() as served:
        async with served.session.get(f"http://{served.addr}/ws") as response:
            assert response.status == 400
            assert "websocket" in await response.text()
        body = json.dumps(["r", "dex_rpc", {"op": "markets"}])
        async with served.session.post(f"http://{served.addr}/", data=body) as response:
            reply = await response.json()
        assert reply[1] is None and len(reply[2]) == 2


async def test_unsubscribe_stops_the_messages():
    async with serving() as served:
        ws = await served.ws()
        await request(ws, {"op": "subscribe", "channel": "trades", "market": BTC})
        await served.round(sell(1000, 5), buy(1000, 1))
        assert len((await next_json(ws))["trades"]) == 1
        reply = await request(ws, {"op": "unsubscribe", "channel": "trades", "market": BTC})
        assert reply["event"] == "unsubscribed"
        assert not served.hub._channels
        await served.round(buy(1000, 1))
        heartbeat = {"op": "subscribe", "channel": "trades", "market": ETH}  # a marker
        assert (await request(ws, heartbeat))["market"] == ETH  # nothing came in between


# ---------------------------------------------------------------------- the book


async def test_book_snapshot_then_updates_keep_a_verified_copy():
    async with serving() as served, FeedClient(served.addr, served.session) as client:
        await served.round(sell(1010, 3), sell(1020, 4), buy(990, 2), buy(980, 1))
        await client.subscribe("book", BTC)
        snapshot = await until_message(client, lambda m: m.get("type") == "snapshot")
        assert snapshot["bids"] == [["99", "0.002"], ["98", "0.001"]]
        assert snapshot["asks"] == [["101", "0.003"], ["102", "0.004"]]
        await served.round(buy(1010, 1), Cancel("bob", 4))  # a fill and a cancel
        update = await until_message(client, lambda m: m.get("type") == "update")
        assert update["changes"] == [["bid", "98", "0"], ["ask", "101", "0.002"]]
        assert update["index"] == served.ledger.index
        book = client.books[BTC]  # its checksum was verified on every message
        assert book.levels("bid") == [("99", "0.002")]
        rpc = served.peer.exchange.depth(BTC, 25)
        assert len(book.levels("ask")) == len(rpc[1]) == 2


async def test_book_since_waits_until_the_peer_has_applied_that_index():
    async with serving() as served:
        ws = await served.ws()
        ahead = served.ledger.index + 2
        await ws.send_str(json.dumps({"op": "subscribe", "channel": "book", "market": BTC,
                                      "since": ahead}))  # fmt: skip
        await served.round(sell(1010, 1))  # one entry on: not yet
        await served.round(sell(1020, 1))
        reply = await next_json(ws)
        assert reply["event"] == "subscribed" and reply["index"] >= ahead
        snapshot = await next_json(ws)
        assert snapshot["index"] == ahead and len(snapshot["asks"]) == 2


async def test_book_since_too_far_ahead_is_an_error_after_the_wait():
    async with serving(FeedLimits(since_wait=0.2)) as served:
        ws = await served.ws()
        error = await request(ws, {"op": "subscribe", "channel": "book", "market": BTC,
                                   "since": 10**6})  # fmt: skip
        assert error["reason"].startswith(
            f"since: this peer has applied index {served.ledger.index}, not yet 1000000"
        )
        assert not served.hub._channels


async def test_a_subscription_made_mid_round_is_answered_at_the_flush():
    """Between applying and flushing the channels lag the exchange: a snapshot then would
    not join the updates exactly, so the answer waits for the flush."""
    async with serving() as served, FeedClient(served.addr, served.session) as client:
        await served.round(sell(1010, 1))
        index, events = served.ledger.apply(sell(1020, 1))  # applied, not flushed
        served.hub.on_events(index, events)
        await client.subscribe("book", BTC)
        await asyncio.sleep(0)
        served.hub.flush()
        snapshot = await until_message(client, lambda m: m.get("type") == "snapshot")
        assert snapshot["index"] == index and len(snapshot["asks"]) == 2


# ---------------------------------------------------------------------- trades


async def test_trades_carry_decimals_ids_aggressor_time_and_index():
    async with serving() as served:
        ws = await served.ws()
        await request(ws, {"op": "subscribe", "channel": "trades", "market": BTC})
        index = await served.round(sell(1010, 3), buy(1010, 2))
        message = await next_json(ws)
        (trade,) = message["trades"]
        assert message["index"] == index
        assert trade["price"] == "101" and trade["qty"] == "0.002"
        assert trade["aggressor"] == "buy" and trade["trade_id"] == 1
        assert trade["time"] == served.ledger.time and trade["index"] == index


async def test_trades_since_replays_exactly_the_missed_trades():
    async with serving() as served:
        ws = await served.ws()
        await request(ws, {"op": "subscribe", "channel": "trades", "market": BTC})
        await served.round(sell(1000, 10), buy(1000, 1))
        seen = await next_json(ws)
        await ws.close()
        await served.round(buy(1000, 2))
        await served.round(buy(1000, 3), buy(1000, 1, market=ETH))
        ws = await served.ws()
        reply = await request(ws, {"op": "subscribe", "channel": "trades", "market": BTC,
                                   "since": seen["index"]})  # fmt: skip
        assert reply["event"] == "subscribed"
        replay = await next_json(ws)
        assert [t["qty"] for t in replay["trades"]] == ["0.002", "0.003"]
        assert [t["trade_id"] for t in replay["trades"]] == [2, 3]


async def test_trades_since_before_what_the_peer_remembers_names_the_oldest_index():
    ledger = Ledger()
    ledger.exchange = Exchange(trade_history=2)  # a peer that remembers two trades
    ledger.index = 0
    for command in (*FOUNDING_MARKETS, Configure(GRANT)):
        ledger.apply(command)
    async with serving(ledger=ledger) as served:
        await served.round(sell(1000, 10), buy(1000, 1), buy(1000, 1), buy(1000, 1))
        oldest = served.ledger.index - 1
        ws = await served.ws()
        error = await request(ws, {"op": "subscribe", "channel": "trades", "market": BTC,
                                   "since": 2})  # fmt: skip
        assert error["event"] == "error" and error["oldest"] == oldest
        assert error["reason"] == (
            f"since: index 2 is too old: this peer remembers the trades of BTC/USD from index "
            f"{oldest} on (subscribe with since >= {oldest}, or without since)"
        )
        ok = await request(ws, {"op": "subscribe", "channel": "trades", "market": BTC,
                                "since": oldest})  # fmt: skip
        assert ok["event"] == "subscribed"
        assert len((await next_json(ws))["trades"]) == 1


# ---------------------------------------------------------------------- orders and candles


async def test_orders_are_the_peer_traders_own_events():
    async with serving() as served:
        await served.round(sell(1050, 1))
        ws = await served.ws()
        await request(ws, {"op": "subscribe", "channel": "orders", "market": BTC})
        snapshot = await next_json(ws)
        assert [o["price"] for o in snapshot["orders"]] == ["105"]
        await served.round(sell(1010, 3), buy(1010, 2), buy(900, 1))  # bob's are not alice's
        update = await next_json(ws)
        kinds = [(e["kind"], e["status"]) for e in update["events"]]
        assert kinds == [("accepted", "accepted"), ("done", "resting"),
                         ("fill", "partially_filled")]  # fmt: skip
        fill = update["events"][2]
        assert fill["liquidity"] == "maker" and fill["remaining_qty"] == "0.001"
        assert fill["order_id"] == update["events"][0]["order_id"]
        assert {e["time"] for e in update["events"]} == {served.ledger.time}
        await served.round(Cancel("alice", fill["order_id"]))
        (cancelled,) = (await next_json(ws))["events"]
        assert (cancelled["kind"], cancelled["status"], cancelled["reason"]) == (
            "cancelled",
            "cancelled",
            "user",
        )
        assert cancelled["order_id"] == fill["order_id"] and cancelled["client_id"] is None


async def test_a_taker_fill_says_what_remained_after_it():
    async with serving() as served:
        ws = await served.ws()
        await request(ws, {"op": "subscribe", "channel": "orders"})
        await next_json(ws)
        await served.round(Submit("bob", BTC, "sell", "limit", 1000, 1),
                           Submit("bob", BTC, "sell", "limit", 1001, 1))  # fmt: skip
        await served.round(Submit("alice", BTC, "buy", "limit", 1001, 3))
        events = (await next_json(ws))["events"]
        fills = [
            (e["price"], e["remaining_qty"], e["status"]) for e in events if e["kind"] == "fill"
        ]
        assert fills == [
            ("100", "0.002", "partially_filled"),
            ("100.1", "0.001", "partially_filled"),
        ]
        assert events[-1]["kind"] == "done" and events[-1]["avg_price"] == "100.05"


async def test_candles_snapshot_then_the_current_bar_when_it_changes():
    async with serving() as served:
        await served.round(sell(1000, 5), buy(1000, 1))
        ws = await served.ws()
        await request(ws, {"op": "subscribe", "channel": "candles", "market": BTC,
                           "interval": "1m"})  # fmt: skip
        snapshot = await next_json(ws)
        assert [(c["open"], c["volume"]) for c in snapshot["candles"]] == [("100", "0.001")]
        await served.round(buy(900, 1))  # no trade: no candle message
        await served.round(buy(1000, 2))
        update = await next_json(ws)
        assert update["type"] == "update" and update["candle"]["volume"] == "0.003"
        assert update["index"] == served.ledger.index


# ---------------------------------------------------------------------- liveness and limits


async def test_a_quiet_connection_gets_heartbeats_with_the_index():
    async with serving(FeedLimits(heartbeat=0.05)) as served:
        ws = await served.ws()
        assert await next_json(ws) == {"event": "heartbeat", "index": served.ledger.index}
        await served.round(sell(1000, 1))
        assert await next_json(ws) == {"event": "heartbeat", "index": served.ledger.index}


async def test_a_slow_consumer_is_dropped_with_1008_and_nobody_else_notices():
    limits = FeedLimits(queue_messages=20, socket_buffer=4096)
    async with serving(limits) as served, FeedClient(served.addr, served.session) as good:
        await good.subscribe("book", BTC)
        slow = RawWebsocket(served.addr)
        try:
            await slow.open()
            await slow.send({"op": "subscribe", "channel": "book", "market": BTC})
            price = 50_000
            while served.hub.dropped == 0:  # the slow one reads nothing meanwhile
                price -= 1  # a new best ask each round: a book update each round
                index = await served.round(sell(price, 1))
                await until_message(good, lambda m, i=index: m.get("index") == i)  # keeps up
                assert price > 30_000, "never dropped"
            code, reason, before = await slow.read_to_close()
        finally:
            slow.close()
        assert (code, reason) == (1008, "slow consumer: 21 messages queued")
        assert before > 100  # what the socket held: it was reading nothing, not nothing sent
        # the good subscriber kept up all along, its copy verified at every message
        assert good.books[BTC].index == served.ledger.index
        assert len(good.books[BTC].levels("ask")) == 25
        assert len(served.hub.connections) == 1 and served.hub.dropped == 1


async def test_the_peer_moving_to_another_cluster_closes_every_connection_with_1012():
    async with serving() as served:
        ws = await served.ws()
        await request(ws, {"op": "subscribe", "channel": "trades", "market": BTC})
        served.peer.epoch = 1
        served.hub.flush()
        message = await ws.receive(timeout=WAIT)
        assert message.type is aiohttp.WSMsgType.CLOSE and message.data == 1012
        assert "moved to another cluster" in message.extra
        ws = await served.ws()  # a new connection is served on the new state
        assert (await request(ws, {"op": "subscribe", "channel": "book", "market": BTC}))[
            "event"] == "subscribed"  # fmt: skip


async def test_an_installed_snapshot_starts_every_subscription_again():
    """A peer that installs a snapshot skips entries whose events it never saw: the book
    comes again as a snapshot and the trades it skipped are replayed."""
    async with serving() as served, FeedClient(served.addr, served.session) as client:
        await client.subscribe("book", BTC)
        await client.subscribe("trades", BTC)
        await until_message(client, lambda m: m.get("type") == "snapshot")
        await until_message(client, lambda m: m.get("channel") == "trades")
        follower = Exchange.restore(served.ledger.exchange.snapshot())
        for command in (sell(1000, 5), buy(1000, 2)):  # applied where nobody sees events
            served.ledger.apply(command)
            follower.apply(command, served.ledger.index)
        served.ledger.exchange = follower
        served.hub.flush()
        snapshot = await until_message(client, lambda m: m.get("type") == "snapshot")
        assert snapshot["asks"] == [["100", "0.003"]]
        trades = await until_message(client, lambda m: m.get("channel") == "trades")
        assert [t["qty"] for t in trades["trades"]] == ["0.002"]


async def test_closing_the_hub_closes_its_connections_with_1001():
    async with serving() as served:
        ws = await served.ws()
        await served.hub.close()
        message = await ws.receive(timeout=WAIT)
        assert message.type is aiohttp.WSMsgType.CLOSE and message.data == 1001
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await served.ws()


async def test_the_client_reports_a_close_as_feed_closed():
    async with serving() as served, FeedClient(served.addr, served.session) as client:
        await served.hub.close()
        with pytest.raises(FeedClosed) as closed:
            await client.receive(timeout=WAIT)
        assert closed.value.code == 1001 and closed.value.reason == "the peer is stopping"


async def test_a_snapshot_says_the_current_index_even_when_its_book_changed_long_ago():
    async with serving() as served:
        first = await served.ws()
        await request(first, {"op": "subscribe", "channel": "book", "market": BTC})
        await next_json(first)
        await served.round(sell(1000, 1))
        await next_json(first)  # its update
        index = await served.round(sell(1000, 1, market=ETH), sell(1001, 1, market=ETH))
        second = await served.ws()
        await request(second, {"op": "subscribe", "channel": "book", "market": BTC})
        snapshot = await next_json(second)
        assert snapshot["index"] == index and snapshot["asks"] == [["100", "0.001"]]


async def test_orders_show_a_stop_triggering_and_a_good_till_date_order_expiring():
    async with serving() as served:
        ws = await served.ws()
        await request(ws, {"op": "subscribe", "channel": "orders"})
        await next_json(ws)
        expire_at = served.ledger.time + 60_000
        stop = Submit("alice", BTC, "sell", "stop_limit", 990, 1, "gtc", trigger=990)
        gtd = Submit("alice", BTC, "buy", "limit", 900, 1, "gtd", expire_at=expire_at)
        await served.round(stop, gtd)
        placed = (await next_json(ws))["events"]
        assert [(e["kind"], e["status"]) for e in placed] == [
            ("accepted", "accepted"), ("done", "untriggered"),
            ("accepted", "accepted"), ("done", "resting")]  # fmt: skip
        # bob buys carol's ask at 99: the last price reaches the stop's trigger
        await served.round(OpenAccount("carol"), sell(990, 1, owner="carol"), buy(990, 1))
        triggered = (await next_json(ws))["events"]
        assert triggered[0]["kind"] == "triggered" and triggered[0]["trigger"] == "99"
        assert triggered[0]["order_id"] == placed[0]["order_id"]
        events = served.ledger.tick(60_000)  # consensus time passes: the gtd order expires
        served.hub.on_events(served.ledger.index, events)
        served.hub.flush()
        expired = (await next_json(ws))["events"]
        assert (expired[0]["kind"], expired[0]["status"], expired[0]["reason"]) == (
            "cancelled",
            "expired",
            "expired",
        )
        assert expired[0]["order_id"] == placed[2]["order_id"] and expired[0]["time"] == expire_at


def test_feed_limits_from_the_environment_name_a_bad_variable():
    assert FeedLimits.from_env({"DEX_FEED_QUEUE_MESSAGES": "7"}).queue_messages == 7
    assert FeedLimits.from_env({"DEX_FEED_HEARTBEAT": "0.5"}).heartbeat == 0.5
    for value, why in (("x", "expected an integer, got 'x'"), ("0", "must be positive")):
        with pytest.raises(ConfigError) as refused:
            FeedLimits.from_env({"DEX_FEED_QUEUE_MESSAGES": value})
        assert str(refused.value) == f"DEX_FEED_QUEUE_MESSAGES: {why}"
