"""The terminal app over a :class:`LocalPeer` with a known book and a fixed clock.

Pilot tests drive the app the way a user does (keys, clicks) and check both the screen's
widgets and the engine underneath. ``settle`` polls a condition between pauses, so a test
waits exactly as long as the app needs and never sleeps a fixed time.
"""

import hashlib
import random
import time
from collections.abc import Callable

from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input, Select

from dex_tui.app import DexApp
from dex_tui.local import LocalPeer
from engine import Submit

CLOCK = 1_764_072_000.0  # 2025-11-25 12:00:00 UTC: the wall clock in every test
CLOCK_MS = int(CLOCK * 1000)  # the consensus time of every entry (unless a test moves it)
HISTORY_MINUTES = 90  # of trades before CLOCK, for the chart (see with_history)

#: (side, price in ticks, qty in lots) resting for "bob" in BTC/USD (tick 0.1, lot 0.001)
BOOK = (
    ("buy", 1000, 1500),
    ("buy", 999, 2500),
    ("buy", 995, 300),
    ("sell", 1002, 500),
    ("sell", 1003, 700),
    ("sell", 1005, 3000),
)


class Clock:
    """A consensus clock a test sets (ms since the epoch), for a LocalPeer."""

    def __init__(self, ms: int = CLOCK_MS) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def local_peer(
    name: str = "alice", others: tuple[str, ...] = ("bob", "carol"), clock: Clock | None = None
) -> LocalPeer:
    """A LocalPeer with money (the default grant) whose trader key follows from its name
    (the header shows its fingerprint), and accounts for the ``others``; its consensus
    time is ``clock``'s (CLOCK without one)."""
    seed = hashlib.sha256(name.encode()).digest()
    peer = LocalPeer(name, seed=seed, clock=clock or Clock())
    for other in others:
        peer.open_account(other)
    return peer


def with_history(peer: LocalPeer, clock: Clock) -> None:
    """:data:`HISTORY_MINUTES` of trades between bob and carol before CLOCK (a seeded
    random walk drawn towards 100.0, two or three a minute, each its own pair of crossing orders,
    so no order is left in the book), for a chart with candles; the clock is CLOCK again
    after."""
    rng = random.Random(57)  # a walk up from 97.5 that ends near the book (99.9)
    price = 975
    for minute in range(HISTORY_MINUTES, 0, -1):
        for n in range(rng.choice((2, 3))):
            clock.ms = CLOCK_MS - minute * 60_000 + n * 15_000
            price += rng.randint(-4, 4) + (1000 - price) // 25  # drawn back towards 100.0
            maker, taker = ("carol", "bob") if rng.random() < 0.5 else ("bob", "carol")
            side = "sell" if maker == "carol" else "buy"
            other = "buy" if side == "sell" else "sell"
            qty = rng.randint(10, 60)
            tag = f"h{minute}-{n}"
            peer.apply(Submit(maker, "BTC/USD", side, "limit", price, qty, client_id=tag))
            peer.apply(Submit(taker, "BTC/USD", other, "limit", price, qty, "ioc",
                              client_id=tag))  # fmt: skip
    clock.ms = CLOCK_MS


def book_peer(name: str = "alice", history: bool = False) -> LocalPeer:
    """The BOOK resting for bob (after an hour and a half of trades, with ``history``)."""
    clock = Clock(CLOCK_MS - (HISTORY_MINUTES + 1) * 60_000 if history else CLOCK_MS)
    peer = local_peer(name, clock=clock)  # founded before its history: time never goes back
    if history:
        with_history(peer, clock)
    for n, (side, price, qty) in enumerate(BOOK):
        peer.apply(Submit("bob", "BTC/USD", side, "limit", price, qty, client_id=f"bob-{n}"))
    peer.peers = [
        {"name": "bob", "addr": "127.0.0.1:4001", "state": "voter", "last_seen_ms": 40},
        {"name": "carol", "addr": "127.0.0.1:4002", "state": "learner", "last_seen_ms": 120},
    ]
    return peer


def make_app(peer: LocalPeer | None = None, **kwargs) -> DexApp:
    return DexApp(peer or book_peer(), clock=lambda: CLOCK, **kwargs)


async def settle(
    pilot: Pilot, condition: Callable[[], bool], timeout: float = 5.0, what: str = ""
) -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        await pilot.pause(0.02)


