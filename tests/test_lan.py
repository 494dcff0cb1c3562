"""LAN mode and real partitions: peers on separate hosts, zeroconf, the secret, a cut link.

The hosts are network namespaces this test creates (root only): four "hosts" each with one
veth interface, all plugged into a bridge that lives in a fifth namespace of its own, so
no traffic touches the machine's real network. Peers bind their namespace's address,
advertise on that interface only, and share a cluster secret; a fourth peer with the wrong
secret must not get in. A partition is a switch port taken down: the isolated side keeps
running and must refuse writes while the majority trades on. Everything is removed
afterwards.
"""

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cluster_helpers import READY

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None,
    reason="needs root and iproute2 to create network namespaces",
)

PREFIX = f"dex{os.getpid() % 10000}"
SUBNET = "10.199.77"
SECRET = "correct horse battery staple"
TOKEN = "the api token of this lan"  # off loopback, writes need it (--api-token)
PORT = 7070


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


@pytest.fixture
def hosts():
    """Four namespaces on one bridge; yields their names, addresses are SUBNET.1 to .4."""
    switch = f"{PREFIX}sw"
    names = [f"{PREFIX}h{i}" for i in range(1, 5)]
    try:
        sh("ip", "netns", "add", switch)
        sh("ip", "-n", switch, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", switch, "link", "set", "br0", "up")
        for i, name in enumerate(names, 1):
            sh("ip", "netns", "add", name)
            sh("ip", "-n", name, "link", "set", "lo", "up")
            sh("ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name",
               f"port{i}", "netns", switch)  # fmt: skip
            sh("ip", "-n", name, "addr", "add", f"{SUBNET}.{i}/24", "dev", "eth0")
            sh("ip", "-n", name, "link", "set", "eth0", "up")
            sh("ip", "-n", name, "route", "add", "224.0.0.0/4", "dev", "eth0")
            sh("ip", "-n", switch, "link", "set", f"port{i}", "master", "br0")
            sh("ip", "-n", switch, "link", "set", f"port{i}", "up")
        yield names
    finally:
        for name in [*names, switch]:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


class NetnsPeer:
    def __init__(self, host: str, index: int, secret: str, root: Path) -> None:
        self.host, self.addr = host, f"{SUBNET}.{index}"
        self.log = root / f"{host}.log"
        cluster = f"lan-{root.name}"[:40]  # the test's own cluster name
        cmd = ["ip", "netns", "exec", host, sys.executable, "-m", "dex_tui.cli", "--headless",
               "--name", f"lan{index}", "--data-dir", str(root / host), "--bind", self.addr,
               "--interface", self.addr, "--api-port", str(PORT), "--secret", secret,
               "--cluster", cluster, "--api-token", TOKEN]  # fmt: skip
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)

    async def ready(self) -> None:
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), 30)
        assert line.startswith(READY), f"{self.host}: {line!r}, see {self.log}"

    async def call(self, payload: dict) -> object:
        """An RPC from inside the peer's own namespace (only that network reaches it)."""
        script = ("import asyncio, json, sys; from net.rpc.client import call; "
                  "print(json.dumps(asyncio.run(call(sys.argv[1], int(sys.argv[2]), "
                  "json.loads(sys.argv[3]), timeout=10))))")  # fmt: skip
        command = ["ip", "netns", "exec", self.host, sys.executable, "-c", script, self.addr,
                   str(PORT), json.dumps(payload)]  # fmt: skip
        result = await asyncio.to_thread(
            subprocess.run, command, capture_output=True, text=True, timeout=30
        )
        if result.returncode != 0:
            raise RuntimeError(result.stderr[-500:])
        return json.loads(result.stdout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


async def test_lan_peers_discover_each_other_and_refuse_a_wrong_secret(hosts, tmp_path) -> None:
    peers = [NetnsPeer(host, i, SECRET, tmp_path) for i, host in enumerate(hosts[:3], 1)]
    try:
        await asyncio.gather(*(p.ready() for p in peers))
        await settle(peers, one_cluster_of_three, timeout=90)
        sell = {"op": "submit", "market": "BTC/USD", "side": "sell", "price": "100",
                "qty": "1", "client_id": "lan-s", "token": TOKEN}  # fmt: skip
        buy = {**sell, "side": "buy", "client_id": "lan-b"}
        with pytest.raises(RuntimeError, match="ERR_FORBIDDEN: token: "):  # off loopback
            await peers[0].call({key: value for key, value in sell.items() if key != "token"})
        await peers[0].call(sell)
        filled = await peers[1].call(buy)
        assert filled["status"] == "filled"

        intruder = NetnsPeer(hosts[3], 4, "not the secret at all!!", tmp_path)
        peers.append(intruder)
        await intruder.ready()
        deadline = asyncio.get_running_loop().time() + 15
        refused = False
        while asyncio.get_running_loop().time() < deadline:
            log = intruder.log.read_text(errors="replace")
            if "founding cluster" in log or "different cluster secret" in log:
                refused = True
                break
            await asyncio.sleep(0.2)
        assert refused, intruder.log.read_text(errors="replace")
        status = await peers[0].call({"op": "status"})
        assert "lan4" not in status["voters"] + status["learners"]
        assert (await intruder.call({"op": "status"}))["cluster_id"] != status["cluster_id"]
        digests = [await p.call({"op": "digest"}) for p in peers[:3]]
        assert len({d["digest"] for d in digests}) == 1
    finally:
        for peer in peers:
            peer.kill()


async def test_a_network_partition_isolates_the_leader_until_it_heals(hosts, tmp_path) -> None:
    peers = [NetnsPeer(host, i, SECRET, tmp_path) for i, host in enumerate(hosts[:3], 1)]
    switch = f"{PREFIX}sw"
    try:
        await asyncio.gather(*(p.ready() for p in peers))
        await settle(
            peers, lambda s: len(s[0]["voters"]) == 3 and len({x["cluster_id"] for x in s}) == 1
        )
        statuses = [await p.call({"op": "status"}) for p in peers]
        leader_name = statuses[0]["leader"]
        index = next(i for i, s in enumerate(statuses) if s["name"] == leader_name)
        leader, majority = peers[index], [p for i, p in enumerate(peers) if i != index]

        sh("ip", "-n", switch, "link", "set", f"port{index + 1}", "down")  # the partition
        await settle(majority, lambda s: s[0]["leader"] not in (None, leader_name))
        sell = {"op": "submit", "market": "BTC/USD", "side": "sell", "price": "101",
                "qty": "1", "client_id": "split-s", "token": TOKEN}  # fmt: skip
        await majority[0].call(sell)
        filled = await majority[1].call({**sell, "side": "buy", "client_id": "split-b"})
        assert filled["status"] == "filled"  # the majority side trades on
        await settle([leader], lambda s: not s[0]["quorum"])
        with pytest.raises(RuntimeError, match="ERR_NO_QUORUM"):  # the isolated side refuses
            await leader.call({**sell, "client_id": "isolated"})

        sh("ip", "-n", switch, "link", "set", f"port{index + 1}", "up")  # heal
        await settle(peers, lambda s: len({x["applied_index"] for x in s}) == 1
                     and len({x["digest"] for x in s}) == 1)  # fmt: skip
        assert (await leader.call({"op": "status"}))["role"] == "follower"
    finally:
        for peer in peers:
            peer.kill()


def one_cluster_of_three(statuses: list[dict]) -> bool:
    ids = {s["cluster_id"] for s in statuses}
    return len(ids) == 1 and "" not in ids and len(statuses[0]["voters"]) == 3


async def settle(peers: list[NetnsPeer], condition, timeout: float = 60) -> None:
    """Poll the peers' status until ``condition(statuses)`` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        statuses = [await p.call({"op": "status"}) for p in peers]
        if condition(statuses):
            return
        assert asyncio.get_running_loop().time() < deadline, statuses
        await asyncio.sleep(0.2)
