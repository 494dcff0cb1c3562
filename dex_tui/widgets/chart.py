"""The price chart: candles of the market on screen, drawn with the line API.

The model (:mod:`dex_tui.model.chart`) lays the candles out as runs of text per row; this
widget only maps each run's kind to a style (up and down in the palette's success and
error colours, as the ladder and the tape colour bids and asks) and repaints the rows
whose runs changed since the last :meth:`show`, so a new trade inside the newest candle
repaints a row or two, not the panel. Its size decides how many candles fit; the app
reads :attr:`size` and redraws when it changes.
"""

from rich.segment import Segment
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from ..model.chart import ChartView, Row

KINDS = ("up", "down", "axis", "last", "time", "muted")


class PriceChart(Widget):
    COMPONENT_CLASSES = {f"chart--{kind}" for kind in KINDS}
    DEFAULT_CSS = """
    PriceChart { height: 1fr; }
    PriceChart .chart--up { color: $success; }
    PriceChart .chart--down { color: $error; }
    PriceChart .chart--axis { color: $text-muted; }
    PriceChart .chart--last { color: $warning; text-style: bold reverse; }
    PriceChart .chart--time { color: $text-muted; }
    PriceChart .chart--muted { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: tuple[Row, ...] = ()
        self.candles = 0  # how many are drawn (tests and the title read it)

    def show(self, view: ChartView) -> None:
        """Draw ``view``, repainting only the rows that differ from what is drawn."""
        old = self.rows
        self.rows = view.rows
        self.candles = view.candles
        if len(old) != len(view.rows):
            self.refresh()
            return
        width = self.size.width
        for y, (before, after) in enumerate(zip(old, view.rows, strict=True)):
            if before != after:
                self.refresh(Region(0, y, width, 1))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        base = self.rich_style
        segments = [
            Segment(text, self.get_component_rich_style(f"chart--{kind}") if kind else base)
            for text, kind in self.rows[y]
        ]
        return Strip(segments).adjust_cell_length(width, base)
