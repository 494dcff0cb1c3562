"""Elections: basic, pre-vote, check-quorum, one vote per term, durable votes."""

from raft_helpers import Cluster

from net.raft import MT, Msg, Role


def test_leader_elected_and_commands_replicated_everywhere() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    for n in range(5):
        leader.propose(b"cmd%d" % n)
    c.stabilize()
    expected = [b"cmd%d" % n for n in range(5)]
    assert all(c.payloads(node) == expected for node in (1, 2, 3))
    assert {core.term for core in c.cores.values()} == {leader.term}


def test_election_timeout_starts_an_election_without_help() -> None:
    c = Cluster([1, 2, 3])
    c.tick_all(40)
    leader = c.leader()
    assert leader is not None
    assert sum(core.role == Role.LEADER for core in c.cores.values()) == 1


def test_pre_vote_keeps_a_partitioned_node_from_raising_its_term() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    term = leader.term
    c.isolate(3)
    c.tick_all(100)
    assert c.cores[3].term == term  # pre-votes failed, so no real election ran
    assert c.cores[3].role == Role.PRE_CANDIDATE
    c.heal()
    c.tick_all(5)
    assert c.leader() is leader and leader.term == term  # the rejoining node disrupted nothing


def test_check_quorum_makes_a_minority_leader_step_down() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    c.isolate(1)
    c.tick(1, 2 * leader.cfg.election_tick)
    assert leader.role == Role.FOLLOWER


def test_without_check_quorum_an_isolated_leader_stays() -> None:
    c = Cluster([1, 2, 3], check_quorum=False)
    leader = c.elect(1)
    c.isolate(1)
    c.tick(1, 3 * leader.cfg.election_tick)
    assert leader.role == Role.LEADER  # the check above is what makes it step down


def test_lease_ignores_vote_requests_while_a_leader_is_heard() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    follower = c.cores[2]
    follower.step(Msg(MT.VOTE, 3, 2, leader.term + 5, index=99, log_term=99))
    assert follower.term == leader.term
    assert not follower.has_ready() or not follower.ready().messages


def test_one_vote_per_term() -> None:
    c = Cluster([1, 2, 3], pre_vote=False)
    voter = c.cores[3]
    last, last_term = voter.last_index(), voter.log.last_term()
    voter.step(Msg(MT.VOTE, 1, 3, 5, index=last, log_term=last_term))
    voter.step(Msg(MT.VOTE, 2, 3, 5, index=last, log_term=last_term))
    replies = voter.ready().messages
    assert [(m.to, m.reject) for m in replies] == [(1, False), (2, True)]


def test_vote_refused_to_a_candidate_with_an_older_log() -> None:
    c = Cluster([1, 2, 3], pre_vote=False, check_quorum=False)
    leader = c.elect(1)
    leader.propose(b"x")
    c.stabilize()
    voter = c.cores[3]
    voter.step(Msg(MT.VOTE, 2, 3, leader.term + 1, index=1, log_term=1))
    (reply,) = voter.ready().messages
    assert reply.reject


def test_vote_is_durable_before_the_reply_and_survives_a_restart() -> None:
    c = Cluster([1, 2, 3], pre_vote=False)
    voter = c.cores[3]
    last, last_term = voter.last_index(), voter.log.last_term()
    voter.step(Msg(MT.VOTE, 1, 3, 7, index=last, log_term=last_term))
    rd = voter.ready()
    assert rd.must_sync and rd.hard_state is not None
    assert (rd.hard_state.term, rd.hard_state.vote) == (7, 1)
    c.stores[3].save(rd.hard_state, rd.entries, rd.snapshot)
    voter.advance()
    c.crash(3)
    restarted = c.start(3)
    restarted.step(Msg(MT.VOTE, 2, 3, 7, index=last + 5, log_term=last_term))
    (reply,) = restarted.ready().messages
    assert reply.reject  # it remembers its vote for node 1 in term 7
