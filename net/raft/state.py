"""Records the core hands to its shell: durable state, configuration, snapshots, Ready."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from net.raft.entries import EntryRun
    from net.raft.messages import Msg


class Role(IntEnum):
    FOLLOWER = 0
    PRE_CANDIDATE = 1
    CANDIDATE = 2
    LEADER = 3


@dataclass(slots=True, frozen=True)
class HardState:
    """What must survive a crash besides the log: term and vote (synced), commit (lazy)."""

    term: int = 0
    vote: int = 0
    commit: int = 0


@dataclass(slots=True, frozen=True)
class ConfState:
    """Membership as of some applied index.

    index is the log index of the configuration change that produced it (0 at bootstrap);
    a ConfChange that names an older index is ignored at apply, so a delayed duplicate can
    never undo a later change.
    """

    voters: tuple[int, ...] = ()
    learners: tuple[int, ...] = ()
    index: int = 0


@dataclass(slots=True, frozen=True)
class SnapMeta:
    index: int
    term: int
    conf: ConfState


@dataclass(slots=True, frozen=True)
class Snapshot:
    """State machine image at meta.index; data is opaque to the core."""

    meta: SnapMeta
    data: bytes = b""


@dataclass(slots=True)
class Ready:
    """One batch of work for the shell. Handle it in this order, then call advance():

    1. persist snapshot, then entries (writing index i drops stored entries >= i), then
       hard_state; fsync if must_sync;
    2. only then send messages (they acknowledge what step 1 wrote);
    3. restore the state machine from snapshot, then apply committed in order.
    """

    role: Role
    leader: int
    term: int
    hard_state: HardState | None = None
    entries: EntryRun | None = None
    snapshot: Snapshot | None = None
    committed: EntryRun | None = None
    messages: list[Msg] = field(default_factory=list)
    must_sync: bool = False
