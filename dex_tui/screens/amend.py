"""Amend one order: a new quantity, price and (a stop waiting for it) trigger, as decimal
text (checked by the desk)."""

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class AmendScreen(ModalScreen[tuple[str, str, str] | None]):
    """Dismisses with (qty, price, trigger) — any may be "" for unchanged — or None. The
    trigger field is there only for an untriggered stop (``trigger`` not None)."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]
    DEFAULT_CSS = """
    AmendScreen { align: center middle; }
    AmendScreen > Vertical { width: 56; height: auto; border: thick $accent; padding: 1 2;
                             background: $surface; }
    """

    def __init__(self, title: str, qty: str, price: str, trigger: str | None = None) -> None:
        super().__init__()
        self.heading = title
        self.qty = qty
        self.price = price
        self.trigger = trigger

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.heading)
            yield Label("new quantity, filled part included (lower keeps priority)")
            yield Input(self.qty, id="amend-qty")
            yield Label("new price (loses time priority)")
            yield Input(self.price, id="amend-price")
            if self.trigger is not None:
                yield Label("new trigger price (the last trade price that triggers it)")
                yield Input(self.trigger, id="amend-trigger")
            yield Label("Enter applies, Esc cancels", classes="hint")

    def on_input_submitted(self) -> None:
        fields = (("qty", self.qty), ("price", self.price), ("trigger", self.trigger))
        qty, price, trigger = (self._changed(name, was) for name, was in fields)
        self.dismiss((qty, price, trigger))

    def _changed(self, name: str, was: str | None) -> str:
        """The field's new text, or "" when it is as it was (or not on this screen)."""
        if was is None:
            return ""
        new = self.query_one(f"#amend-{name}", Input).value.strip()
        return new if new != was else ""

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
