"""The depth ladder: asks above, bids below, a spread row between, drawn with the line API.

Geometry is fixed by the depth setting (the model pads missing levels), so rows do not jump
while the book moves. A level's cumulative size is drawn as a background bar from the right
edge; the user's own levels are marked. A click on a level posts :class:`PriceClicked`; the
app puts that price in the ticket (the side stays as it is).
"""

from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from ..model import numbers
from ..model.ladder import Ladder, Level

HEADER = f" {'price':>10} {'size':>10} {'total':>10} {'#':>3}"
PRICE_CELLS = 11  # the own-order mark and the price: drawn in the side's colour


class DepthLadder(Widget, can_focus=True):
    COMPONENT_CLASSES = {
        "ladder--header",
        "ladder--ask",
        "ladder--bid",
        "ladder--ask-bar",
        "ladder--bid-bar",
        "ladder--mid",
        "ladder--empty",
    }
    DEFAULT_CSS = """
    DepthLadder { height: auto; }
    DepthLadder .ladder--header { color: $text-muted; text-style: bold; }
    DepthLadder .ladder--ask { color: $error; }
    DepthLadder .ladder--bid { color: $success; }
    DepthLadder .ladder--ask-bar { background: $error 25%; }
    DepthLadder .ladder--bid-bar { background: $success 25%; }
    DepthLadder .ladder--mid { color: $warning; text-style: bold; }
    DepthLadder .ladder--empty { color: $text-disabled; }
    """

    @dataclass
    class PriceClicked(Message):
        price: int  # ticks
        market: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ladder: Ladder | None = None
        self.rows = 10
        self._keys: list[object] = []  # per row, what it shows (see _row_key)

    def show(self, ladder: Ladder) -> None:
        """Draw ``ladder``, repainting only the rows that look different: under load most
        levels stay as they were between two refresh ticks."""
        resized = len(ladder.asks) != self.rows
        self.ladder = ladder
        self.rows = len(ladder.asks)
        keys = [self._row_key(y) for y in range(2 * self.rows + 2)]
        if resized or len(keys) != len(self._keys):
            self.refresh(layout=resized)
        else:
            width = self.size.width
            for y, (old, new) in enumerate(zip(self._keys, keys, strict=True)):
                if old != new:
                    self.refresh(Region(0, y, width, 1))
        self._keys = keys

    def _row_key(self, y: int) -> object:
        """What row ``y`` shows, down to the bar's length in cells (not its exact ratio)."""
        ladder = self.ladder
        assert ladder is not None
        if y == self.rows + 1:
            return _mid_text(ladder, self.size.width)
        level = self.level_at(y)
        if level is None:
            return None
        return level, y <= self.rows, _bar_cells(self.size.width, level, ladder)

    def get_content_height(self, container, viewport, width: int) -> int:
        return 2 * self.rows + 2

    def level_at(self, y: int) -> Level | None:
        """The level drawn on content row ``y``, if any."""
        ladder = self.ladder
        if ladder is None:
            return None
        rows = self.rows
        if 1 <= y <= rows:
            return ladder.asks[rows - y]
        if rows + 2 <= y <= 2 * rows + 1:
            return ladder.bids[y - rows - 2]
        return None

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        ladder = self.ladder
        if y == 0:
            return _line(HEADER, width, self.get_component_rich_style("ladder--header"))
        if ladder is None:
            return Strip.blank(width, self.rich_style)
        if y == self.rows + 1:
            text = _mid_text(ladder, width).center(width)
            return _line(text, width, self.get_component_rich_style("ladder--mid"))
        level = self.level_at(y)
        if level is None:
            return Strip.blank(width, self.rich_style)
        is_ask = y <= self.rows
        return self._level_line(ladder, level, is_ask, width)

    def _level_line(self, ladder: Ladder, level: Level, is_ask: bool, width: int) -> Strip:
        market = ladder.market
        mark = "▶" if level.own else " "
        text = (
            f"{mark}{numbers.price(market, level.price):>10} {numbers.qty(market, level.qty):>10}"
            f" {numbers.qty(market, level.cum):>10} {level.count:>3}"
        ).ljust(width)[:width]
        side = "ladder--ask" if is_ask else "ladder--bid"
        price_style = self.get_component_rich_style(side)
        if level.own:  # the side's colour as a background: own levels stand out, still red/green
            price_style += Style(bold=True, reverse=True)
        bar_bg = self.get_component_rich_style(f"{side}-bar").bgcolor
        bar = _bar_cells(width, level, ladder)
        base = self.rich_style
        segments = []
        for start, end, style in ((0, PRICE_CELLS, price_style), (PRICE_CELLS, width, base)):
            for lo, hi, on_bar in ((start, min(end, width - bar), False),
                                   (max(start, width - bar), end, True)):  # fmt: skip
                if lo < hi:
                    styled = style + Style(bgcolor=bar_bg) if on_bar else style
                    segments.append(Segment(text[lo:hi], styled))
        return Strip(segments, width)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        level = None if offset is None else self.level_at(offset.y)
        if level is not None and self.ladder is not None:
            self.post_message(self.PriceClicked(level.price, self.ladder.market.symbol))


def _bar_cells(width: int, level: Level, ladder: Ladder) -> int:
    return round(width * level.cum / ladder.max_cum) if ladder.max_cum else 0


def _mid_text(ladder: Ladder, width: int) -> str:
    """Spread (in bp too), mid and last price, and the grouping; what does not fit in
    ``width`` is left out, the mid first, then the spread's bp (the last price stays)."""
    market = ladder.market
    spread, bps, mid = "no spread: one side is empty", "", ""
    if ladder.spread is not None and ladder.mid2 is not None:
        spread = f"spread {numbers.price(market, ladder.spread)}"
        bps = f" ({ladder.spread * 20_000 // ladder.mid2 if ladder.mid2 else 0}bp)"
        mid = f"mid {market.tick_step * ladder.mid2 / 2:f}"
    rest = []
    if ladder.last_price is not None:
        arrow = {1: "↑", -1: "↓"}.get(ladder.last_tick, " ")
        rest.append(f"last {numbers.price(market, ladder.last_price)} {arrow}")
    if ladder.group > 1:
        rest.append(f"group {numbers.price(market, ladder.group)}")
    for parts in ([spread + bps, mid, *rest], [spread + bps, *rest], [spread, *rest]):
        text = "  ".join(p for p in parts if p)
        if len(text) <= width:
            break
    return text


def _line(text: str, width: int, style: Style) -> Strip:
    return Strip([Segment(text.ljust(width)[:width], style)], width)
