"""Money: configure, accounts, holds, settlement, fees, release, transfers, units, snapshots,
and properties over random streams with money on (conservation, holds, determinism).

Units (``engine.accounts``): in the default test market (BTC/USD, tick 0.01, lot 0.001) one
unit of BTC is 0.001 (a lot) and one unit of USD 0.00001 (a tick x lot), so a lot at a
price of ``p`` ticks costs ``p`` units of USD. The grant used here, BTC=1,USD=100, is 1,000
units of BTC and 10,000,000 of USD.
"""

import json
from collections import defaultdict
from decimal import Decimal

import pytest
from engine_helpers import (
    BTC,
    ETH,
    GRANT,
    NEWCOMER,
    OWNERS,
    Driver,
    bal,
    bank,
    kinds,
    money_streams,
    of,
    one,
    own_events,
    step,
    wire,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import (
    AccountOpened,
    Amend,
    Amended,
    Cancelled,
    Configure,
    Configured,
    Done,
    Exchange,
    InvalidInput,
    OpenAccount,
    Rejected,
    Submit,
    Trade,
    Transfer,
    Transferred,
    parse_command,
)

BTC_GRANT, USD_GRANT = 1_000, 10_000_000
HEADER = b"dex-engine-snapshot/3\n"


def everything(d: Driver) -> tuple:
    """Balances, book and fee account: what a refused command must leave alone."""
    owners = sorted(d.ex.owners)
    return ([d.ex.balances(o) for o in owners], [d.ex.depth(s, 100) for s in d.ex.markets],
            [d.ex.open_orders(o) for o in owners], d.ex.totals())  # fmt: skip


def rejected(events: list) -> Rejected:
    return one(events, Rejected)


def short(reason: str, asset: str, by: str, needs: str, available: str) -> bool:
    """Whether an insufficient_funds reason names the asset and the shortfall (decimal)."""
    return (asset in reason.split("short by")[0] and f"short by {by} " in reason
            and f"needs {needs}," in reason and f"available {available})" in reason)  # fmt: skip


def fee_account(ex: Exchange) -> dict[str, int]:
    """What the fee account holds, from public queries: totals less every account."""
    fees = dict(ex.totals())
    for owner in ex.owners:
        for asset, available, held in ex.balances(owner):
            fees[asset] -= available + held
    return fees


# ---------------------------------------------------------------------- configure


def test_configure_turns_money_on_and_reports_the_grant_in_units():
    d = Driver(BTC)
    assert d.ex.max_qty("alice", BTC, "buy", 100) is None  # no money yet
    events = d.apply(Configure(GRANT, 10, 20))
    assert events == [Configured((("BTC", BTC_GRANT), ("USD", USD_GRANT)), 10, 20, d.index)]
    assert d.ex.max_qty("alice", BTC, "buy", 100) == 0  # money on, no account yet
    assert kinds(d.apply(OpenAccount("alice"))) == ["AccountOpened"]
    assert d.ex.balances("alice") == [("BTC", BTC_GRANT, 0), ("USD", USD_GRANT, 0)]


def test_configure_twice_is_refused():
    d = bank()
    before = d.ex.granted()
    r = rejected(d.apply(Configure("BTC=5", 100, 100)))
    assert (r.op, r.code) == ("configure", "invalid")
    assert "money already" in r.reason
    assert kinds(d.apply(OpenAccount("dave"))) == ["AccountOpened"]
    assert d.ex.balances("dave") == [("BTC", BTC_GRANT, 0), ("USD", USD_GRANT, 0)]
    assert d.ex.granted() == {"BTC": 4 * BTC_GRANT, "USD": 4 * USD_GRANT} != before


@pytest.mark.parametrize("order", ["resting", "rejected"])
def test_configure_after_any_order_is_refused(order):
    d = Driver(BTC)
    if order == "resting":
        d.rest("alice", "buy", 100, 1)
    else:
        d.buy("alice", 100, 1, market="XRP/USD")  # rejected, but it was entered
    r = rejected(d.apply(Configure(GRANT)))
    assert (r.op, r.code) == ("configure", "invalid")
    assert "orders were entered" in r.reason
    assert rejected(d.apply(OpenAccount("alice"))).code == "invalid"  # money stayed off


@pytest.mark.parametrize(
    ("grant", "words"),
    [("XRP=1", "no market trades XRP"), ("BTC=0.0001", "grant BTC"), ("BTC=1,BTC=2", "twice")],
)
def test_configure_with_a_bad_grant_is_refused_and_money_stays_off(grant, words):
    d = Driver(BTC)
    r = rejected(d.apply(Configure(grant)))
    assert (r.op, r.code) == ("configure", "invalid")
    assert words in r.reason
    assert rejected(d.apply(OpenAccount("alice"))).code == "invalid"
    assert kinds(d.apply(Configure(GRANT))) == ["Configured"]  # still possible


def test_configure_fee_rates_are_checked_when_parsed():
    ok = parse_command({"op": "configure", "grant": GRANT, "maker_fee_bps": 1000})
    assert ok == Configure(GRANT, 1000, 0)
    for bad in (-1, 1001, True, "5"):
        with pytest.raises(InvalidInput) as info:
            parse_command({"op": "configure", "grant": GRANT, "taker_fee_bps": bad})
        assert info.value.field == "taker_fee_bps"


def test_an_empty_grant_opens_empty_accounts():
    d = bank("", owners=("alice",))
    assert d.ex.balances("alice") == [("BTC", 0, 0), ("USD", 0, 0)]
    r = rejected(d.buy("alice", 100, 1))
    assert r.code == "insufficient_funds" and "USD" in r.reason


# ---------------------------------------------------------------------- never configured


def test_an_exchange_never_configured_matches_without_money():
    d = Driver(BTC)
    assert rejected(d.apply(OpenAccount("alice"))).code == "invalid"
    d.rest("alice", "sell", 100, 10)
    events = d.buy("bob", None, 4, type="market")
    assert one(events, Trade).qty == 4
    assert d.ex.balances("alice") == d.ex.balances("bob") == []
    assert d.ex.max_qty("bob", BTC, "buy", 100) is None
    assert d.ex.totals() == d.ex.granted() == {"BTC": 0, "USD": 0}
    r = rejected(d.apply(Transfer("alice", "bob", "USD", 1)))
    assert (r.op, r.code) == ("transfer", "invalid")


# ---------------------------------------------------------------------- accounts


def test_open_account_credits_the_grant_and_twice_is_refused():
    d = bank(owners=("alice",))
    assert d.ex.granted() == {"BTC": BTC_GRANT, "USD": USD_GRANT}
    d.apply(Transfer("alice", "alice", "USD", 1))  # refused; changes nothing
    before = everything(d)
    r = rejected(d.apply(OpenAccount("alice")))
    assert (r.op, r.code, r.owner) == ("open_account", "invalid", "alice")
    assert "already" in r.reason
    assert everything(d) == before
    assert d.ex.granted() == {"BTC": BTC_GRANT, "USD": USD_GRANT}
    assert d.apply(OpenAccount("bob")) == [AccountOpened("bob", d.index)]
    assert d.ex.granted() == d.ex.totals() == {"BTC": 2 * BTC_GRANT, "USD": 2 * USD_GRANT}


def test_a_submit_without_an_account_is_rejected():
    d = bank(owners=("alice",))
    events = d.buy("mallory", 100, 1)
    r = rejected(events)
    assert (r.code, r.owner) == ("invalid", "mallory")
    assert "no account" in r.reason
    assert one(events, Done).status == "rejected"
    assert d.ex.balances("mallory") == []


# ---------------------------------------------------------------------- holds


def test_a_limit_buy_holds_price_times_qty_of_quote():
    d = bank()
    d.rest("alice", "buy", 120, 7)
    assert bal(d, "alice", "USD") == (USD_GRANT - 840, 840)
    assert bal(d, "alice", "BTC") == (BTC_GRANT, 0)


def test_a_limit_sell_holds_its_qty_of_base():
    d = bank()
    d.rest("alice", "sell", 120, 7)
    assert bal(d, "alice", "BTC") == (BTC_GRANT - 7, 7)
    assert bal(d, "alice", "USD") == (USD_GRANT, 0)


def test_holds_scale_with_the_market_units():
    """ETH/USD with tick 0.1 and lot 0.01: a tick x lot is 0.001 USD, 100 units of USD."""
    d = Driver(BTC)
    d.create(ETH, tick="0.1", lot="0.01")
    assert kinds(d.apply(Configure("ETH=1,USD=100"))) == ["Configured"]
    d.apply(OpenAccount("alice"))
    assert bal(d, "alice", "ETH") == (100, 0)  # 1 ETH in units of 0.01
    d.rest("alice", "buy", 50, 3, market=ETH)  # 5 USD per ETH, 0.03 ETH: 0.15 USD
    assert bal(d, "alice", "USD") == (USD_GRANT - 15_000, 15_000)
    d.rest("alice", "sell", 60, 2, market=ETH)
    assert bal(d, "alice", "ETH") == (98, 2)
    assert d.ex.max_qty("alice", ETH, "buy", 50) == (USD_GRANT - 15_000) // 5_000
    assert d.ex.max_qty("alice", ETH, "sell", None) == 98


@pytest.mark.parametrize(
    ("side", "qty", "words"),
    [
        ("buy", 1_000_000, ("USD", "99950", "100000", "50")),
        ("sell", 1_001, ("BTC", "0.001", "1.001", "1")),
    ],
)
def test_insufficient_funds_names_the_asset_and_the_shortfall_and_changes_nothing(side, qty, words):
    d = bank()
    d.apply(Transfer("alice", "bob", "USD", USD_GRANT - 5_000_000))  # alice keeps 50 USD
    d.rest("bob", "sell" if side == "buy" else "buy", 10_000, 3)  # a book to cross
    before = everything(d)
    events = d.submit("alice", side, 10_000, qty)
    assert kinds(events) == ["Rejected", "Done"]
    r = events[0]
    assert (r.op, r.code, r.owner) == ("submit", "insufficient_funds", "alice")
    assert short(r.reason, *words), r.reason
    assert (events[1].status, events[1].reason) == ("rejected", r.reason)
    assert everything(d) == before


def test_a_market_buy_with_a_protection_price_holds_price_times_qty():
    d = bank()
    d.rest("bob", "sell", 100, 10)  # cheaper than the protection price
    d.apply(Transfer("alice", "bob", "USD", USD_GRANT - 1_500))  # alice keeps 1,500 units
    r = rejected(d.buy("alice", 200, 8, type="market"))  # needs 1,600 though it would pay 800
    assert r.code == "insufficient_funds"
    assert "needs 0.016" in r.reason  # 1,600 units of 0.00001
    events = d.buy("alice", 150, 10, type="market")  # holds exactly 1,500
    assert one(events, Trade).qty == 10
    assert bal(d, "alice", "USD") == (500, 0)  # paid 1,000, the rest released
    assert bal(d, "alice", "BTC") == (BTC_GRANT + 10, 0)


def test_a_market_buy_without_a_price_spends_at_most_what_is_available():
    d = bank()
    d.rest("bob", "sell", 100, 5)
    d.rest("bob", "sell", 110, 10)
    d.apply(Transfer("alice", "bob", "USD", USD_GRANT - 1_000))  # alice keeps 1,000 units
    events = d.buy("alice", None, 12, type="market")
    assert [(t.price, t.qty) for t in of(events, Trade)] == [(100, 5), (110, 4)]  # 500 + 440
    assert one(events, Cancelled).reason == "unfilled"
    assert one(events, Done).remaining_qty == 3
    assert bal(d, "alice", "USD") == (60, 0)  # the rest of the budget released
    assert bal(d, "alice", "BTC") == (BTC_GRANT + 9, 0)
    assert d.ex.depth(BTC)[1] == [(110, 6, 1)]


def test_a_market_buy_without_a_price_buys_no_lot_it_cannot_pay_in_full():
    d = bank()
    d.rest("bob", "sell", 110, 10)
    d.apply(Transfer("alice", "bob", "USD", USD_GRANT - 1_000))  # 9 lots and 10 units
    events = d.buy("alice", None, 10, type="market")
    assert [(t.price, t.qty) for t in of(events, Trade)] == [(110, 9)]
    assert bal(d, "alice", "USD") == (10, 0)
    assert d.ex.depth(BTC)[1] == [(110, 1, 1)]


def test_a_market_buy_without_a_price_and_nothing_available_is_rejected():
    d = bank("BTC=1")
    d.rest("bob", "sell", 100, 5)
    r = rejected(d.buy("alice", None, 1, type="market"))
    assert r.code == "insufficient_funds" and "USD" in r.reason
    assert bal(d, "alice", "USD") == (0, 0)


def test_a_fok_market_buy_without_a_price_fills_in_full_within_its_budget_or_not_at_all():
    d = bank()
    d.rest("bob", "sell", 100, 5)
    d.rest("bob", "sell", 110, 10)
    d.apply(Transfer("alice", "bob", "USD", USD_GRANT - 1_000))
    before = everything(d)
    events = d.buy("alice", None, 10, type="market", tif="fok")  # 500 + 550 > 1,000
    assert kinds(events) == ["Accepted", "Rejected", "Done"]
    assert events[1].code == "unfillable"
    assert everything(d) == before
    events = d.buy("alice", None, 9, type="market", tif="fok")  # 500 + 440
    assert one(events, Done).status == "filled"
    assert bal(d, "alice", "USD") == (60, 0)


def test_a_fill_gives_the_buyer_back_what_it_held_above_the_trade_price():
    d = bank()
    d.rest("bob", "sell", 100, 4)
    events = d.buy("alice", 105, 10)
    assert one(events, Trade).price == 100
    assert one(events, Done).status == "partially_filled"
    # paid 4 x 100, holds 6 x 105 for the rest, the 4 x 5 above the trade price released
    assert bal(d, "alice", "USD") == (USD_GRANT - 400 - 630, 630)
    assert bal(d, "alice", "BTC") == (BTC_GRANT + 4, 0)
    assert bal(d, "bob", "BTC") == (BTC_GRANT - 4, 0)
    assert bal(d, "bob", "USD") == (USD_GRANT + 400, 0)


def test_a_resting_buy_filled_as_maker_pays_its_own_price():
    d = bank()
    d.rest("alice", "buy", 105, 10)
    d.sell("bob", 90, 3)
    assert bal(d, "alice", "USD") == (USD_GRANT - 1050, 735)
    assert bal(d, "bob", "USD") == (USD_GRANT + 315, 0)


def test_a_market_sell_holds_its_qty_and_releases_what_did_not_fill():
    d = bank()
    d.rest("bob", "buy", 100, 3)
    events = d.sell("alice", None, 5, type="market")
    assert one(events, Cancelled).remaining_qty == 2
    assert bal(d, "alice", "BTC") == (BTC_GRANT - 3, 0)
    assert bal(d, "alice", "USD") == (USD_GRANT + 300, 0)
    r = rejected(d.sell("alice", None, BTC_GRANT, type="market"))  # 997 available
    assert r.code == "insufficient_funds" and "BTC" in r.reason


# ---------------------------------------------------------------------- release


def _leave(d: Driver, how: str) -> list:
    """alice enters a buy of 10 @ 100 that leaves the book (or never rests) by ``how``;
    bob rests a sell of 4 @ 100 first for the ways that need a book."""
    if how in ("ioc", "post_only", "fok"):
        d.rest("bob", "sell", 100, 4)
        if how == "post_only":
            return d.buy("alice", 100, 10, post_only=True)
        return d.buy("alice", 100, 10, tif=how)
    order_id = d.rest("alice", "buy", 100, 10, client_id="k")
    if how == "cancel":
        return d.cancel("alice", order_id)
    if how == "cancel_by_client_id":
        return d.cancel("alice", client_id="k")
    assert how == "cancel_all"
    d.rest("alice", "buy", 99, 10, market=ETH)
    d.rest("alice", "sell", 120, 10)
    return d.cancel_all("alice")


@pytest.mark.parametrize(
    "how", ["cancel", "cancel_by_client_id", "cancel_all", "ioc", "post_only", "fok"]
)
def test_leaving_the_book_releases_what_the_order_held(how):
    d = bank(symbols=(BTC, ETH))
    events = _leave(d, how)
    assert of(events, Cancelled) or of(events, Rejected), events
    traded = sum(t.qty * t.price for t in of(events, Trade))
    assert bal(d, "alice", "USD") == (USD_GRANT - traded, 0)
    assert d.ex.open_orders("alice") == []
    assert d.ex.totals() == d.ex.granted()


@pytest.mark.parametrize("stp", ["cancel_maker", "cancel_taker", "cancel_both"])
def test_self_trade_prevention_releases_what_the_cancelled_orders_held(stp):
    d = bank()
    maker = d.rest("alice", "sell", 100, 5)
    d.rest("bob", "sell", 101, 5)
    events = d.buy("alice", 101, 8, stp=stp)
    cancelled = {c.order_id for c in of(events, Cancelled)}
    taker = one(events, Done).order_id
    assert (maker in cancelled) == (stp != "cancel_taker")
    assert (taker in cancelled) == (stp != "cancel_maker")
    if stp == "cancel_maker":  # bought 5 from bob at 101; 3 rest at 101
        assert [t.qty for t in of(events, Trade)] == [5]
        assert bal(d, "alice", "USD") == (USD_GRANT - 505 - 303, 303)
        assert bal(d, "alice", "BTC") == (BTC_GRANT + 5, 0)
    else:  # nothing traded: the taker's hold is back
        assert not of(events, Trade)
        assert bal(d, "alice", "USD") == (USD_GRANT, 0)
        expected_btc = (BTC_GRANT - 5, 5) if stp == "cancel_taker" else (BTC_GRANT, 0)
        assert bal(d, "alice", "BTC") == expected_btc


# ---------------------------------------------------------------------- amend


def test_amending_up_needs_the_difference_and_otherwise_changes_nothing():
    d = bank()
    order_id = d.rest("alice", "buy", 100, 10)
    d.apply(Transfer("alice", "bob", "USD", USD_GRANT - 1_500))  # 500 available, 1,000 held
    before = everything(d)
    r = rejected(d.amend("alice", order_id, qty=16))  # needs 600 more
    assert (r.op, r.code, r.order_id) == ("amend", "insufficient_funds", order_id)
    assert short(r.reason, "USD", "0.001", "0.006", "0.005"), r.reason
    r = rejected(d.amend("alice", order_id, price=151))  # needs 510 more
    assert r.code == "insufficient_funds"
    assert everything(d) == before
    assert one(d.amend("alice", order_id, qty=15), Done).status == "resting"
    assert bal(d, "alice", "USD") == (0, 1_500)
    assert one(d.amend("alice", order_id, qty=10, price=150), Done).status == "resting"
    assert bal(d, "alice", "USD") == (0, 1_500)


def test_amending_down_releases():
    d = bank()
    buy = d.rest("alice", "buy", 100, 10)
    sell = d.rest("alice", "sell", 200, 10)
    assert one(d.amend("alice", buy, qty=4), Amended).kept_priority
    assert bal(d, "alice", "USD") == (USD_GRANT - 400, 400)
    d.amend("alice", buy, price=90)
    assert bal(d, "alice", "USD") == (USD_GRANT - 360, 360)
    d.amend("alice", sell, qty=3)
    assert bal(d, "alice", "BTC") == (BTC_GRANT - 3, 3)
    d.amend("alice", sell, price=300)  # a sell's hold does not depend on its price
    assert bal(d, "alice", "BTC") == (BTC_GRANT - 3, 3)


def test_amending_a_partly_filled_order_holds_for_what_remains():
    d = bank()
    buy = d.rest("alice", "buy", 100, 10)
    d.sell("bob", 100, 4)
    assert bal(d, "alice", "USD") == (USD_GRANT - 1_000, 600)
    d.amend("alice", buy, qty=12, price=110)  # 8 remain, at 110
    assert bal(d, "alice", "USD") == (USD_GRANT - 400 - 880, 880)
    r = rejected(d.amend("alice", buy, qty=4))
    assert r.code == "invalid"  # not above the filled quantity


def test_an_amend_that_crosses_settles_at_the_makers_price():
    d = bank()
    buy = d.rest("alice", "buy", 100, 10)
    d.rest("bob", "sell", 105, 4)
    events = d.amend("alice", buy, price=110)
    assert [(t.price, t.qty) for t in of(events, Trade)] == [(105, 4)]
    assert bal(d, "alice", "USD") == (USD_GRANT - 420 - 660, 660)
    assert bal(d, "alice", "BTC") == (BTC_GRANT + 4, 0)


# ---------------------------------------------------------------------- transfers


def test_a_transfer_moves_available_units():
    d = bank()
    d.rest("alice", "sell", 100, 600)  # 600 of alice's BTC held
    assert d.apply(Transfer("alice", "bob", "BTC", 400)) == [
        Transferred("alice", "bob", "BTC", 400, d.index)
    ]
    assert bal(d, "alice", "BTC") == (0, 600)
    assert bal(d, "bob", "BTC") == (BTC_GRANT + 400, 0)
    r = rejected(d.apply(Transfer("alice", "bob", "BTC", 1)))  # held is not available
    assert (r.code, r.owner) == ("insufficient_funds", "alice")
    assert short(r.reason, "BTC", "0.001", "0.001", "0"), r.reason
    assert d.ex.totals() == d.ex.granted()


@pytest.mark.parametrize(
    ("transfer", "code", "words"),
    [
        (Transfer("alice", "bob", "XRP", 1), "invalid", "unknown asset XRP"),
        (Transfer("alice", "alice", "USD", 1), "invalid", "oneself"),
        (Transfer("alice", "zed", "USD", 1), "not_found", "no trader named zed"),
        (Transfer("alice", "mallory", "USD", 1), "not_found", "no trader named mallory"),
        (Transfer("mallory", "alice", "USD", 1), "invalid", "mallory has no account"),
        (Transfer("alice", "bob", "USD", USD_GRANT + 1), "insufficient_funds", "short by 0.00001"),
    ],
)
def test_transfer_rules(transfer, code, words):
    d = bank()
    d.buy("mallory", 100, 1)  # known to the engine (a rejected order), but no account
    before = everything(d)
    r = rejected(d.apply(transfer))
    assert (r.op, r.code, r.owner) == ("transfer", code, transfer.owner)
    assert words in r.reason
    assert everything(d) == before


def test_transfer_amounts_are_checked_when_parsed():
    obj = {"op": "transfer", "owner": "a", "to": "b", "asset": "USD", "amount": 5}
    assert parse_command(obj) == Transfer("a", "b", "USD", 5)
    for bad in (0, -1, 1.5, "5", True, 10**16):
        with pytest.raises(InvalidInput) as info:
            parse_command({**obj, "amount": bad})
        assert info.value.field == "amount"


# ---------------------------------------------------------------------- fees


def test_fees_are_taken_from_what_each_side_receives_at_its_rate():
    d = bank(maker=10, taker=20)  # 0.1% and 0.2%
    d.rest("bob", "sell", 10_000, 500)  # bob is the maker, a seller
    d.buy("alice", 10_000, 500)  # alice the taker, a buyer: 5,000,000 units of USD
    assert bal(d, "alice", "BTC") == (BTC_GRANT + 500 - 1, 0)  # 0.2% of 500 is 1
    assert bal(d, "alice", "USD") == (USD_GRANT - 5_000_000, 0)
    assert bal(d, "bob", "USD") == (USD_GRANT + 5_000_000 - 5_000, 0)  # 0.1%
    assert bal(d, "bob", "BTC") == (BTC_GRANT - 500, 0)
    assert fee_account(d.ex) == {"BTC": 1, "USD": 5_000}
    assert [d.ex.ledger.fees[d.ex.asset(a).asset_id] for a in ("BTC", "USD")] == [1, 5_000]
    # the other way round: bob's resting buy is the maker, carol's sell the taker
    d.rest("bob", "buy", 10_000, 500)
    d.sell("carol", 10_000, 500)
    assert bal(d, "bob", "BTC") == (BTC_GRANT - 500 + 500 - 0, 0)  # 0.1% of 500 rounds to 0
    assert bal(d, "carol", "USD") == (USD_GRANT + 5_000_000 - 10_000, 0)  # 0.2%
    assert fee_account(d.ex) == {"BTC": 1, "USD": 15_000}
    assert d.ex.totals() == d.ex.granted()


def test_a_fee_rounds_down_so_a_small_fill_may_pay_none():
    d = bank(maker=1000, taker=1000)  # 10%, the highest rate
    d.rest("bob", "sell", 100, 9)
    d.buy("alice", 100, 9)  # 9 units of BTC: 10% is 0.9, rounded down to 0
    assert bal(d, "alice", "BTC") == (BTC_GRANT + 9, 0)
    assert bal(d, "bob", "USD") == (USD_GRANT + 900 - 90, 0)
    assert fee_account(d.ex) == {"BTC": 0, "USD": 90}


def test_a_self_trade_pays_both_fees():
    d = bank(maker=100, taker=200)
    d.rest("alice", "sell", 1_000, 100)
    d.buy("alice", 1_000, 100)  # stp none: alice trades with herself
    assert bal(d, "alice", "BTC") == (BTC_GRANT - 2, 0)  # 2% of 100 as the taker buyer
    assert bal(d, "alice", "USD") == (USD_GRANT - 1_000, 0)  # 1% of 100,000 as the maker
    assert d.ex.totals() == d.ex.granted()


# ---------------------------------------------------------------------- units and markets


def test_a_market_finer_than_a_configured_unit_is_refused():
    d = bank()
    r = rejected(d.create("BTC/EUR", tick="0.01", lot="0.0001"))
    assert (r.op, r.code) == ("create_market", "invalid")
    assert r.reason.startswith("lot: finer than the unit of BTC (0.001)")
    r = rejected(d.create("ETH/USD", tick="0.0001", lot="0.01"))  # tick x lot 1e-6 USD
    assert r.reason.startswith("tick: finer than the unit of USD")
    assert d.ex.market("BTC/EUR") is None and d.ex.market(ETH) is None


def test_a_coarser_market_or_a_new_asset_after_configure_is_fine():
    d = bank()
    assert kinds(d.create(ETH, tick="0.1", lot="0.01")) == ["MarketCreated"]
    assert d.ex.balances("alice") == [("BTC", BTC_GRANT, 0), ("USD", USD_GRANT, 0), ("ETH", 0, 0)]
    assert d.ex.asset("USD").places == 5  # unchanged
    d.apply(OpenAccount("dave"))
    assert bal(d, "dave", "ETH") == (0, 0)  # the grant has none of it
    assert rejected(d.sell("dave", 100, 1, market=ETH)).code == "insufficient_funds"
    d.rest("alice", "buy", 100, 1, market=ETH)  # 10 USD per ETH x 0.01 ETH: 10,000 units
    assert bal(d, "alice", "USD") == (USD_GRANT - 10_000, 10_000)


def test_before_configure_a_finer_market_makes_the_unit_finer():
    d = Driver(BTC)
    assert d.ex.asset("BTC").places == 3
    assert kinds(d.create("BTC/EUR", tick="0.01", lot="0.0001")) == ["MarketCreated"]
    assert d.ex.asset("BTC").places == 4
    assert d.ex.market(BTC).base_per_lot == 10  # a lot of 0.001 is now 10 units
    d.apply(Configure("BTC=1,USD=1"))
    d.apply(OpenAccount("alice"))
    assert bal(d, "alice", "BTC") == (10_000, 0)
    d.rest("alice", "sell", 100, 3)
    assert bal(d, "alice", "BTC") == (10_000 - 30, 30)


def test_at_most_64_assets_even_when_a_market_brings_two_new_ones():
    d = Driver()
    for n in range(61):  # with BTC and USD: 63 assets
        assert kinds(d.create(f"A{n}/USD")) == ["MarketCreated"]
    r = rejected(d.create("X/Y"))
    assert r.reason == "tick: at most 64 assets"
    assert d.ex.asset("X") is None and d.ex.asset("Y") is None
    assert kinds(d.create("X/USD")) == ["MarketCreated"]  # the 64th
    assert rejected(d.create("Z/USD")).reason == "lot: at most 64 assets"
    assert kinds(d.create("X/BTC")) == ["MarketCreated"]  # no new asset


def test_asset_and_max_qty_queries():
    d = bank()
    usd = d.ex.asset("USD")
    assert usd is not None and d.ex.asset("XRP") is None
    assert (usd.name, usd.places, usd.unit) == ("USD", 5, Decimal("0.00001"))
    assert usd.units("12.5", "amount") == 1_250_000 and usd.text(1_250_000) == "12.5"
    with pytest.raises(InvalidInput):
        usd.units("0.000001", "amount")
    assert d.ex.max_qty("alice", BTC, "buy", 300) == USD_GRANT // 300
    assert d.ex.max_qty("alice", BTC, "sell", None) == BTC_GRANT
    assert d.ex.max_qty("alice", BTC, "buy", None) is None
    assert d.ex.max_qty("alice", "XRP/USD", "buy", 1) is None
    assert d.ex.max_qty("nobody", BTC, "sell", None) == 0
    d.rest("alice", "sell", 100, 250)
    assert d.ex.max_qty("alice", BTC, "sell", None) == BTC_GRANT - 250


# ---------------------------------------------------------------------- snapshots


def _busy_bank() -> Driver:
    """Money on with fees, two markets, resting and partly filled orders on both sides,
    a transfer, and an account with nothing open."""
    d = bank(maker=10, taker=25, owners=("alice", "bob", "carol", "dave"), symbols=(BTC,))
    d.create(ETH, tick="0.1", lot="0.01")
    d.rest("alice", "sell", 10_000, 300, client_id="k1")
    d.buy("bob", 10_100, 100)  # takes 100 at 10,000, holds nothing after
    d.rest("bob", "buy", 9_000, 50, stp="cancel_both")
    d.rest("carol", "buy", 9_500, 20)
    d.sell("carol", 9_400, 5)  # partly fills carol's own bid (stp none)
    d.apply(Transfer("alice", "carol", "USD", 123_456))
    d.apply(Transfer("bob", "dave", "BTC", 7))
    d.rest("dave", "sell", 11_000, 7, client_id="d")
    return d


def test_the_snapshot_carries_the_money_and_round_trips():
    d = _busy_bank()
    blob = d.ex.snapshot()
    assert blob.startswith(HEADER)
    copy = Exchange.restore(blob)
    assert copy.snapshot() == blob and copy.digest() == d.ex.digest()
    for owner in ("alice", "bob", "carol", "dave"):
        assert copy.balances(owner) == d.ex.balances(owner)
    assert copy.totals() == d.ex.totals() == d.ex.granted() == copy.granted()
    assert fee_account(copy) == fee_account(d.ex) != {"BTC": 0, "USD": 0, "ETH": 0}


def test_a_restored_exchange_keeps_settling_identically():
    d = _busy_bank()
    copy = Exchange.restore(d.ex.snapshot())
    future = [
        Submit("bob", BTC, "buy", "limit", 10_000, 250),  # fills alice's rest, then rests
        Submit("erin", BTC, "sell", "limit", 9_000, 1),  # no account
        OpenAccount("erin"),
        Submit("erin", BTC, "sell", "market", None, 80, "ioc"),  # hits bob's bids
        Submit("carol", BTC, "buy", "market", None, 30, "fok"),
        Amend("bob", 3, qty=70, price=9_100),
        Amend("carol", 4, price=99_999_999),  # far too dear
        Transfer("dave", "erin", "USD", 5),
        Submit("alice", ETH, "sell", "limit", 100, 20),
        Submit("bob", ETH, "buy", "market", None, 30, "ioc"),
        Submit("dave", BTC, "buy", "limit", 11_000, 7, client_id="d"),  # a duplicate
    ]
    for cmd in future:
        d.index += 1
        assert copy.apply(cmd, d.index) == d.ex.apply(cmd, d.index), cmd
        assert copy.digest() == d.ex.digest()
        assert copy.totals() == d.ex.totals() == d.ex.granted()
    for owner in ("alice", "bob", "carol", "dave", "erin"):
        assert copy.balances(owner) == d.ex.balances(owner)


def _tampered(blob: bytes, change) -> bytes:
    state = json.loads(blob[len(HEADER) :])
    change(state[-1])  # the money: on, fees bps, assets, grant, granted, fees, accounts
    return HEADER + json.dumps(state, separators=(",", ":")).encode()


def _account(money: list, name: str) -> list:
    return next(row for row in money[7] if row[0] == name)


def _move_to_held(money: list) -> None:  # totals still add up, the holds do not
    alice = _account(money, "alice")
    alice[1][0] -= 1
    alice[2][0] += 1


def _mint(money: list) -> None:  # money from nowhere
    _account(money, "dave")[1][1] += 1


def _negative(money: list) -> None:  # totals still add up, one balance is below zero
    dave, carol = _account(money, "dave"), _account(money, "carol")
    carol[1][1] += dave[1][1] + 1
    dave[1][1] = -1


def _swap_accounts(money: list) -> None:
    money[7].reverse()


def _money_off(money: list) -> None:
    money[0] = False


def _short_list(money: list) -> None:
    _account(money, "bob")[1].pop()


def _fee_rate(money: list) -> None:
    money[1] = 1001


@pytest.mark.parametrize(
    "change",
    [_move_to_held, _mint, _negative, _swap_accounts, _money_off, _short_list, _fee_rate],
)
def test_a_tampered_snapshot_is_refused(change):
    blob = _busy_bank().ex.snapshot()
    Exchange.restore(_tampered(blob, lambda money: None))  # the re-encoding alone is fine
    with pytest.raises(InvalidInput) as info:
        Exchange.restore(_tampered(blob, change))
    assert info.value.field == "snapshot"


def test_a_snapshot_of_an_exchange_never_configured_restores_without_money():
    d = Driver(BTC, ETH)
    d.rest("alice", "sell", 100, 5)
    blob = d.ex.snapshot()
    copy = Exchange.restore(blob)
    assert copy.digest() == d.ex.digest()

    def grant(money: list) -> None:
        money[4][0] = 1

    def fee_rate(money: list) -> None:
        money[2] = 5

    for change in (grant, fee_rate):
        with pytest.raises(InvalidInput):
            Exchange.restore(_tampered(blob, change))
    assert rejected(copy.apply(OpenAccount("alice"), d.index + 1)).code == "invalid"
    assert kinds(copy.apply(Configure(GRANT), d.index + 2))[0] == "Rejected"  # orders exist


# ---------------------------------------------------------------------- properties

STREAMS = money_streams()
TRADERS = (*OWNERS, NEWCOMER)


def _per_lot(ex: Exchange, symbol: str) -> tuple[str, int, str, int]:
    """(base, units of base per lot, quote, units of quote per tick x lot), from the
    market's steps and the assets' units (not from what the engine stored)."""
    market = ex.market(symbol)
    assert market is not None
    base, quote = ex.asset(market.base), ex.asset(market.quote)
    assert base is not None and quote is not None
    tick, lot = Decimal(market.tick), Decimal(market.lot)
    per_lot, per_notional = lot / base.unit, tick * lot / quote.unit
    assert per_lot == int(per_lot) and per_notional == int(per_notional)
    return base.name, int(per_lot), quote.name, int(per_notional)


def _balances(ex: Exchange) -> dict[str, list]:
    return {owner: ex.balances(owner) for owner in TRADERS}


class Model:
    """What every account owns in total (available + held), from the events alone."""

    def __init__(self) -> None:
        self.grant: dict[str, int] = {}
        self.maker = self.taker = 0
        self.totals: dict[str, dict[str, int]] = {}  # owner -> asset -> units
        self.fees: dict[str, int] = defaultdict(int)

    def see(self, ex: Exchange, events: list) -> None:
        for e in events:
            if type(e) is Configured:
                self.grant, self.maker, self.taker = dict(e.grant), e.maker_fee_bps, e.taker_fee_bps
            elif type(e) is AccountOpened:
                self.totals[e.owner] = defaultdict(int, self.grant)
            elif type(e) is Transferred:
                self.totals[e.owner][e.asset] -= e.amount
                self.totals[e.to][e.asset] += e.amount
            elif type(e) is Trade:
                base, per_lot, quote, per_notional = _per_lot(ex, e.market)
                buyer_is_maker = e.aggressor == "sell"
                buyer, seller = ((e.maker_owner, e.taker_owner) if buyer_is_maker
                                 else (e.taker_owner, e.maker_owner))  # fmt: skip
                got_base, got_quote = e.qty * per_lot, e.qty * e.price * per_notional
                base_fee = got_base * (self.maker if buyer_is_maker else self.taker) // 10_000
                quote_fee = got_quote * (self.taker if buyer_is_maker else self.maker) // 10_000
                self.totals[buyer][quote] -= got_quote
                self.totals[buyer][base] += got_base - base_fee
                self.totals[seller][base] -= got_base
                self.totals[seller][quote] += got_quote - quote_fee
                self.fees[base] += base_fee
                self.fees[quote] += quote_fee

    def check(self, ex: Exchange) -> None:
        for owner in TRADERS:
            rows = ex.balances(owner)
            if owner not in self.totals:
                assert rows == []
                continue
            assert {a: avail + held for a, avail, held in rows} == {
                a: self.totals[owner][a] for a, _, _ in rows
            }, owner
        assert fee_account(ex) == {a: self.fees[a] for a in ex.totals()}


def _check_money(ex: Exchange) -> None:
    """Conservation, no negative balance, and holds equal to what open orders may spend."""
    assert ex.totals() == ex.granted()
    for owner in TRADERS:
        rows = ex.balances(owner)
        assert all(available >= 0 and held >= 0 for _, available, held in rows), rows
        expected: dict[str, int] = defaultdict(int)
        for view in ex.open_orders(owner):
            base, per_lot, quote, per_notional = _per_lot(ex, view.market)
            if view.side == "buy":  # (a buy stop without a price holds nothing)
                expected[quote] += view.remaining_qty * (view.price or 0) * per_notional
            else:
                expected[base] += view.remaining_qty * per_lot
        assert {a: held for a, _, held in rows if held} == {
            a: n for a, n in expected.items() if n
        }, (owner, rows)
        if not rows:
            assert not ex.open_orders(owner)


@settings(max_examples=120, deadline=None)
@given(STREAMS)
def test_money_is_conserved_never_negative_and_held_by_open_orders_exactly(stream):
    ex = Exchange()
    model = Model()
    for i, cmd in enumerate(stream, 1):
        before = _balances(ex)
        events = step(ex, cmd, i)
        model.see(ex, events)
        _check_money(ex)
        model.check(ex)
        refused = of(events, Rejected)
        done = of(events, Done)
        if refused and not of(events, Trade) and not of(events, Cancelled):
            assert _balances(ex) == before, (cmd, events)  # a refusal changes no balance
        if done and done[0].duplicate:
            assert _balances(ex) == before
        if isinstance(cmd, Submit) and cmd.tif == "fok" and done and not done[0].duplicate:
            assert done[0].status in ("filled", "rejected", "untriggered"), events
    assert ex.ledger.on  # the stream did run with money


@settings(max_examples=80, deadline=None)
@given(STREAMS)
def test_an_insufficient_funds_rejection_changes_nothing_but_its_record(stream):
    ex = Exchange()
    seen = 0
    for i, cmd in enumerate(stream, 1):
        before = (_balances(ex), [ex.depth(s, 100) for s in ex.markets])
        events = step(ex, cmd, i)
        own = own_events(events)  # (a triggered stop's refusal comes after a trade)
        if any(type(e) is Rejected and e.code == "insufficient_funds" for e in own):
            seen += 1
            assert kinds(events) in (["Rejected", "Done"], ["Rejected"]), events
            assert (_balances(ex), [ex.depth(s, 100) for s in ex.markets]) == before


@settings(max_examples=60, deadline=None)
@given(STREAMS)
def test_money_streams_are_deterministic_and_survive_the_wire(stream):
    first, second = Exchange(), Exchange()
    for i, cmd in enumerate(stream, 1):
        logged = wire(cmd)
        assert logged == cmd
        assert step(first, cmd, i) == step(second, logged, i)
        assert first.digest() == second.digest()
    assert _balances(first) == _balances(second)


@settings(max_examples=60, deadline=None)
@given(STREAMS, st.data())
def test_snapshot_and_restore_anywhere_give_the_same_digest_and_the_same_future(stream, data):
    original = Exchange()
    cut = data.draw(st.integers(0, len(stream)), label="cut")
    copy = None
    for i, cmd in enumerate(stream, 1):
        if i == cut + 1:
            copy = Exchange.restore(original.snapshot())
            assert copy.digest() == original.digest()
        events = step(original, cmd, i)
        blob = original.snapshot()
        assert Exchange.restore(blob).snapshot() == blob  # every state restores
        if copy is not None:
            assert step(copy, cmd, i) == events, cmd
            assert copy.digest() == original.digest()
            assert _balances(copy) == _balances(original)
