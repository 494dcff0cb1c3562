"""Shared helpers for the engine tests (public API only, so they survive internal rewrites).

* :class:`Driver` wraps an :class:`engine.Exchange` and numbers log indexes 1, 2, 3, ...
* :func:`of` / :func:`one` / :func:`kinds` pick events out of an ``apply`` result.
* :func:`command_streams` is the hypothesis strategy of random command streams used by the
  property and reference tests; :func:`money_streams` the same with money on (accounts,
  holds, transfers, fees). Both mix in good-till-date orders, stops and ticks
  (:class:`Tick`: a log entry's time handed to ``Exchange.advance``); :func:`step` applies
  either kind.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from hypothesis import strategies as st

from engine import (
    Amend,
    Cancel,
    CancelAll,
    Configure,
    CreateMarket,
    Done,
    Exchange,
    OpenAccount,
    Submit,
    Transfer,
    Triggered,
    encode_command,
    parse_command,
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

    def advance(self, time: int) -> list:
        """A log entry without commands at consensus ``time`` (a time tick)."""
        self.index += 1
        return self.ex.advance(time, self.index)

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
        expire_at: int | None = None,
        trigger: int | None = None,
        same_index: bool = False,
    ) -> list:
        if tif is None:
            tif = "ioc" if type in ("market", "stop") else "gtc" if expire_at is None else "gtd"
        cmd = Submit(owner, market, side, type, price, qty, tif, post_only, stp, client_id,
                     expire_at, trigger)  # fmt: skip
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

    def amend(self, owner: str, order_id: int, qty: int | None = None, price: int | None = None,
              trigger: int | None = None):  # fmt: skip
        return self.apply(Amend(owner, order_id, qty, price, trigger))

    def status(self, order_id: int) -> str:
        view = self.ex.order(order_id)
        assert view is not None
        return view.status


#: The grant ``bank`` configures: in BTC/USD (tick 0.01, lot 0.001) a unit of BTC is a lot and
#: a unit of USD a tick x lot, so this is 1,000 lots of BTC and 10,000,000 tick-lots of USD.
GRANT = "BTC=1,USD=100"


def bank(grant: str = GRANT, maker: int = 0, taker: int = 0, owners=("alice", "bob", "carol"),
         symbols=(BTC,)) -> Driver:  # fmt: skip
    """Markets, money on, an account for each of ``owners``."""
    d = Driver(*symbols)
    assert kinds(d.apply(Configure(grant, maker, taker))) == ["Configured"]
    for owner in owners:
        assert kinds(d.apply(OpenAccount(owner))) == ["AccountOpened"]
    return d


def bal(d: Driver, owner: str, asset: str) -> tuple[int, int]:
    """(available, held) of one asset."""
    found = [(a, h) for name, a, h in d.ex.balances(owner) if name == asset]
    assert len(found) == 1, d.ex.balances(owner)
    return found[0]


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


def own_events(events: list) -> list:
    """A command's own events: those before the first stop its trades triggered (whose
    events follow, each group starting with its ``Triggered``). The command's own order
    may trigger too (a stop crossed at entry, or amended to a crossed trigger)."""
    own = getattr(events[0], "order_id", None) if events else None
    starts = [i for i, e in enumerate(events) if type(e) is Triggered and e.order_id != own]
    return events if not starts else events[: starts[0]]


# ---------------------------------------------------------------------- random streams

OWNERS = ("alice", "bob", "carol")
CLIENT_IDS = ("c1", "c2", "c3", "c4")
STP_MODES = ("none", "cancel_taker", "cancel_maker", "cancel_both")
T0 = 1_800_000_000_000  # the consensus time (ms) most streams start at

prices = st.integers(97, 103)  # a narrow band, so that orders cross (and trigger stops) often
qtys = st.integers(1, 10)
owners = st.sampled_from(OWNERS)
client_ids = st.none() | st.none() | st.sampled_from(CLIENT_IDS)
#: How far from the stream's time so far a gtd order expires (sometimes already past) or a
#: tick moves the time (sometimes back, which changes nothing): see :func:`_resolved`.
#: (Sampled rather than drawn from ranges, where small values would dominate.)
expiry_offsets = st.sampled_from((-100, 0, 1, 500, 1_000, 2_000, 3_000, 5_000, 20_000))
tick_offsets = st.sampled_from((-1_000, 0, 1, 500, 1_000, 1_000, 2_000, 3_000))


class Tick(NamedTuple):
    """Not a command: a log entry without commands, at consensus ``time`` (ms), which
    :func:`step` hands to ``Exchange.advance``."""

    time: int


ticks = st.builds(Tick, tick_offsets)  # (offsets: see _resolved)


def step(ex: Exchange, item: object, index: int) -> list:
    """Apply a stream item at ``index``: a :class:`Tick` advances the time, a command applies."""
    if isinstance(item, Tick):
        return ex.advance(item.time, index)
    return ex.apply(item, index)  # type: ignore[arg-type]


def wire(item: object) -> object:
    """A stream item as a peer gets it from the log (a command through its JSON form)."""
    return item if isinstance(item, Tick) else parse_command(encode_command(item))  # type: ignore[arg-type]


@st.composite
def submits(draw: st.DrawFn, markets: tuple[str, ...]) -> Submit:
    """A submit of any type and time in force; a gtd order's ``expire_at`` is an offset
    from the stream's time (:func:`_resolved` makes it absolute)."""
    kind = draw(st.sampled_from(("gtc", "gtc", "gtc", "ioc", "fok", "post", "market", "mfok",
                                 "gtd", "stop", "stop_limit", "stop_gtd")))  # fmt: skip
    owner = draw(owners)
    market = draw(st.sampled_from(markets))
    side = draw(st.sampled_from(("buy", "sell")))
    qty = draw(qtys)
    stp = draw(st.sampled_from(STP_MODES))
    client_id = draw(client_ids)
    if kind in ("market", "mfok", "stop"):
        price = draw(st.none() | prices)
        tif = "fok" if kind == "mfok" else draw(st.sampled_from(("ioc", "ioc", "fok")))
        trigger = draw(prices) if kind == "stop" else None
        return Submit(owner, market, side, "stop" if trigger else "market", price, qty, tif,
                      False, stp, client_id, trigger=trigger)  # fmt: skip
    price = draw(prices)
    if kind in ("stop_limit", "stop_gtd"):
        tif = "gtd" if kind == "stop_gtd" else draw(st.sampled_from(("gtc", "gtc", "ioc", "fok")))
        expire_at = draw(expiry_offsets) if tif == "gtd" else None
        return Submit(owner, market, side, "stop_limit", price, qty, tif, False, stp, client_id,
                      expire_at, draw(prices))  # fmt: skip
    if kind == "gtd":
        post_only = draw(st.booleans())
        return Submit(owner, market, side, "limit", price, qty, "gtd", post_only, stp, client_id,
                      draw(expiry_offsets))  # fmt: skip
    tif = "gtc" if kind == "post" else kind
    return Submit(owner, market, side, "limit", price, qty, tif, kind == "post", stp, client_id)


