"""Exceptions raised across the core/storage boundary."""


class Compacted(Exception):
    """The requested index was discarded by log compaction; a snapshot covers it."""


class Unavailable(Exception):
    """The requested index is beyond the last entry."""


class SnapshotNotReady(Exception):
    """Storage cannot produce a snapshot right now; the leader retries later."""


class ProposalDropped(Exception):
    """The proposal was not accepted; leader is the known leader's id (0 if none)."""

    def __init__(self, reason: str, leader: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.leader = leader
