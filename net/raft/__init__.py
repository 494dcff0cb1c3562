"""A sans-I/O Raft core: give it messages, ticks and storage results; it says what to persist,
send and apply. See docs/consensus.md."""

from net.raft.confchange import ConfChange, ConfChangeType, apply_conf_change, bootstrap_entries
from net.raft.config import Config
from net.raft.core import RaftCore
from net.raft.entries import EntryKind, EntryRun
from net.raft.errors import Compacted, ProposalDropped, SnapshotNotReady, Unavailable
from net.raft.messages import MT, Msg
from net.raft.state import ConfState, HardState, Ready, Role, SnapMeta, Snapshot
from net.raft.storage import LogStore, MemoryStorage

__all__ = [
    "MT",
    "Compacted",
    "ConfChange",
    "ConfChangeType",
    "ConfState",
    "Config",
    "EntryKind",
    "EntryRun",
    "HardState",
    "LogStore",
    "MemoryStorage",
    "Msg",
    "ProposalDropped",
    "RaftCore",
    "Ready",
    "Role",
    "SnapMeta",
    "Snapshot",
    "SnapshotNotReady",
    "Unavailable",
    "apply_conf_change",
    "bootstrap_entries",
]
