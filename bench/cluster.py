"""Cluster throughput and latency: 3 headless peers on loopback, driven through the RPC.

    python bench/cluster.py [--seconds 10] [--clients 512] [--rate 1000]

Starts three peers (``dex-tui --headless``, fresh temp data dirs, discovery off), waits for
three voters, then:

1. throughput: ``--clients`` concurrent clients (spread over the three peers, each with
   its own keep-alive connection) submit limit orders back to back for ``--seconds``;
   prints committed orders per second (an order counts once its submit returned: committed
   by a majority and applied on the peer that was asked);
2. latency: orders at a steady ``--rate`` per second (open loop, spread over the peers),
   each timed from send to reply; prints median and p99 in milliseconds;
3. signatures: every order is signed by its peer's trader key and verified by every peer
   when applied, once per log entry (``net/traders.py``); prints what one signature and
   one verification of a full entry cost here, and how many orders an entry carried on
   average during the throughput run (what one signature is amortised over).

The peers are founded with a large grant (``GRANT``) so that no order of the run is
refused for funds: the stream would otherwise turn into cheap rejections as the traders'
BTC runs out.

Both drive the same public entry point outside tests use. The client runs in this
process, on the same 2 cores as the peers.
"""

import argparse
import asyncio
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent / "tests")  # the cluster harness

from cluster_helpers import Cluster, Peer, until  # noqa: E402

from engine import Submit  # noqa: E402
from net.traders import TraderKey, Verifier, encode_trader_command, signed_payload  # noqa: E402
from net.writes import ENTRY_COMMANDS  # noqa: E402

GRANT = "BTC=1000000,ETH=1000000,USD=10000000000"


def order(n: int, rng: random.Random) -> dict:
    side = rng.choice(("buy", "sell"))
    price = 1000 + rng.randrange(-20, 21) / 10  # around 1000 on a 0.1 tick: some cross
    return {"op": "submit", "market": "BTC/USD", "side": side, "price": f"{price:.1f}",
            "qty": "0.001", "client_id": f"b{n}"}  # fmt: skip


class LeanClient:
    """A minimal keep-alive HTTP/1.1 client of the Grenache framing, for load generation.

    The Python client must not be what limits the measurement: it shares the two cores
    with the peers. Requests are prebuilt bytes; a reply is read by its Content-Length and
    checked only for success (``,null,`` after the rid).
    """

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def call(self, body: bytes) -> None:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.peer.host, self.peer.port)
        assert self.reader is not None
        head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        headers = await self.reader.readuntil(b"\r\n\r\n")
        length = int(headers.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        reply = await self.reader.readexactly(length)
        if b'",null,' not in reply[:80]:
            raise RuntimeError(f"failed: {reply[:200]!r}")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def framed(payload: dict, rid: int) -> bytes:
    return json.dumps([str(rid), "dex_rpc", payload], separators=(",", ":")).encode()


async def throughput(peers: list[Peer], clients: int, seconds: float) -> tuple[float, float]:
    """Committed orders/s, and orders per log entry meanwhile."""
    first_index = (await peers[0].status())["commit_index"]
    counter = itertools.count()
    done = 0
    stop_at = time.monotonic() + seconds

    async def client(i: int) -> None:
        nonlocal done
        rng = random.Random(i)
        lean = LeanClient(peers[i % len(peers)])
        try:
            while time.monotonic() < stop_at:
                n = next(counter)
                await lean.call(framed(order(n, rng), n))
                done += 1
        finally:
            lean.close()

    start = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(clients)))
    rate = done / (time.monotonic() - start)
    entries = (await peers[0].status())["commit_index"] - first_index
    return rate, done / max(entries, 1)


def signature_costs(repeat: int = 300) -> tuple[float, float]:
    """(sign, verify) of one full log entry (ENTRY_COMMANDS orders), in ms, best of runs."""
    key = TraderKey.from_seed(bytes(32))
    items = [[1, n, encode_trader_command(Submit("", "BTC/USD", "buy", "limit", 10_000, 1,
                                                 client_id=f"c{n}"))]
             for n in range(ENTRY_COMMANDS)]  # fmt: skip
    verifier = Verifier()
    payload = signed_payload(key, "c", items)
    key_hex, signature, _ = json.loads(payload)["t"]
    sign = verify = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        signed_payload(key, "c", items)
        t1 = time.perf_counter()
        assert not verifier.check("c", key_hex, signature, payload)
        t2 = time.perf_counter()
        sign, verify = min(sign, t1 - t0), min(verify, t2 - t1)
    return sign * 1000, verify * 1000


async def latency(peers: list[Peer], rate: int, seconds: float) -> tuple[float, float, int]:
    """Median and p99 in ms of ``rate`` orders/s (open loop) for ``seconds``, and the count."""
    idle = {p.name: [LeanClient(p) for _ in range(32)] for p in peers}
    rng = random.Random(1)
    samples: list[float] = []

    async def one(peer: Peer, n: int) -> None:
        pool = idle[peer.name]
        lean = pool.pop() if pool else LeanClient(peer)
        body = framed(order(10**9 + n, rng), n)
        sent = time.perf_counter()
        await lean.call(body)
        samples.append((time.perf_counter() - sent) * 1000)
        pool.append(lean)

    tasks = []
    start = time.perf_counter()
    for n in range(int(rate * seconds)):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(peers[n % len(peers)], n)))
    await asyncio.gather(*tasks)
    for pool in idle.values():
        for lean in pool:
            lean.close()
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1], len(ordered)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=512)
    parser.add_argument("--rate", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dex-bench-") as root:
        cluster = Cluster(Path(root), common=["--no-discovery", "--grant", GRANT])
        try:
            peers = await cluster.grow(3)
            await until(lambda: _voters(peers[0]), 60, "three voters")
            rate, per_entry = await throughput(peers, args.clients, args.seconds)
            print(
                f"throughput  {rate:10,.0f} committed orders/s  ({args.clients} clients, "
                f"{args.seconds:.0f} s, 3 peers; {per_entry:.0f} orders per log entry)"
            )
            median, p99, count = await latency(peers, args.rate, args.seconds)
            print(f"latency     median {median:6.2f} ms   p99 {p99:6.2f} ms   "
                  f"at {args.rate:,} orders/s ({count:,} orders)")  # fmt: skip
        finally:
            await cluster.close()
    sign, verify = signature_costs()
    print(f"signatures  {sign:6.3f} ms to sign, {verify:6.3f} ms to verify one entry of "
          f"{ENTRY_COMMANDS} orders (one per entry: {1000 * verify / ENTRY_COMMANDS:.2f} µs "
          "per order verified when entries are full)")  # fmt: skip


async def _voters(peer: Peer) -> bool:
    return len((await peer.status())["voters"]) == 3


if __name__ == "__main__":
    from dex_tui.cli import run

    run(main())
