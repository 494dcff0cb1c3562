"""How long peers started apart take to become one cluster: real processes on loopback.

    python bench/joining.py [--peers 3] [--gaps 0,2,5,10,30] [--repeat 3]

For each gap, starts ``--peers`` headless peers (``dex-tui --headless``, fresh temp data
dirs, zeroconf on the loopback interface, a cluster name of the run's own) one after the
other, ``gap`` seconds apart, as a person opening terminals would; then polls every 50 ms
until every peer is a trading member of one cluster that lists them all. Prints, per gap,
the time from the last peer's start (its process launched) to that moment: best, median
and worst of ``--repeat`` runs. Each run's peers are stopped (SIGTERM) before the next.
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent / "tests")  # the cluster harness

from cluster_helpers import Cluster, Peer  # noqa: E402

POLL = 0.05


async def one_cluster(peers: list[Peer]) -> bool:
    ids = set()
    names = {p.name for p in peers}
    for peer in peers:
        try:
            status = await peer.status()
        except Exception:
            return False
        listed = {*status["voters"], *status["learners"]}
        if status["state"] != "trading" or not listed >= names:
            return False
        ids.add(status["cluster_id"])
    return len(ids) == 1


async def run(peers: int, gap: float, root: Path) -> float:
    cluster = Cluster(root, common=["--interface", "127.0.0.1"])
    try:
        started = [cluster.peer(f"j{i}") for i in range(peers)]
        waits = []
        last = 0.0
        for n, peer in enumerate(started):
            if n:
                await asyncio.sleep(gap)
            last = time.monotonic()
            waits.append(asyncio.ensure_future(peer.start(timeout=120)))
        await asyncio.gather(*waits)
        while not await one_cluster(started):
            await asyncio.sleep(POLL)
        return time.monotonic() - last
    finally:
        for peer in cluster.peers:
            await peer.stop()
        await cluster.close()


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peers", type=int, default=3)
    p.add_argument("--gaps", default="0,2,5,10,30", help="seconds between starts, comma list")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    gaps = [float(g) for g in args.gaps.split(",")]
    print(f"{args.peers} peers; seconds from the last start to one cluster "
          f"(best / median / worst of {args.repeat})")  # fmt: skip
    print(f"{'gap s':>6} {'best':>6} {'median':>7} {'worst':>6}")
    for gap in gaps:
        times = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="dex-bench-joining-") as root:
                times.append(await run(args.peers, gap, Path(root)))
        print(f"{gap:>6.0f} {min(times):>6.2f} {statistics.median(times):>7.2f} "
              f"{max(times):>6.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
