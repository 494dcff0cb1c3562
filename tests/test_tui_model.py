"""The terminal's models, without a screen: ladder, tape, ticket, blotter and desk."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from dex_tui.local import LocalPeer
from dex_tui.model import numbers
from dex_tui.model.blotter import Blotter
from dex_tui.model.desk import Desk
from dex_tui.model.ladder import DEPTHS, GROUPS, build_ladder, step
from dex_tui.model.tape import Tape
from dex_tui.model.ticket import TYPES, TicketForm, check, to_command
from engine import FOUNDING_MARKETS, Exchange, InvalidInput, Submit
from tests.tui_helpers import CLOCK, local_peer

BTC = "BTC/USD"


T0 = 1_764_072_000_000  # consensus ms of the first entry; each next one is a second later


def exchange_with(orders) -> Exchange:
    exchange = Exchange()
    commands = [*FOUNDING_MARKETS]
    commands += [Submit(owner, BTC, side, "limit", price, qty, client_id=f"c{n}")
                 for n, (owner, side, price, qty) in enumerate(orders)]  # fmt: skip
    for index, command in enumerate(commands, 1):
        exchange.advance(T0 + 1000 * (index - 1), index)
        exchange.apply(command, index)
    return exchange


# ---------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("units", "step", "text"),
    [(1005, "0.1", "100.5"), (1000, "0.1", "100.0"), (7, "0.001", "0.007"), (3, "5", "15"),
     (12, "0.25", "3.00"), (1, "1E+1", "10")],
)  # fmt: skip
def test_fixed_keeps_the_steps_decimals(units, step, text):
    assert numbers.fixed(units, Decimal(step)) == text


# ---------------------------------------------------------------------- ladder

book = st.lists(
    st.tuples(
        st.sampled_from(["bob", "alice"]),
        st.sampled_from(["buy", "sell"]),
        st.integers(900, 1100),
        st.integers(1, 5000),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(book, st.sampled_from(DEPTHS[:3]), st.sampled_from(GROUPS[:5]))
def test_ladder_levels_are_ordered_summed_and_padded(orders, rows, group):
    exchange = exchange_with(orders)
    ladder = build_ladder(exchange, BTC, "alice", rows, group)
    raw_bids, raw_asks = exchange.depth(BTC, 10_000)
    mine = {(o.side, o.price) for o in exchange.open_orders("alice", BTC)}
    for levels, raw, side in ((ladder.bids, raw_bids, "buy"), (ladder.asks, raw_asks, "sell")):
        assert len(levels) == rows
        shown = [lvl for lvl in levels if lvl is not None]
        assert levels[len(shown) :] == (None,) * (rows - len(shown))  # padding only at the end
        prices = [lvl.price for lvl in shown]
        assert prices == sorted(prices, reverse=side == "buy") and len(set(prices)) == len(prices)
        cum = 0
        for level in shown:
            assert level.price % group == 0
            # conservative buckets: bids round down, asks up
            inside = [r for r in raw if _bucket(r[0], group, side) == level.price]
            assert level.qty == sum(r[1] for r in inside)
            assert level.count == sum(r[2] for r in inside)
            assert level.own == any((side, r[0]) in mine for r in inside)
            cum += level.qty
            assert level.cum == cum
        if len(shown) < rows:  # every raw level made it in
            assert sum(lvl.qty for lvl in shown) == sum(r[1] for r in raw)
    assert ladder.max_cum == max(
        [lvl.cum for lvl in (*ladder.bids, *ladder.asks) if lvl], default=0
    )


def _bucket(price, group, side):
    return price // group * group if side == "buy" else -(-price // group) * group


def test_spread_mid_and_last_trade_tick():
    exchange = exchange_with([("bob", "buy", 1000, 10), ("bob", "sell", 1003, 10),
                              ("carol", "sell", 1000, 4), ("carol", "buy", 1003, 4)])  # fmt: skip
    ladder = build_ladder(exchange, BTC, "alice", 5)
    assert ladder.spread == 3 and ladder.mid2 == 2003
    assert (ladder.last_price, ladder.last_tick) == (1003, 1)  # 100.0 then 100.3: uptick
    empty = build_ladder(exchange_with([]), BTC, "alice", 5)
    assert empty.spread is None and empty.last_price is None and empty.max_cum == 0


def test_step_walks_options_and_stops_at_the_ends():
    assert step(GROUPS, 1, 1) == 2 and step(GROUPS, 1, -1) == 1
    assert step(DEPTHS, 50, 1) == 50 and step(DEPTHS, 10, -1) == 5


# ---------------------------------------------------------------------- tape


def test_tape_takes_new_trades_newest_first_with_ticks_consensus_times_and_own_marks():
    exchange = exchange_with([("bob", "sell", 1001, 10), ("bob", "sell", 1002, 10),
                              ("carol", "buy", 1001, 4)])  # fmt: skip
    tape = Tape("alice")
    assert tape.update(exchange, BTC)
    [first] = tape.rows(BTC)
    # a trade from before the tape first looked has its consensus time all the same: the
    # fifth entry's (two markets, two sells, then carol's buy)
    assert first.time == T0 + 4000 and first.tick == 0
    assert not tape.update(exchange, BTC)  # nothing new
    exchange.advance(T0 + 60_000, 100)
    exchange.apply(Submit("alice", BTC, "buy", "limit", 1002, 12, client_id="a"), 100)
    assert tape.update(exchange, BTC)
    rows = list(tape.rows(BTC))
    assert [(r.price, r.qty, r.tick, r.own, r.time) for r in rows] == [
        (1002, 6, 1, True, T0 + 60_000),
        (1001, 6, 0, True, T0 + 60_000),
        (1001, 4, 0, False, T0 + 4000),
    ]
    assert all(r.aggressor == "buy" for r in rows)


# ---------------------------------------------------------------------- ticket

MARKET = exchange_with([]).markets[BTC]


def test_ticket_errors_name_the_field_and_reason():
    assert check(TicketForm(price="100.5", qty="0.25"), MARKET) == {}
    errors = check(TicketForm(price="100.55", qty="-1"), MARKET)
    assert errors == {
        "price": "100.55 is not a multiple of 0.1",
        "qty": "must be greater than zero",
    }
    assert check(TicketForm(price="", qty=""), MARKET) == {
        "price": "enter a price", "qty": "enter a quantity"}  # fmt: skip
    assert check(TicketForm(type="market", qty="1"), MARKET) == {}  # no price needed
    assert "post_only" in check(TicketForm(price="1", qty="1", tif="ioc", post_only=True), MARKET)


def test_a_ticket_becomes_the_submit_it_shows():
    command = to_command(TicketForm("sell", "limit", "100.5", "0.25", "fok"), MARKET, "al", "c1")
    assert command == Submit("al", BTC, "sell", "limit", 1005, 250, "fok", False, "none", "c1")
    market = to_command(TicketForm("buy", "market", "", "1"), MARKET, "al", "c2")
    assert (market.type, market.price, market.tif) == ("market", None, "ioc")
    with pytest.raises(InvalidInput, match="price"):
        to_command(TicketForm(price="abc", qty="1"), MARKET, "al", "c3")


AMOUNT_TEXT = st.text(max_size=30) | st.decimals(0, 10**6, places=3).map(str)
EXPIRY_TEXT = st.text(max_size=12) | st.sampled_from(["30s", "5m", "2h", "14:30", "0s", "25:00"])


@settings(max_examples=300, deadline=None)
@given(AMOUNT_TEXT, AMOUNT_TEXT, st.sampled_from(TYPES), st.sampled_from(engine.TIFS),
       st.booleans(), AMOUNT_TEXT, EXPIRY_TEXT)  # fmt: skip
def test_any_typed_ticket_is_either_refused_by_field_or_sent_exactly(
    price, qty, kind, tif, post, trigger, expiry
):
    form = TicketForm("buy", kind, price, qty, tif, post, trigger, expiry)
    errors = check(form, MARKET)
    if errors:
        assert set(errors) <= {"price", "qty", "post_only", "trigger", "expiry"}
        with pytest.raises(InvalidInput):
            to_command(form, MARKET, "al", "c", now=CLOCK)
        return
    command = to_command(form, MARKET, "al", "c", now=CLOCK)
    assert Decimal(command.qty) * MARKET.lot_step == Decimal(qty.strip())
    if command.price is not None:
        assert Decimal(command.price) * MARKET.tick_step == Decimal(price.strip())
    assert (command.trigger is None) == (kind not in ("stop", "stop_limit"))
    if command.trigger is not None:
        assert Decimal(command.trigger) * MARKET.tick_step == Decimal(trigger.strip())
    gtd = tif == "gtd" and kind in ("limit", "stop_limit")
    assert (command.expire_at is not None) == gtd
    assert command.expire_at is None or command.expire_at > CLOCK * 1000
    assert command.tif == ("ioc" if kind in ("market", "stop") else tif)


# ---------------------------------------------------------------------- blotter and desk


def test_blotter_shows_pending_then_only_finished_outcomes():
    blotter = Blotter()
    command = Submit("alice", BTC, "buy", "limit", 990, 100, client_id="x1")
    blotter.sent(command, MARKET)
    exchange = exchange_with([])
    [row] = blotter.rows(exchange, "alice", BTC)
    assert (row.key, row.status, row.price, row.qty, row.filled) == (
        "cx1", "pending", "99.0", "0.100", "0.000")  # fmt: skip
    assert blotter.rows(exchange, "alice", "ETH/USD") == []
    blotter.resolved("x1", None, "ERR_NO_QUORUM")
    [row] = blotter.rows(exchange, "alice", BTC)
    assert (row.status, row.note) == ("failed", "ERR_NO_QUORUM")


async def test_desk_actions_describe_their_outcomes():
    peer = local_peer()
    peer.apply(Submit("bob", BTC, "sell", "limit", 1001, 500, client_id="b1"))
    desk = Desk(peer, "btc/usd")
    assert desk.ensure_market() and desk.market == BTC
    desk.ticket = TicketForm("buy", "limit", "100.1", "0.8")
    command = desk.ticket_command()
    desk.sent(command)
    outcome = await desk.submit(command)
    assert outcome.ok and outcome.text == (
        "buy 0.800 BTC/USD @ 100.1: partially filled: 0.500 at avg 100.1, 0.300 resting"
    )
    [mine] = peer.exchange.open_orders("alice")
    amended = await desk.amend(mine.order_id, "0.6", "")  # the new total, 0.5 of it filled
    assert amended.ok and peer.exchange.order(mine.order_id).remaining_qty == 100
    bad = await desk.amend(mine.order_id, "0.0001", "")
    assert not bad.ok and "qty: 0.0001 is not a multiple of 0.001" in bad.text
    assert (await desk.cancel_all(None)).text == "cancel all in every market: 1 cancelled"
    gone = await desk.cancel(mine.order_id)
    assert not gone.ok
    peer.quorum = False
    desk.ticket = TicketForm("sell", "limit", "100", "1")
    command = desk.ticket_command()
    desk.sent(command)
    failed = await desk.submit(command)
    assert not failed.ok and "ERR_NO_QUORUM" in failed.text
    assert desk.client_id() != desk.client_id()


async def test_desk_rejections_are_outcomes_not_errors():
    peer = local_peer()
    peer.apply(Submit("bob", BTC, "sell", "limit", 1001, 500, client_id="b1"))
    desk = Desk(peer)
    desk.ensure_market()
    desk.ticket = TicketForm("buy", "limit", "100.1", "0.1", "gtc", True)
    command = desk.ticket_command()
    desk.sent(command)
    outcome = await desk.submit(command)
    assert not outcome.ok and outcome.text.startswith("buy 0.100 BTC/USD @ 100.1: rejected: ")
    assert peer.exchange.open_orders("alice") == []


def test_the_wanted_market_is_shown_even_when_it_appears_after_another():
    peer = LocalPeer("alice")
    early = Exchange()
    early.apply(FOUNDING_MARKETS[0], 1)  # only BTC/USD exists yet
    peer._exchange, later = early, peer.exchange
    desk = Desk(peer, "eth/usd")
    assert desk.ensure_market() and desk.market == BTC
    peer._exchange = later  # now ETH/USD exists too
    assert desk.ensure_market() and desk.market == "ETH/USD"
    assert desk.switch(BTC) and desk.ensure_market() and desk.market == BTC  # the user's choice
