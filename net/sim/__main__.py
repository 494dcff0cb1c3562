"""Command line: run many seeds and print one summary line, or replay one seed with a trace.

python -m net.sim --seeds 1000 --nodes 5
python -m net.sim --seed 42 --nodes 5          # replay: full event trace, then the result
python -m net.sim --seeds 200 --bug double_vote  # an injected bug must produce violations
python -m net.sim --seeds 200 --no-forgery       # no lying member
"""

from __future__ import annotations

import argparse
import logging
import sys

from net.sim.bugs import Bugs
from net.sim.simulation import SimOptions, Simulation

#: What the summary line adds up over the seeds: what the runs exercised.
SUMMED = ("commands", "acked", "registered", "accepted", "no_funds", "trades", "expired",
          "triggered", "forged",
          "joins", "leaves", "wipes", "snapshots", "crashes", "pauses", "slow_disks",
          "write_errors", "partitions")  # fmt: skip
LABELS = {"commands": "commands_committed"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m net.sim", description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=100, help="number of seeds to run")
    p.add_argument("--start", type=int, default=0, help="first seed")
    p.add_argument("--seed", type=int, help="replay this one seed and print its trace")
    p.add_argument("--nodes", type=int, default=5, help="cluster size (3 to 7)")
    p.add_argument("--fault-ms", type=int, default=2000, help="simulated time with faults on")
    p.add_argument("--tail", type=int, default=0, help="with --seed: last N trace lines only")
    p.add_argument("--bug", choices=Bugs.names(), help="switch on one injected bug")
    p.add_argument("--no-forgery", action="store_true", help="no member proposes forged entries")
    p.add_argument("--hijack", action="store_true",
                   help="forged batches also claim other peers' pending requests")  # fmt: skip
    p.add_argument("--min-chunk-bytes", type=int, default=256,
                   help="smallest snapshot chunk a seed may draw (64: the livelocks)")  # fmt: skip
    args = p.parse_args(argv)
    # the machine logs each forged entry it refuses: the forger's, here, on every peer
    logging.getLogger("net.machine").setLevel(logging.ERROR)
    bugs = Bugs.only(args.bug) if args.bug else Bugs()

    def options(seed: int, trace: bool) -> SimOptions:
        return SimOptions(
            seed=seed,
            nodes=args.nodes,
            fault_ms=args.fault_ms,
            bugs=bugs,
            trace=trace,
            forgery=not args.no_forgery,
            hijack=args.hijack,
            min_chunk_bytes=args.min_chunk_bytes,
        )

    if args.seed is not None:
        result = Simulation(options(args.seed, trace=True)).run()
        lines = result.trace[-args.tail :] if args.tail else result.trace
        print("\n".join(lines))
        verdict = "ok" if result.ok else f"VIOLATION {result.violation}"
        print(f"seed={args.seed} nodes={args.nodes} commands={result.commands} "
              f"trades={result.trades} forged={result.forged} joins={result.joins} "
              f"{verdict}")  # fmt: skip
        return 0 if result.ok else 1

    violations = 0
    totals = dict.fromkeys(SUMMED, 0)
    for seed in range(args.start, args.start + args.seeds):
        result = Simulation(options(seed, trace=False)).run()
        for name in SUMMED:
            totals[name] += getattr(result, name)
        if not result.ok:
            violations += 1
            print(f"seed {seed}: {result.violation}", file=sys.stderr)
    counts = " ".join(f"{LABELS.get(name, name)}={value}" for name, value in totals.items())
    print(
        f"seeds={args.seeds} start={args.start} nodes={args.nodes} violations={violations} "
        + counts
    )
    return 0 if violations == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
