"""Transfer to another trader: to, asset and amount, each checked as it is typed.

The screen decides nothing: the app hands it the desk's check (field -> what is wrong)
and hint (what is available of the asset typed). A field that is wrong says why beside
it, and Enter sends only a form with no errors: it dismisses with the form, or with None
on Esc.
"""

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from ..model.transfer import TransferForm

FIELDS = ("to", "asset", "amount")


class TransferScreen(ModalScreen[TransferForm | None]):
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]
    DEFAULT_CSS = """
    TransferScreen { align: center middle; }
    TransferScreen > Vertical { width: 64; height: auto; border: thick $accent; padding: 1 2;
                                background: $surface; }
    TransferScreen Horizontal { height: auto; margin-top: 1; }
    TransferScreen .field-label { width: 8; color: $text-muted; }
    TransferScreen Input { width: 1fr; }
    TransferScreen #transfer-errors { color: $error; height: auto; }
    TransferScreen #transfer-hint { color: $text-muted; height: auto; margin-top: 1; }
    """

    def __init__(
        self,
        title: str,
        check: Callable[[TransferForm], dict[str, str]],
        hint: Callable[[TransferForm], str],
    ) -> None:
        super().__init__()
        self.heading = title
        self.check = check
        self.hint = hint
        self.form = TransferForm()

    def compose(self) -> ComposeResult:
        placeholders = {"to": "trader name", "asset": "e.g. USD", "amount": "e.g. 100.5"}
        with Vertical():
            yield Label(self.heading)
            for field in FIELDS:
                with Horizontal():
                    yield Label(field, classes="field-label")
                    yield Input(placeholder=placeholders[field], id=f"transfer-{field}",
                                compact=True)  # fmt: skip
            yield Label("", id="transfer-hint")
            yield Label("", id="transfer-errors")
            yield Label("Enter sends, Esc cancels", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#transfer-to", Input).focus()

    @on(Input.Changed)
    def _edited(self) -> None:
        self.form = TransferForm(*(self.query_one(f"#transfer-{f}", Input).value for f in FIELDS))
        self._show(self.check(self.form), typed_only=True)

    @on(Input.Submitted)
    def _send(self) -> None:
        errors = self.check(self.form)
        if not errors:
            self.dismiss(self.form)
            return
        self._show(errors, typed_only=False)
        self.query_one(f"#transfer-{next(iter(errors))}", Input).focus()

    def _show(self, errors: dict[str, str], typed_only: bool) -> None:
        """Say what is wrong; while typing, only about the fields typed in so far."""
        typed = {"to": self.form.to, "asset": self.form.asset, "amount": self.form.amount}
        shown = {f: why for f, why in errors.items() if not typed_only or typed[f].strip()}
        self.query_one("#transfer-errors", Label).update(
            "\n".join(f"{field}: {why}" for field, why in shown.items())
        )
        self.query_one("#transfer-hint", Label).update(self.hint(self.form))
        for field in FIELDS:
            self.query_one(f"#transfer-{field}", Input).set_class(field in shown, "-invalid")

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
