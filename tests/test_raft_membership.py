"""Membership: learners, single-server changes one at a time, leader removal, transfer."""

import pytest
from raft_helpers import Cluster

from net.raft import MT, ConfChange, ConfChangeType, ProposalDropped, Role

ADD_LEARNER, ADD_VOTER, REMOVE = ConfChangeType


def test_learner_receives_the_log_but_counts_for_nothing() -> None:
    c = Cluster([1, 2, 3], learners=[4])
    leader = c.elect(1)
    leader.propose(b"a")
    c.stabilize()
    assert c.payloads(4) == [b"a"]
    c.crash(2)
    c.crash(3)
    leader.propose(b"b")
    c.stabilize()
    assert c.stores[4].last_index() == leader.last_index()
    assert leader.commit_index < leader.last_index()  # the learner's ack is no quorum


def test_learner_never_campaigns() -> None:
    c = Cluster([1, 2, 3], learners=[4])
    c.elect(1)
    c.isolate(1)
    c.tick(4, 100)
    assert c.cores[4].role == Role.FOLLOWER
    assert not [m for m in c.sent if m.frm == 4 and m.type in (MT.VOTE, MT.PRE_VOTE)]


def test_add_learner_promote_and_remove_one_at_a_time() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    c.add_node(4)
    leader.propose_conf_change(ConfChange(ADD_LEARNER, 4))
    c.stabilize()
    assert (leader.conf.voters, leader.conf.learners) == ((1, 2, 3), (4,))
    assert c.cores[4].conf == leader.conf  # it replayed the log from the bootstrap entries
    leader.propose_conf_change(ConfChange(ADD_VOTER, 4))
    c.stabilize()
    assert (leader.conf.voters, leader.conf.learners) == ((1, 2, 3, 4), ())
    leader.propose_conf_change(ConfChange(REMOVE, 2))
    c.stabilize()
    assert leader.conf.voters == (1, 3, 4)
    c.crash(3)
    leader.propose(b"x")
    c.stabilize()
    assert c.payloads(4) == [b"x"]  # 1 and 4 are a quorum of three


def test_second_change_refused_while_one_is_pending() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    leader.propose_conf_change(ConfChange(ADD_LEARNER, 4))
    with pytest.raises(ProposalDropped):
        leader.propose_conf_change(ConfChange(ADD_LEARNER, 5))


def test_no_change_before_the_leader_commits_an_entry_of_its_term() -> None:
    c = Cluster([1, 2, 3])
    c.drop = lambda m: m.type == MT.APP  # votes pass, the no-op does not
    leader = c.elect(1)
    with pytest.raises(ProposalDropped, match="no entry of this term"):
        leader.propose_conf_change(ConfChange(ADD_LEARNER, 4))


def test_stale_change_is_a_no_op() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    seen = leader.conf.index
    leader.propose_conf_change(ConfChange(ADD_LEARNER, 4, expect_index=seen))
    c.stabilize()
    leader.propose_conf_change(ConfChange(REMOVE, 4, expect_index=seen))  # decided on old conf
    c.stabilize()
    assert leader.conf.learners == (4,)


def test_removed_leader_steps_down_and_the_rest_elect_a_new_one() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    leader.propose_conf_change(ConfChange(REMOVE, 1))
    c.stabilize()
    assert leader.role == Role.FOLLOWER
    c.tick_all(60)
    new = c.leader()
    assert new is not None and new.id in (2, 3) and new.conf.voters == (2, 3)


def test_leadership_transfer() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    term = leader.term
    leader.transfer_leader(3)
    c.stabilize()
    assert c.cores[3].role == Role.LEADER and c.cores[3].term == term + 1
    assert leader.role == Role.FOLLOWER


def test_transfer_catches_a_lagging_target_up_first() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    c.isolate(3)
    leader.propose(b"x")
    c.stabilize()
    c.heal()
    c.cores[2].transfer_leader(3)  # asked through a follower
    c.tick_all(3)
    assert c.cores[3].role == Role.LEADER
    assert c.stores[3].last_index() > leader.last_index() - 1


def test_proposals_refused_during_a_transfer_until_it_times_out() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    c.isolate(3)
    leader.transfer_leader(3)
    with pytest.raises(ProposalDropped, match="transfer"):
        leader.propose(b"x")
    c.tick(1, leader.cfg.election_tick)
    leader.propose(b"x")  # aborted after an election timeout
