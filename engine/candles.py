"""OHLCV candles (1m, 5m, 1h) and a 24 h ticker for one market, from its trades.

Time is handed in (consensus time from the log, ms since the epoch), so every peer that
applies the same log builds the same candles. A candle is a tuple ``(start_ms, open, high,
low, close, volume)``: prices in ticks, volume in lots, ``start_ms`` a multiple of its
interval. Periods without trades have no candle (a chart shows a gap, which is what
happened; inventing flat candles would make the bar count depend on the query's span).

:meth:`Candles.trade` runs for every trade on the matching path, so in the common case it
touches only the minute in progress (a handful of native integer fields once compiled).
When a minute ends it is folded, once, into every interval's series: the 5m and 1h candles
are never updated per trade. Each series is bounded: 5m and 1h keep :data:`MAX_BARS`
candles, 1m keeps enough for the ticker's 24 h (1,440 minutes, and the last minute before
them, the ticker's reference price) or :data:`MAX_BARS`, whichever is more.
"""

from collections import deque
from typing import Final

from .errors import InvalidInput

INTERVALS: Final[dict[str, int]] = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000}
MAX_BARS: Final = 1000  # the most candles a query returns and each interval keeps
MINUTE: Final = 60_000
DAY: Final = 86_400_000
_NEVER: Final = -(1 << 62)  # the end of the minute in progress before the first trade
# The most finished candles a series holds: 1m, the minutes after a ticker's window start
# and the one before (at least MAX_BARS - 1); 5m and 1h, MAX_BARS.
_MOST_KEPT: Final = {"1m": max(DAY // MINUTE, MAX_BARS - 1), "5m": MAX_BARS, "1h": MAX_BARS}

Bar = tuple[int, int, int, int, int, int]


def _fold(series: deque[Bar] | list[Bar], bar: Bar, interval: int) -> None:
    """Add the finished ``bar`` (a shorter candle) to ``series``: merged into the last
    candle when it falls in the same period, else a new candle at the period's start."""
    start, open_, high, low, close, volume = bar
    start -= start % interval
    if series and series[-1][0] == start:
        last = series[-1]
        series[-1] = (start, last[1], max(last[2], high), min(last[3], low), close,
                      last[5] + volume)  # fmt: skip
    else:
        series.append((start, open_, high, low, close, volume))


def _surplus(minutes: deque[Bar], current_start: int) -> bool:
    """Whether the oldest finished minute is no longer needed: more than ``MAX_BARS`` - 1
    remain without it, and the next one is at or before any later ticker's window start,
    so it can be neither in a window nor the reference price before one."""
    return len(minutes) > MAX_BARS - 1 and minutes[1][0] <= current_start - DAY


class Candles:
    """One market's candles and ticker, fed every trade in time order."""

    __slots__ = ("_close", "_end", "_high", "_low", "_open", "_series", "_start", "_volume")

    def __init__(self) -> None:
        # The minute in progress, as native fields: trade() touches nothing else.
        self._start = _NEVER
        self._end = _NEVER
        self._open = self._high = self._low = self._close = self._volume = 0
        # Finished candles per interval, oldest first; the 1m series is pruned by _surplus.
        self._series: dict[str, deque[Bar]] = {
            name: deque() if ms == MINUTE else deque(maxlen=MAX_BARS)
            for name, ms in INTERVALS.items()
        }

    def trade(self, time: int, price: int, qty: int) -> None:
        """Record a trade; a ``time`` below the last trade's counts as the last trade's."""
        if time < self._end:  # the minute in progress (or, for an earlier time, the last's)
            if price > self._high:
                self._high = price
            elif price < self._low:
                self._low = price
            self._close = price
            self._volume += qty
            return
        self._new_minute(time - time % MINUTE, price, qty)

    def _new_minute(self, start: int, price: int, qty: int) -> None:
        """Fold the finished minute (if any) into every series, then start one at ``start``."""
        if self._end != _NEVER:
            bar = self._current()
            for name, series in self._series.items():
                _fold(series, bar, INTERVALS[name])
            minutes = self._series["1m"]
            while _surplus(minutes, start):
                minutes.popleft()
        self._start, self._end = start, start + MINUTE
        self._open = self._high = self._low = self._close = price
        self._volume = qty

    def _current(self) -> Bar:
        return (self._start, self._open, self._high, self._low, self._close, self._volume)

    def bars(self, interval: str, limit: int) -> list[Bar]:
        """The last ``limit`` candles of ``interval`` that had trades, oldest first, the
        period in progress included (with the minute in progress in it). Periods without
        trades are omitted, so the candles need not be contiguous."""
        if interval not in INTERVALS:
            raise InvalidInput("interval", f"expected one of {', '.join(INTERVALS)}")
        if not 1 <= limit <= MAX_BARS:
            raise InvalidInput("limit", f"expected 1 to {MAX_BARS}, got {limit}")
        out = list(self._series[interval])
        if self._end != _NEVER:
            _fold(out, self._current(), INTERVALS[interval])
        return out[-limit:]

    def ticker(self, now: int) -> tuple[int, int, int, int, int] | None:
        """``(last, change, high, low, volume)`` over the 24 h up to ``now``, or None when
        the market never traded.

        Minute granularity: the window is the 1m candles whose start is after ``now`` - 24 h,
        so every trade in it is at most 24 h old, but a trade up to a minute younger than
        that may already have left it (its minute started before the window). ``last`` is
        the last trade's price, however old; ``change`` is ``last`` minus the price 24 h ago,
        the close of the last candle before the window (or the window's first open when there
        is none); with no trade in the window high = low = last and volume is 0. A ``now``
        before the last trade counts as the last trade's time."""
        if self._end == _NEVER:
            return None
        cutoff = max(now, self._start) - DAY
        last = self._close
        high = low = last
        volume = 0
        reference = last
        for start, open_, bar_high, bar_low, close, bar_volume in reversed(
            [*self._series["1m"], self._current()]
        ):
            if start <= cutoff:
                reference = close
                break
            reference = open_  # the window's first open, unless a candle before it exists
            high, low, volume = max(high, bar_high), min(low, bar_low), volume + bar_volume
        return (last, last - reference, high, low, volume)

    def to_json(self) -> list:
        """``[minute in progress or null, 1m candles, 5m candles, 1h candles]``, each candle
        a list of six integers, oldest first: equal state gives equal JSON."""
        current = None if self._end == _NEVER else list(self._current())
        return [current, *([list(bar) for bar in series] for series in self._series.values())]

    @classmethod
    def from_json(cls, obj: object) -> "Candles":
        """The candles :meth:`to_json` gave; InvalidInput("snapshot", reason) for anything
        that state could not be (it may come from another peer)."""
        if not isinstance(obj, list) or len(obj) != 1 + len(INTERVALS):
            raise InvalidInput("snapshot", "candles: expected [minute, 1m, 5m, 1h]")
        candles = cls()
        head, *rows = obj
        if head is None:
            if any(row != [] for row in rows):
                raise InvalidInput("snapshot", "candles: series without a minute in progress")
            return candles
        current = _bar(head, MINUTE, "minute in progress")
        for (name, ms), series_rows in zip(INTERVALS.items(), rows, strict=True):
            series = candles._series[name]
            if not isinstance(series_rows, list) or len(series_rows) > _MOST_KEPT[name]:
                raise InvalidInput("snapshot", f"candles: {name} is not a list of candles")
            for i, row in enumerate(series_rows):
                bar = _bar(row, ms, f"{name} candle {i}")
                if series and bar[0] <= series[-1][0]:
                    raise InvalidInput("snapshot", f"candles: {name} candle {i} out of order")
                series.append(bar)
        _check_ends(candles._series, current[0])
        (candles._start, candles._open, candles._high, candles._low, candles._close,
         candles._volume) = current  # fmt: skip
        candles._end = current[0] + MINUTE
        return candles


def _check_ends(series: dict[str, deque[Bar]], current_start: int) -> None:
    """Every series ends with the period of the last finished minute, which is before the
    minute in progress, and 1m keeps no more than it needs: what folding always leaves."""
    minutes = series["1m"]
    last = minutes[-1][0] if minutes else None
    if last is not None and last >= current_start:
        raise InvalidInput("snapshot", "candles: 1m does not end before the minute in progress")
    if last is not None and _surplus(minutes, current_start):
        raise InvalidInput("snapshot", "candles: 1m keeps more minutes than it needs")
    for name, ms in INTERVALS.items():
        end = series[name][-1][0] if series[name] else None
        if end != (None if last is None else last - last % ms):
            raise InvalidInput("snapshot", f"candles: {name} does not end with the last minute")


def _bar(row: object, interval: int, what: str) -> Bar:
    """A candle from its JSON row, checked: six integers, start on the interval, positive
    prices with low <= open, close <= high, positive volume."""
    if not (isinstance(row, list) and len(row) == 6
            and all(type(value) is int for value in row)):  # fmt: skip
        raise InvalidInput("snapshot", f"candles: {what} is not six integers")
    start, open_, high, low, close, volume = row
    if start % interval:
        raise InvalidInput("snapshot", f"candles: {what} does not start on its interval")
    if not (0 < low <= min(open_, close) and max(open_, close) <= high and volume > 0):
        raise InvalidInput("snapshot", f"candles: {what} has impossible prices or volume")
    return (start, open_, high, low, close, volume)
