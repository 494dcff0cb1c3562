"""Engine throughput: a seeded mixed order stream through ``Exchange.apply``.

    python bench/engine.py [--ops 200000] [--deep 100000] [--seed 7] [--repeat 3]

The stream is 60% limit orders near a drifting mid (about a quarter of all operations
trade), 10% market orders and 30% cancels of orders that are live at that moment. It is
generated up front by a model engine (so every cancel targets a live order) and then
applied to a fresh engine, events included, through the entry point the node uses
(``Exchange.apply_batch``, 64 commands per log entry). The "deep" run first rests
``--deep`` orders away from the mid, then applies the same kind of stream. Each run prints
ops/s (best of ``--repeat``, cyclic GC off while timing: the engine makes no cyclic garbage)
and the engine's peak traced memory. Two more lines: the mixed stream with the cyclic GC on
as a peer process sets it (``net.config.GC_THRESHOLDS``), and the same stream as the peer
applies it: from the bytes of its log entries, through ``net.machine.Machine.apply``.
"""

import argparse
import gc
import random
import sys
import time
import tracemalloc
from pathlib import Path

# This script is itself named engine.py: let ``import engine`` find the package instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import engine  # noqa: E402
from engine import (  # noqa: E402
    Cancel,
    CreateMarket,
    Exchange,
    Submit,
    Trade,
    encode_command,
)
from net.config import GC_THRESHOLDS  # noqa: E402
from net.machine import Machine  # noqa: E402
from net.writes import entry_payload  # noqa: E402

MARKET = "BTC/USD"
SETUP = CreateMarket(MARKET, "BTC", "USD", "0.1", "0.001")
OWNERS = [f"trader{i}" for i in range(50)]
BATCH = 64  # commands per log entry, as the node batches them under load


def make_stream(seed: int, ops: int, deep: int) -> tuple[list, list]:
    """(preload commands, timed commands), both valid against a fresh exchange."""
    rng = random.Random(seed)
    model = Exchange()
    model.apply(SETUP, 0)
    index = 0
    live: list[int] = []
    preload: list = [SETUP]
    mid = 100_000

    def add(cmd, into: list) -> None:
        nonlocal index
        index += 1
        into.append(cmd)
        if isinstance(cmd, Submit):
            order_id = model.next_order_id
            model.apply(cmd, index)
            if model.orders[order_id].live:
                live.append(order_id)
        else:
            model.apply(cmd, index)

    for n in range(deep):  # beyond the mid's random walk: depth, not extra trading
        side = "buy" if n % 2 else "sell"
        offset = 2_000 + rng.randrange(5_000)
        price = mid - offset if side == "buy" else mid + offset
        add(Submit(rng.choice(OWNERS), MARKET, side, "limit", price, 1 + rng.randrange(10),
                   client_id=f"p{n}"), preload)  # fmt: skip
    timed: list = []
    for n in range(ops):
        mid += rng.choice((-1, 0, 0, 1))
        roll = rng.random()
        owner = rng.choice(OWNERS)
        if roll < 0.6:
            side = rng.choice(("buy", "sell"))
            offset = rng.randrange(-4, 25)  # negative offsets cross the spread
            price = mid - offset if side == "buy" else mid + offset
            add(Submit(owner, MARKET, side, "limit", price, 1 + rng.randrange(10),
                       client_id=f"c{n}"), timed)  # fmt: skip
        elif roll < 0.7:
            side = rng.choice(("buy", "sell"))
            add(Submit(owner, MARKET, side, "market", None, 1 + rng.randrange(5), tif="ioc",
                       client_id=f"c{n}"), timed)  # fmt: skip
        else:
            while live:
                pick = rng.randrange(len(live))
                order = model.orders.get(live[pick])
                live[pick] = live[-1]
                live.pop()
                if order is not None and order.live:
                    add(Cancel(order.owner, order.order_id), timed)
                    break
    return preload, timed


def batches(commands: list, size: int) -> list[list]:
    """Commands grouped as the log carries them: one list per entry."""
    return [commands[i : i + size] for i in range(0, len(commands), size)]


def loaded(preload: list) -> Exchange:
    ex = Exchange()
    for i, batch in enumerate(batches(preload, BATCH), 1):
        ex.apply_batch(batch, i)
    return ex


def timed_run(ex: Exchange, entries: list[list], gc_on: bool) -> float:
    """Seconds to apply ``entries`` (the cyclic GC off unless ``gc_on``)."""
    apply_batch = ex.apply_batch
    first = ex.applied_index + 1
    gc.collect()
    if not gc_on:
        gc.disable()
    start = time.perf_counter()
    for i, entry in enumerate(entries, first):
        apply_batch(entry, i)
    elapsed = time.perf_counter() - start
    gc.enable()
    return elapsed


def run(preload: list, timed: list, repeat: int, gc_on: bool = False) -> float:
    """Best ops/s of ``repeat`` runs of ``timed`` on an exchange loaded with ``preload``."""
    entries = batches(timed, BATCH)
    return max(len(timed) / timed_run(loaded(preload), entries, gc_on) for _ in range(repeat))


def profile(preload: list, timed: list) -> tuple[int, float]:
    """(peak traced bytes while applying ``timed``, fraction of its operations that trade)."""
    ex = loaded(preload)
    tracemalloc.start()
    traded = 0
    for cmd in timed:
        traded += any(isinstance(e, Trade) for e in ex.apply(cmd, ex.applied_index + 1))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, traded / len(timed)


def run_entries(timed: list, repeat: int) -> float:
    """Best ops/s applying the stream as the peer does: log entries of ``BATCH`` requests
    (the bytes net/writes.py proposes) through ``net.machine.Machine.apply`` (JSON decode,
    de-duplication, command parsing, ``Exchange.apply_batch``), GC as in a peer."""
    payloads = [
        entry_payload([[1, n * BATCH + k, encode_command(c)] for k, c in enumerate(batch)])
        for n, batch in enumerate(batches(timed, BATCH))
    ]
    best = 0.0
    for _ in range(repeat):
        machine = Machine()
        machine.apply(1, entry_payload([[2, 1, encode_command(SETUP)]]))
        gc.collect()
        start = time.perf_counter()
        for i, payload in enumerate(payloads, 2):
            machine.apply(i, payload)
        elapsed = time.perf_counter() - start
        best = max(best, len(timed) / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=200_000)
    parser.add_argument("--deep", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    kind = "compiled with mypyc" if engine.COMPILED else "pure Python (not compiled)"
    print(f"python {sys.version.split()[0]}, engine {kind}, {args.ops:,} ops, "
          f"seed {args.seed}, best of {args.repeat}")  # fmt: skip
    for name, deep in (("mixed", 0), (f"deep ({args.deep:,} resting)", args.deep)):
        preload, timed = make_stream(args.seed, args.ops, deep)
        rate = run(preload, timed, args.repeat)
        peak, traded = profile(preload, timed)
        print(f"{name:32s} {rate:>12,.0f} ops/s   peak {peak / 2**20:6.1f} MiB   "
              f"{traded:.0%} of ops trade")  # fmt: skip
    preload, timed = make_stream(args.seed, args.ops, 0)
    gc.set_threshold(*GC_THRESHOLDS)  # as a peer process sets it
    rate = run(preload, timed, args.repeat, gc_on=True)
    print(f"{'mixed, GC as in a peer':32s} {rate:>12,.0f} ops/s")
    print(f"{'mixed, log entries as the peer':32s} {run_entries(timed, args.repeat):>12,.0f} ops/s")


if __name__ == "__main__":
    main()
