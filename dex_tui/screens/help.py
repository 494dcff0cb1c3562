"""Every key of the app, read from the bindings themselves so the list cannot go stale."""

from rich.table import Table
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

EXTRA = (
    ("click a ladder level", "put its price in the ticket (the side stays)"),
    ("Enter (in the ticket)", "send the order"),
    ("click max (in the ticket)", "put the most you can buy at the price, or sell, in qty"),
    ("Enter (in the transfer)", "send it once every field is right; Esc cancels"),
    ("Enter (on the quick line)", "send the line, e.g. b 1.5 @ 100.25 ioc"),
    ("Tab / Shift+Tab", "move between fields"),
    ("ctrl+p", "command palette: every action (Transfer too), markets, scenarios, CSV exports"),
)


def keys_of(app: App, binding: Binding) -> str:
    """Every key of ``binding`` as the footer shows keys: "c, del", "[", "?, f1"."""
    if binding.key_display:
        return binding.key_display
    return ", ".join(app.get_key_display(Binding(key, "")) for key in binding.key.split(","))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 80; height: 80%; border: thick $accent;
                                  background: $surface; padding: 0 1; }
    """

    def __init__(self, bindings: list[Binding]) -> None:
        super().__init__()
        self.keys = bindings

    def compose(self) -> ComposeResult:
        table = Table(title="dex keys", expand=True, show_edge=False)
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("does")
        for binding in self.keys:
            table.add_row(keys_of(self.app, binding), binding.description or binding.action)
        for key, does in EXTRA:
            table.add_row(key, does)
        with VerticalScroll():
            yield Static(table)
