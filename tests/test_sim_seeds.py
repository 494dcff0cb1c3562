"""The simulator: many seeds clean at 3, 5 and 7 nodes, exact replay, the command line."""

from collections import Counter

import pytest

from net.sim import Invariant, SimOptions, Simulation, run_seed
from net.sim.__main__ import main
from net.sim.forger import KINDS

SEEDS_PER_SIZE = 100  # 300 seeds in the default suite
EXERCISED = ("registered", "accepted", "no_funds", "trades", "expired", "triggered", "forged",
             "joins", "leaves", "wipes", "snapshots", "crashes", "pauses", "slow_disks",
             "write_errors", "partitions")  # fmt: skip


@pytest.mark.parametrize("nodes", [3, 5, 7])
def test_seeds_run_clean(nodes: int) -> None:
    failures, commands = [], 0
    totals = dict.fromkeys(EXERCISED, 0)
    forged: Counter[str] = Counter()
    for seed in range(SEEDS_PER_SIZE):
        sim = Simulation(SimOptions(seed=seed, nodes=nodes))
        result = sim.run()
        commands += result.commands
        forged += sim.checker.forged_kinds
        for name in EXERCISED:
            totals[name] += getattr(result, name)
        if not result.ok:
            failures.append((seed, str(result.violation)))
    assert failures == []
    # the workload, the membership changes and every kind of fault really happened (but
    # wipes with three machines: a lost store among three voters is a majority at risk,
    # which the operator avoids)
    assert commands > 5 * SEEDS_PER_SIZE
    assert all(v for k, v in totals.items() if not (k == "wipes" and nodes == 3)), totals
    # every machine registered, and traded: most orders funded, a few too large
    assert totals["registered"] >= nodes * SEEDS_PER_SIZE
    assert totals["accepted"] > 10 * totals["no_funds"] > 0
    # every kind of forged entry was committed, and refused as it must be
    assert set(forged) == set(KINDS), forged


@pytest.mark.slow
@pytest.mark.parametrize("nodes", [3, 5, 7])
def test_ten_thousand_seeds_run_clean(nodes: int) -> None:
    failures = [s for s in range(10_000) if not run_seed(s, nodes).ok]
    assert failures == []


def test_a_seed_replays_exactly() -> None:
    a = run_seed(7, 5, trace=True)
    b = run_seed(7, 5, trace=True)
    assert a.trace == b.trace and len(a.trace) > 1000
    assert (a.commands, a.end_ms) == (b.commands, b.end_ms)


def test_liveness_check_fires_without_a_recovery_budget() -> None:
    results = [run_seed(seed, 3, liveness_ms=0) for seed in range(20)]
    fired = {r.violation.invariant for r in results if r.violation is not None}
    assert fired == {Invariant.LIVENESS, Invariant.MEMBERSHIP}


def test_command_line_prints_one_summary_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seeds", "3", "--nodes", "3"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert out[0].startswith("seeds=3 start=0 nodes=3 violations=0 commands_committed=")
    for word in ("registered=", "trades=", "forged=", "joins=", "leaves=", "wipes=",
                 "snapshots=", "crashes=", "pauses="):  # fmt: skip
        assert word in out[0]


def test_command_line_runs_without_forgeries(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seeds", "3", "--nodes", "3"]) == 0
    assert " forged=0 " not in capsys.readouterr().out
    assert main(["--seeds", "3", "--nodes", "3", "--no-forgery"]) == 0
    assert " forged=0 " in capsys.readouterr().out


def test_command_line_replays_a_failing_seed_with_a_trace(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--seed", "3", "--nodes", "3", "--bug", "no_dedupe"]) == 1
    out = capsys.readouterr().out
    assert "deliver APP" in out and "VIOLATION EXACTLY_ONCE" in out
