"""The trading desk: one terminal's view of its peer and everything the user can do with it.

The app owns one :class:`Desk`. Widgets never call the peer: the app calls the desk's
actions from workers (they await consensus) and reads the desk's models on its refresh
tick. Every write carries a client id made from this session and a counter, so the peer's
idempotent submit means a retried ticket can never become two orders. The trader's money
(balances, the most the ticket can trade, transfers) is read from the same exchange, and
so is the market data: the chart's candles at the chosen interval and the header's 24 h
ticker, each with a key that changes only when what it shows can have changed (a new trade,
another interval or market; for the ticker also a new minute of consensus time), so the
app redraws them only then. Exports write the market's trades and the trader's fills.
"""

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine import (
    Amend,
    Cancel,
    CancelAll,
    Cancelled,
    Command,
    Done,
    Exchange,
    InvalidInput,
    Market,
    Rejected,
    Submit,
    Transferred,
)
from net.peer import Peer
from net.rpc.errors import RpcError

from ..scenario import OrderStep
from . import export, numbers, transfer
from .balances import Balances, balances
from .blotter import Blotter
from .chart import INTERVALS, Bar
from .ladder import DEPTHS, GROUPS, Ladder, build_ladder, step
from .tape import Tape
from .ticker import Ticker
from .ticket import TicketForm, check, expiry_hint, max_lots, to_command


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action came to, in one line for a notification."""

    text: str
    ok: bool


class Desk:
    def __init__(
        self, peer: Peer, market: str | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.peer = peer
        self.clock = clock  # the wall clock, seconds: what a gtd expiry counts from
        self.wanted_market = market
        self.market = ""  # chosen once the peer knows its markets (see ensure_market)
        self.session = secrets.token_hex(3)
        self._count = 0
        self.ticket = TicketForm()
        self.depth = 10  # levels per side
        self.depth_chosen = False  # until the user picks a depth, it follows the screen
        self.group = 1  # ticks per ladder row
        self.frozen = False
        self.tape = Tape("")  # its owner is known once the peer has started
        self.interval = INTERVALS[0]  # the chart's
        self.blotter = Blotter()
        self.settings_version = 0  # bumped by anything that changes the ladder's shape
        self._digest: tuple[str, int] | None = None  # (digest, the index it is for)
        self._index_seen = -1

    # ------------------------------------------------------------------ markets

    @property
    def exchange(self) -> Exchange:
        return self.peer.exchange

    def markets(self) -> list[str]:
        return sorted(self.exchange.markets)

    def current(self) -> Market | None:
        return self.exchange.markets.get(self.market)

    def ensure_market(self) -> bool:
        """Pick the market to show once markets exist: the wanted one (``--market``) as soon
        as it exists, which may be after others (markets are created one command at a time),
        else the first."""
        markets = self.exchange.markets
        wanted = (self.wanted_market or "").upper()
        if wanted in markets:
            self.wanted_market = None
            if self.market != wanted:
                self._show(wanted)
            return True
        if self.market in markets:
            return True
        if not markets:
            return False
        self._show(self.markets()[0])
        return True

    def _show(self, symbol: str) -> None:
        self.market = symbol
        self.tape.owner = self.peer.owner
        self.ticket = TicketForm(side=self.ticket.side)
        self.settings_version += 1

    def switch(self, symbol: str) -> bool:
        """Show ``symbol`` (the user's choice: it overrides ``--market`` from then on)."""
        self.wanted_market = None
        if symbol not in self.exchange.markets or symbol == self.market:
            return False
        self._show(symbol)
        return True

    def digest(self) -> tuple[str, int]:
        """The state digest and the applied index it is for.

        A digest serialises the whole exchange (a quarter of a second with a big book),
        which would stall the screen if taken every second under load. It is taken once at
        first, then again only when the index has not moved since the last call (the book
        is quiet); under sustained traffic the last one is shown with its index.
        """
        index = self.exchange.applied_index
        quiet = index == self._index_seen
        self._index_seen = index
        if self._digest is None or (quiet and self._digest[1] != index):
            self._digest = (self.exchange.digest(), index)
        return self._digest

    # ------------------------------------------------------------------ ladder settings

    def regroup(self, delta: int) -> None:
        self.group = step(GROUPS, self.group, delta)
        self.settings_version += 1

    def redepth(self, delta: int) -> None:
        self.depth = step(DEPTHS, self.depth, delta)
        self.depth_chosen = True
        self.settings_version += 1

    def fit_depth(self, lines: int) -> None:
        """The most levels per side that fit in ``lines`` (until the user chooses)."""
        fitting = [d for d in DEPTHS if 2 * d + 2 <= lines] or [DEPTHS[0]]
        if not self.depth_chosen and fitting[-1] != self.depth:
            self.depth = fitting[-1]
            self.settings_version += 1

    def toggle_freeze(self) -> None:
        self.frozen = not self.frozen
        self.settings_version += 1

    def ladder(self) -> Ladder:
        return build_ladder(self.exchange, self.market, self.peer.owner, self.depth, self.group)

    # ------------------------------------------------------------------ market data

    def set_interval(self, interval: str) -> None:
        if interval not in INTERVALS:
            raise InvalidInput("interval", f"expected one of {', '.join(INTERVALS)}")
        self.interval = interval

    def _last_trade(self) -> int:
        trades = self.exchange.markets[self.market].trades
        return trades[-1].trade_id if trades else 0

    def chart_key(self) -> tuple[str, str, int]:
        """Changes whenever the chart's candles can have: a trade, the interval, the market."""
        return (self.market, self.interval, self._last_trade())

    def candles(self, limit: int) -> list[Bar]:
        """The newest ``limit`` candles of the market on screen at the chart's interval."""
        return self.exchange.candles(self.market, self.interval, max(1, limit))

    def ticker_key(self) -> tuple[str, int, int]:
        """Changes whenever the ticker can have: a trade, the market, a minute of time (its
        24 h window moves by the minute)."""
        return (self.market, self._last_trade(), self.exchange.time // 60_000)

    def ticker(self) -> Ticker | None:
        return self.exchange.ticker(self.market)

    def export_trades(self, path: Path) -> Outcome:
        return self._export(export.trades(self.exchange, self.market), path, "trades")

    def export_fills(self, path: Path) -> Outcome:
        return self._export(export.fills(self.exchange, self.peer.owner), path, "fills")

    def export_name(self, what: str) -> str:
        """The default file name of an export (``what``: trades, of the market; or fills)."""
        return export.default_name(what, self.market if what == "trades" else None, self.clock())

    @staticmethod
    def _export(table: export.Table, path: Path, what: str) -> Outcome:
        try:
            count = export.write(table, path)
        except export.ExportError as exc:
            return Outcome(f"export of {what} failed: {exc}", False)
        return Outcome(f"{count} {what} written to {path}", True)

    # ------------------------------------------------------------------ money

    def balances(self) -> Balances:
        return balances(self.exchange, self.peer.owner)

    def ticket_most(self) -> int | None:
        """The most lots the ticket can trade at its price now (None: no limit to show)."""
        market = self.current()
        if market is None:
            return None
        return max_lots(self.ticket, market, self.exchange, self.peer.owner)

    def ticket_errors(self, most: int | None) -> dict[str, str]:
        """What is wrong with the ticket, ``most`` being :meth:`ticket_most`."""
        market = self.current()
        if market is None:
            return {"market": "no market yet: the peer has not joined a cluster"}
        return check(self.ticket, market, most)

    def ticket_hint(self) -> str:
        """When the ticket's gtd order would expire if sent now ("" if not gtd)."""
        return expiry_hint(self.ticket, self.clock())

    def transfer_errors(self, form: transfer.TransferForm) -> dict[str, str]:
        return transfer.check(form, self.exchange, self.peer.owner)

    def transfer_hint(self, form: transfer.TransferForm) -> str:
        return transfer.hint(form, self.exchange, self.peer.owner)

    # ------------------------------------------------------------------ writes

    def client_id(self) -> str:
        self._count += 1
        return f"tui-{self.session}-{self._count}"

    def ticket_command(self) -> Submit:
        """The ticket as a submit; InvalidInput naming the field if it cannot be sent."""
        market = self.current()
        if market is None:
            raise InvalidInput("market", "no market yet: the peer has not joined a cluster")
        most = self.ticket_most()
        return to_command(self.ticket, market, self.peer.owner, self.client_id(), most,
                          self.clock())  # fmt: skip

    def order_command(self, step: OrderStep) -> Submit:
        """The submit for an order typed on the quick line (already checked by its parser)."""
        return step.command(self.peer.owner, self.client_id(), self.clock())

    def sent(self, command: Submit) -> None:
        """Show a submit as pending before it is awaited."""
        self.blotter.sent(command, self.exchange.markets[command.market])

    async def submit(self, command: Submit) -> Outcome:
        """Commit a submit (call :meth:`sent` first) and describe its outcome."""
        assert command.client_id is not None
        market = self.exchange.markets[command.market]
        try:
            _, events = await self.peer.execute(command)
        except RpcError as error:
            self.blotter.resolved(command.client_id, None, error.message)
            return Outcome(f"{_what(command, market)}: {error.code}: {error.message}", False)
        done = next(e for e in events if isinstance(e, Done))
        self.blotter.resolved(command.client_id, done)
        ok = done.status != "rejected"
        return Outcome(f"{_what(command, market)}: {_result(done, market)}", ok)

    async def cancel(self, order_id: int) -> Outcome:
        return await self._write(Cancel(self.peer.owner, order_id), f"cancel #{order_id}")

    async def cancel_all(self, market: str | None) -> Outcome:
        where = market or "every market"
        return await self._write(CancelAll(self.peer.owner, market), f"cancel all in {where}")

    async def amend(
        self, order_id: int, qty: str | None, price: str | None, trigger: str | None = None
    ) -> Outcome:
        """Amend an order: a new quantity, price, or (an untriggered stop's) trigger, as
        decimal text ("" or None: unchanged)."""
        order = self.exchange.order(order_id)
        if order is None:
            return Outcome(f"amend #{order_id}: no such order", False)
        market = self.exchange.markets[order.market]
        try:
            lots = market.qty_units(qty, "qty") if qty else None
            ticks = market.price_units(price, "price") if price else None
            trigger_ticks = market.price_units(trigger, "trigger") if trigger else None
        except InvalidInput as exc:
            return Outcome(f"amend #{order_id}: {exc}", False)
        command = Amend(self.peer.owner, order_id, lots, ticks, trigger_ticks)
        return await self._write(command, f"amend #{order_id}")

    async def transfer(self, form: transfer.TransferForm) -> Outcome:
        """Send a transfer the form describes; the outcome names the log index it was
        committed at, or why it was refused (by the form's check or by the engine)."""
        what = f"transfer {form.amount.strip()} {form.asset.strip()} to {form.to.strip()}"
        try:
            command = transfer.to_command(form, self.exchange, self.peer.owner)
        except InvalidInput as exc:
            return Outcome(f"{what}: {exc}", False)
        what = f"transfer {form.amount.strip()} {command.asset} to {command.to}"
        try:
            index, events = await self.peer.execute(command)
        except RpcError as error:
            return Outcome(f"{what}: {error.code}: {error.message}", False)
        rejected = [e for e in events if isinstance(e, Rejected)]
        if rejected or not any(isinstance(e, Transferred) for e in events):
            reason = rejected[0].reason if rejected else "not applied"
            return Outcome(f"{what}: refused: {reason}", False)
        return Outcome(f"{what}: done at log index {index}", True)

    async def _write(self, command: Command, what: str) -> Outcome:
        try:
            _, events = await self.peer.execute(command)
        except RpcError as error:
            return Outcome(f"{what}: {error.code}: {error.message}", False)
        rejected = [e for e in events if isinstance(e, Rejected)]
        if rejected:
            return Outcome(f"{what}: {rejected[0].reason}", False)
        cancelled = sum(isinstance(e, Cancelled) for e in events)
        if isinstance(command, CancelAll):
            return Outcome(f"{what}: {cancelled} cancelled", True)
        return Outcome(f"{what}: done", True)


def _what(command: Submit, market: Market) -> str:
    """ "buy 0.5 BTC/USD @ 100.1", "sell 1 BTC/USD stop 99 @ 98.5", "buy 1 BTC/USD market"."""
    words = [command.side, numbers.qty(market, command.qty), market.symbol]
    if command.trigger is not None:
        words += ["stop", numbers.price(market, command.trigger)]
    if command.type in ("limit", "stop_limit"):
        words += ["@", numbers.price(market, command.price or 0)]
    elif command.type == "market":
        words.append("market")
    return " ".join(words)


def _result(done: Done, market: Market) -> str:
    """ "filled 0.600 at avg 100.2", "partially filled: 0.2 at avg 100, 0.4 resting", ..."""
    if done.status == "rejected":
        return f"rejected: {done.reason}"
    fills = ""
    if done.filled_qty:
        avg = market.avg_price_text(done.notional, done.filled_qty)
        fills = f"{numbers.qty(market, done.filled_qty)} at avg {avg}"
    rest = numbers.qty(market, done.remaining_qty)
    if done.status == "filled":
        return f"filled {fills}"
    if done.status == "partially_filled":
        return f"partially filled: {fills}, {rest} resting"
    if done.status == "untriggered":
        return "waiting for its trigger price (untriggered)"
    if done.status == "cancelled":
        why = f" ({done.reason})" if done.reason else ""
        return f"{fills + ', rest ' if fills else ''}cancelled{why}"
    return done.status
