"""The one flat message record exchanged between cores (after etcd's raftpb.Message)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from net.raft.entries import EntryRun
from net.raft.state import SnapMeta


class MT(IntEnum):
    """Message types. Field use per type is listed on Msg."""

    PROP = 1  # a follower forwarding proposals to its leader (term 0: not term-checked)
    APP = 2
    APP_RESP = 3
    VOTE = 4
    VOTE_RESP = 5
    PRE_VOTE = 6
    PRE_VOTE_RESP = 7
    HB = 8
    HB_RESP = 9
    SNAP = 10  # one InstallSnapshot chunk
    SNAP_RESP = 11  # chunk acknowledgement: how many bytes the receiver holds
    TIMEOUT_NOW = 12  # leadership transfer: campaign now, skipping pre-vote
    TRANSFER = 13  # a follower forwarding a transfer request; index = transferee


TRANSFER_CTX = b"transfer"  # vote context: voters honour it despite the leader lease


@dataclass(slots=True)
class Msg:
    """A message. Cores never mutate a received Msg, so a network may deliver one object twice.

    APP: index/log_term = entry before ents, commit = leader commit.
    APP_RESP: index = last matching index; on reject, hint_index/hint_term = follower's probe hint.
    VOTE/PRE_VOTE: index/log_term = candidate's last entry; ctx = TRANSFER_CTX when forced.
    HB: commit = min(follower match, leader commit).
    SNAP: snap = metadata, offset/data = chunk, done on the last chunk.
    SNAP_RESP: index = snapshot index, offset = bytes held; reject when the chunk did not fit.
    """

    type: MT
    frm: int
    to: int
    term: int
    index: int = 0
    log_term: int = 0
    commit: int = 0
    ents: EntryRun | None = None
    reject: bool = False
    hint_index: int = 0
    hint_term: int = 0
    ctx: bytes = b""
    snap: SnapMeta | None = None
    offset: int = 0
    data: bytes = b""
    done: bool = False

    def __str__(self) -> str:
        extra = ""
        if self.ents is not None:
            extra = f" ents={self.ents.first}..{self.ents.last}"
        if self.type in (MT.SNAP, MT.SNAP_RESP):
            extra += f" off={self.offset}+{len(self.data)}{' done' if self.done else ''}"
        rej = " REJECT" if self.reject else ""
        return (
            f"{self.type.name} {self.frm}->{self.to} t={self.term} i={self.index} "
            f"lt={self.log_term} c={self.commit}{extra}{rej}"
        )
