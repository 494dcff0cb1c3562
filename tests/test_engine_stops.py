"""Stop and stop-limit orders: waiting untriggered, triggering on the last trade price (at
entry, after a trade, in a cascade, in order id order), what they hold and release, cancel,
cancel-all and amend while untriggered, good-till-date stops, parsing and snapshots."""

import json

import pytest
from engine_helpers import BTC, ETH, Driver, bal, bank, kinds, of, one

from engine import (
    Amended,
    Cancelled,
    Done,
    Exchange,
    InvalidInput,
    Rejected,
    Submit,
    Trade,
    Transfer,
    Triggered,
    encode_command,
    parse_command,
)

T0 = 1_800_000_000_000
HEADER = b"dex-engine-snapshot/3\n"


def traded_at(d: Driver, price: int, market: str = BTC) -> list:
    """Make ``price`` the market's last trade price (zed trades 1 lot with itself); the
    events of the trade (and of the stops it triggers)."""
    d.rest("zed", "sell", price, 1, market=market)
    events = d.buy("zed", price, 1, market=market)
    assert of(events, Trade)[0].price == price
    return events


def stop(d: Driver, owner: str, side: str, trigger: int, qty: int, price: int | None = None,
         **kw: object) -> list:  # fmt: skip
    """A stop (a stop_limit when it has a price and no ``type``)."""
    kind = kw.pop("type", "stop" if price is None else "stop_limit")
    return d.submit(owner, side, price, qty, type=kind, trigger=trigger, **kw)  # type: ignore[arg-type]


def waits(events: list) -> int:
    """The order id of a stop that was accepted and waits for its trigger."""
    assert kinds(events) == ["Accepted", "Done"], events
    done = one(events, Done)
    assert done.status == "untriggered", done
    return done.order_id


# ---------------------------------------------------------------------- waiting, triggering


def test_a_stop_without_a_last_price_waits():
    d = Driver()
    oid = waits(stop(d, "alice", "buy", 100, 5))
    view = d.ex.order(oid)
    assert view is not None
    assert (view.status, view.type, view.trigger, view.price) == ("untriggered", "stop", 100, None)
    assert [v.order_id for v in d.ex.open_orders("alice")] == [oid]
    assert d.ex.depth(BTC) == ([], [])  # not in the book


@pytest.mark.parametrize(
    ("side", "trigger", "last", "fires"),
    [
        ("buy", 100, 99, False),
        ("buy", 100, 100, True),
        ("buy", 100, 101, True),
        ("sell", 100, 101, False),
        ("sell", 100, 100, True),
        ("sell", 100, 99, True),
    ],
)
def test_a_stop_triggers_when_the_last_price_reaches_its_trigger(side, trigger, last, fires):
    d = Driver()
    d.rest("maker", "sell" if side == "buy" else "buy", 150 if side == "buy" else 50, 10)
    oid = waits(stop(d, "alice", side, trigger, 2))
    d.rest("zed", "sell", last, 1)
    events = d.buy("zed", last, 1)
    assert bool(of(events, Triggered)) is fires
    assert d.status(oid) == ("filled" if fires else "untriggered")


def test_the_trigger_events_follow_the_command_that_moved_the_price():
    d = Driver()
    d.rest("maker", "sell", 105, 10)
    oid = waits(stop(d, "alice", "buy", 100, 2, client_id="s1"))
    d.rest("bob", "sell", 100, 1)
    events = d.buy("carol", 100, 1)
    assert kinds(events) == ["Accepted", "Trade", "Done", "Triggered", "Trade", "Done"]
    trigger = one(events, Triggered)
    assert trigger == Triggered(oid, "s1", "alice", BTC, "buy", 100, 100, d.index, 0)
    assert of(events, Trade)[1].taker_order == oid and of(events, Trade)[1].price == 105
    assert of(events, Done)[1].order_id == oid and of(events, Done)[1].status == "filled"
    assert {e.index for e in events} == {d.index}


def test_a_stop_already_crossed_at_entry_triggers_at_once():
    d = Driver()
    traded_at(d, 100)
    d.rest("maker", "buy", 95, 10)
    events = stop(d, "alice", "sell", 101, 3)
    assert kinds(events) == ["Accepted", "Triggered", "Trade", "Done"]
    assert one(events, Triggered).last_price == 100
    assert one(events, Done).status == "filled"


