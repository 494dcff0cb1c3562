"""The trade tape: newest trade on top, coloured by the aggressor's side, with a tick arrow
(where the price went) and a mark on the user's own fills. Times are consensus times, in the
local time zone. Line API: only what fits is drawn."""

from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from engine import Market

from ..model import numbers, times
from ..model.tape import TapeRow

HEADER = f"  {'time':<8} {'price':>10} {'size':>10}  "
ARROWS = {1: "↑", -1: "↓", 0: " "}


class TradeTape(Widget):
    COMPONENT_CLASSES = {"tape--header", "tape--buy", "tape--sell", "tape--time"}
    DEFAULT_CSS = """
    TradeTape .tape--header { color: $text-muted; text-style: bold; }
    TradeTape .tape--buy { color: $success; }
    TradeTape .tape--sell { color: $error; }
    TradeTape .tape--time { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.market: Market | None = None
        self.trades: Sequence[TapeRow] = ()

    def show(self, market: Market, trades: Sequence[TapeRow]) -> None:
        self.market = market
        self.trades = trades
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            style = self.get_component_rich_style("tape--header")
            return Strip([Segment(HEADER.ljust(width)[:width], style)], width)
        market = self.market
        if market is None or y > len(self.trades):
            return Strip.blank(width, self.rich_style)
        row = self.trades[y - 1]
        stamp = times.hms(row.time)
        side_style = self.get_component_rich_style(f"tape--{row.aggressor}")
        if row.own:
            side_style += Style(bold=True)
        mark = "●" if row.own else " "
        body = (
            f"{numbers.price(market, row.price):>10} {numbers.qty(market, row.qty):>10}"
            f" {ARROWS[row.tick]}"
        )
        segments = [
            Segment(f"{mark} ", side_style),
            Segment(f"{stamp:<8} ", self.get_component_rich_style("tape--time")),
            Segment(body, side_style),
        ]
        return Strip(segments).adjust_cell_length(width, self.rich_style)
