"""Core configuration."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Config:
    id: int
    election_tick: int = 10  # randomized timeout is uniform in [election_tick, 2*election_tick)
    heartbeat_tick: int = 1
    pre_vote: bool = True
    check_quorum: bool = True
    max_size_per_msg: int = 64 * 1024
    max_inflight_msgs: int = 256
    max_inflight_bytes: int = 0  # 0: unbounded
    max_uncommitted_bytes: int = 64 * 1024 * 1024  # leader back-pressure on proposals
    max_committed_bytes_per_ready: int = 1024 * 1024
    snapshot_chunk_bytes: int = 256 * 1024
    forward_proposals: bool = True  # False: followers raise ProposalDropped(leader=...) instead
    # what the state machine has applied at start (its snapshot's index after a restart); the
    # storage's initial ConfState must be the configuration as of this index
    applied: int = 0
