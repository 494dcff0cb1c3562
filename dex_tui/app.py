"""The dex terminal: one peer's live market, an order ticket, and the cluster, in Textual.

Data flow. The app never draws on a peer event: the peer applies commands as consensus
commits them, and a timer (:data:`FLUSH_HZ`) compares the exchange's applied index and the
desk's settings with what is on screen and, only if they moved, rebuilds the models and
repaints the panels that use them. At thousands of orders a second the screen still
repaints at most FLUSH_HZ times a second. Writes (ticket, quick line, cancel, amend,
scenarios) run in workers because they await consensus; their outcomes come back as
notifications and in the orders panel. Cluster status is read once a second. The
trader's money is part of the same tick: when the exchange moved, the balances panel and the
ticket's most-you-can-trade are recomputed (a few assets, one newest trade per market) and
repainted only if what they show changed. Market data has a slower timer of its own
(:data:`MARKET_HZ`: a candle or a 24 h ticker gains nothing from 15 redraws a second):
the chart asks the engine for its candles only when the market's newest trade, the
interval, the market or the chart's size changed, and the header's ticker only when a
trade or a minute of consensus time could have moved it.
"""

import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option

from engine import InvalidInput, Submit
from net.peer import Peer
from net.traders import fingerprint

from .model.balances import lines as balance_lines
from .model.blotter import describe
from .model.chart import INTERVALS, layout
from .model.desk import Desk, Outcome
from .model.files import Recent, scenario_dirs, scenario_files
from .model.ticker import ticker_runs
from .model.transfer import TransferForm
from .runner import ScenarioRun
from .scenario import CancelAllStep, OrderStep, ScenarioError, load_scenario, parse_line
from .screens.amend import AmendScreen
from .screens.confirm import ConfirmScreen
from .screens.export import ExportScreen
from .screens.help import HelpScreen, keys_of
from .screens.picker import ScenarioPicker
from .screens.transfer import TransferScreen
from .widgets.balances import BalancesPanel
from .widgets.chart import PriceChart
from .widgets.ladder import DepthLadder
from .widgets.orders import OpenOrders
from .widgets.peers import PeersPanel
from .widgets.tape import TradeTape
from .widgets.ticket import ExpiryInput, OrderTicket

FLUSH_HZ = 15
MARKET_HZ = 4  # chart and ticker redraws a second, at most
STATUS_EVERY = 1.0  # seconds between cluster status reads
RECOVERY_HINT_AFTER = 30.0  # seconds of NO QUORUM before the banner says how to recover
CHART_LINES = 12  # lines left to the chart (borders included) when the depth fits the screen
SCREEN_LINES = 6  # header, status line, quick line, footer and the ladder's borders
#: The header ticker's kinds (dex_tui.model.ticker) as styles
TICKER_STYLES = {"symbol": "bold", "up": "bold $success", "down": "bold $error",
                 "flat": "bold", "label": "dim", "value": ""}  # fmt: skip


