"""Orders that need time or a trigger price, on the screen: good-till-date and stop orders
from the ticket and the quick line, untriggered stops in the orders panel (with their
trigger, cancelled and amended like resting orders), expiry by consensus time, and the
LocalPeer's timer that expires a gtd order with no other traffic. The ticket's model first,
then Pilot tests over a LocalPeer."""

import asyncio
import time

import pytest
from textual.widgets import Button, Input, Label, Select

from dex_tui.local import LocalPeer
from dex_tui.model.ticket import TicketForm, check, expiry_hint, to_command
from dex_tui.screens.amend import AmendScreen
from dex_tui.widgets.orders import OpenOrders
from dex_tui.widgets.ticket import OrderTicket
from engine import InvalidInput, Submit
from tests.tui_helpers import CLOCK, CLOCK_MS, book_peer, local_peer, make_app, settle, type_text

BTC = "BTC/USD"
SIZE = (130, 40)
MARKET = local_peer().exchange.markets[BTC]


#: The screen shows consensus time in local time: UTC in these tests (conftest.utc).
pytestmark = pytest.mark.usefixtures("utc")


# ---------------------------------------------------------------------- the ticket's model


def test_a_stop_needs_a_trigger_and_a_gtd_order_an_expiry():
    stop = TicketForm("sell", "stop", qty="1")
    assert check(stop, MARKET) == {"trigger": "enter a trigger price"}
    assert check(TicketForm("sell", "stop", qty="1", trigger="99.95"), MARKET) == {
        "trigger": "99.95 is not a multiple of 0.1"}  # fmt: skip
    assert "price" in check(TicketForm("sell", "stop_limit", qty="1", trigger="99"), MARKET)
    gtd = TicketForm("buy", "limit", "99", "1", "gtd")
    assert check(gtd, MARKET) == {"expiry": "enter an expiry: a duration such as 30s, 5m or "
                                            "2h, or a local time such as 14:30"}  # fmt: skip
    assert "not a time of day" in check(TicketForm("buy", "limit", "99", "1", "gtd",
                                                   expiry="25:00"), MARKET)["expiry"]  # fmt: skip
    assert check(TicketForm("buy", "limit", "99", "1", "gtd", True, expiry="5m"), MARKET) == {}
    # a stop becomes a market order when triggered: its time in force is not asked for
    assert check(TicketForm("buy", "stop", qty="1", tif="gtd", trigger="101"), MARKET) == {}


def test_stop_and_gtd_tickets_become_the_submits_they_show():
    stop = to_command(TicketForm("sell", "stop", "98", "0.5", trigger="99"), MARKET, "al", "c1")
    assert (stop.type, stop.price, stop.trigger, stop.tif, stop.expire_at) == (
        "stop", 980, 990, "ioc", None)  # fmt: skip
    form = TicketForm("buy", "stop_limit", "101.5", "1", "gtd", trigger="101", expiry="30s")
    command = to_command(form, MARKET, "al", "c2", now=CLOCK)
    assert (command.type, command.price, command.trigger, command.tif) == (
        "stop_limit", 1015, 1010, "gtd")  # fmt: skip
    assert command.expire_at == CLOCK_MS + 30_000
    assert expiry_hint(form, CLOCK) == "expires 12:00:30, in 30s"
    assert expiry_hint(TicketForm(), CLOCK) == ""
    with pytest.raises(InvalidInput, match="expiry"):
        to_command(TicketForm("buy", "limit", "99", "1", "gtd", expiry="later"), MARKET, "a", "c")


# ---------------------------------------------------------------------- on screen


def statuses(app) -> dict[str, tuple[str, str]]:
    """Order row key -> (status, trigger) as the orders panel shows them."""
    return {row.key: (row.status, row.trigger) for row in app.query_one(OpenOrders).by_key.values()}


async def pick(pilot, ticket: OrderTicket, select: str, value: str) -> None:
    ticket.query_one(f"#{select}", Select).value = value
    await settle(pilot, lambda: getattr(ticket.form, select) == value, what=f"{select} {value}")


async def test_a_stop_limit_from_the_ticket_waits_untriggered_then_trades_when_crossed():
    app = make_app()  # bids 100.0, 99.9, 99.5; asks from 100.2
    async with app.run_test(size=SIZE) as pilot:
        ticket = app.query_one(OrderTicket)
        await pilot.press("s")
        assert not ticket.query_one("#trigger-row").display
        await pick(pilot, ticket, "type", "stop_limit")
        assert ticket.query_one("#trigger-row").display
        ticket.query_one("#trigger", Input).value = "99.9"
        ticket.query_one("#price", Input).value = "99.8"
        ticket.query_one("#qty", Input).focus()
        await type_text(pilot, "0.5")
        await settle(pilot, lambda: not ticket.query_one("#send", Button).disabled)
        await pilot.press("enter")
        await settle(pilot, lambda: ("untriggered", "99.9") in statuses(app).values())
        [stop] = app.peer.exchange.open_orders("alice")
        assert (stop.type, stop.trigger, stop.price, stop.status) == (
            "stop_limit", 999, 998, "untriggered")  # fmt: skip
        detail = str(app.query_one("#order-detail").content)
        assert detail.startswith(f"#{stop.order_id} sell 0.500 @ 99.8 stop 99.9 · untriggered")
        # carol sells through the 100.0 bid down to 99.9: the last price reaches the trigger
        app.peer.apply(Submit("carol", BTC, "sell", "limit", 999, 1600, "ioc", client_id="c"))
        await settle(pilot, lambda: ("untriggered", "99.9") not in statuses(app).values())
        assert app.peer.exchange.order(stop.order_id).status != "untriggered"


