"""The stock Grenache packages against dex, both ways, through two real grapes.

A stock ``PeerRPCClient`` (examples/dex-client.js, the README's script) trades on dex peers;
the Python client of net/grenache.py calls a stock ``PeerRPCServer`` (examples/echo-server.js).
The JS Link caches every lookup for 10 s, empty ones included, so JS clients start only once
a Python lookup sees every service they will need.
"""

import asyncio

import pytest
from cluster_helpers import until
from grenache_helpers import (
    Grapes,
    free_port,
    grapes_and_peers,
    run_js,
    start_js,
    stop_all,
    visible,
)
from test_cluster import converged, voters

from net.grenache import ERR_LOOKUP_EMPTY, Grenache
from net.rpc.errors import RpcError
from net.rpc.framing import SERVICE, own_service


async def test_stock_client_trades_on_three_peers_and_maps_their_digests(tmp_path) -> None:
    async with grapes_and_peers(tmp_path) as (grapes, cluster):
        a, b = await grapes.start()
        first = await cluster.start("p0", "--grape", a)
        others = [await cluster.start(f"p{i}", "--grape", b, "--peer", first.addr) for i in (1, 2)]
        peers = [first, *others]
        await until(lambda: voters(first, 3), 30, "three voters")
        for name in (SERVICE, own_service("p0"), own_service("p1")):
            await visible(a, name, 3 if name == SERVICE else 1)

        async def js(*args: str) -> object:
            return (await run_js("dex-client.js", "--grape", a, *args)).json()

        buy = await js("--peer", "p0", "submit", "market=BTC/USD", "side=buy", "price=100",
                       "qty=0.5", "client_id=js-buy")  # fmt: skip
        sell = await js("--peer", "p1", "--gzip", "submit", "market=BTC/USD", "side=sell",
                        "price=100", "qty=0.2", "client_id=js-sell")  # fmt: skip
        assert buy["status"] == "resting" and sell["status"] == "filled"
        [trade] = sell["trades"]
        assert (trade["maker_owner"], trade["taker_owner"]) == ("p0", "p1")
        await converged(peers)

        book = await js("book", "market=BTC/USD")  # any peer: they all agree
        assert book["asks"] == [] and [level[1] for level in book["bids"]] == ["0.3"], book
        [mine] = await js("--peer", "p0", "orders")
        assert (mine["order_id"], mine["remaining_qty"]) == (buy["order_id"], "0.3")

        order_id = f"order_id={buy['order_id']}"
        refused = await run_js("dex-client.js", "--grape", a, "--peer", "p1", "cancel", order_id)
        assert refused.code == 1 and refused.err.startswith("error: ERR_"), refused
        cancelled = await js("--peer", "p0", "cancel", order_id)
        assert cancelled["status"] == "cancelled"

        async def equal_digests() -> bool:
            digests = await js("--map", "digest")
            return len(digests) == 3 and len({d["digest"] for d in digests}) == 1

        await until(equal_digests, 15, "three equal digests through the stock map")


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
async def test_python_client_calls_stock_servers(tmp_path, compress: bool) -> None:
    grapes = Grapes(tmp_path)
    servers = []
    try:
        a, b = await grapes.start()
        ports = [free_port(), free_port()]
        for i, (url, port) in enumerate(zip((a, b), ports, strict=True)):
            server = start_js("echo-server.js", url, "echo_test", str(port),
                              log=tmp_path / f"echo{i}.log")  # fmt: skip
            servers.append(server)
            assert server.stdout is not None
            line = await asyncio.wait_for(asyncio.to_thread(server.stdout.readline), 10)
            assert line.strip() == "ready", line
        for url in (a, b):
            await visible(url, "echo_test", 2)

        payload = {"text": "héllo", "n": [1, 2.5, None]}
        async with Grenache(b, timeout=5.0) as client:
            one = await client.request("echo_test", payload, compress=compress)
            assert one["echo"] == payload and one["port"] in ports
            every = await client.map("echo_test", payload, compress=compress)
            assert sorted(r["port"] for r in every) == sorted(ports)
            assert all(r["echo"] == payload for r in every)
            with pytest.raises(RpcError) as failed:
                await client.request("echo_test", {"fail": "ERR_DEMO_FAILURE"}, compress=compress)
            assert failed.value.code == "ERR_DEMO_FAILURE"
            with pytest.raises(RpcError) as empty:
                await client.map("echo_nobody", payload)
            assert empty.value.code == ERR_LOOKUP_EMPTY
    except BaseException:
        print(grapes.logs())
        raise
    finally:
        await stop_all(servers)
        await grapes.close()
