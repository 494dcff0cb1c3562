"""Pick a scenario file: the files in the scenario folders, recent files, or a typed path."""

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option


class ScenarioPicker(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]
    DEFAULT_CSS = """
    ScenarioPicker { align: center middle; }
    ScenarioPicker > Vertical { width: 90; height: 80%; border: thick $accent; padding: 0 1;
                                background: $surface; }
    ScenarioPicker OptionList { height: 1fr; }
    """

    def __init__(self, files: list[Path], recent: list[Path]) -> None:
        super().__init__()
        self.files = files
        self.recent = recent

    def compose(self) -> ComposeResult:
        options: list[Option | None] = []
        if self.recent:
            options.append(Option("── recent ──", disabled=True))
            options += [Option(_shown(p), id=f"r:{p}") for p in self.recent]
        options.append(Option("── scenarios ──", disabled=True))
        options += [Option(_shown(p), id=f"f:{p}") for p in self.files]
        with Vertical():
            yield Label("Load a scenario: pick a file, or type a path and press Enter")
            yield OptionList(*options, id="scenario-files")
            yield Input(placeholder="path/to/scenario.txt", id="scenario-path")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        assert event.option.id is not None
        self.dismiss(Path(event.option.id[2:]))

    @on(Input.Submitted)
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(Path(event.value.strip()).expanduser())

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


def _shown(path: Path) -> str:
    """The path relative to where the app was started, when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