def test_a_stop_with_a_protection_price_trades_no_further_and_drops_the_rest():
    d = Driver()
    d.rest("maker", "sell", 101, 2)
    d.rest("maker", "sell", 110, 5)
    traded_at(d, 100)
    events = stop(d, "alice", "buy", 100, 5, price=102, type="stop")
    assert kinds(events) == ["Accepted", "Triggered", "Trade", "Cancelled", "Done"]
    assert one(events, Cancelled).reason == "unfilled" and one(events, Done).filled_qty == 2


def test_a_triggered_stop_limit_rests_what_it_cannot_fill_from_the_trigger_on():
    d = Driver()
    d.advance(T0)
    oid = waits(stop(d, "alice", "buy", 100, 5, price=101))
    d.rest("maker", "sell", 101, 2)
    d.advance(T0 + 5)
    traded_at(d, 100)
    view = d.ex.order(oid)
    assert view is not None
    assert (view.status, view.type, view.filled_qty, view.remaining_qty) == (
        "partially_filled", "stop_limit", 2, 3)  # fmt: skip
    assert d.ex.depth(BTC) == ([(101, 3, 1)], [])
    assert (view.index, view.time, view.trigger) == (d.index, T0 + 5, 100)


def test_a_trade_in_another_market_triggers_nothing():
    d = Driver(BTC, ETH)
    oid = waits(stop(d, "alice", "buy", 100, 1))
    traded_at(d, 100, market=ETH)
    assert d.status(oid) == "untriggered"


def test_stops_crossed_together_fire_in_order_id_order_not_trigger_order():
    d = Driver()
    d.rest("maker", "sell", 120, 100)
    high = waits(stop(d, "alice", "buy", 100, 1))  # crossed by the same trade as low,
    low = waits(stop(d, "bob", "buy", 95, 1))  # ... but entered later: fires second
    sell = waits(stop(d, "carol", "sell", 90, 1))
    events = traded_at(d, 100)
    assert [e.order_id for e in of(events, Triggered)] == [high, low]
    assert d.status(high) == d.status(low) == "filled"
    assert d.status(sell) == "untriggered"


def test_a_cascade_goes_on_while_triggered_trades_cross_more_stops():
    d = Driver()
    d.rest("maker", "sell", 101, 1)
    d.rest("maker", "sell", 103, 1)
    d.rest("maker", "sell", 110, 5)
    second = waits(stop(d, "alice", "buy", 103, 1))  # only the first stop's trades cross it
    first = waits(stop(d, "bob", "buy", 100, 2))
    untouched = waits(stop(d, "carol", "buy", 111, 1))
    events = traded_at(d, 100)
    assert kinds(events)[3:] == ["Triggered", "Trade", "Trade", "Done",
                                 "Triggered", "Trade", "Done"]  # fmt: skip
    assert [(e.order_id, e.last_price) for e in of(events, Triggered)] == [
        (first, 100), (second, 103)]  # fmt: skip
    assert [(t.taker_order, t.price) for t in of(events, Trade)] == [
        (events[0].order_id, 100), (first, 101), (first, 103), (second, 110)]  # fmt: skip
    assert d.status(untouched) == "untriggered"


def test_a_stop_crossed_once_fires_even_if_the_price_comes_back():
    d = Driver()
    d.rest("maker", "buy", 90, 5)
    d.rest("maker", "sell", 105, 5)
    down = waits(stop(d, "alice", "sell", 100, 1))  # fires first and trades at 90, so
    up = waits(stop(d, "bob", "buy", 100, 1))  # ... 90 no longer crosses this one: it fires
    events = traded_at(d, 100)
    assert [(e.order_id, e.last_price) for e in of(events, Triggered)] == [(down, 100), (up, 100)]
    assert [t.price for t in of(events, Trade)] == [100, 90, 105]
    assert d.status(up) == d.status(down) == "filled"


def test_self_trade_prevention_and_fok_apply_to_a_triggered_stop():
    d = Driver()
    d.rest("alice", "sell", 105, 1)
    stp = waits(stop(d, "alice", "buy", 100, 1, stp="cancel_taker"))
    fok = waits(stop(d, "bob", "buy", 100, 9, tif="fok"))
    traded_at(d, 100)
    assert d.status(stp) == "cancelled" and d.status(fok) == "rejected"
    assert d.ex.order(fok).filled_qty == 0  # type: ignore[union-attr]