def _near_last(draw: st.DrawFn, cmd: Submit, scratch: Exchange) -> Submit:
    """A stop with its trigger within two ticks of its market's last price, if there is
    one, so that the next trades often cross it (or it is crossed already)."""
    market = scratch.market(cmd.market)
    if market is None or not market.last:
        return cmd
    return cmd._replace(trigger=max(1, market.last + draw(st.integers(-2, 2))))


def _resolved(item: object, scratch: Exchange) -> object:
    """A drawn item with its times made absolute: a tick's and a gtd order's are drawn as
    offsets from the stream's time so far (``scratch.time``)."""
    if isinstance(item, Tick):
        return Tick(max(0, scratch.time + item.time))
    if isinstance(item, Submit) and item.expire_at is not None:
        return item._replace(expire_at=max(1, scratch.time + item.expire_at))
    return item


def order_ids(submitted: int) -> st.SearchStrategy[int]:
    """Ids of orders submitted so far (recent ones more often), or one that does not exist."""
    recent = st.integers(max(1, submitted - 4), submitted + 1)
    return st.integers(1, submitted + 1) | recent | recent


@st.composite
def amends(draw: st.DrawFn, submitted: int) -> Amend:
    """New qty, price or both; sometimes a new trigger too (refused unless a stop waits)."""
    qty = draw(st.none() | qtys)
    price = draw(prices) if qty is None else draw(st.none() | prices)
    trigger = draw(st.none() | st.none() | prices)
    return Amend(draw(owners), draw(order_ids(submitted)), qty, price, trigger)


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
        *order_changes(markets, ids, submitted),
        st.sampled_from(market_commands((BTC, ETH))),  # re-creating a market is rejected
        ticks,
        ticks,
    )


