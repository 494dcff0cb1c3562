"""The price chart's content: candles laid out on a grid of terminal cells, as plain runs.

One candle is one column. Each cell is split in two halves (top and bottom), so a column
resolves twice as many price steps as the chart has rows; a half is *body* (between open
and close), *wick* (between low and high) or empty, and the pair of halves picks one box
drawing glyph (``┃`` body, ``│`` wick, ``╽`` wick over body, ``╹`` body in the top half,
...). A candle that closed at or above its open is *up* (green), else *down* (red). The
price axis on the right labels every few rows and, highlighted, the row of the last
close; the bottom row labels the first candle of each new period (15 min on the 1m chart,
1 h on 5m, 6 h on 1h) where a label fits.

Periods without trades have no candle (``engine`` omits them): the chart puts the candles
it has side by side, so its time axis is not linear across a quiet spell; the labels say
what time each labelled column is.

The output is, per row, a tuple of ``(text, kind)`` runs (kind: ``up``, ``down``,
``axis``, ``last``, ``time``, ``muted`` or ``""``), so the widget maps kinds to styles and
compares rows to repaint only those that changed. Pure Python, integer arithmetic: no
Textual, no floats.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter

from engine import Market

from . import numbers, times

INTERVALS = ("1m", "5m", "1h")
#: The period whose start earns a time label, per interval (ms).
LABEL_EVERY = {"1m": 15 * 60_000, "5m": 3_600_000, "1h": 6 * 3_600_000}
AXIS_EVERY = 3  # rows between two price labels
MIN_ROWS = 3  # two price rows and the time row: less draws only a note

Bar = tuple[int, int, int, int, int, int]  # (start ms, open, high, low, close, volume)
Run = tuple[str, str]  # (text, kind)
Row = tuple[Run, ...]

#: (top half, bottom half) -> glyph; a half is 2 body, 1 wick, 0 empty
GLYPHS = {
    (2, 2): "┃", (1, 1): "│", (0, 0): " ",
    (2, 0): "╹", (0, 2): "╻", (1, 0): "╵", (0, 1): "╷",
    (1, 2): "╽", (2, 1): "╿",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChartView:
    rows: tuple[Row, ...]  # exactly ``height`` rows, each ``width`` cells wide
    candles: int  # how many candles are drawn


def layout(
    bars: Sequence[Bar], market: Market, interval: str, width: int, height: int
) -> ChartView:
    """Lay out the newest candles of ``bars`` (oldest first) in ``width`` x ``height`` cells."""
    if width <= 0 or height <= 0:
        return ChartView((), 0)
    if height < MIN_ROWS or not bars:
        note = "too small for a chart" if bars else f"no trades in {market.symbol} yet"
        return ChartView(_note(note, width, height), 0)
    # fixed decimals: the highest price has the longest label
    label_width = len(numbers.price(market, max(b[2] for b in bars)))
    columns = width - label_width - 2  # the axis line and a space before the labels
    if columns < 1:
        return ChartView(_note("too narrow for a chart", width, height), 0)
    shown = bars[-columns:]
    high = max(b[2] for b in shown)
    low = min(b[3] for b in shown)
    scale = _Scale(high, low, 2 * (height - 1))
    last_row = scale.half(shown[-1][4]) // 2
    pad = columns - len(shown)  # fewer candles than columns: they sit on the right
    grid = [_column(bar, scale, height - 1) for bar in shown]
    kinds = ["up" if bar[4] >= bar[1] else "down" for bar in shown]
    rows = []
    said = ""  # the last price label: a flat chart would repeat one on several rows
    for r in range(height - 1):
        cells: list[Run] = [(" " * pad, "")] if pad else []
        cells += [(column[r], kind) for column, kind in zip(grid, kinds, strict=True)]
        if r == last_row:
            label, kind, line = numbers.price(market, shown[-1][4]), "last", "┤"
        elif r % AXIS_EVERY == 0 and abs(r - last_row) > 1:
            label, kind, line = numbers.price(market, scale.price(r)), "axis", "┤"
        else:
            label, kind, line = "", "axis", "│"
        if label == said and kind != "last":
            label, line = "", "│"
        said = label or said
        cells += [(line, "axis"), (f" {label:>{label_width}}", kind if label else "")]
        rows.append(_runs(cells))
    rows.append(_time_row(shown, interval, pad, width))
    return ChartView(tuple(rows), len(shown))


class _Scale:
    """Prices to half-rows from the top (0 at ``high``, ``halves`` - 1 at ``low``)."""

    def __init__(self, high: int, low: int, halves: int) -> None:
        self.high = high
        self.span = max(1, high - low)
        self.steps = halves - 1

    def half(self, price: int) -> int:
        """The half-row of ``price``, rounded to the nearest (integers only)."""
        return ((self.high - price) * self.steps * 2 + self.span) // (2 * self.span)

    def price(self, row: int) -> int:
        """The price (ticks) at the middle of ``row``, rounded to a tick."""
        middle2 = 4 * row + 1  # twice the half-row index of the row's middle: 2 * (2r + 0.5)
        return self.high - (middle2 * self.span + self.steps) // (2 * self.steps)


def _column(bar: Bar, scale: _Scale, rows: int) -> list[str]:
    """One candle's glyph per row, top to bottom (blank outside its wick's rows)."""
    _, open_, high, low, close, _ = bar
    wick_top, wick_bottom = scale.half(high), scale.half(low)
    body_top, body_bottom = scale.half(max(open_, close)), scale.half(min(open_, close))
    column = [" "] * rows
    for r in range(wick_top // 2, wick_bottom // 2 + 1):
        halves = [2 if body_top <= h <= body_bottom else 1 if wick_top <= h <= wick_bottom else 0
                  for h in (2 * r, 2 * r + 1)]  # fmt: skip
        column[r] = GLYPHS[halves[0], halves[1]]
    return column


def _runs(cells: list[Run]) -> Row:
    """Neighbouring cells of one kind merged into one run; blanks look the same whatever
    their kind, so they merge with each other."""
    keyed = ((text, kind if text.strip() else "") for text, kind in cells)
    return tuple(("".join(text for text, _ in group), kind)
                 for kind, group in groupby(keyed, key=itemgetter(1)))  # fmt: skip


def _time_row(shown: Sequence[Bar], interval: str, pad: int, width: int) -> Row:
    """Local ``HH:MM`` under the first candle of each labelled period, where it fits."""
    cells = [" "] * width
    every = LABEL_EVERY[interval]
    free = 0  # the first column a new label may take (one blank after the previous)
    previous = None
    for at, bar in enumerate(shown, pad):
        period = bar[0] // every
        if period != previous and at >= free:
            label = times.hm(bar[0])
            if at + len(label) <= width:
                cells[at : at + len(label)] = list(label)
                free = at + len(label) + 1
        previous = period
    return (("".join(cells), "time"),)


def _note(text: str, width: int, height: int) -> tuple[Row, ...]:
    """A chart with nothing to draw: ``text`` centred, on the middle row."""
    blank: Row = ((" " * width, ""),)
    rows = [blank] * height
    rows[height // 2] = ((text[:width].center(width), "muted"),)
    return tuple(rows)