async def type_text(pilot: Pilot, text: str) -> None:
    """Type ``text`` key by key (Pilot maps each character to its key)."""
    await pilot.press(*text)


def trading_peer() -> LocalPeer:
    """The book after its history, plus two orders of alice's own (the screens of the
    snapshots and README)."""
    peer = book_peer(history=True)
    peer.apply(Submit("alice", "BTC/USD", "buy", "limit", 998, 400, client_id="mine-1"))
    peer.apply(Submit("alice", "BTC/USD", "sell", "limit", 1005, 250, client_id="mine-2"))
    return peer


def cut_off_peer() -> LocalPeer:
    """A trading peer on the minority side of a partition."""
    peer = trading_peer()
    peer.quorum = False
    peer.peers = [
        {"name": name, "addr": addr, "state": "voter, unreachable", "last_seen_ms": seen}
        for name, addr, seen in (("bob", "127.0.0.1:4001", 5300), ("carol", "127.0.0.1:4002", 5210))
    ]
    return peer


async def trade_live(pilot: Pilot) -> None:
    """Trades after start, so the tape shows times, ticks and an own fill, the balances
    BTC's value and a gain since the grant, and the ticket a price and its max."""
    peer = pilot.app.peer
    peer.apply(Submit("carol", "BTC/USD", "buy", "limit", 1002, 200, client_id="c1"))
    pilot.app.flush()  # the refresh tick, now: each trade is seen on its own
    peer.apply(Submit("alice", "BTC/USD", "sell", "market", None, 300, "ioc", client_id="a1"))
    pilot.app.flush()
    # carol sells through the 100.0 bid: the last price, 99.9, is below alice's sale
    peer.apply(Submit("carol", "BTC/USD", "sell", "limit", 999, 1300, "ioc", client_id="c2"))
    pilot.app.flush()
    # The status reads of the app's once-a-second timer, now, twice: the second finds the
    # book quiet and takes the digest, so the cluster panel no longer depends on whether
    # that timer fired before the picture (it did on a slow CI machine).
    pilot.app.refresh_status()
    pilot.app.refresh_status()
    pilot.app.flush_market()  # the chart and the ticker too, now, not on their 4 Hz timer
    pilot.app.ticket.set_price("99.9")  # the ticket says the most it can buy at that price
    await pilot.pause()


async def stops_and_gtd(pilot: Pilot) -> None:
    """After :func:`trade_live`: a stop-market waiting in the orders panel and the ticket
    filled in as a stop-limit sell good till 5 minutes from now."""
    await trade_live(pilot)
    pilot.app.peer.apply(Submit("alice", "BTC/USD", "sell", "stop", 980, 200, "ioc",
                                client_id="mine-3", trigger=991))  # fmt: skip
    await settle(pilot, lambda: len(pilot.app.orders.by_key) == 3)
    ticket = pilot.app.ticket
    await pilot.press("s")
    for select, value in (("type", "stop_limit"), ("tif", "gtd")):
        ticket.query_one(f"#{select}", Select).value = value
        await settle(pilot, lambda s=select, v=value: getattr(ticket.form, s) == v)
    for field, value in (("price", "99.5"), ("trigger", "99.6"), ("qty", "0.5"), ("expiry", "5m")):
        ticket.query_one(f"#{field}", Input).value = value
    await settle(pilot, lambda: ticket.form.expiry == "5m")
    pilot.app.orders.move_cursor(row=2)  # the stop: the line under the table describes it
    pilot.app.flush_market()
    pilot.app.refresh_status()  # twice, as in trade_live: the digest is for the stop's entry
    pilot.app.refresh_status()
    await pilot.pause()


async def run_from_palette(pilot: Pilot, text: str) -> None:
    """Open the command palette, search for ``text`` and run the hit once it is listed."""
    await pilot.press("ctrl+p")
    await settle(pilot, lambda: isinstance(pilot.app.screen, CommandPalette), what="palette")
    await type_text(pilot, text)
    results = pilot.app.screen.query_one(CommandList)

    def listed() -> bool:
        at = results.highlighted
        return at is not None and text in str(results.get_option_at_index(at).prompt)

    await settle(pilot, listed, what=f"{text!r} in the palette")
    await pilot.press("enter")
