"""Proof that the checks bite: each injected bug must make the simulator report a violation
of an invariant that names it, within a budget of seeds; and the seeds that found the bugs
this simulator was built to find stay as regression tests."""

import pytest

from engine import FOUNDING_MARKETS, Accepted, Configure, Exchange, MarketCreated, OpenAccount
from engine.accounts import DEFAULT_GRANT
from net.machine import Applied
from net.raft import MT, ConfState, EntryKind, HardState, MemoryStorage, Msg
from net.shell import Shell
from net.sim import Invariant, Violation, run_seed
from net.sim.bugs import NO_BUGS, Bugs, shell_class
from net.sim.checker import Checker, signer_of
from net.traders import TraderKey, signed_payload

NORMAL = EntryKind.NORMAL
TRADER = TraderKey.from_seed(bytes(range(32)))
KEY = TRADER.hex

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
    # a lying member's forged entries: a batch another key never signed acts for that key,
    # or a command the liar signed acts for the owner it names
    ("no_signature_check", 3, 60, {V.FORGERY_REFUSED}),
    ("trust_owner", 3, 60, {V.FORGERY_REFUSED}),
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
#: simulator before its fix: with the old behaviour the seed fails, with the fix it passes;
#: and a catching seed of each slow search (SLOW_SEARCHES), so the default suite has one.
#: (Seeds found again when traders began to sign: the workload draws differently since, and
#: the first seeds reproducing each scenario became 422, 1 and 1314, once 451, 1 and 143;
#: since entries carry the leader's time, the wipe's is 2293.)
REGRESSIONS = [
    # the first seed at which the slow search for this bug finds it (see SLOW_SEARCHES)
    ("commit_prev_term", 5, 160, V.LEADER_COMPLETENESS),
    # an election timeout while a received snapshot is pending raised Compacted
    ("campaign_with_pending_snapshot", 5, 422, V.CORE_ERROR),
    # a newcomer told "ok" by a leader deposed before its learner change committed
    ("join_once", 3, 1, V.MEMBERSHIP),
    # a voter whose store was wiped came back under its old id and voted with an empty log
    ("keep_id_on_wipe", 7, 2293, V.LEADER_COMPLETENESS),
]


#: Searches that take most of a minute (their first catching seeds are in the hundreds):
#: soaks (``-m slow``); a seed of each stays in the default suite among REGRESSIONS.
SLOW_SEARCHES = {"commit_prev_term", "campaign_with_pending_snapshot"}


@pytest.mark.parametrize(
    ("bug", "nodes", "budget", "expected"),
    [pytest.param(*c, id=c[0], marks=[pytest.mark.slow] if c[0] in SLOW_SEARCHES else [])
     for c in CASES],
)  # fmt: skip
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


def test_a_campaign_with_a_pending_snapshot_dies_on_compacted_entries() -> None:
    broken = run_seed(422, 5, bugs=Bugs.only("campaign_with_pending_snapshot")).violation
    assert broken is not None and "Compacted" in broken.detail


def test_a_batch_claiming_another_peers_requests_is_not_answered_there() -> None:
    """A member signing with its own key may write another peer's origin and pending request
    numbers into its batch; that peer answers only its own key's requests (Applied.signer).
    Seed 416 failed ANSWERS with the hijacking liar before the shell checked the signer."""
    hijacked = run_seed(416, 3, hijack=True).violation
    assert hijacked is None, hijacked


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
    checker.on_answer(1, "#1", 7, 5, placed)  # what was applied: fine
    with pytest.raises(Violation) as err:
        checker.on_answer(1, "#1", 7, 5, [])
    assert err.value.invariant == Invariant.ANSWERS
    with pytest.raises(Violation):
        checker.on_answer(1, "#1", 8, 5, placed)  # a request never applied
    with pytest.raises(Violation):
        checker.on_answer(1, KEY, 7, 5, placed)  # the same number, another trader's


def test_a_request_applied_twice_is_caught() -> None:
    checker = _checker()
    once = [Applied(1, 7, 5, [])]
    checker.on_apply(2, 5, 1, EntryKind.NORMAL, b"a", once, 1)
    with pytest.raises(Violation) as err:
        checker.on_apply(2, 6, 1, EntryKind.NORMAL, b"b", [Applied(1, 7, 6, [])], 1)
    assert err.value.invariant == Invariant.EXACTLY_ONCE


def _signed(seq: int) -> bytes:
    return signed_payload(TRADER, "sim-cluster", [[1, seq, {"op": "cancel_all", "market": None}]])


