"""Snapshots and compaction: a lagging follower catches up by a chunked InstallSnapshot."""

from raft_helpers import Cluster

from net.raft import MT, ConfChange, ConfChangeType, Msg


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


def test_snapshot_of_an_entry_already_held_acks_only_what_it_proves() -> None:
    """A follower holding the snapshot's last entry keeps its log (etcd: fast-forward commit)
    but may hold a suffix from an old term past it: its reply must not claim that suffix
    (etcd replies its commit index), or the leader counts it towards a commit."""
    # node 2 led term 2 and wrote three entries after the last one every node shares
    c = Cluster.with_logs({1: [1, 1], 2: [1, 1, 2, 2, 2], 3: [1, 1]}, term=2)
    shared = c.stores[1].last_index()
    c.isolate(2)
    leader = c.elect(1)  # term 3, with node 3's vote; the no-op commits with node 3
    assert leader.commit_index == shared + 1
    c.isolate(3)
    for n in range(3):
        leader.propose(b"t3-%d" % n)  # only on the leader: uncommitted
    c.stabilize()
    assert leader.commit_index == shared + 1 and leader.last_index() == shared + 4
    snap = c.stores[1].create_snapshot(shared, leader.conf, b"state")
    follower = c.cores[2]
    assert follower.last_index() == shared + 3 and follower.term_at(shared) == 1
    follower.step(
        Msg(MT.SNAP, 1, 2, leader.term, shared, 1, snap=snap.meta, data=snap.data, done=True)
    )
    rd = follower.ready()
    assert rd.snapshot is None  # it holds (shared, 1): nothing to install, the log is kept
    assert follower.last_index() == shared + 3 and follower.commit_index == shared
    assert [(m.type, m.index) for m in rd.messages] == [(MT.APP_RESP, shared)]
    follower.advance()
    leader.step(rd.messages[0])
    c.process(1)
    assert leader.commit_index == shared + 1  # the leader's term-3 entries are on it alone
    c.heal()
    c.stabilize()
    c.tick_all(3)
    tail = [c.stores[n].entries(shared + 1, shared + 5, 1 << 20) for n in (1, 2)]
    assert tail[0] == tail[1] and tail[1].terms == (3, 3, 3, 3)  # the old suffix is replaced
    assert c.cores[2].commit_index == leader.commit_index == shared + 4


def test_no_campaign_while_a_received_snapshot_is_pending() -> None:
    """An election timeout that fires after the last chunk of a snapshot arrived but before
    the shell took the Ready installing it must not campaign: the configuration in the
    snapshot is not applied yet, and the entries it replaced cannot be read (the core used
    to raise Compacted there and kill the peer's loop; etcd refuses to campaign too)."""
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    c.crash(3)
    for n in range(10):
        leader.propose(b"v%d" % n)
    c.stabilize()
    snap = c.stores[1].create_snapshot(leader.applied_index, leader.conf, b"image")
    follower = c.start(3)
    chunk = Msg(MT.SNAP, 1, 3, leader.term, snap.meta.index, snap.meta.term, snap=snap.meta,
                data=snap.data, done=True)  # fmt: skip
    follower.step(chunk)
    assert follower.log.unstable_snapshot() is not None
    for _ in range(3 * 10):  # well past any election timeout, before the Ready is handled
        follower.tick()
    assert follower.term == leader.term and not any(
        m.type in (MT.PRE_VOTE, MT.VOTE) for m in follower.msgs
    )
    c.process(3)  # once installed, it is an ordinary follower again
    assert follower.applied_index == snap.meta.index
