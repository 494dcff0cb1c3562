"""Shared helpers for the engine tests (public API only, so they survive internal rewrites).

* :class:`Driver` wraps an :class:`engine.Exchange` and numbers log indexes 1, 2, 3, ...
* :func:`of` / :func:`one` / :func:`kinds` pick events out of an ``apply`` result.
* :func:`command_streams` is the hypothesis strategy of random command streams used by the
  property and reference tests.
"""

from __future__ import annotations

import functools

from hypothesis import strategies as st

from engine import (
    Amend,
    Cancel,
    CancelAll,
    CreateMarket,
    Done,
    Exchange,
    Submit,
)

BTC = "BTC/USD"
ETH = "ETH/USD"
UNKNOWN = "XRP/USD"


class Driver:
    """An exchange plus a log index counter, with short ways to build commands."""

    def __init__(self, *symbols: str, **exchange_kwargs: int) -> None:
        self.ex = Exchange(**exchange_kwargs)
        self.index = 0
        for symbol in symbols or (BTC,):
            self.create(symbol)

    def apply(self, command: object, same_index: bool = False) -> list:
        if not same_index:
            self.index += 1
        return self.ex.apply(command, self.index)  # type: ignore[arg-type]

    def create(self, symbol: str, tick: str = "0.01", lot: str = "0.001") -> list:
        base, quote = symbol.split("/")
        return self.apply(CreateMarket(symbol, base, quote, tick, lot))

    def submit(
        self,
        owner: str,
        side: str,
        price: int | None,
        qty: int,
        *,
        market: str = BTC,
        type: str = "limit",
        tif: str | None = None,
        post_only: bool = False,
        stp: str = "none",
        client_id: str | None = None,
        same_index: bool = False,
    ) -> list:
        if tif is None:
            tif = "ioc" if type == "market" else "gtc"
        cmd = Submit(owner, market, side, type, price, qty, tif, post_only, stp, client_id)
        return self.apply(cmd, same_index)

    def buy(self, owner: str, price: int | None, qty: int, **kw: object) -> list:
        return self.submit(owner, "buy", price, qty, **kw)  # type: ignore[arg-type]

    def sell(self, owner: str, price: int | None, qty: int, **kw: object) -> list:
        return self.submit(owner, "sell", price, qty, **kw)  # type: ignore[arg-type]

    def rest(self, owner: str, side: str, price: int, qty: int, **kw: object) -> int:
        """Submit a GTC limit order expected to rest untouched; return its order id."""
        events = self.submit(owner, side, price, qty, **kw)  # type: ignore[arg-type]
        done = one(events, Done)
        assert done.status == "resting", events
        return done.order_id

    def cancel(self, owner: str, order_id: int | None = None, client_id: str | None = None):
        return self.apply(Cancel(owner, order_id, client_id))

    def cancel_all(self, owner: str, market: str | None = None) -> list:
        return self.apply(CancelAll(owner, market))

    def amend(self, owner: str, order_id: int, qty: int | None = None, price: int | None = None):
        return self.apply(Amend(owner, order_id, qty, price))

    def status(self, order_id: int) -> str:
        view = self.ex.order(order_id)
        assert view is not None
        return view.status


def of(events: list, kind: type) -> list:
    """The events of one type, in order."""
    return [e for e in events if type(e) is kind]


def one(events: list, kind: type):
    """The single event of a type (fails the test if there is not exactly one)."""
    found = of(events, kind)
    assert len(found) == 1, f"expected one {kind.__name__} in {events}"
    return found[0]


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


# ---------------------------------------------------------------------- random streams

OWNERS = ("alice", "bob", "carol")
CLIENT_IDS = ("c1", "c2", "c3", "c4")
STP_MODES = ("none", "cancel_taker", "cancel_maker", "cancel_both")

prices = st.integers(97, 103)  # a narrow band, so that orders cross often
qtys = st.integers(1, 10)
owners = st.sampled_from(OWNERS)
client_ids = st.none() | st.none() | st.sampled_from(CLIENT_IDS)


