"""Engine throughput: a seeded mixed order stream through ``Exchange.apply``.

    python bench/engine.py [--ops 200000] [--deep 100000] [--seed 7] [--repeat 3]

The stream is 60% limit orders near a drifting mid (about a quarter of all operations
trade), 10% market orders and 30% cancels of orders that are live at that moment. It is
generated up front by a model engine (so every cancel targets a live order) and then
applied to a fresh engine, events included, through the entry point the node uses
(``Exchange.apply_batch``, 64 commands per log entry). The "deep" run first rests
``--deep`` orders away from the mid, then applies the same kind of stream. Each run prints
ops/s (best of ``--repeat``, cyclic GC off while timing: the engine makes no cyclic garbage)
and the engine's peak traced memory.

Each run is measured twice, without money (an exchange never configured, as before money
existed) and with **accounts on**: the exchange configured with a grant (``GRANT``) and an
account for each of the stream's traders, so every order holds what it can spend and every
fill settles both sides. The grant is large enough that no order is short of funds (the
line says how many were: 0), so both runs apply the same commands to the same books; the
difference is the cost of money. The two are timed alternately, so that a machine busy
with something else slows both alike.

Three more lines: the mixed stream with the cyclic GC on as a peer process sets it
(``net.config.GC_THRESHOLDS``), and the same stream as a peer applies it, without and
with accounts: from the bytes of its signed log entries, through
``net.machine.Machine.apply`` (one trader's key signs them all; see ``run_entries``).
"""

import argparse
import gc
import json
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
    Configure,
    CreateMarket,
    Exchange,
    OpenAccount,
    Rejected,
    Submit,
    Trade,
    encode_command,
)
from net.config import GC_THRESHOLDS  # noqa: E402
from net.machine import Machine, stamp  # noqa: E402
from net.traders import TraderKey, encode_trader_command, signed_payload  # noqa: E402
from net.writes import entry_payload  # noqa: E402

MARKET = "BTC/USD"
SETUP = CreateMarket(MARKET, "BTC", "USD", "0.1", "0.001")
OWNERS = [f"trader{i}" for i in range(50)]
BATCH = 64  # commands per log entry, as the node batches them under load
CLUSTER = "bench"  # the cluster id signed batches are bound to
START_MS = 1_800_000_000_000  # the consensus time of the first stamped entry
#: Each trader's grant with accounts on: far more than the stream ever holds or spends
#: (the deep book holds at most about 56,000 USD and 6 BTC of a trader; see the "short"
#: count), and within the 10^15 units an amount may have (a unit of USD is 0.0001 here).
GRANT = "BTC=1000000,USD=10000000000"
#: Money on, and an account for every trader of the stream (ahead of any order).
ACCOUNTS = [Configure(GRANT, 10, 20), *(OpenAccount(owner) for owner in OWNERS)]


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


def with_accounts(preload: list) -> list:
    """``preload`` with money turned on and every trader's account opened before any order."""
    return [preload[0], *ACCOUNTS, *preload[1:]]


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


def run(preloads: list[list], timed: list, repeat: int, gc_on: bool = False) -> list[float]:
    """Best ops/s of ``repeat`` runs of ``timed`` on an exchange loaded with each of
    ``preloads``, the preloads taking turns within each round."""
    entries = batches(timed, BATCH)
    best = [0.0] * len(preloads)
    for _ in range(repeat):
        for k, preload in enumerate(preloads):
            rate = len(timed) / timed_run(loaded(preload), entries, gc_on)
            best[k] = max(best[k], rate)
    return best


def profile(preload: list, timed: list) -> tuple[int, float, int]:
    """(peak traced bytes while applying ``timed``, fraction of its operations that trade,
    how many were rejected for insufficient funds)."""
    ex = loaded(preload)
    tracemalloc.start()
    traded = short = 0
    for cmd in timed:
        events = ex.apply(cmd, ex.applied_index + 1)
        traded += any(isinstance(e, Trade) for e in events)
        short += any(isinstance(e, Rejected) and e.code == "insufficient_funds" for e in events)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    if ex.ledger.on != any(isinstance(cmd, Configure) for cmd in preload):
        raise SystemExit("bench/engine.py: the exchange refused to be configured")
    assert ex.totals() == ex.granted()
    return peak, traded / len(timed), short


