"""What a leader knows about each follower's log, and the replication flow control.

After etcd's tracker/progress.go and tracker/inflights.go. Probe: one append per heartbeat
until the follower's position is known. Replicate: pipeline appends up to an inflight window.
Snapshot: stream snapshot chunks, no appends.
"""

from __future__ import annotations

from collections import deque
from enum import IntEnum

from net.raft.state import Snapshot


class ProgressState(IntEnum):
    PROBE = 0
    REPLICATE = 1
    SNAPSHOT = 2


class Inflights:
    """Appends sent but not yet acknowledged, as (last index, bytes), bounded in count and bytes."""

    __slots__ = ("_bytes", "_q", "max_bytes", "max_count")

    def __init__(self, max_count: int, max_bytes: int) -> None:
        self._q: deque[tuple[int, int]] = deque()
        self._bytes = 0
        self.max_count = max_count
        self.max_bytes = max_bytes

    def __len__(self) -> int:
        return len(self._q)

    def add(self, last_index: int, nbytes: int) -> None:
        self._q.append((last_index, nbytes))
        self._bytes += nbytes

    def free_le(self, index: int) -> None:
        q = self._q
        while q and q[0][0] <= index:
            self._bytes -= q.popleft()[1]

    def free_first(self) -> None:
        """Forget the oldest append: a heartbeat reply proved the follower alive, so a window
        filled by lost appends must not stall replication forever."""
        if self._q:
            self._bytes -= self._q.popleft()[1]

    def full(self) -> bool:
        return len(self._q) >= self.max_count or (0 < self.max_bytes <= self._bytes)

    def reset(self) -> None:
        self._q.clear()
        self._bytes = 0


class Progress:
    """Invariant: match < next."""

    __slots__ = (
        "inflights",
        "match",
        "next",
        "pending_snapshot",
        "probe_sent",
        "recent_active",
        "sent_commit",
        "snap",
        "snap_offset",
        "state",
    )

    def __init__(self, next_index: int, inflights: Inflights) -> None:
        self.match = 0
        self.next = next_index
        self.state = ProgressState.PROBE
        self.probe_sent = False
        self.recent_active = True
        self.sent_commit = 0
        self.inflights = inflights
        self.pending_snapshot = 0
        self.snap: Snapshot | None = None
        self.snap_offset = 0

    def _reset(self, state: ProgressState) -> None:
        self.state = state
        self.probe_sent = False
        self.inflights.reset()
        self.snap = None
        self.snap_offset = 0

    def become_probe(self) -> None:
        """Back to probing; after a snapshot, probe right after it."""
        if self.state == ProgressState.SNAPSHOT:
            self.next = max(self.match + 1, self.pending_snapshot + 1)
        else:
            self.next = self.match + 1
        self.pending_snapshot = 0
        self._reset(ProgressState.PROBE)

    def become_replicate(self) -> None:
        self.next = self.match + 1
        self._reset(ProgressState.REPLICATE)

    def become_snapshot(self, snap: Snapshot) -> None:
        self._reset(ProgressState.SNAPSHOT)
        self.pending_snapshot = snap.meta.index
        self.snap = snap

    def maybe_update(self, index: int) -> bool:
        """An ack up to index; False if it tells nothing new."""
        updated = index > self.match
        if updated:
            self.match = index
            self.probe_sent = False
        self.next = max(self.next, index + 1)
        return updated

    def maybe_decr_to(self, rejected: int, hint: int) -> bool:
        """A rejection of the append after `rejected`; False if stale (etcd MaybeDecrTo)."""
        if self.state == ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, hint + 1), self.match + 1)
        self.probe_sent = False
        return True

    def is_paused(self) -> bool:
        if self.state == ProgressState.PROBE:
            return self.probe_sent
        if self.state == ProgressState.REPLICATE:
            return self.inflights.full()
        return True

    def sent_entries(self, last: int, nbytes: int) -> None:
        if self.state == ProgressState.REPLICATE:
            self.next = last + 1
            self.inflights.add(last, nbytes)
        else:
            self.probe_sent = True