@st.composite
def submits(draw: st.DrawFn, markets: tuple[str, ...]) -> Submit:
    kind = draw(st.sampled_from(("gtc", "gtc", "gtc", "ioc", "fok", "post", "market", "mfok")))
    owner = draw(owners)
    market = draw(st.sampled_from(markets))
    side = draw(st.sampled_from(("buy", "sell")))
    qty = draw(qtys)
    stp = draw(st.sampled_from(STP_MODES))
    client_id = draw(client_ids)
    if kind in ("market", "mfok"):
        price = draw(st.none() | prices)
        tif = "fok" if kind == "mfok" else "ioc"
        return Submit(owner, market, side, "market", price, qty, tif, False, stp, client_id)
    price = draw(prices)
    tif = "gtc" if kind == "post" else kind
    return Submit(owner, market, side, "limit", price, qty, tif, kind == "post", stp, client_id)


def order_ids(submitted: int) -> st.SearchStrategy[int]:
    """Ids of orders submitted so far (recent ones more often), or one that does not exist."""
    recent = st.integers(max(1, submitted - 4), submitted + 1)
    return st.integers(1, submitted + 1) | recent | recent


@st.composite
def amends(draw: st.DrawFn, submitted: int) -> Amend:
    qty = draw(st.none() | qtys)
    price = draw(prices) if qty is None else draw(st.none() | prices)
    return Amend(draw(owners), draw(order_ids(submitted)), qty, price)


@functools.cache
def commands(markets: tuple[str, ...], submitted: int) -> st.SearchStrategy:
    ids = order_ids(submitted)
    return st.one_of(
        submits(markets),
        submits(markets),
        submits(markets),
        submits(markets),
        submits(markets),
        submits((*markets, UNKNOWN)),
        st.builds(Cancel, owners, ids, st.none()),
        st.builds(Cancel, owners, st.none(), st.sampled_from(CLIENT_IDS)),
        st.builds(CancelAll, owners, st.none() | st.sampled_from((*markets, UNKNOWN))),
        amends(submitted),
        amends(submitted),
        amends(submitted),
        st.sampled_from(market_commands((BTC, ETH))),  # re-creating a market is rejected
    )


def market_commands(markets: tuple[str, ...]) -> list[CreateMarket]:
    return [CreateMarket(s, *s.split("/"), "0.01", "0.001") for s in markets]


@st.composite
def command_streams(draw: st.DrawFn, min_size: int = 5, max_size: int = 60) -> list:
    """Create one or two markets, then a random mix of every kind of command.

    Half of the cancels and amends by order id are aimed at an order that is open at that
    point (found by replaying the stream on a scratch exchange), usually as its owner; the
    rest name any id, often a finished, unknown or someone else's order."""
    markets = draw(st.sampled_from(((BTC,), (BTC, ETH))))
    stream: list = market_commands(markets)
    scratch = Exchange()
    for i, cmd in enumerate(stream, 1):
        scratch.apply(cmd, i)
    submitted = 0
    for _ in range(draw(st.integers(min_size, max_size))):
        cmd = draw(commands(markets, submitted))
        if isinstance(cmd, Cancel | Amend) and cmd.order_id is not None and draw(st.booleans()):
            open_ids = [v.order_id for o in OWNERS for v in scratch.open_orders(o)]
            if open_ids:
                order_id = draw(st.sampled_from(sorted(open_ids)))
                view = scratch.order(order_id)
                assert view is not None
                owner = view.owner if draw(st.integers(0, 4)) else cmd.owner
                cmd = cmd._replace(order_id=order_id, owner=owner)
        submitted += isinstance(cmd, Submit)
        scratch.apply(cmd, len(stream) + 1)
        stream.append(cmd)
    return stream


def run(commands_: list, exchange: Exchange | None = None, start: int = 1):
    """Apply commands at indexes start, start+1, ...; return (exchange, events per command)."""
    ex = exchange if exchange is not None else Exchange()
    out = [ex.apply(cmd, start + i) for i, cmd in enumerate(commands_)]
    return ex, out


# ---------------------------------------------------------------------- running streams

OPEN = ("resting", "partially_filled")


def run_stream(stream: list, exchange: Exchange | None = None):
    """Apply a stream at indexes 1, 2, ...

    Returns (exchange, the commands applied, their events)."""
    ex = exchange if exchange is not None else Exchange()
    results = [ex.apply(cmd, i) for i, cmd in enumerate(stream, 1)]
    return ex, list(stream), results
