"""``--force-new-cluster``: a survivor of a cluster whose majority is gone for good.

Raft cannot commit without a majority, and that is the point: a minority that went on
alone could double-fill. When the other peers are *known* to be gone (their machines died,
their data is lost), a survivor can take the cluster over, as etcd's flag of the same name
does: it keeps its state and its whole log, and appends configuration entries that make it
the only voter (adding itself as a voter if it was a learner, removing every other member),
all committed at once. Started with it, the peer elects itself and trades; others join it
as newcomers. Unlike etcd it keeps even the entries it had not seen committed: this peer
acknowledged them, so a client may have been told they were; the peers that could dispute
them are gone.

Used on a peer whose cluster is still alive, it splits that cluster in two: the others go
on without it. Do not, unless they are gone.
"""

from net.raft.confchange import ConfChange, ConfChangeType, apply_conf_change
from net.raft.entries import EntryKind, EntryRun
from net.raft.state import ConfState, HardState
from net.raft.storage import MemoryStorage

_ALL = 1 << 62


class RecoveryError(Exception):
    """Nothing to recover from; a one-line message."""


def final_configuration(storage: MemoryStorage) -> ConfState:
    """The configuration after every entry of the log, committed or not."""
    conf = storage.snapshot().meta.conf
    index = storage.first_index()
    last = storage.last_index()
    while index <= last:
        run = storage.entries(index, last + 1, _ALL)
        for i, _term, kind, payload in run:
            if kind == EntryKind.CONF:
                conf = apply_conf_change(conf, ConfChange.decode(payload), i)
        index = run.last + 1
    return conf


def force_new_cluster(storage: MemoryStorage, node_id: int) -> int:
    """Make ``node_id`` the only voter of the cluster in ``storage``; entries written."""
    if not (storage.last_index() or storage.snapshot().data):
        raise RecoveryError("--force-new-cluster: this data dir holds no cluster to recover")
    conf = final_configuration(storage)
    changes = [] if node_id in conf.voters else [ConfChange(ConfChangeType.ADD_VOTER, node_id)]
    changes += [
        ConfChange(ConfChangeType.REMOVE, other)
        for other in (*conf.voters, *conf.learners)
        if other != node_id
    ]
    hs = storage.hard_state
    last = storage.last_index()
    if not changes:
        storage.save(HardState(hs.term, hs.vote, last), None, None)
        return 0
    run = EntryRun(
        last + 1,
        (hs.term,) * len(changes),
        bytes([EntryKind.CONF]) * len(changes),
        tuple(change.encode() for change in changes),
    )
    storage.save(HardState(hs.term, hs.vote, run.last), run, None)
    return len(changes)
