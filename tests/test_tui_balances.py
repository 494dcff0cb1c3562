"""The trader's money on the screen: the balances panel (values, total, P&L since the
grant), the ticket's most-you-can-trade, the header's trader and key, and transfers from
the command palette. Models first (no screen), then Pilot tests over a LocalPeer."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from textual.widgets import Button, Input, Label

from dex_tui.local import LocalPeer
from dex_tui.model import transfer
from dex_tui.model.balances import (
    NO_ACCOUNT,
    NO_MONEY,
    amount_text,
    balances,
    last_prices,
    lines,
    money_text,
)
from dex_tui.model.ticket import TicketForm, check, max_lots, to_command
from dex_tui.screens.transfer import TransferScreen
from dex_tui.widgets.balances import BalancesPanel, layout
from dex_tui.widgets.ticket import OrderTicket
from engine import Configure, CreateMarket, Exchange, InvalidInput, OpenAccount, Submit, Transfer
from net.traders import fingerprint
from tests.tui_helpers import book_peer, local_peer, make_app, run_from_palette, settle, type_text

BTC = "BTC/USD"
SIZE = (130, 40)


def buy(peer, owner, price, qty, n, side="buy"):
    return peer.apply(Submit(owner, BTC, side, "limit", price, qty, client_id=f"{owner}-{n}"))


# ---------------------------------------------------------------------- the model


def test_the_grant_is_worth_its_usd_until_a_market_trades():
    peer = local_peer()
    b = balances(peer.exchange, "alice")
    assert [(h.asset, h.available, h.held, h.price) for h in b.holdings] == [
        ("BTC", 10_000, 0, None),
        ("ETH", 10_000, 0, None),
        ("USD", 10_000_000_000, 0, 1),
    ]
    assert b.total == Decimal(1_000_000) and b.pnl == 0
    assert b.unvalued == ("BTC", "ETH")
    shown = lines(b)
    assert shown.rows[-1] == ("USD", "1,000,000", "0", "1,000,000.00")
    assert shown.rows[0] == ("BTC", "10", "0", "no trade")
    assert shown.note == "BTC, ETH: no trade yet, not valued"
    assert (shown.total, shown.pnl, shown.pnl_sign) == ("1,000,000.00", "0.00", 0)


def test_value_and_pnl_are_marked_at_the_last_trade():
    peer = local_peer()
    buy(peer, "bob", 1002, 500, 1, side="sell")  # bob asks 0.5 BTC at 100.2
    buy(peer, "alice", 1002, 500, 1)  # alice takes it: +0.5 BTC, -50.1 USD
    buy(peer, "bob", 1003, 1000, 2, side="sell")
    buy(peer, "alice", 990, 1000, 2)  # rests: holds 99 USD
    b = balances(peer.exchange, "alice")
    btc, _, usd = b.holdings
    assert (btc.available, btc.held, btc.price) == (10_500, 0, Decimal("100.2"))
    assert (usd.available, usd.held) == (10_000_000_000 - 501_000 - 990_000, 990_000)
    assert b.pnl == 0  # bought at the price it is marked at
    buy(peer, "carol", 1003, 200, 1)  # carol lifts bob's 100.3: the mark moves up
    b = balances(peer.exchange, "alice")
    assert b.holdings[0].price == Decimal("100.3")
    assert b.pnl == Decimal("0.5") * Decimal("0.1")  # the 0.5 BTC gained 0.1 each
    assert b.total == Decimal("10.5") * Decimal("100.3") + Decimal("999949.9")
    shown = lines(b)
    assert shown.rows[0] == ("BTC", "10.5", "0", "1,053.15")
    assert shown.rows[-1] == ("USD", "999,850.9", "99", "999,949.90")
    assert (shown.pnl, shown.pnl_sign) == ("+0.05", 1)
    assert shown.note == "ETH: no trade yet, not valued"
    assert balances(peer.exchange, "bob").pnl == Decimal("-0.05")


def test_no_money_and_no_account_say_so():
    assert balances(LocalPeer(grant=None).exchange, "alice").state == NO_MONEY
    assert balances(local_peer().exchange, "dora").state == NO_ACCOUNT
    assert lines(balances(local_peer().exchange, "dora")).note == NO_ACCOUNT


def test_an_asset_without_a_usd_market_is_not_valued_and_says_why():
    exchange = Exchange()
    for n, command in enumerate([CreateMarket("BTC/USD", "BTC", "USD", "0.1", "0.001"),
                                 CreateMarket("SOL/BTC", "SOL", "BTC", "0.0001", "0.1"),
                                 Configure("BTC=1,USD=100,SOL=5"), OpenAccount("al")],
                                start=1):  # fmt: skip
        exchange.apply(command, n)
    b = balances(exchange, "al")
    sol = next(h for h in b.holdings if h.asset == "SOL")
    assert sol.price is None and sol.why_unpriced == "no USD market"
    assert lines(b).rows[1] == ("SOL", "5", "0", "no market")
    assert last_prices(exchange) == {}


def test_last_prices_take_the_market_that_traded_last():
    exchange = Exchange()
    commands = [CreateMarket("BTC/USD", "BTC", "USD", "0.1", "0.001"),
                CreateMarket("BTC-USD", "BTC", "USD", "1", "0.001")]  # fmt: skip
    for n, (market, price) in enumerate([("BTC-USD", 99), ("BTC/USD", 1005)]):
        commands += [Submit("a", market, "sell", "limit", price, 1, client_id=f"s{n}"),
                     Submit("b", market, "buy", "limit", price, 1, client_id=f"b{n}")]  # fmt: skip
    for n, command in enumerate(commands, start=1):
        exchange.apply(command, n)
    assert last_prices(exchange) == {"BTC": Decimal("100.5")}


def test_texts_are_exact_amounts_and_values_to_the_cent():
    assert amount_text(99_999_600_800, Decimal("0.0001")) == "9,999,960.08"
    assert amount_text(0, Decimal("0.001")) == "0" and amount_text(5, Decimal(1)) == "5"
    assert money_text(Decimal("1234.565")) == "1,234.56"  # half even
    assert money_text(Decimal("-0.001"), signed=True) == "0.00"  # not "-0.00"
    assert money_text(Decimal("-12.5"), signed=True) == "-12.50"


def test_the_panel_layout_right_aligns_columns_and_drops_held_when_narrow():
    peer = local_peer()
    shown = lines(balances(peer.exchange, "alice"))
    rows = layout(shown, 34)
    text = ["".join(t for t, _ in row) for row in rows]
    assert all(len(line) == 34 for line in text)
    assert text[0].split() == ["available", "held", "value"]
    assert text[3].startswith("USD") and text[3].endswith("1,000,000.00")
    assert text[4].startswith("total") and text[4].endswith("1,000,000.00")
    assert text[5].startswith("P&L since grant") and text[5].endswith("0.00")
    narrow = ["".join(t for t, _ in row) for row in layout(shown, 28)]
    assert narrow[0].split() == ["available", "value"]  # no room for held
    assert narrow[3].endswith("1,000,000.00")


trades = st.lists(
    st.tuples(st.sampled_from(["alice", "bob", "carol"]), st.sampled_from(["buy", "sell"]),
              st.integers(990, 1010), st.integers(1, 3000)),
    max_size=40,
)  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(trades, st.integers(0, 30), st.integers(0, 30))
def test_everyones_pnl_sums_to_minus_the_fees_at_any_marks(orders, maker_bps, taker_bps):
    """Money only moves between traders and into the fee account, so at the same marks the
    traders' P&L add up to minus the value of the fees taken, exactly."""
    exchange = Exchange()
    setup = [
        CreateMarket(BTC, "BTC", "USD", "0.1", "0.001"),
        Configure("BTC=10,USD=10000", maker_bps, taker_bps),
        *(OpenAccount(owner) for owner in ("alice", "bob", "carol")),
    ]
    index = 0
    for index, command in enumerate(setup, start=1):
        exchange.apply(command, index)
    for n, (owner, side, price, qty) in enumerate(orders):
        index += 1
        exchange.apply(Submit(owner, BTC, side, "limit", price, qty, client_id=f"c{n}"), index)
    everyone = [balances(exchange, owner) for owner in ("alice", "bob", "carol")]
    prices = {h.asset: h.price for h in everyone[0].holdings}
    if prices["BTC"] is None:
        assert all(b.pnl == 0 for b in everyone)  # no trade: USD only, untouched
        return
    fees = exchange.ledger.fees
    fee_value = sum(fees[a.asset_id] * a.unit * prices[a.name] for a in exchange.ledger.assets)
    assert sum(b.pnl for b in everyone) == -fee_value


