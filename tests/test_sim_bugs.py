"""Proof that the checks bite: each injected bug must make the simulator report a violation
of an invariant that names it, within a budget of seeds."""

import pytest

from net.raft import MT, ConfState, HardState, MemoryStorage, Msg
from net.raft.config import Bugs
from net.sim import Invariant, Violation, run_seed
from net.sim.checker import Checker

V = Invariant
CASES = [
    # bug, nodes, seed budget, invariants that may catch it
    ("commit_prev_term", 3, 1200, {V.LEADER_COMPLETENESS, V.STATE_MACHINE_SAFETY}),
    ("double_vote", 3, 60, {V.DURABLE_STATE, V.ONE_VOTE_PER_TERM, V.ONE_LEADER_PER_TERM}),
    ("forget_vote", 3, 10, {V.ACK_DURABLE, V.ONE_VOTE_PER_TERM}),
    ("commit_own_last", 3, 60, {V.STATE_MACHINE_SAFETY, V.COMMITTED_KEPT}),
    ("no_up_to_date_check", 3, 60, {V.LEADER_COMPLETENESS, V.STATE_MACHINE_SAFETY}),
    ("truncate_short_append", 3, 60, {V.ACK_DURABLE, V.COMMITTED_KEPT}),
    ("no_dedupe", 3, 20, {V.EXACTLY_ONCE}),
    ("send_before_persist", 3, 10, {V.ACK_DURABLE}),
    # needs a torn write of a campaign, stalled replies and a same-term re-campaign (seed 223)
    ("vote_request_early", 3, 300, {V.ACK_DURABLE, V.ONE_LEADER_PER_TERM}),
]


@pytest.mark.parametrize(("bug", "nodes", "budget", "expected"), CASES, ids=[c[0] for c in CASES])
def test_injected_bug_is_caught(
    bug: str, nodes: int, budget: int, expected: set[Invariant]
) -> None:
    for seed in range(budget):
        result = run_seed(seed, nodes, bugs=Bugs.only(bug))
        if result.violation is not None:
            assert result.violation.invariant in expected, str(result.violation)
            return
    pytest.fail(f"{bug}: no violation in {budget} seeds")


def test_every_bug_flag_has_a_case() -> None:
    assert sorted(c[0] for c in CASES) == sorted(Bugs.names())


def _checker() -> Checker:
    return Checker(ConfState(), lambda old, new: None, list)


def test_two_votes_in_one_term_are_caught() -> None:
    store = MemoryStorage()
    store.save(HardState(term=4, vote=2), None, None)
    checker = _checker()
    checker.on_send(Msg(MT.VOTE_RESP, 1, 2, 4), store)
    store.save(HardState(term=4, vote=3), None, None)  # as if the vote were lost and redone
    with pytest.raises(Violation) as err:
        checker.on_send(Msg(MT.VOTE_RESP, 1, 3, 4), store)
    assert err.value.invariant == Invariant.ONE_VOTE_PER_TERM


def test_two_leaders_in_one_term_are_caught() -> None:
    class FakeCore:
        term = 3

        class log:
            @staticmethod
            def first_index() -> int:
                return 1

    checker = _checker()
    a, b = MemoryStorage(), MemoryStorage()
    a.save(HardState(term=3, vote=1), None, None)
    b.save(HardState(term=3, vote=2), None, None)
    checker.on_new_leader(1, FakeCore(), a)  # type: ignore[arg-type]
    with pytest.raises(Violation) as err:
        checker.on_new_leader(2, FakeCore(), b)  # type: ignore[arg-type]
    assert err.value.invariant == Invariant.ONE_LEADER_PER_TERM


def test_a_leader_whose_own_vote_is_not_durable_is_caught() -> None:
    class FakeCore:
        term = 5

    store = MemoryStorage()
    store.save(HardState(term=4, vote=0), None, None)  # the vote for term 5 was lost
    with pytest.raises(Violation) as err:
        _checker().on_new_leader(1, FakeCore(), store)  # type: ignore[arg-type]
    assert err.value.invariant == Invariant.ACK_DURABLE


def test_the_simulator_uses_the_real_nodes_early_message_set() -> None:
    from net.node import SEND_BEFORE_PERSIST as real
    from net.sim.node import SEND_BEFORE_PERSIST as simulated

    assert real is simulated
    assert MT.VOTE not in real and MT.PRE_VOTE not in real
    assert not real & {MT.APP_RESP, MT.VOTE_RESP, MT.PRE_VOTE_RESP, MT.HB_RESP, MT.SNAP_RESP}


def test_unequal_digests_are_caught() -> None:
    checker = _checker()
    checker.on_digest(1, 10, "aa")
    with pytest.raises(Violation) as err:
        checker.on_digest(2, 10, "bb")
    assert err.value.invariant == Invariant.DIGESTS_EQUAL


def test_a_shell_that_never_writes_commit_only_hard_states_can_wedge_the_cluster() -> None:
    """Why net.node writes every hard state it is handed: advance() counts it as written,
    so a skipped commit can lag on disk without bound, and a restart under the old
    configuration (here: a removal committed but forgotten) leaves no electable quorum."""
    assert run_seed(4643, 3).violation is None
    wedged = run_seed(4643, 3, lazy_commit=True).violation
    assert wedged is not None and wedged.invariant is V.LIVENESS
