"""Single-server membership changes: encoding and the deterministic apply rule.

Changes take effect when applied (as in etcd), one voter at a time, so any majority of the
old and of the new voter set overlap (Ongaro's thesis, section 4.1).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from net.raft.entries import EntryKind, EntryRun
from net.raft.state import ConfState

_FORMAT = struct.Struct(">BQq")  # type, node id, expected conf index (-1: unconditional)


class ConfChangeType(IntEnum):
    ADD_LEARNER = 1  # add a non-voting member (no-op if already a member)
    ADD_VOTER = 2  # add a voter, or promote a learner
    REMOVE = 3  # remove a voter or learner


@dataclass(slots=True, frozen=True)
class ConfChange:
    """expect_index: apply only if the configuration is still the one made at that log index."""

    type: ConfChangeType
    node: int
    expect_index: int = -1

    def encode(self) -> bytes:
        return _FORMAT.pack(self.type, self.node, self.expect_index)

    @classmethod
    def decode(cls, data: bytes) -> ConfChange:
        t, node, expect = _FORMAT.unpack(data)
        return cls(ConfChangeType(t), node, expect)


def apply_conf_change(conf: ConfState, cc: ConfChange, index: int) -> ConfState:
    """The configuration after applying cc at log index; conf itself if cc is a no-op.

    Stale (expect_index mismatch), redundant and voter-less results are no-ops, decided from
    replicated state only, so every node reaches the same configuration.
    """
    if cc.expect_index >= 0 and cc.expect_index != conf.index:
        return conf
    voters, learners = set(conf.voters), set(conf.learners)
    if cc.type == ConfChangeType.ADD_LEARNER:
        if cc.node in voters or cc.node in learners:
            return conf
        learners.add(cc.node)
    elif cc.type == ConfChangeType.ADD_VOTER:
        if cc.node in voters:
            return conf
        learners.discard(cc.node)
        voters.add(cc.node)
    else:
        if cc.node not in voters and cc.node not in learners:
            return conf
        voters.discard(cc.node)
        learners.discard(cc.node)
        if not voters:
            return conf
    return ConfState(tuple(sorted(voters)), tuple(sorted(learners)), index)


def bootstrap_entries(
    voters: tuple[int, ...], learners: tuple[int, ...] = (), payloads: tuple[bytes, ...] = ()
) -> EntryRun:
    """The initial configuration as committed log entries 1..n of term 1 (as etcd bootstraps),
    then ``payloads`` as normal entries: a node that later replays the log from an empty
    configuration reaches the same configuration and state."""
    changes = [ConfChange(ConfChangeType.ADD_VOTER, v) for v in voters]
    changes += [ConfChange(ConfChangeType.ADD_LEARNER, n) for n in learners]
    return EntryRun(
        1,
        (1,) * (len(changes) + len(payloads)),
        bytes([EntryKind.CONF]) * len(changes) + bytes([EntryKind.NORMAL]) * len(payloads),
        tuple(cc.encode() for cc in changes) + payloads,
    )