def test_the_ticket_refuses_more_than_the_trader_can_trade():
    peer = local_peer()
    market = peer.exchange.markets[BTC]
    form = TicketForm("buy", "limit", "100", "")
    most = max_lots(form, market, peer.exchange, "alice")
    assert most == 10_000_000  # 1,000,000 USD / 100: 10,000 BTC in lots of 0.001
    assert check(TicketForm("buy", "limit", "100", "10000"), market, most) == {}
    over = check(TicketForm("buy", "limit", "100", "10000.001"), market, most)
    assert over == {"qty": "more than available USD pays for at 100: max 10000"}
    sell = TicketForm("sell", "limit", "100", "10.001")
    assert max_lots(sell, market, peer.exchange, "alice") == 10_000
    assert check(sell, market, 10_000) == {"qty": "more than the 10 BTC available to sell"}
    try:
        to_command(sell, market, "alice", "c1", 10_000)
        raise AssertionError("sent")
    except InvalidInput as exc:
        assert exc.field == "qty"
    assert max_lots(TicketForm("buy", "limit", "", ""), market, peer.exchange, "alice") is None
    assert max_lots(TicketForm("buy", "market"), market, peer.exchange, "alice") is None
    no_money = LocalPeer(grant=None).exchange
    assert max_lots(form, no_money.markets[BTC], no_money, "alice") is None
    assert max_lots(form, market, peer.exchange, "dora") is None  # no account (yet)


