"""Virtual time: a heap of (time, sequence, callback) events; the sequence breaks ties so the
order of simultaneous events is fixed by the order they were scheduled."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any


class EventLoop:
    __slots__ = ("_heap", "_seq", "now")

    def __init__(self) -> None:
        self.now = 0
        self._seq = 0
        self._heap: list[tuple[int, int, Callable[..., None], tuple[Any, ...]]] = []

    def at(self, t: int, fn: Callable[..., None], *args: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, fn, args))

    def after(self, delay: int, fn: Callable[..., None], *args: Any) -> None:
        self.at(self.now + delay, fn, *args)

    def run_next(self, until: int) -> bool:
        """Run the next event if it is due by `until`; False when there is none."""
        if not self._heap or self._heap[0][0] > until:
            return False
        t, _, fn, args = heapq.heappop(self._heap)
        self.now = t
        fn(*args)
        return True


class Trace:
    """Human-readable event log, kept only when replaying one seed."""

    __slots__ = ("enabled", "lines", "loop")

    def __init__(self, loop: EventLoop, enabled: bool) -> None:
        self.loop = loop
        self.enabled = enabled
        self.lines: list[str] = []

    def log(self, text: str) -> None:
        self.lines.append(f"{self.loop.now:>7}ms {text}")
