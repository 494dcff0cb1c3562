"""Log entries stored as columns.

The hot path (append, replicate, commit) moves runs of consecutive entries around; keeping
them as one object with parallel columns avoids creating a Python object per entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum


class EntryKind(IntEnum):
    """What an entry's payload means to the core."""

    NORMAL = 0  # opaque application payload; empty payload is the new leader's no-op
    CONF = 1  # payload is an encoded ConfChange, applied by the core itself


@dataclass(slots=True, frozen=True)
class EntryRun:
    """Consecutive entries first, first+1, ... as columns (terms, kinds, payloads)."""

    first: int
    terms: tuple[int, ...]
    kinds: bytes
    payloads: tuple[bytes, ...]

    def __len__(self) -> int:
        return len(self.terms)

    @property
    def last(self) -> int:
        return self.first + len(self.terms) - 1

    @property
    def last_term(self) -> int:
        return self.terms[-1]

    def term(self, index: int) -> int:
        return self.terms[index - self.first]

    def nbytes(self) -> int:
        return sum(map(len, self.payloads))

    def slice(self, lo: int, hi: int) -> EntryRun:
        """Entries lo..hi-1 (clamped to this run)."""
        a = max(lo, self.first) - self.first
        b = min(hi, self.last + 1) - self.first
        return EntryRun(self.first + a, self.terms[a:b], self.kinds[a:b], self.payloads[a:b])

    def __iter__(self) -> Iterator[tuple[int, int, int, bytes]]:
        """(index, term, kind, payload) per entry: for appliers and checkers, not the hot path."""
        return zip(
            range(self.first, self.first + len(self.terms)),
            self.terms,
            self.kinds,
            self.payloads,
            strict=True,
        )


def single_term_run(first: int, term: int, kinds: bytes, payloads: tuple[bytes, ...]) -> EntryRun:
    """A run of fresh entries appended by a leader: every entry carries the leader's term."""
    return EntryRun(first, (term,) * len(payloads), kinds, payloads)


def limit_count(payloads: tuple[bytes, ...] | list[bytes], max_bytes: int) -> int:
    """How many leading payloads fit in max_bytes; always at least one (progress over size)."""
    total = 0
    for n, p in enumerate(payloads):
        total += len(p)
        if total > max_bytes and n > 0:
            return n
    return len(payloads)
