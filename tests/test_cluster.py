"""Real peers in separate processes on loopback: agreement, crashes, restarts, isolation.

Every peer is ``dex-tui --headless``; the tests speak only spec/rpc.md to them. Faults are
real: SIGKILL (a crash: nothing flushed, nobody told), SIGSTOP/SIGCONT (a peer cut off
from everyone while its state is kept, which is what a partition looks like to the rest).
"""

import asyncio
import os
import random
import signal

import pytest
from cluster_helpers import Peer, converged, until

from net.rpc.errors import RpcError

BTC = "BTC/USD"


def order(side: str, price: str, qty: str, client_id: str) -> dict:
    return {"op": "submit", "market": BTC, "side": side, "price": price, "qty": qty,
            "client_id": client_id}  # fmt: skip


async def retrying(peer: Peer, payload: dict, attempts: int = 40) -> dict:
    """Submit as a careful client does: on a timeout or no quorum, retry the same client_id."""
    for _ in range(attempts):
        try:
            return await peer.call(payload, timeout=5.0)  # type: ignore[return-value]
        except RpcError as error:
            if error.code not in ("ERR_TIMEOUT", "ERR_NO_QUORUM", "ERR_UNREACHABLE", "ERR_BUSY"):
                raise
            await asyncio.sleep(0.2)
    raise AssertionError(f"{payload['client_id']} never committed")


async def voters(peer: Peer, count: int) -> bool:
    return len((await peer.status())["voters"]) == count


async def all_trades(peer: Peer) -> list[dict]:
    trades: list[dict] = []
    while True:
        since = trades[-1]["trade_id"] if trades else 0
        page = await peer.call({"op": "trades", "market": BTC, "since": since, "limit": 1000})
        if not page:
            return trades
        trades.extend(page)  # type: ignore[arg-type]


async def trade_concurrently(peers: list[Peer], per_peer: int, tag: str) -> list[dict]:
    """Each peer submits crossing orders at once; every client retries with its client_id."""
    rng = random.Random(tag)

    async def client(i: int, peer: Peer) -> list[dict]:
        done = []
        for n in range(per_peer):
            side = rng.choice(["buy", "sell"])
            price = f"{100 + rng.randrange(-5, 6)}"
            done.append(await retrying(peer, order(side, price, "0.01", f"{tag}-{i}-{n}")))
        return done

    results = await asyncio.gather(*(client(i, p) for i, p in enumerate(peers)))
    return [r for batch in results for r in batch]


async def test_three_peers_trading_at_once_agree_on_everything(make_cluster) -> None:
    cluster = make_cluster()
    peers = await cluster.grow(3)
    await until(lambda: voters(peers[0], 3), 30, "three voters")
    results = await trade_concurrently(peers, 40, "agree")
    assert len({r["order_id"] for r in results}) == len(results)  # nothing lost or merged
    index, _ = await converged(peers)
    tapes = [await all_trades(p) for p in peers]
    assert tapes[0] and tapes[0] == tapes[1] == tapes[2]
    books = [await p.call({"op": "book", "market": BTC, "depth": 100}) for p in peers]
    assert books[0] == books[1] == books[2] and books[0]["index"] == index
    # a retried submit returns the first result and creates nothing
    again = await peers[1].call(order("buy", "1", "0.01", "agree-1-0"))
    assert (
        again["order_id"] == next(r for r in results if r["client_id"] == "agree-1-0")["order_id"]
    )


async def test_killed_leader_and_follower_lose_nothing_and_catch_up(make_cluster) -> None:
    cluster = make_cluster()
    peers = await cluster.grow(3)
    await until(lambda: voters(peers[0], 3), 30, "three voters")
    leader = peers[0]  # the founder leads until something happens to it
    assert (await leader.status())["role"] == "leader"
    survivors = peers[1:]

    load = asyncio.ensure_future(trade_concurrently(survivors, 30, "load"))
    await until(lambda: _committed_some(survivors[0], 10), 30, "load to start")
    await leader.kill()
    results = await load
    assert len(results) == 60
    await until(lambda: _has_leader(survivors[0]), 30, "a new leader")
    follower = survivors[1]
    await follower.kill()
    await until(lambda: _no_quorum(survivors[0]), 30, "the lone survivor to see no quorum")
    await follower.start()
    await leader.start()
    index, digest = await converged(peers)
    assert index >= max(r["index"] for r in results) and digest
    for i, peer in enumerate(survivors):  # every acknowledged order survived, once
        for n in range(30):
            acked = next(r for r in results if r["client_id"] == f"load-{i}-{n}")
            known = await peer.call({"op": "order", "client_id": f"load-{i}-{n}"})
            assert known["order_id"] == acked["order_id"]
    more = await trade_concurrently(peers, 5, "after")
    assert all(r["status"] in ("resting", "filled", "partially_filled") for r in more)
    await converged(peers)