def order_changes(
    markets: tuple[str, ...], ids: st.SearchStrategy, submitted: int
) -> list[st.SearchStrategy]:
    """Cancels (by id and by client id), cancel-alls and amends, in the mix both streams use."""
    return [
        st.builds(Cancel, owners, ids, st.none()),
        st.builds(Cancel, owners, st.none(), st.sampled_from(CLIENT_IDS)),
        st.builds(CancelAll, owners, st.none() | st.sampled_from((*markets, UNKNOWN))),
        amends(submitted),
        amends(submitted),
        amends(submitted),
    ]


def market_commands(markets: tuple[str, ...]) -> list[CreateMarket]:
    return [CreateMarket(s, *s.split("/"), "0.01", "0.001") for s in markets]


def _starts(draw: st.DrawFn) -> list:
    """How a stream starts: mostly at time T0, sometimes with no time given at all (0)."""
    return [Tick(T0)] if draw(st.sampled_from((True, True, False))) else []


@st.composite
def command_streams(draw: st.DrawFn, min_size: int = 5, max_size: int = 60) -> list:
    """Create one or two markets, then a random mix of every kind of command, and ticks.

    Half of the cancels and amends by order id are aimed at an order that is open at that
    point (found by replaying the stream on a scratch exchange), usually as its owner; the
    rest name any id, often a finished, unknown or someone else's order."""
    markets = draw(st.sampled_from(((BTC,), (BTC, ETH))))
    stream: list = [*_starts(draw), *market_commands(markets)]
    scratch = Exchange()
    for i, item in enumerate(stream, 1):
        step(scratch, item, i)
    submitted = 0
    for _ in range(draw(st.integers(min_size, max_size))):
        cmd = _resolved(draw(commands(markets, submitted)), scratch)
        if isinstance(cmd, Cancel | Amend) and cmd.order_id is not None and draw(st.booleans()):
            cmd = _aimed(draw, cmd, scratch)
        elif isinstance(cmd, Submit) and cmd.trigger is not None and draw(st.booleans()):
            cmd = _near_last(draw, cmd, scratch)
        submitted += isinstance(cmd, Submit)
        step(scratch, cmd, len(stream) + 1)
        stream.append(cmd)
    return stream


def _aimed(draw: st.DrawFn, cmd: Cancel | Amend, scratch: Exchange) -> Cancel | Amend:
    """``cmd`` aimed at an order open on ``scratch`` (usually as its owner), if there is one."""
    open_ids = [v.order_id for o in OWNERS for v in scratch.open_orders(o)]
    if open_ids:
        order_id = draw(st.sampled_from(sorted(open_ids)))
        view = scratch.order(order_id)
        assert view is not None
        owner = view.owner if draw(st.integers(0, 4)) else cmd.owner
        cmd = cmd._replace(order_id=order_id, owner=owner)
    return cmd


# ---------------------------------------------------------------------- money streams

#: The markets of the money streams: BTC/USD as in the other streams (a tick x lot is one
#: unit of USD) and ETH/USD with a coarser tick and lot (a tick x lot is 100 units of USD).
MONEY_MARKETS = (
    CreateMarket(BTC, "BTC", "USD", "0.01", "0.001"),
    CreateMarket(ETH, "ETH", "USD", "0.1", "0.01"),
)
#: A market needing a finer unit of BTC than BTC/USD gave it: refused once money is on.
FINER_MARKET = CreateMarket("BTC/EUR", "BTC", "EUR", "0.01", "0.0001")
#: Grants small enough that traders sometimes run short (a BTC/USD buy near 100 ticks
#: costs 100 units of USD per lot, an ETH/USD one 10,000), and one that never does.
GRANTS = ("BTC=0.05,USD=0.5", "BTC=0.02,USD=0.03", "BTC=0.01,USD=0.1", "BTC=1,USD=100")
ETH_GRANTS = ("BTC=0.03,ETH=0.3,USD=10", "BTC=0.02,ETH=0.1,USD=1", "BTC=1,ETH=1,USD=100")
NEWCOMER = "dave"  # starts without an account; may open one mid-stream
fee_rates = st.sampled_from((0, 0, 1, 30, 250, 1000))


