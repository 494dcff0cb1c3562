"""Proof that the checks bite: each injected bug must make the simulator report a violation
of an invariant that names it, within a budget of seeds; and the seeds that found the bugs
this simulator was built to find stay as regression tests."""

import pytest

from engine import MarketCreated
from net.machine import Applied
from net.raft import MT, ConfState, EntryKind, HardState, MemoryStorage, Msg
from net.shell import Shell
from net.sim import Invariant, Violation, run_seed
from net.sim.bugs import NO_BUGS, Bugs, shell_class
from net.sim.checker import Checker

V = Invariant
CASES = [
    # bug, nodes, seed budget, invariants that may catch it
    ("commit_prev_term", 5, 700, {V.LEADER_COMPLETENESS, V.STATE_MACHINE_SAFETY}),
    ("double_vote", 3, 60, {V.DURABLE_STATE, V.ONE_VOTE_PER_TERM, V.ONE_LEADER_PER_TERM}),
    ("forget_vote", 3, 10, {V.ACK_DURABLE, V.ONE_VOTE_PER_TERM}),
    ("commit_own_last", 5, 60, {V.STATE_MACHINE_SAFETY, V.COMMITTED_KEPT}),
    ("no_up_to_date_check", 5, 100, {V.LEADER_COMPLETENESS, V.STATE_MACHINE_SAFETY}),
    ("truncate_short_append", 3, 60, {V.ACK_DURABLE, V.COMMITTED_KEPT}),
    ("campaign_with_pending_snapshot", 5, 600, {V.CORE_ERROR}),
    ("no_dedupe", 3, 60, {V.EXACTLY_ONCE}),
    ("send_before_persist", 3, 10, {V.ACK_DURABLE}),
    ("vote_request_early", 3, 60, {V.ACK_DURABLE, V.ONE_LEADER_PER_TERM}),
    ("early_with_new_vote", 3, 60, {V.ACK_DURABLE, V.LOG_MATCHING}),
    ("join_once", 3, 100, {V.MEMBERSHIP}),
    ("answer_duplicates", 5, 600, {V.ANSWERS}),
    # a wiped voter back under its old id: the leader's view of it no longer holds, and
    # the peer dies on it (commit beyond its log), a vote or commit goes wrong, or the
    # cluster, counting stores that are gone, loses its majority for good
    ("keep_id_on_wipe", 5, 200, {V.CORE_ERROR, V.LEADER_COMPLETENESS, V.ONE_VOTE_PER_TERM,
                                 V.COMMITTED_KEPT, V.STATE_MACHINE_SAFETY, V.MEMBERSHIP,
                                 V.LIVENESS}),
]  # fmt: skip

#: The three bugs a review found in the peer (issue 11), each found again by a seed of this
#: simulator before its fix: with the old behaviour the seed fails, with the fix it passes.
REGRESSIONS = [
    # an election timeout while a received snapshot is pending raised Compacted
    ("campaign_with_pending_snapshot", 5, 451, V.CORE_ERROR),
    # a newcomer told "ok" by a leader deposed before its learner change committed
    ("join_once", 3, 1, V.MEMBERSHIP),
    # a voter whose store was wiped came back under its old id and voted with an empty log
    ("keep_id_on_wipe", 7, 143, V.LEADER_COMPLETENESS),
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


@pytest.mark.parametrize(
    ("bug", "nodes", "seed", "invariant"), REGRESSIONS, ids=[r[0] for r in REGRESSIONS]
)
def test_a_bug_found_by_a_seed_stays_fixed(
    bug: str, nodes: int, seed: int, invariant: Invariant
) -> None:
    broken = run_seed(seed, nodes, bugs=Bugs.only(bug)).violation
    assert broken is not None and broken.invariant is invariant, broken
    assert run_seed(seed, nodes).violation is None


def test_the_simulator_runs_the_peers_own_shell() -> None:
    assert shell_class(NO_BUGS) is Shell  # no copy of the Ready order, machine or policy


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


def test_unequal_digests_are_caught() -> None:
    checker = _checker()
    checker.on_digest(1, 10, "aa")
    with pytest.raises(Violation) as err:
        checker.on_digest(2, 10, "bb")
    assert err.value.invariant == Invariant.DIGESTS_EQUAL


def test_an_answer_unlike_what_every_peer_applied_is_caught() -> None:
    checker = _checker()
    placed = [MarketCreated("X/Y", "X", "Y", "1", "1", 5)]
    checker.on_apply(2, 5, 1, EntryKind.NORMAL, b"entry", [Applied(1, 7, 5, placed)], 1)
    checker.on_answer(1, 7, 5, placed)  # what was applied: fine
    with pytest.raises(Violation) as err:
        checker.on_answer(1, 7, 5, [])
    assert err.value.invariant == Invariant.ANSWERS
    with pytest.raises(Violation):
        checker.on_answer(1, 8, 5, placed)  # a request never applied


def test_a_request_applied_twice_is_caught() -> None:
    checker = _checker()
    once = [Applied(1, 7, 5, [])]
    checker.on_apply(2, 5, 1, EntryKind.NORMAL, b"a", once, 1)
    with pytest.raises(Violation) as err:
        checker.on_apply(2, 6, 1, EntryKind.NORMAL, b"b", [Applied(1, 7, 6, [])], 1)
    assert err.value.invariant == Invariant.EXACTLY_ONCE