def run_entries(timed: list, repeat: int, accounts: bool) -> float | None:
    """Best ops/s applying the stream as a peer does: signed log entries of ``BATCH``
    requests (the bytes net/writes.py proposes, stamped as the leader appends them) through
    ``net.machine.Machine.apply`` (time handed to the engine, JSON decode, the batch's
    signature checked, de-duplication, command parsing, ``Exchange.apply_batch``), GC as in
    a peer. One trader signs every entry, as one busy
    peer would, so every command is that trader's: with no self-trade prevention in the
    stream the books and trades are the same as with many owners. None if the machine
    refuses the entries instead of applying them."""
    key = TraderKey.from_seed(bytes(32))
    founding = [
        json.dumps({"cluster": CLUSTER}).encode(),
        entry_payload([[2, 1, encode_command(SETUP)]]),
        signed_payload(key, CLUSTER, [[1, 1, {"op": "register", "name": OWNERS[0]}]]),
    ]
    if accounts:  # the founding entry configures money, before the trader registers
        founding.insert(2, entry_payload([[2, 2, encode_command(ACCOUNTS[0])]]))
    payloads = [  # each as a leader appends it: stamped with its time (1 ms apart)
        stamp(START_MS + n) + signed_payload(key, CLUSTER, [
            [1, 2 + n * BATCH + k, encode_trader_command(c)] for k, c in enumerate(batch)
        ])
        for n, batch in enumerate(batches(timed, BATCH))
    ]  # fmt: skip
    best = 0.0
    for _ in range(repeat):
        machine = Machine()
        for i, payload in enumerate(founding, 1):
            machine.apply(i, payload)
        gc.collect()
        start = time.perf_counter()
        for i, payload in enumerate(payloads, len(founding) + 1):
            machine.apply(i, payload)
        elapsed = time.perf_counter() - start
        ex = machine.exchange
        if ex.next_order_id < len(timed) // 2 or ex.ledger.on != accounts:
            return None
        best = max(best, len(timed) / elapsed)
    return best


def _line(name: str, rate: float, peak: int | None = None, traded: float = 0.0,
          short: int | None = None, base: float | None = None) -> str:  # fmt: skip
    text = f"{name:34s} {rate:>12,.0f} ops/s"
    if peak is not None:
        text += f"   peak {peak / 2**20:6.1f} MiB   {traded:.0%} of ops trade"
    if short is not None:
        text += f", {short} short of funds"
    if base:
        text += f"   ({rate / base - 1:+.1%} against no accounts)"
    return text


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
        money = with_accounts(preload)
        plain, funded = run([preload, money], timed, args.repeat)
        peak, traded, _ = profile(preload, timed)
        print(_line(name, plain, peak, traded))
        peak, traded, short = profile(money, timed)
        print(_line(f"{name}, accounts", funded, peak, traded, short, plain))
    preload, timed = make_stream(args.seed, args.ops, 0)
    gc.set_threshold(*GC_THRESHOLDS)  # as a peer process sets it
    (rate,) = run([preload], timed, args.repeat, gc_on=True)
    print(_line("mixed, GC as in a peer", rate))
    plain_rate = run_entries(timed, args.repeat, accounts=False)
    funded_rate = run_entries(timed, args.repeat, accounts=True)
    for name, rate, base in (("mixed, log entries as the peer", plain_rate, None),
                             ("  the same, accounts", funded_rate, plain_rate)):  # fmt: skip
        if rate is None:
            print(f"{name:34s} n/a: net.machine refused these entries")
        else:
            print(_line(name, rate, base=base))


if __name__ == "__main__":
    main()
