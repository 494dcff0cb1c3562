"""Traders across real peers: a name taken by another key, a member forging commands for
someone else, overselling, and money conserved through a kill -9.

The honest peers are ``dex-tui --headless`` processes spoken to over spec/rpc.md. The forger
is a real ``Node`` in this process: it speaks the real protocol (authenticated links, Raft,
the log format) and founded the cluster, so it is the leader; only the way it signs its
writes is replaced by the forgeries under test.
"""

import asyncio
import json
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal

import pytest
from cluster_helpers import Peer, converged, poll, until

from engine import Cancel, Submit, Transfer
from engine.accounts import DEFAULT_GRANT, parse_grant
from net.config import PeerConfig, Timing
from net.node import Node
from net.rpc.errors import RpcError
from net.traders import TraderKey, signed_payload
from net.writes import entry_payload

BTC = "BTC/USD"
GRANT = {asset: Decimal(amount) for asset, amount in parse_grant(DEFAULT_GRANT)}


def balances(rows: object) -> dict[str, Decimal]:
    """Available plus held, per asset."""
    return {r["asset"]: Decimal(r["available"]) + Decimal(r["held"]) for r in rows}  # type: ignore[attr-defined, index]


async def test_a_peer_started_with_a_name_another_key_holds_exits_2(make_cluster, tmp_path):
    cluster = make_cluster()
    alice = await cluster.start("alice")
    await alice.call({"op": "submit", "market": BTC, "side": "buy", "price": "99", "qty": "1"})
    impostor = Peer("alice", tmp_path / "impostor", [*alice.args, "--peer", alice.addr],
                    tmp_path / "impostor.log", cluster.env)  # fmt: skip
    cmd = [sys.executable, "-m", "dex_tui.cli", "--headless", "--name", "alice",
           "--data-dir", str(impostor.data_dir), *impostor.args]  # fmt: skip
    done = await asyncio.to_thread(subprocess.run, cmd, capture_output=True, text=True,
                                   timeout=30)  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stdout == ""  # never "ready": it never traded as alice
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("dex-tui: error: --name: 'alice' belongs to another key"), last
    # the real alice trades on, alone again (the impostor left cleanly)
    await until(lambda: _members(alice, 1), 20, "the impostor to have left")
    mine = await alice.call({"op": "orders"})
    assert [o["price"] for o in mine] == ["99"]  # type: ignore[index]
    assert (await alice.call({"op": "whoami"}))["key"] == TraderKey.load_or_create(
        alice.data_dir
    ).hex


async def _members(peer: Peer, count: int) -> bool:
    status = await peer.status()
    return len(status["voters"]) + len(status["learners"]) == count


async def test_no_member_not_even_the_leader_can_act_for_another_trader(make_cluster, tmp_path):
    cluster = make_cluster()
    rogue = Node(PeerConfig(name="mallory", data_dir=tmp_path / "mallory", discovery=False,
                            cluster=cluster.name, timing=Timing(found_after=0.2,
                                                                request_timeout=2.0)))  # fmt: skip
    await rogue.start()
    try:
        await asyncio.wait_for(rogue.ready.wait(), 20)
        alice = await cluster.start("alice", "--peer", rogue.api_addr)
        bob = await cluster.start("bob", "--peer", rogue.api_addr)
        await until(lambda: _members(alice, 3), 30, "three members")
        placed = await alice.call(
            {"op": "submit", "market": BTC, "side": "sell", "price": "100", "qty": "2"}
        )
        alice_key = (await alice.call({"op": "whoami"}))["key"]
        before = balances(await alice.call({"op": "balances"}))
        assert rogue.shell.core.role.name == "LEADER"

        cluster_id = rogue.machine.cluster_id

        def unsigned(items: list) -> bytes:  # no signature, the owner set by hand
            return entry_payload([[o, s, {**c, "owner": "alice"}] for o, s, c in items])

        def claiming_alice(items: list) -> bytes:  # alice's key, the rogue's signature
            return _swap_key(signed_payload(rogue.key, cluster_id, items), alice_key)

        def naming_alice(items: list) -> bytes:  # the rogue's own batch, owner alice
            owned = [[o, s, {**c, "owner": "alice"}] for o, s, c in items]
            return signed_payload(rogue.key, cluster_id, owned)

        forgeries: list[Callable[[list], bytes]] = [unsigned, claiming_alice, naming_alice]
        attempts = [
            Cancel("alice", placed["order_id"]),
            Transfer("alice", "mallory", "BTC", 5_000),
            Submit("alice", BTC, "buy", "limit", 10_000, 1_000),  # buy alice's own sell
        ]
        honest_sign = rogue.shell.writes.sign
        refused_before = rogue.machine.refused
        for n, forge in enumerate(forgeries):
            rogue.shell.writes.sign = forge
            for command in attempts:
                with pytest.raises(RpcError) as raised:
                    await rogue.execute(command)
                if n < 2:  # refused whole and never answered: nothing vouches for it
                    assert raised.value.code == "ERR_TIMEOUT"
                else:  # the rogue's own valid batch: its commands are refused one by one
                    assert raised.value.code == "ERR_INVALID"
                    assert (
                        raised.value.message == "owner: a signed command's owner is its key's name"
                    )
        rogue.shell.writes.sign = honest_sign
        assert rogue.machine.refused - refused_before >= 6  # (retries are refused again)

        peers = [alice, bob]
        index, digest = await converged(peers)
        await poll(lambda: rogue.machine.applied_index >= index, 20, "the rogue to apply")
        assert rogue.machine.digest() == digest
        for peer in peers:
            assert (await peer.status())["refused"] == rogue.machine.refused
        assert [o["order_id"] for o in await alice.call({"op": "orders"})] == [placed["order_id"]]  # type: ignore[index]
        assert balances(await alice.call({"op": "balances"})) == before
        assert await alice.call({"op": "trades", "market": BTC}) == []
    finally:
        await rogue.stop()