# ---------------------------------------------------------------------- money


def test_untriggered_stops_hold_what_the_order_they_become_holds():
    d = bank()
    waits(stop(d, "alice", "buy", 100, 5, price=101))  # stop_limit: as that limit
    waits(stop(d, "alice", "buy", 100, 2, price=120, type="stop"))  # protection price x qty
    waits(stop(d, "bob", "sell", 90, 7))  # a sell stop: its qty
    waits(stop(d, "carol", "buy", 100, 3))  # a buy stop without a price: nothing
    assert bal(d, "alice", "USD")[1] == 5 * 101 + 2 * 120
    assert bal(d, "bob", "BTC")[1] == 7
    assert bal(d, "carol", "USD")[1] == 0
    assert d.ex.totals() == d.ex.granted()


def test_a_stop_the_owner_cannot_fund_is_rejected_at_entry():
    d = bank()
    events = stop(d, "alice", "sell", 90, 2_000)
    assert kinds(events) == ["Rejected", "Done"]
    assert one(events, Rejected).code == "insufficient_funds"


def test_a_priceless_buy_stop_buys_at_most_what_is_available_when_it_triggers():
    d = bank(grant="BTC=1,USD=0.005")  # 500 units of USD: 5 lots at 100
    d.apply(Submit("bob", BTC, "sell", "limit", 100, 20))
    oid = waits(stop(d, "alice", "buy", 100, 10))
    assert bal(d, "alice", "USD") == (500, 0)
    d.buy("carol", 100, 1)  # last 100: alice's stop buys what 500 units pay for
    view = d.ex.order(oid)
    assert view is not None and (view.status, view.filled_qty) == ("cancelled", 5)
    assert bal(d, "alice", "USD") == (0, 0) and bal(d, "alice", "BTC") == (1_005, 0)


def test_a_priceless_buy_stop_with_nothing_available_when_it_triggers_is_rejected():
    d = bank()
    d.apply(Submit("bob", BTC, "sell", "limit", 100, 20))
    oid = waits(stop(d, "alice", "buy", 100, 10, client_id="s"))
    assert kinds(d.apply(Transfer("alice", "bob", "USD", 10_000_000))) == ["Transferred"]
    assert bal(d, "alice", "USD") == (0, 0)
    events = d.buy("carol", 100, 1)
    assert kinds(events)[-3:] == ["Triggered", "Rejected", "Done"]
    assert one(events, Rejected).code == "insufficient_funds" and d.status(oid) == "rejected"
    assert d.ex.totals() == d.ex.granted()


@pytest.mark.parametrize("how", ["id", "client_id", "all"])
def test_cancelling_an_untriggered_stop_releases_it_and_it_never_fires(how):
    d = bank()
    oid = waits(stop(d, "alice", "buy", 100, 5, price=101, client_id="s"))
    if how == "id":
        events = d.cancel("alice", oid)
    elif how == "client_id":
        events = d.cancel("alice", client_id="s")
    else:
        events = d.cancel_all("alice")
    assert one(events, Cancelled) == Cancelled(oid, "alice", BTC, 5, "user", d.index, 0)
    assert bal(d, "alice", "USD") == (10_000_000, 0)
    d.apply(Submit("bob", BTC, "sell", "limit", 100, 1))
    assert of(d.buy("carol", 100, 1), Triggered) == []
    assert d.ex.open_orders("alice") == []


def test_only_the_owner_may_cancel_or_amend_an_untriggered_stop():
    d = Driver()
    oid = waits(stop(d, "alice", "buy", 100, 5))
    assert one(d.cancel("bob", oid), Rejected).code == "forbidden"
    assert one(d.amend("bob", oid, qty=1), Rejected).code == "forbidden"


def test_amending_an_untriggered_stop_adjusts_its_hold():
    d = bank()
    oid = waits(stop(d, "alice", "buy", 100, 5, price=101))
    events = d.amend("alice", oid, qty=8, price=102, trigger=99)
    assert events == [Amended(oid, "alice", BTC, 102, 8, 8, True, 99, d.index, 0)]
    assert bal(d, "alice", "USD")[1] == 8 * 102
    d.amend("alice", oid, qty=2)
    assert bal(d, "alice", "USD")[1] == 2 * 102
    view = d.ex.order(oid)
    assert view is not None and (view.qty, view.price, view.trigger) == (2, 102, 99)


