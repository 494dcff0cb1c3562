"""Pilot tests: every action of the terminal app, driven by keys and clicks, checked on the
screen's widgets and in the engine underneath."""

import asyncio
from pathlib import Path

from textual.widgets import Button, Input, Label, OptionList, Select, Static

from dex_tui.screens.amend import AmendScreen
from dex_tui.screens.confirm import ConfirmScreen
from dex_tui.screens.help import HelpScreen
from dex_tui.screens.picker import ScenarioPicker
from dex_tui.widgets.ladder import DepthLadder
from dex_tui.widgets.orders import OpenOrders
from dex_tui.widgets.tape import TradeTape
from dex_tui.widgets.ticket import OrderTicket
from engine import Submit
from tests.tui_helpers import (
    CLOCK_MS,
    book_peer,
    make_app,
    run_from_palette,
    settle,
    trading_peer,
    type_text,
)

SIZE = (130, 40)
SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def open_orders(app, owner="alice"):
    return app.peer.exchange.open_orders(owner)


def statuses(app) -> dict[str, str]:
    return {row.key: row.status for row in app.query_one(OpenOrders).by_key.values()}


async def fill_ticket(pilot, price: str, qty: str) -> None:
    await pilot.press("t")  # focuses the price field
    await type_text(pilot, price)
    await pilot.press("tab")
    await type_text(pilot, qty)


async def test_ticket_order_is_pending_until_committed_then_shows_its_outcome():
    peer = book_peer()
    peer.hold = asyncio.Event()
    app = make_app(peer)
    async with app.run_test(size=SIZE) as pilot:
        await fill_ticket(pilot, "99.8", "0.25")
        await pilot.press("enter")
        await settle(pilot, lambda: "pending" in statuses(app).values())
        assert open_orders(app) == []  # not committed: nothing in the book yet
        peer.hold.set()
        await settle(pilot, lambda: "resting" in statuses(app).values())
        [order] = open_orders(app)
        assert (order.side, order.price, order.qty) == ("buy", 998, 250)
        assert "pending" not in statuses(app).values()
        assert any("resting" in n.message for n in app._notifications)


async def test_a_crossing_ticket_order_fills_and_the_tape_marks_it_as_mine():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b")
        await fill_ticket(pilot, "100.3", "0.6")
        await pilot.press("enter")
        await settle(pilot, lambda: len(app.query_one(TradeTape).trades) == 2)
        newest, older = app.query_one(TradeTape).trades
        assert (older.price, older.qty, newest.price, newest.qty) == (1002, 500, 1003, 100)
        assert newest.own and newest.aggressor == "buy" and newest.time == CLOCK_MS
        assert newest.tick == 1  # an uptick: the arrow points up
        assert "filled 0.600 at avg 100.216666667" in " ".join(
            n.message for n in app._notifications
        )


async def test_an_off_tick_price_is_shown_at_the_field_and_nothing_is_sent():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await fill_ticket(pilot, "100.05", "0.0005")
        await pilot.pause()
        errors = str(app.query_one("#errors", Label).content)
        assert "price: 100.05 is not a multiple of 0.1" in errors
        assert "qty: 0.0005 is not a multiple of 0.001" in errors
        assert app.query_one("#send", Button).disabled
        index = app.peer.index
        await pilot.press("enter")
        await pilot.pause()
        assert app.peer.index == index  # nothing was sent
        assert any(n.severity == "error" for n in app._notifications)


async def test_clicking_a_ladder_level_prefills_the_price_and_keeps_the_side():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        ladder = app.query_one(DepthLadder)
        rows = ladder.rows
        # content row rows + 2 is the best bid (100.0); the ladder has a 1-cell border
        await pilot.click(DepthLadder, offset=(5, rows + 2))
        await pilot.pause()
        ticket = app.query_one(OrderTicket)
        assert ticket.query_one("#price", Input).value == "100"
        assert ticket.form.side == "sell"
        assert app.focused is ticket.query_one("#qty", Input)


async def test_b_and_s_flip_the_side_and_the_send_button_says_so():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        ticket = app.query_one(OrderTicket)
        assert (
            ticket.has_class("-sell") and str(ticket.query_one("#send", Button).label) == "Sell BTC"
        )
        await pilot.press("b")
        await pilot.pause()
        assert (
            ticket.has_class("-buy") and str(ticket.query_one("#send", Button).label) == "Buy BTC"
        )