class DexApp(App):
    TITLE = "dex"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("b", "side('buy')", "Buy side", id="buy"),
        Binding("s", "side('sell')", "Sell side", id="sell"),
        Binding("colon", "quick", "Quick order", key_display=":", id="quick", priority=True),
        Binding("escape", "leave_input", "Leave input", show=False, id="leave"),
        Binding("t", "focus_ticket", "Ticket", show=False, id="ticket"),
        Binding("space", "freeze", "Freeze", key_display="space", id="freeze"),
        Binding("minus", "group(-1)", "Finer grouping", show=False, id="group-down"),
        Binding("plus,equals_sign", "group(1)", "Coarser grouping", show=False, id="group-up"),
        Binding("left_square_bracket", "depth(-1)", "Fewer levels", show=False, id="depth-down"),
        Binding("right_square_bracket", "depth(1)", "More levels", show=False, id="depth-up"),
        Binding("o", "focus_orders", "Orders", show=False, id="orders"),
        Binding("c,delete", "cancel_selected", "Cancel order", id="cancel"),
        Binding("C", "cancel_all", "Cancel all", key_display="C", id="cancel-all"),
        Binding("a", "amend_selected", "Amend", show=False, id="amend"),
        Binding(
            "T", "transfer", "Transfer to a trader", key_display="T", show=False, id="transfer"
        ),
        Binding("m", "next_market", "Next market", show=False, id="market"),
        Binding("1", "interval('1m')", "Chart: 1 minute candles", show=False, id="chart-1m"),
        Binding("2", "interval('5m')", "Chart: 5 minute candles", show=False, id="chart-5m"),
        Binding("3", "interval('1h')", "Chart: 1 hour candles", show=False, id="chart-1h"),
        Binding("ctrl+o", "pick_scenario", "Scenario", id="scenario"),
        Binding("x", "stop_scenario", "Stop scenario", show=False, id="stop-scenario"),
        Binding("question_mark,f1", "help", "Help", key_display="?", id="help"),
        Binding("q,ctrl+c", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self,
        peer: Peer,
        market: str | None = None,
        scenario: Path | None = None,
        clock: Callable[[], float] = time.time,
        recent: Path | None = None,
        status_every: float = STATUS_EVERY,
    ) -> None:
        super().__init__()
        self.peer = peer
        self.desk = Desk(peer, market, clock)
        self.first_scenario = scenario  # --scenario: run once the peer is ready for it
        self._markets_seen: tuple[str, ...] = ()
        self.recent = Recent(recent)
        self.status_every = status_every
        self.status: dict | None = None
        self.run_state: ScenarioRun | None = None
        self._shown: tuple | None = None  # what the panels show: (index, settings, blotter)
        self._shown_market = ""
        self._epoch = peer.epoch  # the peer's state, replaced when it moves
        self.main_screen: Screen | None = None  # the screen the panels are on (set at mount)
        self._most: int | None = None  # the ticket's most-you-can-trade, as last shown
        self._chart_shown: tuple | None = None  # (desk.chart_key(), chart size) drawn
        self._ticker_shown: tuple | None = None  # desk.ticker_key() in the header
        self.ticker = Content("")  # the header's ticker of the market on screen, styled
        self._trader = f"{peer.owner} (key {fingerprint(peer.trader_key)})"

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="banner")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                with Vertical(id="ladder-panel", classes="panel"):
                    yield DepthLadder(id="ladder")
                with Vertical(id="chart-panel", classes="panel"):
                    yield PriceChart(id="chart")
            with Vertical(id="middle"):
                with Vertical(id="tape-panel", classes="panel"):
                    yield TradeTape(id="tape")
                with Vertical(id="balances-panel", classes="panel"):
                    yield BalancesPanel(id="balances")
            with Vertical(id="right"):
                yield OptionList(id="markets", classes="panel")
                with Vertical(id="ticket-panel", classes="panel"):
                    yield OrderTicket(id="ticket")
                with Vertical(id="orders-panel", classes="panel"):
                    yield OpenOrders(id="orders")
                    yield Static("", id="order-detail")
                with Vertical(id="peers-panel", classes="panel"):
                    yield PeersPanel(id="peers")
        yield Static("", id="scenario-status")
        yield Input(placeholder=": quick order, e.g. b 1.5 @ 100.25 ioc — Enter sends, Esc leaves",
                    id="quick", compact=True)  # fmt: skip
        yield Footer()

    def on_mount(self) -> None:
        # Held, not queried: a modal on top would hide them from query_one, and the refresh
        # ticks may fire while the app is closing.
        self.main_screen = self.screen
        self.ladder = self.query_one(DepthLadder)
        self.tape = self.query_one(TradeTape)
        self.orders = self.query_one(OpenOrders)
        self.order_detail = self.query_one("#order-detail", Static)
        self.ticket = self.query_one(OrderTicket)
        self.peers_panel = self.query_one(PeersPanel)
        self.balances = self.query_one(BalancesPanel)
        self.chart = self.query_one(PriceChart)
        self.chart_panel = self.query_one("#chart-panel")
        self.chart_panel.border_subtitle = " · ".join(
            f"{n} {name}" for n, name in enumerate(INTERVALS, 1)
        )
        self.banner = self.query_one("#banner", Static)
        # the header's line: the ticker is written to it directly (see _show_ticker)
        self.header_title = self.query_one("HeaderTitle", Static)
        self.ladder_panel = self.query_one("#ladder-panel")
        self.markets = self.query_one("#markets", OptionList)
        self.scenario_status = self.query_one("#scenario-status", Static)
        self.quick = self.query_one("#quick", Input)
        self.query_one("#tape-panel").border_title = "Trades"
        self.query_one("#peers-panel").border_title = "Cluster"
        self.query_one("#balances-panel").border_title = "Balances · value in USD"
        self.query_one("#markets").border_title = "Markets"
        self.query_one("#ticket-panel").border_title = "Order ticket"
        self.query_one("#orders-panel").border_subtitle = "c cancel · C all · a amend"
        self.ladder.focus()
        self.set_interval(1 / FLUSH_HZ, self.flush)
        self.set_interval(1 / MARKET_HZ, self.flush_market)
        self.set_interval(self.status_every, self.refresh_status)
        self.refresh_status()
        self.flush()

    # ------------------------------------------------------------------ the refresh tick

    def flush(self) -> None:
        """Repaint the panels whose data moved since the last tick (see the module doc)."""
        if not self.is_running:  # a tick (or a write's end) while the app closes: its
            return  # widgets may be half removed already
        epoch = self.peer.epoch
        if epoch != self._epoch:  # the peer moved to another cluster: its state is new
            self._epoch = epoch
            self.desk = Desk(self.peer, self.desk.market or self.desk.wanted_market,
                             self.desk.clock)  # fmt: skip
            self._shown = None
            self._shown_market = ""
            self._chart_shown = self._ticker_shown = None
        desk = self.desk
        if not desk.ensure_market():
            return
        shown = (
            desk.exchange.applied_index,
            desk.settings_version,
            desk.blotter.version,
            desk.market,
        )
        if shown == self._shown:
            return
        self._shown = shown
        market = desk.current()
        assert market is not None
        with self.batch_update():
            if desk.market != self._shown_market:
                self._show_market()
            if not desk.frozen:
                self.ladder.show(desk.ladder())
            if desk.tape.update(desk.exchange, desk.market) or self.tape.market is not market:
                self.tape.show(market, desk.tape.rows(desk.market))
            self.orders.show(desk.blotter.rows(desk.exchange, self.peer.owner, desk.market))
            self._show_order_detail()
            self.balances.show(balance_lines(desk.balances()))
            self._show_most()
            panel = self.ladder_panel
            frozen = "  FROZEN (space)" if desk.frozen else ""
            title = f"{desk.market}  {desk.depth} levels{frozen}"
            if panel.border_title != title:  # a new title repaints the whole panel
                panel.set_class(desk.frozen, "-frozen")
                panel.border_title = title

    def on_resize(self) -> None:
        # lines for the ladder: the screen less header, status, quick line, footer, its
        # borders and the chart's least height
        self.desk.fit_depth(self.size.height - SCREEN_LINES - CHART_LINES)  # drawn next tick

    def flush_market(self) -> None:
        """Redraw the chart and the ticker if what they show moved (see the module doc)."""
        if self.is_running and self.desk.ensure_market():
            with self.batch_update():
                self._show_chart()
                self._show_ticker()

    def _show_chart(self) -> None:
        """Ask for candles and lay them out only when they, or the chart's size, changed."""
        desk = self.desk
        size = self.chart.size
        key = (desk.chart_key(), size)
        if key == self._chart_shown:
            return
        self._chart_shown = key
        market = desk.current()
        assert market is not None
        bars = desk.candles(size.width)
        self.chart.show(layout(bars, market, desk.interval, size.width, size.height))
        title = f"{desk.market}  {desk.interval} candles"
        if self.chart_panel.border_title != title:
            self.chart_panel.border_title = title

    def _show_ticker(self) -> None:
        """The header's ticker, when a trade or a minute of consensus time moved it."""
        desk = self.desk
        key = desk.ticker_key()
        if key == self._ticker_shown:
            return
        self._ticker_shown = key
        market = desk.current()
        assert market is not None
        runs = ticker_runs(market, desk.ticker())
        self.ticker = Content.assemble(*((text, TICKER_STYLES[kind]) for text, kind in runs))
        # Not through the app's title: the header would update its line with a layout of
        # the whole screen, which at 15 ticks a second under load costs a quarter of a core
        # (measured); the line's size never changes.
        self.header_title.update(self.format_title(self.title, self.sub_title), layout=False)

    def format_title(self, title: str, sub_title: str) -> Content:
        """The header: the ticker in colour (the app's title until there is one), then who
        and where this peer is."""
        shown = self.ticker if self.ticker.plain else Content(title)
        return Content.assemble(shown, ("  —  ", "dim"), Content(sub_title).stylize("dim"))

    def _show_market(self) -> None:
        desk = self.desk
        self._shown_market = desk.market
        market = desk.current()
        assert market is not None
        markets = self.markets
        symbols = desk.markets()
        if [str(o.id) for o in markets.options] != symbols:
            shown = [desk.exchange.markets[s] for s in symbols]
            markets.set_options(Option(f"{m.symbol}  tick {m.tick}  lot {m.lot}", id=m.symbol)
                                for m in shown)  # fmt: skip
        markets.highlighted = symbols.index(desk.market)
        ticket = self.ticket
        ticket.set_market(market.base)
        self._show_most(force=True)
        self.sub_title = self._sub_title()
        self.query_one("#orders-panel").border_title = f"My orders in {desk.market}"
        self.flush_market()  # the new market's chart and ticker, now

    def refresh_status(self) -> None:
        if not self.is_running:
            return
        self.status = status = self.peer.status(digest=False)
        self.peers_panel.show(status, *self.desk.digest())
        banner = self.banner
        message = _banner_text(status)
        if str(banner.content) != message:  # an update lays out the whole screen again
            banner.update(message)
            banner.set_class(bool(message), "-shown")
        self.sub_title = self._sub_title()
        if self.desk.ticket.gtd:  # "expires 12:05:00, in 4m 59s" counts down
            self._show_most(force=True)
        self._maybe_start_scenario(status)

    def _maybe_start_scenario(self, status: dict) -> None:
        """Start ``--scenario`` once the peer can trade and its markets have settled: a
        new cluster creates its markets one command at a time, and a file naming one not
        yet created would be refused."""
        markets = tuple(self.desk.markets())
        settled = bool(markets) and markets == self._markets_seen
        self._markets_seen = markets
        if self.first_scenario is not None and settled and status["quorum"]:
            path, self.first_scenario = self.first_scenario, None
            self.load_scenario(path)

    def _sub_title(self) -> str:
        status = self.status or {}
        role = status.get("role", "starting")
        return f"trader {self._trader} · {role} · {self.peer.api_addr}"

    # ------------------------------------------------------------------ ticket

    def action_side(self, side: str) -> None:
        self.ticket.set_side(side)

    @on(OrderTicket.Changed)
    def _ticket_changed(self, event: OrderTicket.Changed) -> None:
        self.desk.ticket = event.form
        self._show_most(force=True)

    def _show_most(self, force: bool = False) -> None:
        """The ticket's most-you-can-trade at its price, and its errors, which depend on
        it; on a refresh tick (``force`` False) only when that most changed."""
        desk = self.desk
        market = desk.current()
        if market is None:
            return
        most = desk.ticket_most()
        if most == self._most and not force:
            return
        self._most = most
        self.ticket.show_max("" if most is None else market.qty_text(most))
        self.ticket.show_errors(desk.ticket_errors(most), desk.ticket_hint())

    @on(OrderTicket.Send)
    def _send_ticket(self) -> None:
        try:
            command = self.desk.ticket_command()
        except InvalidInput as exc:
            self.notify(str(exc), title="Order not sent", severity="error")
            return
        self.send(command)

    def send(self, command: Submit) -> None:
        self.desk.sent(command)
        self.flush()
        self._write(self.desk.submit(command))

    @work(group="writes")
    async def _write(self, action) -> None:
        outcome: Outcome = await action
        self.notify(outcome.text, severity="information" if outcome.ok else "error",
                    timeout=4 if outcome.ok else 8)  # fmt: skip
        self.flush()

    @on(DepthLadder.PriceClicked)
    def _price_clicked(self, event: DepthLadder.PriceClicked) -> None:
        market = self.desk.exchange.markets.get(event.market)
        if market is None:
            return
        ticket = self.ticket
        ticket.set_price(market.price_text(event.price))
        ticket.query_one("#qty", Input).focus()

    def action_focus_ticket(self) -> None:
        self.ticket.query_one("#price", Input).focus()

    # ------------------------------------------------------------------ quick line

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "quick":  # ':' opens the quick line from the main screen (the ticket's
            # amount fields let it through); not in dialogs, and not where ':' is typed:
            # the quick line itself and the expiry field (a time, 14:30)
            typing = self.focused is self.quick or isinstance(self.focused, ExpiryInput)
            return self.screen is self.main_screen and not typing
        return True

    def action_quick(self) -> None:
        self.quick.focus()

    def action_leave_input(self) -> None:
        self.ladder.focus()

    @on(Input.Submitted, "#quick")
    def _quick_line(self, event: Input.Submitted) -> None:
        desk = self.desk
        if not desk.ensure_market():
            self.notify("no market yet: the peer has not joined a cluster", severity="error")
            return
        try:
            step = parse_line(event.value.removeprefix(":"), desk.exchange.markets, desk.market)
        except ScenarioError as error:
            self.notify(str(error), title="Quick order", severity="error", timeout=8)
            return
        event.input.value = ""
        self.action_leave_input()  # so the next ':' (or b, s, c...) is a key again
        if isinstance(step, OrderStep):
            self.send(desk.order_command(step))
        elif isinstance(step, CancelAllStep):
            self._write(desk.cancel_all(step.market))

    # ------------------------------------------------------------------ orders

    def action_focus_orders(self) -> None:
        self.orders.focus()

    @on(DataTable.RowHighlighted, "#orders")
    def _show_order_detail(self) -> None:
        """The selected order in full under the table (its columns may be cut off)."""
        row = self.orders.selected()
        text = "" if row is None else describe(row)
        if str(self.order_detail.content) != text:
            self.order_detail.update(text)

    def action_cancel_selected(self) -> None:
        row = self.orders.selected()
        if row is None or not row.open or row.order_id is None:
            self.notify("select an open order first (o focuses the list)", severity="warning")
            return
        self._write(self.desk.cancel(row.order_id))

    def action_cancel_all(self) -> None:
        count = len(self.desk.exchange.open_orders(self.peer.owner))
        if not count:
            self.notify("no open orders to cancel", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._write(self.desk.cancel_all(None))

        self.push_screen(ConfirmScreen(f"Cancel all {count} open orders, in every market?"),
                         answered)  # fmt: skip

    def action_amend_selected(self) -> None:
        row = self.orders.selected()
        if row is None or not row.open or row.order_id is None:
            self.notify("select an open order first (o focuses the list)", severity="warning")
            return
        order_id = row.order_id
        remaining = self.desk.exchange.order(order_id)
        if remaining is None:
            return
        market = self.desk.exchange.markets[remaining.market]
        qty = market.qty_text(remaining.qty)
        price = market.price_text(remaining.price) if remaining.price is not None else ""
        trigger = None if remaining.trigger is None else market.price_text(remaining.trigger)

        def answered(change: tuple[str, str, str] | None) -> None:
            if change is not None and any(change):
                self._write(self.desk.amend(order_id, *change))

        stop = f" stop {row.trigger}" if row.trigger else ""
        title = f"Amend #{order_id}: {row.side} {row.qty} {row.market} @ {row.price}{stop}"
        self.push_screen(AmendScreen(title, qty, price, trigger), answered)

    # ------------------------------------------------------------------ money

    def action_transfer(self) -> None:
        desk = self.desk
        if not desk.exchange.ledger.on:
            self.notify("this exchange holds no money: nothing to transfer", severity="warning")
            return

        def answered(form: TransferForm | None) -> None:
            if form is not None:
                self._write(desk.transfer(form))

        title = f"Transfer from {self.peer.owner} to another trader"
        self.push_screen(TransferScreen(title, desk.transfer_errors, desk.transfer_hint),
                         answered)  # fmt: skip

    # ------------------------------------------------------------------ market data

    def action_interval(self, interval: str) -> None:
        self.desk.set_interval(interval)
        self._show_chart()

    def export(self, what: str) -> None:
        """Ask where to write the market's trades (``what`` "trades") or the trader's
        fills ("fills"), then write them; the outcome is a notification."""
        desk = self.desk
        if not desk.ensure_market():
            self.notify("no market yet: the peer has not joined a cluster", severity="error")
            return
        title = f"Export the trades of {desk.market}" if what == "trades" else (
            f"Export {self.peer.owner}'s fills in every market")  # fmt: skip
        write = desk.export_trades if what == "trades" else desk.export_fills

        def answered(path: Path | None) -> None:
            if path is not None:
                outcome = write(path)
                self.notify(outcome.text, title="Export", timeout=6 if outcome.ok else 10,
                            severity="information" if outcome.ok else "error")  # fmt: skip

        self.push_screen(ExportScreen(title + " to CSV", desk.export_name(what)), answered)

    # ------------------------------------------------------------------ ladder and markets

    def action_freeze(self) -> None:
        self.desk.toggle_freeze()
        self.flush()

    def action_group(self, delta: int) -> None:
        self.desk.regroup(delta)
        self.flush()

    def action_depth(self, delta: int) -> None:
        self.desk.redepth(delta)
        self.flush()

    def action_next_market(self) -> None:
        symbols = self.desk.markets()
        if symbols:
            at = symbols.index(self.desk.market) if self.desk.market in symbols else -1
            self.switch_market(symbols[(at + 1) % len(symbols)])

    @on(OptionList.OptionSelected, "#markets")
    def _market_picked(self, event: OptionList.OptionSelected) -> None:
        self.switch_market(str(event.option.id))

    def switch_market(self, symbol: str) -> None:
        if self.desk.switch(symbol):
            self.flush()

    # ------------------------------------------------------------------ scenarios

    def action_pick_scenario(self) -> None:
        files = scenario_files(scenario_dirs())

        def picked(path: Path | None) -> None:
            if path is not None:
                self.load_scenario(path)

        self.push_screen(ScenarioPicker(files, self.recent.paths), picked)

    def load_scenario(self, path: Path) -> None:
        """Check the whole file, then run it; an error names line and column, sends nothing."""
        desk = self.desk
        status = self.scenario_status
        if self.run_state is not None and not self.run_state.done:
            self.notify("a scenario is running: stop it first (x)", severity="warning")
            return
        if not desk.ensure_market():
            self.notify("no market yet: the peer has not joined a cluster", severity="error")
            return
        try:
            scenario = load_scenario(path, desk.exchange.markets, desk.market)
        except ScenarioError as error:
            status.update(f"scenario not loaded: {error}")
            status.add_class("-error")
            self.notify(str(error), title="Scenario not loaded", severity="error", timeout=12)
            return
        self.recent.add(path)
        status.remove_class("-error")
        self.run_state = ScenarioRun(scenario, self.peer, clock=desk.clock)
        self._run_scenario(self.run_state)

    @work(group="scenario", exclusive=True)
    async def _run_scenario(self, run: ScenarioRun) -> None:
        status = self.scenario_status

        def progress(run: ScenarioRun) -> None:
            status.update(f"scenario {run.scenario.name}: {run.sent}/{run.total} lines  "
                          f"(x stops)")  # fmt: skip

        progress(run)
        await run.run(progress)
        if run.error:
            status.update(f"scenario {run.scenario.name} failed: {run.error}")
            status.add_class("-error")
            self.notify(run.error, title="Scenario failed", severity="error", timeout=12)
            return
        ended = "stopped" if run.stopped else "done"
        rejected = f", {run.rejected} rejected" if run.rejected else ""
        status.update(f"scenario {run.scenario.name} {ended}: {run.sent}/{run.total} lines"
                      f"{rejected}")  # fmt: skip

    def action_stop_scenario(self) -> None:
        if self.run_state is not None and not self.run_state.done:
            self.run_state.stop()
            self.notify("stopping the scenario after the current line")

    # ------------------------------------------------------------------ help and palette

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.BINDINGS))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            keys = keys_of(self, binding)
            yield SystemCommand(binding.description, f"key: {keys}",
                                partial(self.run_action, binding.action))  # fmt: skip
        for symbol in self.desk.markets():
            yield SystemCommand(f"Market: {symbol}", "show this market",
                                partial(self.switch_market, symbol))  # fmt: skip
        yield SystemCommand(f"Export trades ({self.desk.market or 'the market on screen'}) to CSV",
                            "every trade this peer remembers in the market on screen",
                            partial(self.export, "trades"))  # fmt: skip
        yield SystemCommand("Export my fills to CSV",
                            f"{self.peer.owner}'s fills in every market this peer remembers",
                            partial(self.export, "fills"))  # fmt: skip
        for path in [*self.recent.paths, *scenario_files(scenario_dirs())]:
            yield SystemCommand(f"Load scenario: {path.name}", str(path),
                                partial(self.load_scenario, path))  # fmt: skip
        for other in (self.status or {}).get("other_clusters", []):
            names, cluster_id = ", ".join(other["peers"]), other["cluster_id"]
            yield SystemCommand(f"Switch to cluster {cluster_id} ({names})",
                                "leave this cluster and join that one; this peer's data is "
                                "moved aside, not deleted",
                                partial(self.switch_cluster, cluster_id, names))  # fmt: skip

    # ------------------------------------------------------------------ clusters

    def switch_cluster(self, cluster_id: str, names: str) -> None:
        """Leave this cluster for ``cluster_id``, once the user confirms."""
        here = (self.status or {}).get("cluster_id", "")

        def answered(yes: bool | None) -> None:
            if yes:
                self.notify(f"leaving cluster {here} for {cluster_id}…")
                self._switch(cluster_id)

        self.push_screen(ConfirmScreen(
            f"Leave cluster {here} and join {cluster_id} ({names})? This peer's orders and "
            f"trades there stay in that cluster; its copy here is moved aside, not deleted."),
            answered)  # fmt: skip

    @work(group="cluster", exclusive=True)
    async def _switch(self, cluster_id: str) -> None:
        await self.peer.switch_cluster(cluster_id)
        self.refresh_status()


def _banner_text(status: dict) -> str:
    cluster = status.get("cluster", "")
    if status.get("state", status["role"]) == "joining":
        doing = status.get("joining") or "looking for a cluster"
        return (f"Joining cluster {cluster!r}: {doing}. Orders are refused until this peer "
                "is in it.")  # fmt: skip
    if not status["quorum"]:
        text = ("NO QUORUM — this peer cannot reach a majority of the cluster: orders are "
                "refused until it can. The book shown may be stale.")  # fmt: skip
        if status.get("no_quorum_s", 0) >= RECOVERY_HINT_AFTER:
            text += (" If the other peers are gone for good, quit and start this one again "
                     "with --force-new-cluster: it keeps its book and becomes the cluster's "
                     "only voter, and others can join it.")  # fmt: skip
        return text
    others = status.get("other_clusters") or []
    if others:
        seen = "; ".join(f"{o['cluster_id']} ({', '.join(o['peers'])})" for o in others)
        return (f"Another cluster named {cluster!r} is visible: {seen}. To move this peer "
                "there: ctrl+p, Switch to cluster.")  # fmt: skip
    return ""