def test_an_amend_of_an_untriggered_stop_that_is_refused_changes_nothing():
    d = bank()
    oid = waits(stop(d, "alice", "buy", 100, 5, price=101))
    before = (d.ex.balances("alice"), d.ex.order(oid))
    refusal = one(d.amend("alice", oid, qty=1_000_000), Rejected)
    assert refusal.code == "insufficient_funds" and refusal.reason.startswith("insufficient")
    assert one(d.amend("alice", oid, trigger=100), Rejected).reason == "qty: nothing to change"
    assert (d.ex.balances("alice"), d.ex.order(oid)) == before


def test_a_new_trigger_the_last_price_crosses_triggers_at_once():
    d = Driver()
    d.rest("maker", "sell", 105, 10)
    traded_at(d, 100)
    oid = waits(stop(d, "alice", "buy", 102, 2))
    events = d.amend("alice", oid, trigger=100)
    assert kinds(events) == ["Amended", "Triggered", "Trade", "Done"]
    assert d.status(oid) == "filled"


def test_a_trigger_amended_away_and_back_fires_once():
    d = Driver()
    d.rest("maker", "sell", 105, 10)
    oid = waits(stop(d, "alice", "buy", 100, 2))
    d.amend("alice", oid, trigger=101)
    d.amend("alice", oid, trigger=100)
    d.rest("zed", "sell", 100, 1)
    events = d.buy("zed", 100, 1)
    assert [e.order_id for e in of(events, Triggered)] == [oid]
    assert d.status(oid) == "filled"


def test_a_trigger_is_only_for_an_untriggered_stop():
    d = Driver()
    bid = d.rest("alice", "buy", 90, 1)
    refusal = one(d.amend("alice", bid, trigger=95), Rejected)
    assert refusal.code == "invalid" and refusal.reason.startswith("trigger: ")


# ---------------------------------------------------------------------- good-till-date stops


def test_an_untriggered_gtd_stop_limit_expires():
    d = bank()
    d.advance(T0)
    oid = waits(stop(d, "alice", "buy", 100, 5, price=101, expire_at=T0 + 10))
    assert d.ex.next_expiry() == T0 + 10
    events = d.advance(T0 + 10)
    assert kinds(events) == ["Cancelled", "Done"] and one(events, Cancelled).reason == "expired"
    assert bal(d, "alice", "USD") == (10_000_000, 0) and d.status(oid) == "cancelled"
    d.apply(Submit("bob", BTC, "sell", "limit", 100, 1))
    assert of(d.buy("carol", 100, 1), Triggered) == []


def test_a_triggered_gtd_stop_limit_rests_then_expires():
    d = Driver()
    d.advance(T0)
    oid = waits(stop(d, "alice", "buy", 100, 5, price=99, expire_at=T0 + 10))
    traded_at(d, 100)
    assert d.status(oid) == "resting"
    assert one(d.advance(T0 + 10), Cancelled).order_id == oid


# ---------------------------------------------------------------------- the stop heaps


def test_the_stop_heaps_drop_stale_entries_so_they_stay_small():
    d = Driver()
    for _ in range(300):
        oid = waits(stop(d, "alice", "sell", 50, 1))
        d.cancel("alice", oid)
    market = d.ex.market(BTC)
    assert market is not None and market.stops is not None
    assert len(market.stops.sells.entries) <= 64 + 1


# ---------------------------------------------------------------------- parsing

SUBMIT = {"op": "submit", "owner": "a", "market": BTC, "side": "buy", "qty": 1}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"type": "stop"}, "trigger"),
        ({"type": "stop_limit", "price": 100}, "trigger"),
        ({"type": "stop", "trigger": 0}, "trigger"),
        ({"type": "stop", "trigger": True}, "trigger"),
        ({"type": "stop", "trigger": 1.5}, "trigger"),
        ({"type": "stop", "trigger": "100"}, "trigger"),
        ({"type": "stop", "trigger": 10**15 + 1}, "trigger"),
        ({"type": "limit", "price": 100, "trigger": 100}, "trigger"),
        ({"type": "market", "trigger": 100}, "trigger"),
        ({"type": "stop_limit", "trigger": 100}, "price"),
        ({"type": "stop", "trigger": 100, "tif": "gtc"}, "tif"),
        ({"type": "stop", "trigger": 100, "post_only": True}, "post_only"),
        ({"type": "stop_market", "trigger": 100}, "type"),
    ],
)
def test_stop_fields_are_strict_and_named(fields, field):
    with pytest.raises(InvalidInput) as info:
        parse_command({**SUBMIT, **fields})
    assert info.value.field == field


