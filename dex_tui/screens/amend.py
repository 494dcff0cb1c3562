"""Amend one order: a new quantity and/or price, as decimal text (checked by the desk)."""

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class AmendScreen(ModalScreen[tuple[str, str] | None]):
    """Dismisses with (qty, price) — either may be "" for unchanged — or None."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]
    DEFAULT_CSS = """
    AmendScreen { align: center middle; }
    AmendScreen > Vertical { width: 56; height: auto; border: thick $accent; padding: 1 2;
                             background: $surface; }
    """

    def __init__(self, title: str, qty: str, price: str) -> None:
        super().__init__()
        self.heading = title
        self.qty = qty
        self.price = price

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.heading)
            yield Label("new quantity, filled part included (lower keeps priority)")
            yield Input(self.qty, id="amend-qty")
            yield Label("new price (loses time priority)")
            yield Input(self.price, id="amend-price")
            yield Label("Enter applies, Esc cancels", classes="hint")

    def on_input_submitted(self) -> None:
        qty = self.query_one("#amend-qty", Input).value.strip()
        price = self.query_one("#amend-price", Input).value.strip()
        self.dismiss((qty if qty != self.qty else "", price if price != self.price else ""))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
