"""Peers started as people start them become one exchange: real processes on loopback.

Every peer is ``dex-tui --headless`` with nothing but a name, a data dir and the test's own
``--cluster`` name (so the suite never meets anybody's running dex), finding the others by
zeroconf on the loopback interface unless a test says otherwise. They are started seconds
apart in any order, stopped with SIGTERM and started again, killed, recovered with
``--force-new-cluster``; two clusters meet. The tests speak only spec/rpc.md.
"""

import asyncio
import random
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cluster_helpers import Cluster, Peer, cluster_name, converged, until
from grenache_helpers import free_port

from net.rpc.client import RpcClient
from net.rpc.errors import RpcError

BTC = "BTC/USD"
DISCOVERY = ["--interface", "127.0.0.1"]  # zeroconf on, loopback only


async def members(peers: list[Peer]) -> set[str]:
    """The cluster ids the peers report, once each is a member of it (else {""})."""
    ids = set()
    names = {p.name for p in peers}
    for peer in peers:
        status = await peer.status()
        listed = {*status["voters"], *status["learners"]}
        ids.add(status["cluster_id"] if listed >= names and status["state"] == "trading" else "")
    return ids


async def one_cluster(peers: list[Peer], timeout: float = 30) -> str:
    """Wait until every peer is a trading member of one cluster that lists them all."""
    found: set[str] = set()

    async def one() -> bool:
        nonlocal found
        found = await members(peers)
        return len(found) == 1 and "" not in found

    await until(one, timeout, f"one cluster of {[p.name for p in peers]}")
    return found.pop()


def order(side: str, price: str, qty: str, client_id: str, tif: str = "gtc") -> dict:
    return {"op": "submit", "market": BTC, "side": side, "price": price, "qty": qty,
            "client_id": client_id, "tif": tif}  # fmt: skip


async def start_staggered(cluster: Cluster, gaps: list[float], prefix: str) -> list[Peer]:
    """Start a peer, then one more after each gap (seconds, a person's pace); the peers
    once all have printed their ready line."""
    peers = [cluster.peer(f"{prefix}{i}") for i in range(len(gaps) + 1)]
    starts = []
    t0 = time.monotonic()
    for peer, at in zip(peers, [0.0, *[sum(gaps[: i + 1]) for i in range(len(gaps))]],
                        strict=True):  # fmt: skip
        await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
        starts.append(asyncio.ensure_future(peer.start(timeout=60)))
    await asyncio.gather(*starts)
    return peers


async def test_peers_started_seconds_apart_in_any_order_become_one_cluster(
    make_cluster: Callable[..., Cluster],
) -> None:
    gaps = [0.0, 2.0, 5.0, 10.0]
    random.Random(time.time_ns()).shuffle(gaps)
    print(f"gaps between starts: {gaps}")
    cluster = make_cluster(common=DISCOVERY)
    peers = await start_staggered(cluster, gaps, "s")
    last_start = time.monotonic()
    cluster_id = await one_cluster(peers, timeout=10 + 20)
    print(f"one cluster {time.monotonic() - last_start:.1f} s after the last ready line")
    first, last = peers[0], peers[-1]
    await first.call(order("buy", "100", "1", "first-b"))
    filled = await last.call(order("sell", "100", "0.4", "last-s", "ioc"))
    assert filled["status"] == "filled"
    await converged(peers)
    assert {(await p.status())["cluster_id"] for p in peers} == {cluster_id}


