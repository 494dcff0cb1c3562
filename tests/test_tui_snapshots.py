"""Snapshot tests of the terminal app (pytest-textual-snapshot): the main screen with a live
book, the scenario picker, and the no-quorum state, with fixed data, clock and time zone.

Update after an intended change of the screen with ``pytest --snapshot-update`` and review
the SVGs in ``tests/__snapshots__``.
"""

import time

import pytest

from engine import Submit
from tests.tui_helpers import book_peer, make_app

SIZE = (130, 40)


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def trading_peer():
    peer = book_peer()
    peer.apply(Submit("alice", "BTC/USD", "buy", "limit", 998, 400, client_id="mine-1"))
    peer.apply(Submit("alice", "BTC/USD", "sell", "limit", 1005, 250, client_id="mine-2"))
    return peer


async def trade_live(pilot):
    """Two trades after start, so the tape shows times, ticks and an own fill."""
    peer = pilot.app.peer
    peer.apply(Submit("carol", "BTC/USD", "buy", "limit", 1002, 200, client_id="c1"))
    await pilot.pause(0.1)
    peer.apply(Submit("carol", "BTC/USD", "sell", "market", None, 300, "ioc", client_id="c2"))
    await pilot.pause(0.2)


def test_main_screen(snap_compare):
    assert snap_compare(make_app(trading_peer()), terminal_size=SIZE, run_before=trade_live)


def test_scenario_picker(snap_compare):
    assert snap_compare(make_app(trading_peer()), terminal_size=SIZE, press=["ctrl+o"])


def test_no_quorum(snap_compare):
    peer = trading_peer()
    peer.quorum = False
    peer.peers = [
        {"name": "bob", "addr": "127.0.0.1:4001", "state": "voter, unreachable",
         "last_seen_ms": 5300},
        {"name": "carol", "addr": "127.0.0.1:4002", "state": "voter, unreachable",
         "last_seen_ms": 5210},
    ]  # fmt: skip
    assert snap_compare(make_app(peer), terminal_size=SIZE)