async def test_the_quick_line_sends_an_order_and_refuses_a_bad_one_with_its_column():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        start = app.peer.index
        await pilot.press("colon")
        assert app.focused is app.query_one("#quick", Input)
        await type_text(pilot, "b 0.5 @ 99.7 ioc")
        await pilot.press("enter")
        await settle(pilot, lambda: app.peer.index == start + 1)
        done = app.peer.exchange.order_by_client_id(
            "alice", app.desk.session and f"tui-{app.desk.session}-1"
        )
        assert done is not None and done.tif == "ioc" and done.status == "cancelled"
        assert app.focused is app.query_one(DepthLadder)  # keys are keys again
        await pilot.press("colon")
        await type_text(pilot, "b 0.5 @ 99.75")
        await pilot.press("enter")
        await pilot.pause()
        assert app.peer.index == start + 1
        assert any("<input>:1:9:" in n.message for n in app._notifications)


async def test_escape_leaves_an_input_so_single_keys_work_again():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await pilot.press("s")  # typed into the price field, not a side change
        assert app.query_one(OrderTicket).form.side == "buy"
        await pilot.press("escape", "s")
        await pilot.pause()
        assert app.query_one(OrderTicket).form.side == "sell"


async def own_order(app, pilot, side="buy", price=990, qty=100, n=1) -> int:
    events = app.peer.apply(
        Submit("alice", "BTC/USD", side, "limit", price, qty, client_id=f"a{n}")
    )
    await settle(pilot, lambda: f"o{events[0].order_id}" in statuses(app))
    return events[0].order_id


async def test_cancel_the_selected_order():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        order_id = await own_order(app, pilot)
        await pilot.press("o", "c")
        await settle(pilot, lambda: open_orders(app) == [])
        assert app.peer.exchange.order(order_id).status == "cancelled"


async def test_cancel_all_asks_first_and_does_nothing_on_no():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await own_order(app, pilot, n=1)
        await own_order(app, pilot, side="sell", price=1010, n=2)
        await pilot.press("C")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause()
        assert len(open_orders(app)) == 2
        await pilot.press("C")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await settle(pilot, lambda: open_orders(app) == [])


async def test_amend_the_selected_orders_quantity():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        order_id = await own_order(app, pilot, qty=800)
        await pilot.press("o", "a")
        await settle(pilot, lambda: isinstance(app.screen, AmendScreen))
        qty = app.screen.query_one("#amend-qty", Input)
        assert qty.value == "0.8"
        qty.value = "0.3"
        qty.focus()
        await pilot.press("enter")
        await settle(pilot, lambda: app.peer.exchange.order(order_id).qty == 300)
        assert app.peer.exchange.order(order_id).price == 990


async def test_an_amend_off_the_lot_is_refused_with_the_reason():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        order_id = await own_order(app, pilot, qty=800)
        await pilot.press("o", "a")
        await settle(pilot, lambda: isinstance(app.screen, AmendScreen))
        app.screen.query_one("#amend-qty", Input).value = "0.0001"
        app.screen.query_one("#amend-qty", Input).focus()
        await pilot.press("enter")
        await settle(pilot, lambda: any("not a multiple" in n.message for n in app._notifications))
        assert app.peer.exchange.order(order_id).qty == 800