def test_stops_and_amends_with_a_trigger_round_trip():
    commands = [
        parse_command({**SUBMIT, "type": "stop", "trigger": 100}),
        parse_command({**SUBMIT, "type": "stop", "trigger": 100, "price": 120, "tif": "fok"}),
        parse_command(
            {
                **SUBMIT,
                "type": "stop_limit",
                "trigger": 100,
                "price": 99,
                "tif": "gtd",
                "expire_at": T0,
                "post_only": True,
            }
        ),
        parse_command({"op": "amend", "owner": "a", "order_id": 3, "trigger": 7}),
    ]
    assert commands[0] == Submit("a", BTC, "buy", "stop", None, 1, "ioc", trigger=100)
    assert commands[3].trigger == 7  # type: ignore[union-attr]
    for command in commands:
        assert parse_command(json.loads(json.dumps(encode_command(command)))) == command
    with pytest.raises(InvalidInput) as info:
        parse_command({"op": "amend", "owner": "a", "order_id": 3, "trigger": -1})
    assert info.value.field == "trigger"


# ---------------------------------------------------------------------- snapshots


def _stopped() -> Driver:
    d = bank(owners=("alice", "bob", "carol", "zed"))
    d.advance(T0)
    d.apply(Submit("bob", BTC, "sell", "limit", 105, 20))
    traded_at(d, 100)
    waits(stop(d, "alice", "buy", 101, 5, price=106, client_id="a1"))
    waits(stop(d, "alice", "buy", 102, 5, client_id="a2", expire_at=T0 + 100,
               type="stop_limit", price=105))  # fmt: skip
    waits(stop(d, "carol", "buy", 103, 2))
    waits(stop(d, "carol", "sell", 90, 3))
    return d


def test_the_snapshot_carries_untriggered_stops_and_the_last_price():
    d = _stopped()
    blob = d.ex.snapshot()
    copy = Exchange.restore(blob)
    assert copy.snapshot() == blob and copy.digest() == d.ex.digest()
    assert copy.open_orders("alice") == d.ex.open_orders("alice")
    assert copy.balances("alice") == d.ex.balances("alice")
    assert copy.next_expiry() == T0 + 100
    future = [
        Submit("zed", BTC, "sell", "limit", 103, 1),
        Submit("zed", BTC, "buy", "limit", 103, 1),
    ]
    for cmd in future:
        d.index += 1
        events = d.ex.apply(cmd, d.index)
        assert copy.apply(cmd, d.index) == events
    assert len(of(events, Triggered)) == 3
    assert copy.digest() == d.ex.digest()


def _stop_rows(state: list) -> list:
    return state[6][0][7]  # the first market's untriggered stops


@pytest.mark.parametrize(
    "change",
    [
        lambda s: _stop_rows(s)[0].__setitem__(18, 100),  # a trigger the last price crosses
        lambda s: _stop_rows(s)[0].__setitem__(11, "resting"),  # not untriggered
        lambda s: _stop_rows(s)[0].__setitem__(18, None),  # a stop without a trigger
        lambda s: _stop_rows(s)[0].__setitem__(slice(7, 9), [6, 6]),  # holds (qty 6)
        lambda s: _stop_rows(s).reverse(),  # out of order id order
        lambda s: _stop_rows(s)[0].__setitem__(6, 107),  # holds no longer match (price)
        lambda s: _stop_rows(s)[2].__setitem__(12, "gtc"),  # a stop that would rest
    ],
)
def test_a_snapshot_with_impossible_stops_is_refused(change):
    blob = _stopped().ex.snapshot()
    assert Exchange.restore(blob).snapshot() == blob
    state = json.loads(blob[len(HEADER) :])
    change(state)
    with pytest.raises(InvalidInput) as info:
        Exchange.restore(HEADER + json.dumps(state, separators=(",", ":")).encode())
    assert info.value.field == "snapshot"