def _swap_key(payload: bytes, key_hex: str) -> bytes:
    """A signed batch claiming to be ``key_hex``'s, its signature left as it was."""
    record = json.loads(payload)
    record["t"][0] = key_hex
    return json.dumps(record, separators=(",", ":")).encode()


async def test_oversold_orders_are_refused_and_money_is_conserved_through_a_kill(make_cluster):
    cluster = make_cluster()
    peers = await cluster.grow(3)
    await until(lambda: _members(peers[0], 3), 30, "three members")
    rng = random.Random(12)

    async def trade(peer: Peer, tag: str, count: int) -> list[dict]:
        results = []
        for n in range(count):
            side = rng.choice(["buy", "sell"])
            qty = rng.choice(["0.5", "1", "3", "25"])  # 25 BTC is more than anyone has
            order = {"op": "submit", "market": BTC, "side": side, "qty": qty,
                     "price": str(95 + rng.randrange(11)), "client_id": f"{tag}-{n}"}  # fmt: skip
            for _ in range(60):  # a careful client: retry the same client id
                try:
                    results.append(await peer.call(order, timeout=5.0))
                    break
                except RpcError as error:
                    if error.code not in ("ERR_TIMEOUT", "ERR_NO_QUORUM", "ERR_UNREACHABLE"):
                        raise
                    await asyncio.sleep(0.2)
        return results

    first = await asyncio.gather(*(trade(p, p.name, 25) for p in peers))
    victim = peers[2]
    load = asyncio.ensure_future(asyncio.gather(trade(peers[0], "a", 25), trade(peers[1], "b", 25)))
    await victim.kill()
    second = await load
    await victim.start()
    await converged(peers)
    results = [r for batch in (*first, *second) for r in batch]
    oversold = [r for r in results if r["status"] == "rejected"]
    assert oversold and all(r["reason"].startswith("insufficient_funds: ") for r in oversold)
    assert any(r["trades"] for r in results)  # money moved
    totals: dict[str, Decimal] = {}
    for peer in peers:
        rows = await peer.call({"op": "balances"})
        assert all(Decimal(r["available"]) >= 0 and Decimal(r["held"]) >= 0 for r in rows)  # type: ignore[union-attr, index]
        for asset, amount in balances(rows).items():
            totals[asset] = totals.get(asset, Decimal(0)) + amount
    assert totals == {asset: 3 * amount for asset, amount in GRANT.items()}
    # every peer says the same of every trader: the digest covers the balances
    await converged(peers)


async def test_a_trader_restored_from_its_key_alone_is_the_same_trader(make_cluster):
    """What README says to back up: a data dir wiped but for trader.key comes back as the
    same trader, its orders and balances intact (they live in the cluster's log)."""
    cluster = make_cluster()
    peers = await cluster.grow(3)
    await until(lambda: _members(peers[0], 3), 30, "three members")
    alice = peers[2]
    placed = await alice.call(
        {"op": "submit", "market": BTC, "side": "sell", "price": "120", "qty": "4"}
    )
    before = await alice.call({"op": "balances"})
    key = (await alice.call({"op": "whoami"}))["key"]
    await alice.kill()
    for path in alice.data_dir.iterdir():
        if path.name != "trader.key":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    alice.args += ["--peer", peers[0].addr]
    await alice.start()
    assert (await alice.call({"op": "whoami"}))["key"] == key
    await converged(peers)
    assert [o["order_id"] for o in await alice.call({"op": "orders"})] == [placed["order_id"]]  # type: ignore[index]
    assert await alice.call({"op": "balances"}) == before
