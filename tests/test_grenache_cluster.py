"""dex peers on a Grenache network: found through grapes only, trading, withdrawn by stopping.

Two grapes bootstrap off each other; peers run with ``--no-discovery --grape URL`` (no
zeroconf, no ``--peer``), announce ``dex_rpc``, ``dex_rpc:<name>`` and ``dex_peer`` there,
and find each other by looking ``dex_peer`` up. The Python client of net/grenache.py calls
them by name, as any Grenache client would.
"""

import asyncio

from cluster_helpers import until
from grenache_helpers import grapes_and_peers, visible
from test_cluster import converged, order, voters

from net.grenache import Grenache
from net.rpc.framing import SERVICE, own_service

# Short-lived announcements, so the withdrawal of a stopped peer shows within the test.
EXPIRY_MS = 5000


async def test_peers_found_only_through_grapes_form_one_cluster_and_trade(tmp_path) -> None:
    async with grapes_and_peers(tmp_path, expiry_ms=EXPIRY_MS) as (grapes, cluster):
        a, b = await grapes.start()
        # All at once, through different grapes: they must still make one cluster.
        peers = await asyncio.gather(*(cluster.start(f"g{i}", "--grape", url)
                                       for i, url in enumerate([a, b, a])))  # fmt: skip
        await until(lambda: voters(peers[0], 3), 30, "one cluster of three voters")
        assert len({(await p.status())["cluster_id"] for p in peers}) == 1
        await visible(b, SERVICE, 3)

        async with Grenache(b) as client:
            buy = await client.request(own_service("g0"), order("buy", "100", "0.5", "gb"))
            sell = await client.request(
                own_service("g1"), order("sell", "100", "0.2", "gs"), compress=True
            )
            assert buy["status"] == "resting" and sell["status"] == "filled"
            [trade] = sell["trades"]
            assert (trade["maker_owner"], trade["taker_owner"]) == ("g0", "g1")
            index, digest = await converged(peers)
            digests = await client.map(SERVICE, {"op": "digest"})
            assert digests == [{"index": index, "digest": digest}] * 3

        await peers[2].stop()  # withdrawn by silence: its names expire on both grapes
        for url in (a, b):
            await visible(url, SERVICE, 2, timeout=4 * EXPIRY_MS / 1000)
            await visible(url, own_service("g2"), 0, timeout=4 * EXPIRY_MS / 1000)