async def test_a_scenario_with_an_error_reports_line_and_column_and_sends_nothing(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("buy 1 @ 100\nsell 1 @ 101\nbuy 1 @ 100.05\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        index = app.peer.index
        await pilot.press("ctrl+o")
        await settle(pilot, lambda: isinstance(app.screen, ScenarioPicker))
        app.screen.query_one("#scenario-path", Input).value = str(bad)
        app.screen.query_one("#scenario-path", Input).focus()
        await pilot.press("enter")
        status = app.query_one("#scenario-status", Static)
        await settle(pilot, lambda: "bad.txt:3:9:" in str(status.content))
        assert "not a multiple of 0.1" in str(status.content)
        assert app.peer.index == index


async def test_a_good_scenario_runs_from_the_picker_with_progress_and_lands_in_recent():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await settle(pilot, lambda: isinstance(app.screen, ScenarioPicker))
        files = app.screen.query_one(OptionList)
        ids = [str(files.get_option_at_index(i).id) for i in range(files.option_count)]
        wanted = next(i for i, name in enumerate(ids) if name.endswith("crossing_book.txt"))
        files.highlighted = wanted
        await pilot.press("enter")
        status = app.query_one("#scenario-status", Static)
        await settle(pilot, lambda: "done" in str(status.content), timeout=20)
        run = app.run_state
        assert run is not None and run.sent == run.total and run.error is None
        assert "crossing_book" in str(status.content)
        assert app.peer.exchange.markets["BTC/USD"].trades  # it crossed
        assert app.recent.paths and app.recent.paths[0].name == "crossing_book.txt"


async def test_a_running_scenario_can_be_stopped(tmp_path):
    slow = tmp_path / "slow.txt"
    slow.write_text("buy 0.001 @ 90\nsleep 30s\nbuy 0.001 @ 91\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.load_scenario(slow)
        await settle(pilot, lambda: app.run_state is not None and app.run_state.sent >= 1)
        await pilot.press("x")
        await settle(pilot, lambda: app.run_state.done)
        assert app.run_state.stopped
        assert [o.price for o in open_orders(app)] == [900]


async def test_switch_market_by_key_by_list_and_by_palette():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m")
        await settle(pilot, lambda: app.desk.market == "ETH/USD")
        assert "ETH/USD" in str(app.query_one("#ladder-panel").border_title)
        markets = app.query_one("#markets", OptionList)
        markets.focus()
        markets.highlighted = 0
        await pilot.press("enter")
        await settle(pilot, lambda: app.desk.market == "BTC/USD")
        await run_from_palette(pilot, "Market: ETH")
        await settle(pilot, lambda: app.desk.market == "ETH/USD")


async def test_no_quorum_shows_a_banner_and_an_order_fails_clearly():
    peer = book_peer()
    peer.quorum = False
    app = make_app(peer, status_every=0.05)
    async with app.run_test(size=SIZE) as pilot:
        banner = app.query_one("#banner", Static)
        await settle(pilot, lambda: banner.has_class("-shown"))
        assert "NO QUORUM" in str(banner.content)
        await fill_ticket(pilot, "99", "1")
        await pilot.press("enter")
        await settle(pilot, lambda: "failed" in statuses(app).values())
        assert any("ERR_NO_QUORUM" in n.message for n in app._notifications)
        peer.quorum = True
        await settle(pilot, lambda: not banner.has_class("-shown"))


async def test_help_lists_every_key():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await settle(pilot, lambda: isinstance(app.screen, HelpScreen))
        table = app.screen.query_one(Static).content
        text = "\n".join(" ".join(str(c) for c in col._cells) for col in table.columns)
        for binding in app.BINDINGS:
            assert binding.description in text
        await pilot.press("escape")
        await settle(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_the_palette_offers_every_action():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for binding in app.BINDINGS:
            assert binding.description in titles
        assert "Market: ETH/USD" in titles
        assert any(t.startswith("Load scenario: market_sweep") for t in titles)
        await pilot.pause()


async def test_space_freezes_the_ladder_and_grouping_and_depth_change_it():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        ladder = app.query_one(DepthLadder)
        await pilot.press("space")
        await pilot.pause()
        frozen = ladder.ladder
        app.peer.apply(Submit("bob", "BTC/USD", "buy", "limit", 1001, 100, client_id="late"))
        app.flush()  # a refresh tick while frozen
        assert ladder.ladder is frozen and "FROZEN" in str(
            app.query_one("#ladder-panel").border_title
        )
        await pilot.press("space")
        await settle(pilot, lambda: ladder.ladder.bids[0].price == 1001)
        await pilot.press("plus")
        await settle(pilot, lambda: ladder.ladder.group == 2)
        bids = [(lvl.price, lvl.qty) for lvl in ladder.ladder.bids[:3]]
        assert bids == [(1000, 1600), (998, 2500), (994, 300)]  # bids floor to the bucket
        assert ladder.rows == 10  # as many as fit in 40 lines above the chart's least height
        await pilot.press("right_square_bracket")
        await settle(pilot, lambda: ladder.rows == 15)
        await pilot.press("left_square_bracket", "left_square_bracket")
        await settle(pilot, lambda: ladder.rows == 5)
        assert ladder.size.height == 2 * 5 + 2


async def test_a_scenario_given_at_start_runs_once_the_app_is_up():
    app = make_app(scenario=SCENARIOS / "market_sweep.txt", status_every=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.run_state is not None and app.run_state.done, timeout=20)
        assert app.run_state.error is None and app.run_state.sent == app.run_state.total


async def test_a_scenario_loads_from_the_command_palette():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await run_from_palette(pilot, "Load scenario: partial_fill")
        await settle(pilot, lambda: app.run_state is not None and app.run_state.done, timeout=20)
        assert app.run_state.scenario.name.startswith("partial_fill_walk")


async def test_colon_opens_the_quick_line_from_a_field_but_types_in_a_dialog():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t", "1", "colon")
        assert app.focused is app.query_one("#quick", Input)
        assert app.query_one(OrderTicket).form.price == "1"
        await pilot.press("escape", "ctrl+o")
        await settle(pilot, lambda: isinstance(app.screen, ScenarioPicker))
        path = app.screen.query_one("#scenario-path", Input)
        path.focus()
        await type_text(pilot, "c:x")
        assert path.value == "c:x"


async def test_a_market_order_from_the_ticket_needs_no_price_and_takes_liquidity():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        ticket = app.query_one(OrderTicket)
        kind = ticket.query_one("#type", Select)
        kind.focus()
        await pilot.press("enter", "down", "enter")  # open the list, pick "market"
        await settle(pilot, lambda: ticket.form.type == "market", what="the market type")
        assert ticket.query_one("#tif", Select).disabled
        ticket.query_one("#qty", Input).focus()
        await type_text(pilot, "0.6")
        await settle(pilot, lambda: not ticket.query_one("#send", Button).disabled)
        await pilot.press("enter")
        await settle(pilot, lambda: app.peer.exchange.depth("BTC/USD", 1)[1][0][0] == 1003)
        said = " ".join(n.message for n in app._notifications)
        assert "buy 0.600 BTC/USD market: filled 0.600" in said


async def test_after_a_long_no_quorum_the_banner_says_how_to_recover():
    peer = book_peer()
    peer.quorum = False
    peer.no_quorum_s = 5.0
    app = make_app(peer, status_every=0.05)
    async with app.run_test(size=SIZE) as pilot:
        banner = app.query_one("#banner", Static)
        await settle(pilot, lambda: "NO QUORUM" in str(banner.content))
        assert "--force-new-cluster" not in str(banner.content)  # not at once
        peer.no_quorum_s = 31.0
        await settle(pilot, lambda: "--force-new-cluster" in str(banner.content))


async def test_a_peer_still_joining_says_what_it_is_doing():
    peer = book_peer()
    status = peer.status
    peer.status = lambda digest=True: {  # type: ignore[method-assign]
        **status(digest), "state": "joining", "role": "joining", "quorum": False,
        "joining": "127.0.0.1:4001 refused this peer: this peer is in cluster 'a', not 'dex'",
    }  # fmt: skip
    app = make_app(peer, status_every=0.05)
    async with app.run_test(size=SIZE) as pilot:
        banner = app.query_one("#banner", Static)
        await settle(pilot, lambda: banner.has_class("-shown"))
        text = str(banner.content)
        assert "Joining cluster 'dex'" in text and "not 'dex'" in text
        assert "Orders are refused" in text


async def test_another_cluster_is_shown_and_the_palette_moves_there_after_a_yes():
    peer = trading_peer()
    peer.others = [{"cluster_id": "dex-0ther", "pristine": False, "peers": ["dora", "eve"]}]
    app = make_app(peer, status_every=0.25)  # (a faster status slows the palette's typing)
    async with app.run_test(size=SIZE) as pilot:
        banner = app.query_one("#banner", Static)
        await settle(pilot, lambda: "dex-0ther (dora, eve)" in str(banner.content))
        before = app.desk
        await run_from_palette(pilot, "Switch to")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "moved aside, not deleted" in str(app.screen.query_one(Label).content)
        await pilot.press("n")  # no: nothing happens
        await settle(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert peer.epoch == 0
        await run_from_palette(pilot, "Switch to")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await settle(pilot, lambda: peer.epoch == 1)
        await settle(pilot, lambda: app.desk is not before)  # the new cluster's state
        await settle(pilot, lambda: not banner.has_class("-shown"))
        assert app.desk.exchange.open_orders("alice") == []