async def test_a_peer_stopped_and_started_again_rejoins(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(common=DISCOVERY)
    peers = await start_staggered(cluster, [1.0, 1.0], "r")
    cluster_id = await one_cluster(peers)
    leaver = peers[1]
    assert await leaver.stop() == 0  # SIGTERM: a clean leave
    rest = [peers[0], peers[2]]

    async def gone() -> bool:
        return leaver.name not in (await rest[0].status())["voters"]

    await until(gone, 10, "the leaver out of the configuration")
    await leaver.start()  # the same data dir: it asks to join again
    assert await one_cluster(peers) == cluster_id
    result = await leaver.call(order("buy", "99", "0.5", "back-b"))
    assert result["status"] == "resting"
    await converged(peers)


async def test_two_cluster_names_on_one_machine_stay_apart(
    make_cluster: Callable[..., Cluster],
) -> None:
    desk, lab = make_cluster(common=DISCOVERY), make_cluster(common=DISCOVERY)
    a = [await desk.start(f"desk{i}") for i in range(2)]
    b = [await lab.start(f"lab{i}") for i in range(2)]
    ids = {await one_cluster(a), await one_cluster(b)}
    assert len(ids) == 2
    for peer in [*a, *b]:

        async def two_voters(peer: Peer = peer) -> bool:
            status = await peer.status()
            return len(status["voters"]) == 2 and status["other_clusters"] == []

        await until(two_voters, 10, f"{peer.name} in a cluster of two voters, alone")


async def test_force_new_cluster_after_two_of_three_are_lost(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(common=DISCOVERY)
    peers = await start_staggered(cluster, [0.5, 0.5], "f")
    await one_cluster(peers)
    survivor = peers[0]
    resting = await survivor.call(order("buy", "98", "1", "kept"))
    for peer in peers[1:]:
        await peer.kill()  # gone for good: their data too
        shutil.rmtree(peer.data_dir)

    async def stuck() -> bool:
        return (await survivor.status())["state"] == "no_quorum"

    await until(stuck, 20, "the survivor to see it has no quorum")
    with pytest.raises(RpcError) as refused:
        await survivor.call(order("sell", "120", "1", "refused"))
    assert refused.value.code == "ERR_NO_QUORUM"
    assert await survivor.stop() == 0
    await survivor.start("--force-new-cluster")
    assert (await survivor.status())["voters"] == [survivor.name]
    assert (await survivor.call({"op": "order", "client_id": "kept"}))["order_id"] == resting[
        "order_id"
    ]
    newcomer = await cluster.start("f-new")
    await one_cluster([survivor, newcomer])
    filled = await newcomer.call(order("sell", "98", "0.25", "new-s", "ioc"))
    assert filled["status"] == "filled"
    await converged([survivor, newcomer])


async def test_two_clusters_with_nothing_but_their_founding_entries_merge(
    make_cluster: Callable[..., Cluster],
) -> None:
    """Each founded alone (they could not see each other); started together, the one with
    the higher cluster id dissolves into the other, its store moved aside, not deleted."""
    cluster = make_cluster(common=DISCOVERY)
    alone = [cluster.peer("m0", "--no-discovery"), cluster.peer("m1", "--no-discovery")]
    ids = {}
    for peer in alone:
        await peer.start()
        ids[peer.name] = (await peer.status())["cluster_id"]
        assert await peer.stop() == 0
    assert ids["m0"] != ids["m1"]
    peers = [cluster.peer("m0"), cluster.peer("m1")]  # the same data dirs, discovery on
    await asyncio.gather(*(p.start() for p in peers))
    winner = await one_cluster(peers)
    assert winner == min(ids.values())
    loser = next(p for p in peers if ids[p.name] != winner)
    kept = list((loser.data_dir / "previous").glob(f"{ids[loser.name]}-*/raft.sqlite3"))
    assert kept, "the dissolved cluster's store is kept"
    assert "wins the merge" in loser.log_path.read_text()


async def test_clusters_that_hold_trades_do_not_merge_but_see_each_other(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(common=DISCOVERY)
    ids = {}
    for name in ("t0", "t1"):
        peer = cluster.peer(name, "--no-discovery")
        await peer.start()
        await peer.call(order("buy", "90", "1", f"{name}-b"))
        ids[name] = (await peer.status())["cluster_id"]
        assert await peer.stop() == 0
    peers = [cluster.peer("t0"), cluster.peer("t1")]
    await asyncio.gather(*(p.start() for p in peers))

    async def sees_the_other(peer: Peer, other: Peer) -> bool:
        shown = (await peer.status())["other_clusters"]
        return [(o["cluster_id"], o["peers"]) for o in shown] == [(ids[other.name], [other.name])]

    await until(lambda: sees_the_other(peers[0], peers[1]), 20, "t0 to see t1's cluster")
    await until(lambda: sees_the_other(peers[1], peers[0]), 20, "t1 to see t0's cluster")
    for peer in peers:  # neither moved: both still trade in their own cluster
        status = await peer.status()
        assert status["cluster_id"] == ids[peer.name] and status["state"] == "trading"


async def test_a_refused_join_says_why_in_the_log_and_the_status(
    make_cluster: Callable[..., Cluster],
) -> None:
    desk = make_cluster()
    member = await desk.start("member")
    other = make_cluster()  # another cluster name
    stray = other.peer("stray", "--peer", member.addr)
    stray.port = free_port()  # it never prints a ready line (it is never let in)
    starting = asyncio.ensure_future(stray.start(timeout=60))
    why = f"this peer is in cluster {desk.name!r}, not {other.name!r}"
    client = RpcClient("127.0.0.1", stray.port, timeout=5.0)
    try:

        async def said() -> bool:
            status = await client.call({"op": "status"})
            return status["state"] == "joining" and why in status["joining"]  # type: ignore[index]

        await until(said, 20, "the refusal in the stray peer's status")
        assert why in stray.log_path.read_text()
        with pytest.raises(RpcError) as refused:
            await client.call(order("buy", "100", "1", "too-early"))
        assert refused.value.code == "ERR_NO_QUORUM" and "not in a cluster yet" in str(
            refused.value
        )
        assert not starting.done()
    finally:
        starting.cancel()
        await client.close()


async def test_a_peer_whose_loop_dies_exits_non_zero_at_once(tmp_path: Path) -> None:
    """Crash-only: a disk write that fails kills the shell loop; the peer logs the
    traceback and exits 1 at once, instead of answering reads from a frozen state."""
    script = (  # the real command, with a disk that fails once the peer is up
        "import sys, net.storage as s\n"
        "save = s.SqliteStorage.save\n"
        "def failing(self, hs, entries, snap, sync=True):\n"
        "    if entries is not None and b'broken' in b''.join(entries.payloads):\n"
        "        raise OSError(5, 'Input/output error')\n"
        "    return save(self, hs, entries, snap, sync)\n"
        "s.SqliteStorage.save = failing\n"
        "from dex_tui.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, "--headless", "--no-discovery", "--name", "doomed",
        "--data-dir", str(tmp_path / "doomed"), "--cluster", cluster_name(),
        "--api-port", str(port), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    client = RpcClient("127.0.0.1", port, timeout=5.0)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.startswith(b"dex: ready")
        with pytest.raises(RpcError):  # its write never commits: the peer is gone
            await client.call(order("buy", "100", "1", "broken"))
        assert await asyncio.wait_for(proc.wait(), 10) == 1
        text = (await proc.stderr.read()).decode()
        assert "died; stopping the peer" in text and "Traceback" in text, text
        assert "Input/output error" in text
    finally:
        await client.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.slow
async def test_twenty_peers_started_over_a_minute_become_one_cluster(
    make_cluster: Callable[..., Cluster],
) -> None:
    """Twenty headless peers, started over 60 s at random gaps, form one cluster of five
    voters and fifteen learners, trade through it, and end with equal digests."""
    rng = random.Random(time.time_ns())
    gaps = [rng.uniform(0, 6) for _ in range(19)]
    gaps = [g * 60 / sum(gaps) for g in gaps]  # 60 s in all
    cluster = make_cluster(common=DISCOVERY)
    peers = await start_staggered(cluster, gaps, "z")
    last_start = time.monotonic()
    await one_cluster(peers, timeout=60)
    print(f"one cluster of 20 {time.monotonic() - last_start:.1f} s after the last ready line")

    async def shape() -> bool:
        status = await peers[0].status()
        return len(status["voters"]) == 5 and len(status["learners"]) == 15

    await until(shape, 30, "5 voters and 15 learners")
    for n, peer in enumerate(peers):
        side = "buy" if n % 2 else "sell"
        await peer.call(order(side, "100", "0.01", f"z-{n}"))
    await converged(peers)
    trades = await peers[7].call({"op": "trades", "market": BTC, "limit": 1000})
    assert len(trades) == 10  # type: ignore[arg-type]
