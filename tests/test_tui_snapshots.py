"""Snapshot tests of the terminal app (pytest-textual-snapshot): the main screen with a live
book after an hour and a half of trades (the chart's 1m candles, the ticker in the header,
the tape's consensus times, balances valued at the last trade, the ticket's most-you-can-
buy, the trader's key), the same at 5m candles with a stop waiting and a stop-limit gtd
ticket, the scenario picker, a transfer refused at its amount field, and the no-quorum
state, with fixed data, clocks, trader key and time zone.

Update after an intended change of the screen with ``pytest --snapshot-update`` and review
the SVGs in ``tests/__snapshots__``.
"""

import pytest

from tests.tui_helpers import cut_off_peer, make_app, stops_and_gtd, trade_live, trading_peer

SIZE = (130, 40)


#: The screen shows consensus time in local time: UTC in these tests (conftest.utc).
pytestmark = pytest.mark.usefixtures("utc")


def test_main_screen(snap_compare):
    assert snap_compare(make_app(trading_peer()), terminal_size=SIZE, run_before=trade_live)


def test_stops_gtd_and_the_5m_chart(snap_compare):
    async def run_before(pilot):
        await stops_and_gtd(pilot)
        await pilot.press("escape", "2")

    assert snap_compare(make_app(trading_peer()), terminal_size=SIZE, run_before=run_before)


def test_scenario_picker(snap_compare):
    assert snap_compare(make_app(trading_peer()), terminal_size=SIZE, press=["ctrl+o"])


def test_transfer_refused_at_the_field(snap_compare):
    press = ["T", *"bob", "tab", *"usd", "tab", *"2000000"]
    assert snap_compare(make_app(trading_peer()), terminal_size=SIZE, press=press)


def test_no_quorum(snap_compare):
    assert snap_compare(make_app(cut_off_peer()), terminal_size=SIZE)
