"""The storage interface the core reads, and an in-memory implementation.

Like etcd's Storage, the core only *reads* storage, synchronously, and only what is already
durable; the shell writes what a Ready asks for. A durable (SQLite) store implements the same
Protocol later.
"""

from __future__ import annotations

from typing import Protocol

from net.raft.confchange import bootstrap_entries
from net.raft.entries import EntryRun, limit_count
from net.raft.errors import Compacted, Unavailable
from net.raft.state import ConfState, HardState, SnapMeta, Snapshot


class LogStore(Protocol):
    def initial_state(self) -> tuple[HardState, ConfState]:
        """Durable hard state, and the configuration as of the snapshot (the restart point)."""
        ...

    def first_index(self) -> int:
        """Index of the first entry still held (snapshot index + 1)."""
        ...

    def last_index(self) -> int: ...

    def term(self, index: int) -> int:
        """Term at index, for first_index()-1 .. last_index(); raises Compacted / Unavailable."""
        ...

    def entries(self, lo: int, hi: int, max_bytes: int) -> EntryRun:
        """Entries lo..hi-1, at least one, cut after max_bytes; raises Compacted."""
        ...

    def snapshot(self) -> Snapshot:
        """The latest snapshot; may raise SnapshotNotReady."""
        ...


class MemoryStorage:
    """LogStore in memory, plus the writes a shell makes. Columns, like EntryRun.

    Index `offset` holds a dummy entry: the snapshot's (index, term) kept after compaction.
    """

    __slots__ = ("_hs", "_kinds", "_offset", "_payloads", "_snap", "_terms", "node_id")

    def __init__(self) -> None:
        self.node_id = 0  # the id this store was made for; 0 until claimed (net/shell.py)
        self._hs = HardState()
        self._snap = Snapshot(SnapMeta(0, 0, ConfState()))
        self._offset = 0
        self._terms: list[int] = [0]
        self._kinds = bytearray(1)
        self._payloads: list[bytes] = [b""]

    # -- reads (the LogStore protocol) --

    def initial_state(self) -> tuple[HardState, ConfState]:
        return self._hs, self._snap.meta.conf

    def first_index(self) -> int:
        return self._offset + 1

    def last_index(self) -> int:
        return self._offset + len(self._terms) - 1

    def term(self, index: int) -> int:
        if index < self._offset:
            raise Compacted(index)
        n = index - self._offset
        if n >= len(self._terms):
            raise Unavailable(index)
        return self._terms[n]

    def entries(self, lo: int, hi: int, max_bytes: int) -> EntryRun:
        if lo <= self._offset:
            raise Compacted(lo)
        if hi > self.last_index() + 1:
            raise Unavailable(hi)
        a, b = lo - self._offset, hi - self._offset
        payloads = self._payloads[a:b]
        b = a + limit_count(payloads, max_bytes)
        return EntryRun(
            lo, tuple(self._terms[a:b]), bytes(self._kinds[a:b]), tuple(payloads[: b - a])
        )

    def snapshot(self) -> Snapshot:
        return self._snap

    @property
    def hard_state(self) -> HardState:
        return self._hs

    # -- writes (the shell's, never the core's) --

    def claim_node_id(self, node_id: int) -> None:
        """Record, durably, which node this store belongs to (once, before it is used)."""
        self.node_id = node_id

    def bootstrap(
        self,
        voters: tuple[int, ...],
        learners: tuple[int, ...] = (),
        payloads: tuple[bytes, ...] = (),
    ) -> None:
        """Make this the store of a founding member: the configuration, then ``payloads``,
        as committed entries, in one write (a durable store's ``save``: one transaction).
        Nodes that join later start from an empty store; a store with a log refuses."""
        if self.last_index() or self._hs.term:
            raise ValueError("this store holds a log already: not founding a cluster")
        run = bootstrap_entries(voters, learners, payloads)
        self.save(HardState(term=1, commit=run.last), run, None)

    def save(self, hs: HardState | None, entries: EntryRun | None, snap: Snapshot | None) -> None:
        """Persist one Ready's writes in the order the contract requires."""
        if snap is not None:
            self.apply_snapshot(snap)
        if entries is not None:
            self.append(entries)
        if hs is not None:
            self._hs = hs

    def append(self, run: EntryRun) -> None:
        """Write run; stored entries at and after run.first are replaced."""
        if run.last <= self._offset:
            return
        if run.first <= self._offset:
            run = run.slice(self._offset + 1, run.last + 1)
        if run.first > self.last_index() + 1:
            raise ValueError(f"gap: appending {run.first} after {self.last_index()}")
        cut = run.first - self._offset
        del self._terms[cut:]
        del self._kinds[cut:]
        del self._payloads[cut:]
        self._terms.extend(run.terms)
        self._kinds.extend(run.kinds)
        self._payloads.extend(run.payloads)

    def apply_snapshot(self, snap: Snapshot) -> None:
        """Replace everything with a snapshot received from the leader."""
        if snap.meta.index <= self._snap.meta.index:
            return
        self._snap = snap
        self._offset = snap.meta.index
        self._terms = [snap.meta.term]
        self._kinds = bytearray(1)
        self._payloads = [b""]

    def create_snapshot(self, index: int, conf: ConfState, data: bytes) -> Snapshot:
        """Record the application's own snapshot at an applied index (entries are kept)."""
        if index <= self._snap.meta.index:
            return self._snap
        self._snap = Snapshot(SnapMeta(index, self.term(index), conf), data)
        return self._snap

    def compact(self, index: int) -> None:
        """Discard entries before index (index stays as the dummy); needs a snapshot >= index."""
        if index <= self._offset:
            return
        if index > self._snap.meta.index:
            raise ValueError(f"compacting {index} beyond snapshot {self._snap.meta.index}")
        n = index - self._offset
        del self._terms[:n]
        del self._kinds[:n]
        del self._payloads[:n]
        self._kinds[0] = 0
        self._payloads[0] = b""
        self._offset = index