def _exchange() -> Exchange:
    """Two traders, a and b, with the default grant."""
    exchange = Exchange()
    for index, market in enumerate(FOUNDING_MARKETS, 1):
        exchange.apply(market, index)
    exchange.apply(Configure(DEFAULT_GRANT), 3)
    exchange.apply(OpenAccount("a"), 4)
    exchange.apply(OpenAccount("b"), 5)
    return exchange


def test_money_made_from_nothing_is_caught() -> None:
    exchange, checker = _exchange(), _checker()
    checker.check_money(1, 5, exchange)  # as granted: fine
    usd = exchange.asset("USD")
    assert usd is not None
    exchange.owners["a"].balances[usd.asset_id].available += 1
    with pytest.raises(Violation) as err:
        checker.check_money(1, 6, exchange)
    assert err.value.invariant == Invariant.CONSERVATION


def test_a_negative_balance_is_caught_even_when_the_totals_hold() -> None:
    exchange, checker = _exchange(), _checker()
    btc = exchange.asset("BTC")
    assert btc is not None
    a = exchange.owners["a"].balances[btc.asset_id]
    b = exchange.owners["b"].balances[btc.asset_id]
    overdrawn = a.available + 1
    a.available -= overdrawn
    b.available += overdrawn
    assert exchange.totals() == exchange.granted()
    with pytest.raises(Violation) as err:
        checker.check_money(2, 6, exchange)
    assert err.value.invariant == Invariant.CONSERVATION


def test_a_forged_entry_must_be_refused_whole() -> None:
    checker = _checker()
    refused, acted = b'{"c":[[1,9,{"op":"cancel_all","owner":"a"}]]}', b'{"c":[[1,10,{}]]}'
    checker.forged[refused] = checker.forged[acted] = ("unsigned", 1)
    checker.on_apply(1, 5, 1, NORMAL, refused, [], 1, refused=1)  # as it must be
    with pytest.raises(Violation) as err:  # the engine was handed its command
        checker.on_apply(1, 6, 1, NORMAL, acted, [Applied(1, 10, 6, [])], 1, 0, True)
    assert err.value.invariant == Invariant.FORGERY_REFUSED


def test_a_forged_owner_must_be_refused_with_a_reason() -> None:
    checker = _checker()
    checker.forged[_signed(3)] = checker.forged[_signed(4)] = ("owner", 0)
    refused = [Applied(1, 3, 5, None, "owner: a signed command's owner is its key's name")]
    checker.on_apply(1, 5, 1, NORMAL, _signed(3), refused, 1)
    with pytest.raises(Violation) as err:  # taken: the engine saw it
        checker.on_apply(1, 6, 1, NORMAL, _signed(4), [Applied(1, 4, 6, [])], 1, 0, True)
    assert err.value.invariant == Invariant.FORGERY_REFUSED


def test_a_copy_of_a_signed_entry_must_change_nothing() -> None:
    checker = _checker()
    payload = _signed(3)
    assert signer_of(payload) == KEY
    checker.on_apply(1, 5, 1, NORMAL, payload, [Applied(1, 3, 5, [])], 1, 0, True, {KEY: "a"})
    checker.on_apply(1, 6, 1, NORMAL, payload, [Applied(1, 3, 6, None)], 1)  # a duplicate
    with pytest.raises(Violation) as err:
        checker.on_apply(1, 7, 1, NORMAL, payload, [Applied(1, 3, 7, None)], 1, 0, True)
    assert err.value.invariant == Invariant.FORGERY_REFUSED


def test_an_honest_entry_refused_is_caught() -> None:
    with pytest.raises(Violation) as err:
        _checker().on_apply(1, 5, 1, NORMAL, _signed(3), [], 1, refused=1)
    assert err.value.invariant == Invariant.FORGERY_REFUSED


def test_an_order_placed_for_another_owner_than_the_signer_is_caught() -> None:
    checker = _checker()
    order = Accepted(1, None, "b", "BTC/USD", "buy", "limit", 300_000, 100, 5)
    with pytest.raises(Violation) as err:
        checker.on_apply(1, 5, 1, NORMAL, _signed(3), [Applied(1, 3, 5, [order])], 1, 0, True,
                         {KEY: "a"})  # fmt: skip
    assert err.value.invariant == Invariant.FORGERY_REFUSED


def test_a_machine_that_refuses_otherwise_elsewhere_is_caught() -> None:
    checker = _checker()
    forged = b'{"c":[[1,9,{"op":"cancel_all","owner":"a"}]]}'
    checker.forged[forged] = ("unsigned", 1)
    checker.on_apply(1, 1, 1, NORMAL, forged, [], 1, refused=1)
    with pytest.raises(Violation) as err:  # another peer applies it alike but refuses nothing
        checker.on_apply(2, 1, 1, NORMAL, forged, [], 1, refused=0)
    assert err.value.invariant == Invariant.STATE_MACHINE_SAFETY
