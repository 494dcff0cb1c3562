"""Where to write a CSV export: one path, prefilled with a name in the current directory.

Dismisses with the path (``~`` expanded; a relative one is relative to where the app was
started) or None on Esc. Whether the file can be written is found out by writing it: the
app reports a failure as an error notification, so nothing is checked here.
"""

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class ExportScreen(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]
    DEFAULT_CSS = """
    ExportScreen { align: center middle; }
    ExportScreen > Vertical { width: 72; height: auto; border: thick $accent; padding: 1 2;
                              background: $surface; }
    ExportScreen Input { margin: 1 0; }
    ExportScreen .hint { color: $text-muted; }
    """

    def __init__(self, title: str, default: str) -> None:
        super().__init__()
        self.heading = title
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.heading)
            yield Input(self.default, id="export-path")
            yield Label("Enter writes the file, Esc cancels", classes="hint")

    @on(Input.Submitted)
    def _write(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(Path(event.value.strip()).expanduser())

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
