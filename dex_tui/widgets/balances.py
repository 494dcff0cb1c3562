"""The balances panel: per asset available, held and value, then the total and the P&L
since the grant (green a gain, red a loss), and a note naming assets without a price.

Line API, like the ladder: the rows are laid out once per update (columns as wide as their
widest cell, right-aligned) and only rows whose text changed are repainted; an update
that changes nothing shown costs a comparison.
"""

import textwrap

from rich.segment import Segment
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from ..model.balances import BalanceLines

HEADER = ("", "available", "held", "value")
Row = tuple[tuple[str, str], ...]  # (text, component class or "") per segment


class BalancesPanel(Widget):
    COMPONENT_CLASSES = {
        "balances--header",
        "balances--asset",
        "balances--muted",
        "balances--total",
        "balances--gain",
        "balances--loss",
    }
    DEFAULT_CSS = """
    BalancesPanel { height: auto; }
    BalancesPanel .balances--header { color: $text-muted; text-style: bold; }
    BalancesPanel .balances--asset { text-style: bold; }
    BalancesPanel .balances--muted { color: $text-muted; }
    BalancesPanel .balances--total { text-style: bold; }
    BalancesPanel .balances--gain { color: $success; text-style: bold; }
    BalancesPanel .balances--loss { color: $error; text-style: bold; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: BalanceLines | None = None
        self._rows: list[Row] = []

    def show(self, lines: BalanceLines) -> None:
        if lines != self.lines:
            self.lines = lines
            self._relayout()

    def on_resize(self) -> None:
        self._relayout()

    def _relayout(self) -> None:
        if self.lines is None:
            return
        width = self.size.width
        rows = layout(self.lines, width)
        if len(rows) != len(self._rows):
            self._rows = rows
            self.refresh(layout=True)
            return
        for y, (old, new) in enumerate(zip(self._rows, rows, strict=True)):
            if old != new:
                self.refresh(Region(0, y, width, 1))
        self._rows = rows

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(layout(self.lines, width)) if self.lines is not None else 1

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        base = self.rich_style
        segments = [
            Segment(text, self.get_component_rich_style(cls) if cls else base)
            for text, cls in self._rows[y]
        ]
        return Strip(segments).adjust_cell_length(width, base)


def layout(lines: BalanceLines, width: int) -> list[Row]:
    """The panel's rows at ``width`` cells: what :meth:`BalancesPanel.render_line` draws."""
    width = max(width, 1)
    note = [((line, "balances--muted"),) for line in textwrap.wrap(lines.note, width)]
    if not lines.rows:
        return note
    cells = [HEADER, *lines.rows]
    widths = [max(len(row[c]) for row in cells) for c in range(4)]
    columns = [0, 1, 2, 3]
    if sum(widths) + 3 > width:  # too narrow for every column: the held one goes first
        columns = [0, 1, 3]
    spare = max(width - sum(widths[c] for c in columns), len(columns) - 1)
    gaps = [spare // (len(columns) - 1)] * (len(columns) - 2)
    gaps.append(spare - sum(gaps))  # the value column ends at the panel's right edge

    def row(values: tuple[str, ...], classes: tuple[str, ...]) -> Row:
        parts = [(values[0].ljust(widths[0]), classes[0])]
        for c, gap in zip(columns[1:], gaps, strict=True):
            parts.append((" " * gap + values[c].rjust(widths[c]), classes[c]))
        return _fit(parts, width)

    rows = [row(HEADER, ("balances--header",) * 4)]
    for values in lines.rows:
        muted = "" if values[3][:1].isdigit() else "balances--muted"
        rows.append(row(values, ("balances--asset", "", "", muted)))
    pnl = {1: "balances--gain", -1: "balances--loss"}.get(lines.pnl_sign, "balances--total")
    for label, value, cls in (("total", lines.total, "balances--total"),
                              ("P&L since grant", lines.pnl, pnl)):  # fmt: skip
        rows.append(_fit([(label, "balances--muted"),
                          (value.rjust(max(width - len(label), 0)), cls)], width))  # fmt: skip
    return rows + note


def _fit(parts: list[tuple[str, str]], width: int) -> Row:
    """``parts`` cut or padded to exactly ``width`` cells (a row wider than the panel
    loses its right end rather than wrapping)."""
    out = []
    room = width
    for text, cls in parts:
        if room <= 0:
            break
        out.append((text[:room], cls))
        room -= len(text[:room])
    if room > 0:
        out.append((" " * room, ""))
    return tuple(out)