async def test_a_gtd_order_from_the_ticket_expires_at_its_consensus_time():
    peer = book_peer()
    app = make_app(peer)
    async with app.run_test(size=SIZE) as pilot:
        ticket = app.query_one(OrderTicket)
        assert not ticket.query_one("#expiry").display
        await pick(pilot, ticket, "tif", "gtd")
        expiry = ticket.query_one("#expiry", Input)
        assert expiry.display
        expiry.focus()
        await type_text(pilot, "12:00:30")  # ':' is typed, not the quick line's key
        assert app.focused is expiry and expiry.value == "12:00:30"
        errors = ticket.query_one("#errors", Label)
        await settle(pilot, lambda: "expires 12:00:30, in 30s" in str(errors.content))
        ticket.query_one("#price", Input).value = "99"
        ticket.query_one("#qty", Input).value = "0.1"
        ticket.query_one("#qty", Input).focus()
        await settle(pilot, lambda: not ticket.query_one("#send", Button).disabled)
        await pilot.press("enter")
        await settle(pilot, lambda: ("resting", "") in statuses(app).values())
        [order] = peer.exchange.open_orders("alice")
        assert (order.tif, order.expire_at) == ("gtd", CLOCK_MS + 30_000)
        assert "till 12:00:30" in str(app.query_one("#order-detail").content)
        peer.clock.ms = CLOCK_MS + 30_000  # type: ignore[attr-defined]
        peer.apply(None)  # a time tick at its expiry: gone, as a cancel would take it
        await settle(pilot, lambda: statuses(app) == {})
        assert peer.exchange.order(order.order_id).status == "cancelled"


async def test_the_quick_line_takes_stops_and_a_gtd_clock_time():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon")
        app.query_one("#quick", Input).value = "s 0.2 stop 99.5 min 99"
        await pilot.press("enter")
        await settle(pilot, lambda: ("untriggered", "99.5") in statuses(app).values())
        await pilot.press("colon")
        await type_text(pilot, "b 0.1 @ 99 gtd 12:30")  # ':' in the quick line is typed
        assert app.query_one("#quick", Input).value == "b 0.1 @ 99 gtd 12:30"
        await pilot.press("enter")
        await settle(pilot, lambda: len(app.peer.exchange.open_orders("alice")) == 2)
        stop, gtd = app.peer.exchange.open_orders("alice")
        assert (stop.type, stop.price, stop.trigger) == ("stop", 990, 995)
        assert gtd.expire_at == CLOCK_MS + 30 * 60_000


async def test_an_untriggered_stop_is_amended_and_cancelled_from_the_orders_panel():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        events = app.peer.apply(Submit("alice", BTC, "sell", "stop", None, 300, "ioc",
                                       client_id="st", trigger=990))  # fmt: skip
        order_id = events[0].order_id
        await settle(pilot, lambda: f"o{order_id}" in statuses(app))
        await pilot.press("o", "a")
        await settle(pilot, lambda: isinstance(app.screen, AmendScreen))
        trigger = app.screen.query_one("#amend-trigger", Input)
        assert trigger.value == "99"
        trigger.value = "98.5"
        trigger.focus()
        await pilot.press("enter")
        await settle(pilot, lambda: app.peer.exchange.order(order_id).trigger == 985)
        await settle(pilot, lambda: statuses(app)[f"o{order_id}"] == ("untriggered", "98.5"))
        await pilot.press("c")
        await settle(pilot, lambda: app.peer.exchange.open_orders("alice") == [])


async def test_the_local_peers_timer_expires_a_gtd_order_with_no_other_traffic():
    peer = LocalPeer("alice")  # the wall clock, as a leader's
    peer.open_account("bob")
    expire_at = time.time_ns() // 1_000_000 + 300
    _, events = await peer.execute(Submit("alice", BTC, "buy", "limit", 990, 100, "gtd",
                                          client_id="g", expire_at=expire_at))  # fmt: skip
    order_id = events[0].order_id
    index = peer.index
    deadline = time.monotonic() + 1.5
    try:
        while peer.exchange.open_orders("alice"):
            assert time.monotonic() < deadline, "the gtd order did not expire within 1 s"
            await asyncio.sleep(0.02)
    finally:
        await peer.stop()
    assert peer.index == index + 1  # one time tick, nothing else
    assert peer.exchange.time >= expire_at
    assert peer.exchange.order(order_id).status == "cancelled"
