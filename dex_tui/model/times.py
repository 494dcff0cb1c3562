"""Consensus time on screen and in files, and the expiry a good-till-date order is typed with.

Every time the exchange knows is consensus time: the leader's clock in ms since the epoch,
stamped on the log entry that made it (``docs/engine.md``), so a trade has the same time
on every peer. The screen shows it in the local time zone (:func:`hms`); files carry it as
ISO 8601 UTC with milliseconds (:func:`iso`), which no time zone can misread.

An expiry is typed relative (``30s``, ``5m``, ``2h``: from when the order is sent) or as a
local clock time (``14:30``, ``14:30:15``: its next occurrence, so ``09:00`` typed at
noon is tomorrow morning). The same words serve the ticket's expiry field and the
scenario grammar's ``gtd``; :func:`parse_expiry` says what is wrong in a sentence, and an
:class:`Expiry` becomes the engine's ``expire_at`` only when the order is sent
(:meth:`Expiry.at_ms`), so a scenario line's ``gtd 30s`` means 30 s after that line runs.
"""

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

UNITS_MS = {"h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}  # largest first (for text())
MAX_EXPIRY_MS = 366 * 86_400_000  # a longer good-till-date is a typo: that is what gtc is for
EXPIRY_EXAMPLES = "a duration such as 30s, 5m or 2h, or a local time such as 14:30"

_DURATION = re.compile(r"([0-9]{1,12})(ms|s|m|h)", re.IGNORECASE)
_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def hms(ms: int) -> str:
    """Consensus ms as local ``HH:MM:SS`` (the tape's time column)."""
    return time.strftime("%H:%M:%S", time.localtime(ms // 1000))


def hm(ms: int) -> str:
    """Consensus ms as local ``HH:MM`` (the chart's time axis)."""
    return time.strftime("%H:%M", time.localtime(ms // 1000))


def iso(ms: int) -> str:
    """Consensus ms as ISO 8601 UTC with milliseconds: ``2025-11-25T12:00:00.250Z``."""
    stamp = _EPOCH + timedelta(milliseconds=ms)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def file_stamp(now: float) -> str:
    """Local ``YYYYMMDD-HHMMSS`` of the wall clock, for a default file name."""
    return time.strftime("%Y%m%d-%H%M%S", time.localtime(now))


@dataclass(frozen=True, slots=True)
class Expiry:
    """When a good-till-date order expires, as typed: ``after_ms`` from sending, or at
    the local clock time ``at`` (hour, minute, second); exactly one is set."""

    after_ms: int | None = None
    at: tuple[int, int, int] | None = None

    def at_ms(self, now: float) -> int:
        """The engine's ``expire_at`` (ms since the epoch) for an order sent at ``now``
        (seconds since the epoch, the wall clock the leader's time follows)."""
        now_ms = int(now * 1000)
        if self.after_ms is not None:
            return now_ms + self.after_ms
        assert self.at is not None
        local = datetime.fromtimestamp(now_ms / 1000).replace(microsecond=0)
        hour, minute, second = self.at
        when = local.replace(hour=hour, minute=minute, second=second)
        if when.timestamp() * 1000 <= now_ms:
            when += timedelta(days=1)
        return int(when.timestamp()) * 1000

    def text(self) -> str:
        """As typed, canonically: ``parse_expiry(e.text()) == e``."""
        if self.at is not None:
            hour, minute, second = self.at
            return f"{hour:02d}:{minute:02d}" + (f":{second:02d}" if second else "")
        assert self.after_ms is not None
        unit = next(u for u, ms in UNITS_MS.items() if self.after_ms % ms == 0)
        return f"{self.after_ms // UNITS_MS[unit]}{unit}"


def parse_expiry(text: str) -> Expiry:
    """An expiry from its text; ValueError saying what was expected otherwise."""
    word = text.strip()
    if not word:
        raise ValueError(f"enter an expiry: {EXPIRY_EXAMPLES}")
    duration = _DURATION.fullmatch(word)
    if duration is not None:
        ms = int(duration.group(1)) * UNITS_MS[duration.group(2).lower()]
        if ms <= 0:
            raise ValueError(f"{word} is no time from now: expected a duration above 0")
        if ms > MAX_EXPIRY_MS:
            raise ValueError(f"{word} is more than 366 days: use gtc for an order that stays")
        return Expiry(after_ms=ms)
    clock = _CLOCK.fullmatch(word)
    if clock is not None:
        hour, minute, second = (int(part or 0) for part in clock.groups())
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(f"{word} is not a time of day: expected HH:MM from 00:00 to 23:59")
        return Expiry(at=(hour, minute, second))
    raise ValueError(f"expected {EXPIRY_EXAMPLES}, not {word!r}"[:120])


def until(expire_at: int, now: float) -> str:
    """How an expiry reads in a hint: ``12:30:00, in 5m 0s`` (``expired`` once past)."""
    left = (expire_at - int(now * 1000)) // 1000
    if left <= 0:
        return f"{hms(expire_at)}, expired"
    hours, rest = divmod(left, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours}h"] if hours else []
    parts += [f"{minutes}m"] if hours or minutes else []
    return f"{hms(expire_at)}, in {' '.join([*parts, f'{seconds}s'])}"
