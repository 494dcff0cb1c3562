"""The order ticket: side, type, price, trigger, quantity, time in force, expiry, post-only.

It posts :class:`OrderTicket.Changed` with the whole form on every edit (the app checks it
against the market and calls :meth:`show_errors`) and :class:`OrderTicket.Send` on Enter or
the button. The side is a visible toggle that follows the ``b`` / ``s`` keys, and the send
button says what it will do ("Buy BTC"). Beside the quantity it shows the most the trader
can buy at the typed price or sell ("max 12.345", from the app); a click on it puts that
quantity in the field. The trigger field shows only for a stop or stop-limit, the expiry
field only for a good-till-date (gtd) order; beside the errors, a gtd order's hint says
when it would expire if sent now.
"""

from dataclasses import dataclass

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Label, Select

from engine import TIFS

from ..model.ticket import TicketForm

TYPE_CHOICES = (("limit", "limit"), ("market", "market"), ("stop", "stop"),
                ("stop-limit", "stop_limit"))  # fmt: skip


class AmountInput(Input):
    """A price or size field. It never takes ':' (no amount has one), so ':' still opens
    the quick order line while a field has focus."""

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return character != ":" and super().check_consume_key(key, character)


class ExpiryInput(Input):
    """A gtd order's expiry. It takes ':' (``14:30``), so the app does not open the quick
    order line on ':' while it has focus."""


class MaxLabel(Label):
    """ "max 12.345": a click puts that quantity in the ticket."""

    def on_click(self, event: events.Click) -> None:
        event.stop()
        ticket = next((a for a in self.ancestors if isinstance(a, OrderTicket)), None)
        if ticket is not None:
            ticket.fill_max()


class OrderTicket(Vertical):
    DEFAULT_CSS = """
    OrderTicket { height: auto; padding: 0 1; }
    OrderTicket Horizontal { height: auto; }
    OrderTicket .field-label { width: 8; color: $text-muted; }
    OrderTicket Input { width: 1fr; }
    OrderTicket #side-buy, OrderTicket #side-sell { width: 1fr; min-width: 8; }
    OrderTicket.-buy #side-buy { background: $success; color: $text; text-style: bold; }
    OrderTicket.-sell #side-sell { background: $error; color: $text; text-style: bold; }
    OrderTicket.-buy #send { background: $success-darken-1; }
    OrderTicket.-sell #send { background: $error-darken-1; }
    OrderTicket Select { width: 1fr; }
    OrderTicket #type { width: 16; }
    OrderTicket #errors { color: $error; height: auto; }
    OrderTicket #errors.-hint { color: $text-muted; }
    OrderTicket #expiry { width: 14; }
    OrderTicket #send { width: 100%; }
    OrderTicket #max { width: auto; color: $text-muted; padding: 0 0 0 1; }
    OrderTicket #max:hover { color: $text; text-style: underline; }
    """

    @dataclass
    class Changed(Message):
        form: TicketForm

    class Send(Message):
        pass

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.form = TicketForm()
        self.base = ""  # the market's base asset, for the send button's label
        self.most = ""  # the most that can be traded at the typed price, as decimal text

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Button("BUY (b)", id="side-buy", compact=True)
            yield Button("SELL (s)", id="side-sell", compact=True)
            yield Select(TYPE_CHOICES, value="limit", allow_blank=False, id="type", compact=True)
        with Horizontal():
            yield Label("price", classes="field-label")
            yield AmountInput(placeholder="limit price", id="price", compact=True)
        with Horizontal(id="trigger-row"):
            yield Label("trigger", classes="field-label")
            yield AmountInput(placeholder="last trade price that triggers it", id="trigger",
                              compact=True)  # fmt: skip
        with Horizontal():
            yield Label("qty", classes="field-label")
            yield AmountInput(placeholder="quantity", id="qty", compact=True)
            yield MaxLabel("", id="max")
        with Horizontal():
            yield Select([(t, t) for t in TIFS], value="gtc", allow_blank=False, id="tif",
                         compact=True)  # fmt: skip
            yield ExpiryInput(placeholder="30s 5m 14:30", id="expiry", compact=True)
            yield Checkbox("post-only", id="post", compact=True)
        yield Label("", id="errors")
        yield Button("Buy", id="send", compact=True)

    def on_mount(self) -> None:
        self.query_one("#max", Label).display = False
        self.query_one("#trigger-row").display = False
        self.query_one("#expiry", Input).display = False
        self._show_side()

    # ------------------------------------------------------------------ from the app

    def set_side(self, side: str) -> None:
        if side != self.form.side:
            self.form = self.form.flipped(side)
            self._show_side()
            self._changed()

    def set_price(self, price: str) -> None:
        self.query_one("#price", Input).value = price  # posts Input.Changed -> _changed

    def set_market(self, base: str) -> None:
        self.base = base
        self._show_side()

    def show_max(self, most: str) -> None:
        """The most lots, as text, the trader can trade at the typed price ("": no limit)."""
        if most != self.most:
            self.most = most
            label = self.query_one("#max", Label)
            label.update(f"max {most}" if most else "")
            label.display = bool(most)

    def fill_max(self) -> None:
        if self.most:
            self.query_one("#qty", Input).value = self.most  # posts Input.Changed -> _changed

    def show_errors(self, errors: dict[str, str], hint: str = "") -> None:
        """Say what is wrong with what was typed (an empty field only disables sending),
        or else ``hint``."""
        form = self.form
        typed = {"price": form.price, "qty": form.qty, "trigger": form.trigger,
                 "expiry": form.expiry, "post_only": "x"}  # fmt: skip
        shown = {field: why for field, why in errors.items() if typed.get(field, "").strip()}
        text = "\n".join(f"{field}: {reason}" for field, reason in shown.items())
        label = self.query_one("#errors", Label)
        label.update(text or hint)
        label.set_class(not text, "-hint")
        self.query_one("#send", Button).disabled = bool(errors)
        for field in ("price", "qty", "trigger", "expiry"):
            self.query_one(f"#{field}", Input).set_class(field in shown, "-invalid")

    # ------------------------------------------------------------------ from the user

    @on(Button.Pressed, "#side-buy")
    def _buy(self) -> None:
        self.set_side("buy")

    @on(Button.Pressed, "#side-sell")
    def _sell(self) -> None:
        self.set_side("sell")

    @on(Button.Pressed, "#send")
    @on(Input.Submitted)
    def _send(self, event: Message) -> None:
        event.stop()
        self.post_message(self.Send())

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _edited(self, event: Message) -> None:
        event.stop()
        self.form = form = TicketForm(
            side=self.form.side,
            type=str(self.query_one("#type", Select).value),
            price=self.query_one("#price", Input).value,
            qty=self.query_one("#qty", Input).value,
            tif=str(self.query_one("#tif", Select).value),
            post_only=self.query_one("#post", Checkbox).value,
            trigger=self.query_one("#trigger", Input).value,
            expiry=self.query_one("#expiry", Input).value,
        )
        self.query_one("#price", Input).placeholder = (
            "protection (optional)" if form.becomes_market else "limit price"
        )
        self.query_one("#tif", Select).disabled = form.becomes_market
        self.query_one("#trigger-row").display = form.type in ("stop", "stop_limit")
        self.query_one("#expiry", Input).display = form.gtd
        self._changed()

    def _changed(self) -> None:
        self.post_message(self.Changed(self.form))

    def _show_side(self) -> None:
        buy = self.form.side == "buy"
        self.set_class(buy, "-buy")
        self.set_class(not buy, "-sell")
        self.query_one("#send", Button).label = f"{'Buy' if buy else 'Sell'} {self.base}".strip()
