"""Snapshots and compaction: a lagging follower catches up by a chunked InstallSnapshot."""

from raft_helpers import Cluster

from net.raft import MT, ConfChange, ConfChangeType


def _snapshot_and_compact(c: Cluster, node: int) -> int:
    core, store = c.cores[node], c.stores[node]
    index = core.applied_index
    store.create_snapshot(index, core.conf, b"state-at-%d" % index * 4)
    store.compact(index)
    return index


def test_lagging_follower_installs_a_snapshot_sent_in_chunks() -> None:
    c = Cluster([1, 2, 3], snapshot_chunk_bytes=8)
    leader = c.elect(1)
    c.crash(3)
    for n in range(20):
        leader.propose(b"v%d" % n)
    c.stabilize()
    snap_index = _snapshot_and_compact(c, 1)
    _snapshot_and_compact(c, 2)
    c.start(3)
    c.tick_all(6)
    chunks = [m for m in c.sent_of(MT.SNAP) if m.to == 3]
    assert len(chunks) >= len(c.stores[1].snapshot().data) // 8
    assert [m.offset for m in chunks] == sorted(m.offset for m in chunks)
    assert c.stores[3].snapshot() == c.stores[1].snapshot()
    assert c.applied[3] == [(snap_index, b"<snapshot>")]
    leader.propose(b"after")
    c.stabilize()
    assert c.payloads(3)[-1] == b"after"
    assert c.cores[3].applied_index == leader.applied_index


def test_new_learner_joins_through_a_snapshot() -> None:
    c = Cluster([1, 2, 3], snapshot_chunk_bytes=16)
    leader = c.elect(1)
    for n in range(10):
        leader.propose(b"v%d" % n)
    c.stabilize()
    _snapshot_and_compact(c, 1)
    c.add_node(4)
    leader.propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 4))
    leader.propose(b"tail")
    c.tick_all(6)
    assert c.stores[4].first_index() > 1  # it never saw the early log, only the snapshot
    assert c.cores[4].conf.learners == (4,)
    assert c.payloads(4)[-1] == b"tail"


def test_snapshot_older_than_the_commit_index_is_ignored() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    leader.propose(b"a")
    c.stabilize()
    follower = c.cores[2]
    stale = c.stores[1].create_snapshot(2, leader.conf, b"old")
    follower.step(
        c.sent_of(MT.APP)[0].__class__(
            MT.SNAP, 1, 2, leader.term, 2, stale.meta.term, snap=stale.meta, data=b"old", done=True
        )
    )
    rd = follower.ready()
    assert rd.snapshot is None
    assert [(m.type, m.index) for m in rd.messages] == [(MT.APP_RESP, follower.commit_index)]
