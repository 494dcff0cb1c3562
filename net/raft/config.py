"""Core configuration, and the test-only bug switches that prove the simulator's checks bite."""

from __future__ import annotations

from dataclasses import dataclass, fields


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


@dataclass(slots=True, frozen=True)
class Bugs:
    """Deliberately wrong behaviours, for tests only; each must make the simulator fail.

    commit_prev_term: a leader commits an earlier term's entry by counting replicas (Fig. 8).
    double_vote: a voter grants a second vote in a term it already voted in.
    forget_vote: the vote is left out of the persisted hard state.
    commit_own_last: followers commit the leader's commit index up to their own last index
        (heartbeats carry it unclamped), not up to what the message proved they share.
    no_up_to_date_check: votes are granted without comparing logs.
    truncate_short_append: a follower cuts its log after a shorter (stale) append.
    no_dedupe: the session table applies retried client commands again.
    send_before_persist: the shell sends all of a Ready's messages (acks and votes too) before
        its writes are durable.
    vote_request_early: the shell sends VOTE / PRE_VOTE requests before the Ready's writes
        are durable, i.e. before the candidate's own vote is (the simulated shell only).
    """

    commit_prev_term: bool = False
    double_vote: bool = False
    forget_vote: bool = False
    commit_own_last: bool = False
    no_up_to_date_check: bool = False
    truncate_short_append: bool = False
    no_dedupe: bool = False
    send_before_persist: bool = False
    vote_request_early: bool = False

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def only(cls, name: str) -> Bugs:
        if name not in cls.names():
            raise ValueError(f"unknown bug {name!r}; known: {', '.join(cls.names())}")
        return cls(**{name: True})


NO_BUGS = Bugs()