async def test_an_isolated_leader_refuses_and_the_majority_trades_on(make_cluster) -> None:
    cluster = make_cluster()
    peers = await cluster.grow(3)
    await until(lambda: voters(peers[0], 3), 30, "three voters")
    leader, others = peers[0], peers[1:]
    # cut the leader off: freeze the two others (their state is kept)
    for peer in others:
        os.kill(peer.proc.pid, signal.SIGSTOP)
    await until(lambda: _no_quorum(leader), 30, "the isolated leader to see no quorum")
    with pytest.raises(RpcError) as refused:  # an isolated peer must not commit
        await leader.call(order("buy", "99", "0.01", "isolated-1"), timeout=10)
    assert refused.value.code == "ERR_NO_QUORUM"
    # heal; then cut the old leader off instead: the majority elects and trades
    for peer in others:
        os.kill(peer.proc.pid, signal.SIGCONT)
    await converged(peers)
    os.kill(leader.proc.pid, signal.SIGSTOP)
    await until(lambda: _has_new_leader(others[0], leader.name), 30, "a leader among the rest")
    traded = await trade_concurrently(others, 10, "majority")
    assert len(traded) == 20
    os.kill(leader.proc.pid, signal.SIGCONT)
    await converged(peers)
    assert (await leader.status())["role"] == "follower"


async def _learners(peer: Peer, count: int) -> bool:
    return len((await peer.status())["learners"]) == count


async def _committed_some(peer: Peer, count: int) -> bool:
    return len(await all_trades(peer)) > 0 or (await peer.status())["commit_index"] > count


async def _has_leader(peer: Peer) -> bool:
    return (await peer.status())["leader"] is not None


async def _has_new_leader(peer: Peer, old: str) -> bool:
    leader = (await peer.status())["leader"]
    return leader is not None and leader != old


async def _no_quorum(peer: Peer) -> bool:
    return not (await peer.status())["quorum"]


async def test_a_late_joiner_catches_up_from_a_snapshot_after_compaction(make_cluster) -> None:
    cluster = make_cluster(env={"DEX_SNAPSHOT_EVERY": "300", "DEX_KEEP_ENTRIES": "50"})
    peers = await cluster.grow(3)
    await until(lambda: voters(peers[0], 3), 30, "three voters")
    await trade_concurrently(peers, 400, "history")  # 1,200 orders, several snapshots
    index, _ = await converged(peers)
    assert index > 600
    late = await cluster.start("late", "--peer", peers[1].addr)
    await converged([*peers, late])
    status = await late.status()
    assert status["role"] in ("follower", "learner")
    assert len(await all_trades(late)) == len(await all_trades(peers[0]))
    assert "installed a snapshot" in late.log_path.read_text()  # not a log replay
    # it restarts from its own snapshot and log, and keeps up
    await late.kill()
    await late.start()
    more = await trade_concurrently([late, peers[0]], 5, "after-join")
    assert len(more) == 10
    await converged([*peers, late])


async def test_a_leader_that_leaves_cleanly_hands_over_and_gives_up_its_vote(make_cluster) -> None:
    cluster = make_cluster()
    peers = await cluster.grow(3)
    await until(lambda: voters(peers[0], 3), 30, "three voters")
    leader, rest = peers[0], peers[1:]
    assert (await leader.status())["role"] == "leader"
    assert await leader.stop() == 0
    await until(lambda: voters(rest[0], 2), 10, "the leaver's vote to be given up")
    status = await rest[0].status()
    assert status["leader"] in (rest[0].name, rest[1].name)
    traded = await trade_concurrently(rest, 5, "after-leave")  # two voters: still a quorum
    assert len(traded) == 10
    await converged(rest)


async def test_five_voters_then_learners_and_a_dead_voter_is_replaced(make_cluster) -> None:
    cluster = make_cluster(env={"DEX_REMOVE_AFTER": "3"})
    peers = await cluster.grow(6)
    await until(lambda: voters(peers[0], 5), 60, "five voters")
    await until(lambda: _learners(peers[0], 1), 60, "the sixth peer in, as a learner")
    status = await peers[0].status()
    assert len(status["voters"]) == 5  # the cap: the sixth peer stays a learner
    learner = status["learners"][0]
    results = await trade_concurrently(peers, 5, "six")  # a learner trades too
    assert len(results) == 30
    await converged(peers)
    victim = next(p for p in peers[1:] if p.name != learner)
    await victim.kill()
    alive = [p for p in peers if p is not victim]

    async def replaced() -> bool:
        s = await alive[0].status()
        return victim.name not in s["voters"] and learner in s["voters"]

    await until(replaced, 60, "the dead voter removed and the learner promoted")
    await trade_concurrently(alive, 2, "after-replace")
    await converged(alive)


async def test_peers_started_together_with_discovery_form_one_cluster(make_cluster) -> None:
    cluster = make_cluster(common=["--interface", "127.0.0.1"])
    peers = [cluster.peer(f"z{i}") for i in range(3)]
    await asyncio.gather(*(p.start() for p in peers))

    async def one_cluster() -> bool:
        statuses = [await p.status() for p in peers]
        ids = {s["cluster_id"] for s in statuses}
        return len(ids) == 1 and "" not in ids and len(statuses[0]["voters"]) == 3

    await until(one_cluster, 60, "one cluster of three")
    await trade_concurrently(peers, 3, "discovered")
    await converged(peers)
