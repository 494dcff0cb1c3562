"""The core's view of the log: durable entries in storage plus a not-yet-durable tail.

After etcd's raftLog and unstable: new entries (and a received snapshot) sit in the unstable
tail until the shell has persisted the Ready that carried them and called advance().
Invariant: `_u_first` is the index right after the durable entries the log still trusts, so
last_index() never asks storage.
"""

from __future__ import annotations

from net.raft.entries import EntryKind, EntryRun, limit_count
from net.raft.errors import Compacted, Unavailable
from net.raft.state import Snapshot
from net.raft.storage import LogStore

_NO_LIMIT = 1 << 62


class RaftLog:
    __slots__ = (
        "_u_first",
        "_u_kinds",
        "_u_payloads",
        "_u_snap",
        "_u_terms",
        "applied",
        "committed",
        "storage",
    )

    def __init__(self, storage: LogStore) -> None:
        self.storage = storage
        self._u_first = storage.last_index() + 1
        self._u_terms: list[int] = []
        self._u_kinds = bytearray()
        self._u_payloads: list[bytes] = []
        self._u_snap: Snapshot | None = None
        self.committed = storage.first_index() - 1
        self.applied = self.committed

    # -- reads --

    def first_index(self) -> int:
        if self._u_snap is not None:
            return self._u_snap.meta.index + 1
        return self.storage.first_index()

    def last_index(self) -> int:
        return self._u_first + len(self._u_terms) - 1

    def term(self, index: int) -> int:
        """Term at index; raises Compacted below the snapshot, Unavailable past the end."""
        n = index - self._u_first
        if n >= 0:
            if n < len(self._u_terms):
                return self._u_terms[n]
            raise Unavailable(index)
        snap = self._u_snap
        if snap is not None:
            if index == snap.meta.index:
                return snap.meta.term
            raise Compacted(index)
        return self.storage.term(index)

    def last_term(self) -> int:
        return self.term(self.last_index())

    def match_term(self, index: int, term: int) -> bool:
        try:
            return self.term(index) == term
        except (Compacted, Unavailable):
            return False

    def is_up_to_date(self, index: int, term: int) -> bool:
        """Raft section 5.4.1: is a candidate's last (index, term) at least as new as ours?"""
        last_term = self.last_term()
        return term > last_term or (term == last_term and index >= self.last_index())

    def snapshot(self) -> Snapshot:
        return self._u_snap if self._u_snap is not None else self.storage.snapshot()

    def slice(self, lo: int, hi: int, max_bytes: int = _NO_LIMIT) -> EntryRun:
        """Entries lo..hi-1, at least one, cut after max_bytes; raises Compacted."""
        if lo < self.first_index():
            raise Compacted(lo)
        u = self._u_first
        if lo < u:
            stored = self.storage.entries(lo, min(hi, u), max_bytes)
            if hi <= u or stored.last < u - 1:
                return stored
            max_bytes -= stored.nbytes()
            if max_bytes <= 0:
                return stored
            tail = self._unstable_slice(u, hi, max_bytes, at_least_one=False)
            if tail is None:
                return stored
            return EntryRun(
                stored.first,
                stored.terms + tail.terms,
                stored.kinds + tail.kinds,
                stored.payloads + tail.payloads,
            )
        run = self._unstable_slice(lo, hi, max_bytes, at_least_one=True)
        assert run is not None
        return run

    def _unstable_slice(
        self, lo: int, hi: int, max_bytes: int, at_least_one: bool
    ) -> EntryRun | None:
        a, b = lo - self._u_first, hi - self._u_first
        payloads = self._u_payloads[a:b]
        n = limit_count(payloads, max_bytes)
        if not at_least_one and n == 1 and len(payloads[0]) > max_bytes:
            return None
        b = a + n
        return EntryRun(
            lo, tuple(self._u_terms[a:b]), bytes(self._u_kinds[a:b]), tuple(payloads[:n])
        )

    def find_conflict(self, run: EntryRun) -> int:
        """First index of run whose term differs from ours (or is new); 0 if all present.
        Only the part overlapping our log is compared, so a fresh tail costs nothing."""
        last = self.last_index()
        for i, t in zip(range(run.first, min(run.last, last) + 1), run.terms, strict=False):
            if not self.match_term(i, t):
                return i
        return last + 1 if run.last > last else 0

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """Largest i <= index whose term <= term, with that term: the fast back-off probe.

        An index we cannot read (compacted) may match, so it is returned with term 0.
        """
        while index > 0:
            try:
                ours = self.term(index)
            except (Compacted, Unavailable):
                return index, 0
            if ours <= term:
                return index, ours
            index -= 1
        return 0, 0

    def has_conf_between(self, lo: int, hi: int) -> bool:
        """Does any entry lo..hi-1 change the configuration?"""
        while lo < hi:
            run = self.slice(lo, hi)
            if EntryKind.CONF in run.kinds:
                return True
            lo = run.last + 1
        return False

    # -- writes --

    def append(self, run: EntryRun) -> None:
        """Put run in the unstable tail, replacing whatever was at and after run.first."""
        after = run.first
        u = self._u_first
        if after == u + len(self._u_terms):
            pass
        elif after <= u:
            self._u_first = after
            self._u_terms.clear()
            self._u_kinds.clear()
            self._u_payloads.clear()
        else:
            cut = after - u
            del self._u_terms[cut:]
            del self._u_kinds[cut:]
            del self._u_payloads[cut:]
        self._u_terms.extend(run.terms)
        self._u_kinds.extend(run.kinds)
        self._u_payloads.extend(run.payloads)

    def commit_to(self, index: int) -> None:
        if index > self.committed:
            if index > self.last_index():
                raise AssertionError(f"commit {index} beyond last index {self.last_index()}")
            self.committed = index

    def restore(self, snap: Snapshot) -> None:
        """Replace the whole log with a snapshot (it becomes unstable until persisted)."""
        self.committed = snap.meta.index
        self._u_first = snap.meta.index + 1
        self._u_terms.clear()
        self._u_kinds.clear()
        self._u_payloads.clear()
        self._u_snap = snap

    # -- the unstable tail and the shell --

    def unstable_entries(self) -> EntryRun | None:
        if not self._u_terms:
            return None
        return EntryRun(
            self._u_first, tuple(self._u_terms), bytes(self._u_kinds), tuple(self._u_payloads)
        )

    def unstable_snapshot(self) -> Snapshot | None:
        return self._u_snap

    def next_committed(self, max_bytes: int) -> EntryRun | None:
        """Committed entries not yet applied, up to max_bytes; none while a snapshot is pending."""
        if self._u_snap is not None or self.applied >= self.committed:
            return None
        return self.slice(self.applied + 1, self.committed + 1, max_bytes)

    def stable_to(self, index: int, term: int) -> None:
        """Entries up to (index, term) are durable; the term check guards against ABA."""
        n = index - self._u_first
        if 0 <= n < len(self._u_terms) and self._u_terms[n] == term:
            del self._u_terms[: n + 1]
            del self._u_kinds[: n + 1]
            del self._u_payloads[: n + 1]
            self._u_first = index + 1

    def stable_snap_to(self, index: int) -> None:
        if self._u_snap is not None and self._u_snap.meta.index == index:
            self._u_snap = None