@functools.cache
def money_commands(submitted: int) -> st.SearchStrategy:
    ids = order_ids(submitted)
    markets = (BTC, ETH)
    transfers = st.builds(
        Transfer,
        st.sampled_from((*OWNERS, *OWNERS, NEWCOMER)),
        st.sampled_from((*OWNERS, *OWNERS, NEWCOMER, "zed")),
        st.sampled_from(("BTC", "USD", "USD", "ETH", "XRP")),
        st.integers(1, 50) | st.integers(1, 5_000),
    )
    return st.one_of(
        *[submits(markets)] * 8,
        submits((*markets, UNKNOWN)),
        *order_changes(markets, ids, submitted),
        ticks,
        ticks,
        transfers,
        transfers,
        st.builds(OpenAccount, st.sampled_from((NEWCOMER, *OWNERS))),  # dave's first opens
        st.sampled_from((*MONEY_MARKETS, FINER_MARKET)),  # ETH/USD may be new; the rest not
        st.builds(Configure, st.sampled_from(GRANTS), fee_rates, fee_rates),  # refused: on
    )


def markets_of(stream: list) -> tuple[str, ...]:
    return tuple(cmd.symbol for cmd in stream if isinstance(cmd, CreateMarket))


def limit_orders(markets: tuple[str, ...]) -> st.SearchStrategy[Submit]:
    """Plain GTC limit orders (of OWNERS): a book to trade against."""
    sides = st.sampled_from(("buy", "sell"))
    return st.builds(Submit, owners, st.sampled_from(markets), sides, st.just("limit"), prices,
                     qtys)  # fmt: skip


@st.composite
def money_streams(draw: st.DrawFn, min_size: int = 5, max_size: int = 60) -> list:
    """Markets, ``Configure`` (a small grant, random fees), an account for each of OWNERS,
    then a random mix of every command: submits of every kind, cancels and amends (half
    aimed at open orders, as in :func:`command_streams`), transfers (often short, to
    unknown traders, of unknown assets), account openings, markets (ETH/USD may come only
    now, after money is on; one needs a finer unit and is refused) and a second configure.
    """
    with_eth = draw(st.sampled_from((True, True, False)))  # else ETH/USD may come later
    stream: list = [*_starts(draw), *(MONEY_MARKETS if with_eth else MONEY_MARKETS[:1])]
    grant = draw(st.sampled_from(ETH_GRANTS if with_eth else GRANTS))
    stream.append(Configure(grant, draw(fee_rates), draw(fee_rates)))
    stream.extend(OpenAccount(owner) for owner in OWNERS)
    stream.extend(draw(st.lists(limit_orders(markets_of(stream)), max_size=8)))  # liquidity
    scratch = Exchange()
    for i, item in enumerate(stream, 1):
        step(scratch, item, i)
    submitted = 0
    for _ in range(draw(st.integers(min_size, max_size))):
        cmd = _resolved(draw(money_commands(submitted)), scratch)
        if isinstance(cmd, Cancel | Amend) and cmd.order_id is not None and draw(st.booleans()):
            cmd = _aimed(draw, cmd, scratch)
        elif isinstance(cmd, Submit) and cmd.price is not None and draw(st.booleans()):
            cmd = _crossing(draw, cmd, scratch)
        if isinstance(cmd, Submit) and cmd.trigger is not None and draw(st.booleans()):
            cmd = _near_last(draw, cmd, scratch)
        submitted += isinstance(cmd, Submit)
        step(scratch, cmd, len(stream) + 1)
        stream.append(cmd)
    return stream


def _crossing(draw: st.DrawFn, cmd: Submit, scratch: Exchange) -> Submit:
    """``cmd`` priced at or up to two ticks through the opposite best price, if there is
    one: trades are what move money, and random prices in a band mostly rest."""
    market = scratch.market(cmd.market)
    if market is None:
        return cmd
    opposite = market.book.asks if cmd.side == "buy" else market.book.bids
    if opposite.best is None:
        return cmd
    through = draw(st.integers(0, 2))
    return cmd._replace(price=opposite.best + (through if cmd.side == "buy" else -through))


def run(commands_: list, exchange: Exchange | None = None, start: int = 1):
    """Apply commands (or ticks) at indexes start, start+1, ...; return (exchange, events per
    command)."""
    ex = exchange if exchange is not None else Exchange()
    out = [step(ex, cmd, start + i) for i, cmd in enumerate(commands_)]
    return ex, out


# ---------------------------------------------------------------------- running streams

OPEN = ("resting", "partially_filled")


def run_stream(stream: list, exchange: Exchange | None = None):
    """Apply a stream at indexes 1, 2, ...

    Returns (exchange, the commands applied, their events)."""
    ex = exchange if exchange is not None else Exchange()
    results = [step(ex, item, i) for i, item in enumerate(stream, 1)]
    return ex, list(stream), results
