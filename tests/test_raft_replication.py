"""Log replication: batching, pipelining, fast back-off, the Figure 8 commit rule, forwarding."""

import pytest
from raft_helpers import Cluster

from net.raft import MT, ProposalDropped, RaftCore, Role
from net.sim.bugs import BuggyCore, Bugs


def test_many_proposals_go_out_as_one_append_per_follower() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    c.sent.clear()
    for n in range(100):
        leader.propose(b"p%d" % n)
    c.process(1)
    appends = [m for m in c.sent_of(MT.APP) if m.ents is not None]
    assert sorted(m.to for m in appends) == [2, 3]
    assert all(len(m.ents) == 100 for m in appends if m.ents is not None)


def test_pipelining_sends_several_appends_before_any_ack() -> None:
    c = Cluster([1, 2, 3], max_size_per_msg=1, max_inflight_msgs=4)
    leader = c.elect(1)
    c.sent.clear()
    for n in range(10):
        leader.propose(b"p%d" % n)
    c.process(1)
    to2 = [m for m in c.sent_of(MT.APP) if m.to == 2]
    assert len(to2) == 4  # the inflight window, not one per round trip and not all ten
    c.stabilize()
    assert c.payloads(2) == [b"p%d" % n for n in range(10)]


def test_leader_commits_only_entries_durable_on_itself() -> None:
    c = Cluster([1])
    leader = c.elect(1)
    leader.propose(b"x")
    rd = leader.ready()
    assert rd.entries is not None and rd.committed is None  # not before it is persisted
    c.stores[1].save(rd.hard_state, rd.entries, rd.snapshot)
    leader.advance()
    rd = leader.ready()
    assert rd.committed is not None and rd.committed.payloads == (b"x",)


def test_fast_back_off_skips_a_term_per_round_trip() -> None:
    # research note's example: leader terms 1 1 2 2 4 4 4 4, follower 1 1 2 3 3 3 3
    leader_log = [1, 1, 2, 2, 4, 4, 4, 4]
    c = Cluster.with_logs({1: leader_log, 2: leader_log, 3: [1, 1, 2, 3, 3, 3, 3]}, term=4)
    leader = c.elect(1)
    rejects = [m for m in c.sent_of(MT.APP_RESP) if m.frm == 3 and m.reject]
    assert len(rejects) == 2  # one at a time would take five
    terms = [c.stores[3].term(i) for i in range(1, leader.last_index() + 1)]
    assert terms == [leader.term_at(i) for i in range(1, leader.last_index() + 1)]


def _figure8(bugs: Bugs) -> Cluster:
    """Raft paper Figure 8 (a)-(c): S1, leader again in term 4, gets its term-2 entry X onto
    a majority while its own no-op does not get out."""

    def core(cfg: object, storage: object, rng: object) -> RaftCore:
        return BuggyCore(cfg, storage, rng, bugs)  # type: ignore[arg-type]

    c = Cluster([1, 2, 3, 4, 5], core=core, pre_vote=False, check_quorum=False, max_size_per_msg=0)
    c.elect(1)
    x_index = c.cores[1].last_index() + 1
    c.isolate(1)
    c.cut -= {(1, 2), (2, 1)}
    c.cores[1].propose(b"X")  # (a) X reaches S2 only
    c.stabilize()
    assert c.stores[2].last_index() == x_index
    c.crash(1)  # (b) S5 wins with S3, S4; its entry at X's index stays local
    c.heal()
    c.isolate(2)
    c.drop = lambda m: m.frm == 5 and m.type == MT.APP
    c.elect(5)
    c.crash(5)  # (c) S1 returns and wins term 4; X gets out, its no-op does not
    c.heal()
    c.start(1)
    c.drop = lambda m: (  # appends that would land the no-op on a follower
        m.type == MT.APP
        and m.ents is not None
        and m.ents.last > x_index
        and c.stores[m.to].last_index() >= m.index
    )
    _campaign_until_leader(c, 1)
    assert c.cores[1].term == 4 and c.stores[3].term(x_index) == 2
    return c


def _campaign_until_leader(c: Cluster, node: int) -> RaftCore:
    for _ in range(3):
        c.cores[node].campaign()
        c.stabilize()
        if c.cores[node].role == Role.LEADER:
            break
    return c.cores[node]


def test_figure8_an_old_term_entry_is_not_committed_by_counting_replicas() -> None:
    c = _figure8(Bugs())
    x_index = c.stores[2].last_index()
    assert c.cores[1].commit_index == x_index - 1
    c.drop = lambda m: False
    c.tick_all(4)  # heartbeats recover the lost appends: the no-op of term 4 commits X
    assert c.cores[1].commit_index == x_index + 1
    assert b"X" in c.payloads(3)


def test_figure8_with_the_bug_a_committed_entry_is_lost() -> None:
    c = _figure8(Bugs(commit_prev_term=True))
    x_index = c.stores[2].last_index()
    assert c.cores[1].commit_index == x_index  # committed by counting
    assert (x_index, b"X") in c.applied[1]
    c.crash(1)  # (d) S5 returns, wins with S2, S3, S4 and overwrites X
    c.drop = lambda m: False
    c.start(5)
    _campaign_until_leader(c, 5)
    assert c.stores[3].term(x_index) == 3  # the "committed" X is gone


def test_follower_forwards_proposals_to_the_leader() -> None:
    c = Cluster([1, 2, 3])
    c.elect(1)
    c.cores[3].propose(b"via3")
    c.stabilize()
    assert c.payloads(1) == [b"via3"]


def test_follower_without_forwarding_names_the_leader() -> None:
    c = Cluster([1, 2, 3], forward_proposals=False)
    c.elect(1)
    with pytest.raises(ProposalDropped) as err:
        c.cores[2].propose(b"x")
    assert err.value.leader == 1


def test_proposal_without_a_leader_is_dropped() -> None:
    c = Cluster([1, 2, 3])
    with pytest.raises(ProposalDropped):
        c.cores[2].propose(b"x")


def test_lost_appends_are_recovered_through_heartbeats() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    c.drop = lambda m: m.type == MT.APP and m.to == 3
    leader.propose(b"a")
    c.stabilize()
    assert c.payloads(3) == []
    c.drop = lambda m: False
    c.tick_all(4)
    assert c.payloads(3) == [b"a"]


def test_core_refuses_input_between_ready_and_advance() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    leader.propose(b"a")
    leader.ready()
    with pytest.raises(RuntimeError):
        leader.tick()


def test_a_leader_puts_its_header_before_every_normal_entry_it_appends() -> None:
    """Its own proposals, forwarded ones and its no-op; configuration changes stay as they
    are, and followers store exactly what the leader appended."""
    stamps = iter(range(100, 200))

    def core(cfg, storage, rng) -> RaftCore:  # type: ignore[no-untyped-def]
        return RaftCore(cfg, storage, rng, header=lambda: b"<%d>" % next(stamps))

    c = Cluster([1, 2, 3], core=core)
    leader = c.elect(1)
    leader.propose_many((b"a", b"b"))
    c.stabilize()
    c.cores[2].propose(b"forwarded")
    c.stabilize()
    for node in (1, 2, 3):
        assert c.payloads(node)[-3:] == [b"<101>a", b"<101>b", b"<102>forwarded"]
        assert c.payloads(node)[-4].endswith(b">")  # the no-op: a header and nothing else
