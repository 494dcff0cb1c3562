"""Engine throughput: a seeded mixed order stream through ``Exchange.apply``.

    python bench/engine.py [--ops 200000] [--deep 100000] [--seed 7] [--repeat 3]

The stream is 60% limit orders near a drifting mid (about a quarter of all operations
trade), 10% market orders and 30% cancels of orders that are live at that moment. It is
generated up front by a model engine (so every cancel targets a live order) and then
applied to a fresh engine, events included, through the entry point the node uses. The
"deep" run first rests ``--deep`` orders away from the mid, then applies the same kind of
stream. Each run prints ops/s (best of ``--repeat``) and the engine's peak traced memory.
The "decode" line times the same mixed stream starting from the JSON-safe command dicts
the log carries (``parse_command`` + ``apply``).
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
    encode_command,
    parse_command,
)

MARKET = "BTC/USD"
SETUP = CreateMarket(MARKET, "BTC", "USD", "0.1", "0.001")
OWNERS = [f"trader{i}" for i in range(50)]


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


def run(preload: list, timed: list, repeat: int) -> tuple[float, int, float]:
    """(best ops/s, peak traced bytes, fraction of ops that traded)."""
    best = 0.0
    for _ in range(repeat):
        ex = Exchange()
        for i, cmd in enumerate(preload):
            ex.apply(cmd, i)
        apply = ex.apply
        base = len(preload)
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        for i, cmd in enumerate(timed, base):
            apply(cmd, i)
        elapsed = time.perf_counter() - start
        gc.enable()
        best = max(best, len(timed) / elapsed)
    trading = ex.next_trade_id  # trades made so far, for the fraction below
    ex = Exchange()
    for i, cmd in enumerate(preload):
        ex.apply(cmd, i)
    before = ex.next_trade_id
    tracemalloc.start()
    traded = 0
    for i, cmd in enumerate(timed, len(preload)):
        events = ex.apply(cmd, i)
        traded += any(type(e).__name__ == "Trade" for e in events)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del trading, before
    return best, peak, traded / len(timed)


def run_decoded(timed: list, repeat: int) -> float:
    dicts = [encode_command(c) for c in timed]
    best = 0.0
    for _ in range(repeat):
        ex = Exchange()
        ex.apply(SETUP, 0)
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        for i, obj in enumerate(dicts, 1):
            ex.apply(parse_command(obj), i)
        elapsed = time.perf_counter() - start
        gc.enable()
        best = max(best, len(dicts) / elapsed)
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
        rate, peak, traded = run(preload, timed, args.repeat)
        print(f"{name:24s} {rate:>12,.0f} ops/s   peak {peak / 2**20:6.1f} MiB   "
              f"{traded:.0%} of ops trade")  # fmt: skip
    preload, timed = make_stream(args.seed, args.ops, 0)
    print(f"{'mixed, decode + apply':24s} {run_decoded(timed, args.repeat):>12,.0f} ops/s")


if __name__ == "__main__":
    main()