def test_a_transfer_form_is_refused_at_the_field_or_becomes_the_command():
    exchange = local_peer().exchange

    def errors(to="bob", asset="USD", amount="1"):
        return transfer.check(transfer.TransferForm(to, asset, amount), exchange, "alice")

    assert errors() == {}
    assert errors(asset="DOGE") == {"asset": "unknown asset 'DOGE' (assets: BTC, USD, ETH)"}
    assert errors(amount="0.00001") == {"amount": "0.00001 is not a multiple of 0.0001"}
    assert errors(amount="1000000.0001") == {"amount": "more than the 1,000,000 USD available"}
    assert errors(amount="-1") == {"amount": "must be greater than zero"}
    assert set(errors(to="", asset="", amount="")) == {"to", "asset", "amount"}
    assert "oneself" in errors(to="alice")["to"]
    form = transfer.TransferForm(" bob ", "usd", "250.5")
    assert transfer.to_command(form, exchange, "alice") == Transfer("alice", "bob", "USD",
                                                                    2_505_000)  # fmt: skip
    assert transfer.hint(form, exchange, "alice") == "available: 1,000,000 USD (unit 0.0001)"


# ---------------------------------------------------------------------- on the screen


def panel_text(app) -> list[str]:
    panel = app.query_one(BalancesPanel)
    return ["".join(t for t, _ in row) for row in layout(panel.lines, panel.size.width)]


async def test_the_panel_shows_the_grant_and_follows_fills_and_the_mark():
    app = make_app(book_peer())
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(BalancesPanel)
        await settle(pilot, lambda: panel.lines is not None)
        assert "Balances" in str(app.query_one("#balances-panel").border_title)
        text = panel_text(app)
        assert text[1].split() == ["BTC", "10", "0", "no", "trade"]
        assert text[3].split() == ["USD", "1,000,000", "0", "1,000,000.00"]
        assert text[-1].strip() == "BTC, ETH: no trade yet, not valued"
        await pilot.press("t")
        await type_text(pilot, "100.2")
        await pilot.press("tab")
        await type_text(pilot, "0.5")
        await pilot.press("enter")  # buys 0.5 at 100.2 from bob
        await settle(pilot, lambda: panel_text(app)[1].split()[:2] == ["BTC", "10.5"])
        assert panel_text(app)[1].split() == ["BTC", "10.5", "0", "1,052.10"]
        assert panel_text(app)[3].split() == ["USD", "999,949.9", "0", "999,949.90"]
        app.peer.apply(Submit("carol", BTC, "buy", "limit", 1003, 200, client_id="c1"))
        await settle(pilot, lambda: "+0.05" in panel_text(app)[5])  # marked at 100.3 now
        assert panel_text(app)[5].startswith("P&L since grant")
        assert panel.lines.pnl_sign == 1
        app.peer.apply(Submit("carol", BTC, "sell", "limit", 999, 3000, client_id="c2"))
        await settle(pilot, lambda: panel.lines.pnl_sign == -1)  # marked at 99.9: a loss
        assert panel.lines.pnl == "-0.15"


async def test_an_order_that_rests_shows_what_it_holds():
    app = make_app(book_peer())
    async with app.run_test(size=SIZE) as pilot:
        app.peer.apply(Submit("alice", BTC, "sell", "limit", 1010, 2500, client_id="a1"))
        await settle(pilot, lambda: panel_text(app)[1].split()[:3] == ["BTC", "7.5", "2.5"])


async def test_the_ticket_shows_the_most_it_can_trade_and_refuses_more_at_the_field():
    app = make_app(book_peer())
    async with app.run_test(size=SIZE) as pilot:
        ticket = app.query_one(OrderTicket)
        most = ticket.query_one("#max", Label)
        assert not most.display  # no price typed yet: nothing to say
        await pilot.press("t")
        await type_text(pilot, "100")
        await settle(pilot, lambda: str(most.content) == "max 10000")
        await pilot.press("tab")
        await type_text(pilot, "10000.5")
        await settle(pilot, lambda: "max 10000" in str(ticket.query_one("#errors", Label).content))
        assert ticket.query_one("#send", Button).disabled
        assert ticket.query_one("#qty", Input).has_class("-invalid")
        index = app.peer.index
        await pilot.press("enter")
        await pilot.pause()
        assert app.peer.index == index  # refused at the field: nothing sent
        await pilot.press("escape", "s")
        await settle(pilot, lambda: str(most.content) == "max 10")
        await pilot.click("#max")  # the most, into the field
        await settle(pilot, lambda: ticket.query_one("#qty", Input).value == "10")
        assert not ticket.query_one("#send", Button).disabled
        app.peer.apply(Submit("alice", BTC, "sell", "limit", 1010, 2500, client_id="a1"))
        await settle(pilot, lambda: str(most.content) == "max 7.5")  # 2.5 held by the order
        assert "more than the 7.5 BTC available" in str(ticket.query_one("#errors", Label).content)


async def test_the_header_names_the_trader_and_its_key():
    peer = book_peer()
    app = make_app(peer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert f"trader alice (key {fingerprint(peer.trader_key)})" in app.sub_title


async def open_transfer(pilot) -> TransferScreen:
    await run_from_palette(pilot, "Transfer to a trader")
    await settle(pilot, lambda: isinstance(pilot.app.screen, TransferScreen), what="transfer")
    return pilot.app.screen


async def test_a_transfer_from_the_palette_checks_its_fields_and_reports_the_index():
    app = make_app(book_peer())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_transfer(pilot)
        errors = screen.query_one("#transfer-errors", Label)
        await type_text(pilot, "bob")
        await pilot.press("tab")
        await type_text(pilot, "doge")
        await settle(pilot, lambda: "unknown asset 'doge'" in str(errors.content))
        asset = screen.query_one("#transfer-asset", Input)
        asset.value = "usd"
        await pilot.press("tab")
        await type_text(pilot, "2000000")
        await settle(pilot, lambda: "more than the 1,000,000 USD available" in str(errors.content))
        assert "available: 1,000,000 USD" in str(screen.query_one("#transfer-hint", Label).content)
        index = app.peer.index
        await pilot.press("enter")  # refused at the field: the dialog stays, nothing is sent
        await pilot.pause()
        assert app.screen is screen and app.peer.index == index
        amount = screen.query_one("#transfer-amount", Input)
        amount.value = "0.00001"
        await settle(pilot, lambda: "not a multiple of 0.0001" in str(errors.content))
        amount.value = "250.5"
        await settle(pilot, lambda: str(errors.content) == "")
        await pilot.press("enter")
        await settle(pilot, lambda: app.peer.index == index + 1)
        said = " ".join(n.message for n in app._notifications)
        assert f"transfer 250.5 USD to bob: done at log index {index + 1}" in said
        assert dict((a, f) for a, f, _ in app.peer.exchange.balances("bob"))["USD"] == (
            10_000_000_000 - 4_296_000 + 2_505_000)  # bob's bids hold 429.6 USD  # fmt: skip
        await settle(pilot, lambda: "999,749.5" in panel_text(app)[3])


async def test_a_transfer_the_engine_refuses_shows_its_reason():
    app = make_app(book_peer())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_transfer(pilot)
        for field, value in (("to", "zed"), ("asset", "BTC"), ("amount", "1")):
            screen.query_one(f"#transfer-{field}", Input).value = value
        screen.query_one("#transfer-amount", Input).focus()
        await pilot.press("enter")
        await settle(pilot, lambda: any("no trader named zed" in n.message
                                        for n in app._notifications))  # fmt: skip
        [note] = [n for n in app._notifications if "zed" in n.message]
        assert note.severity == "error" and note.message.startswith("transfer 1 BTC to zed")
        assert app.peer.exchange.balances("alice")[0][1] == 10_000  # nothing moved


async def test_escape_closes_the_transfer_without_sending():
    app = make_app(book_peer())
    async with app.run_test(size=SIZE) as pilot:
        index = app.peer.index
        await open_transfer(pilot)
        await pilot.press("escape")
        await settle(pilot, lambda: not isinstance(app.screen, TransferScreen))
        assert app.peer.index == index


async def test_an_order_the_trader_cannot_fund_comes_back_rejected_with_the_shortfall():
    """The quick line is checked by its parser, not against balances: the engine refuses."""
    app = make_app(book_peer())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon")
        await type_text(pilot, "b 20000 @ 100")
        await pilot.press("enter")
        await settle(pilot, lambda: any("insufficient_funds" in n.message
                                        for n in app._notifications))  # fmt: skip
        [note] = [n for n in app._notifications if "insufficient_funds" in n.message]
        assert "rejected: insufficient_funds: USD short by 1000000" in note.message
        assert note.severity == "error"
        assert app.peer.exchange.open_orders("alice") == []
