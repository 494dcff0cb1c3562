"""The app over a real embedded peer (``net.Node``): it founds a cluster, shows the markets
the cluster creates, runs ``--scenario`` once they exist, and an order typed on the quick
line is committed through consensus, written to the peer's log, and shown in the ladder."""

from cluster_helpers import cluster_name, poll

from dex_tui.app import DexApp
from dex_tui.screens.confirm import ConfirmScreen
from dex_tui.widgets.ladder import DepthLadder
from engine import Submit
from net.config import PeerConfig, Timing
from net.node import Node
from net.storage import SqliteStorage
from tests.tui_helpers import run_from_palette, settle, type_text


def bid_rests(node: Node) -> bool:
    return any(o.side == "buy" for o in node.exchange.open_orders("solo"))


async def test_an_order_typed_in_the_app_is_committed_by_the_embedded_peer(tmp_path):
    config = PeerConfig(name="solo", data_dir=tmp_path / "solo", discovery=False,
                        timing=Timing(found_after=0.2))  # fmt: skip
    node = Node(config)
    await node.start()
    try:
        scenario = tmp_path / "first.txt"
        scenario.write_text("market ETH/USD\ns 0.5 @ 2100\n")  # a market created second
        app = DexApp(node, market="ETH/USD", scenario=scenario, status_every=0.1)
        async with app.run_test(size=(130, 40)) as pilot:
            await settle(pilot, lambda: app.desk.market == "ETH/USD", 20, "the founded markets")
            await settle(pilot, lambda: (app.status or {}).get("role") == "leader", 20, "leader")
            await settle(pilot, lambda: node.registered, 20, "the trader's registration")
            await pilot.press("colon")
            await type_text(pilot, "b 2.5 @ 1999.99 post")
            await pilot.press("enter")
            await settle(pilot, lambda: bid_rests(node), 20, "the order")
            await settle(pilot, lambda: app.run_state is not None and app.run_state.done, 20)
            assert app.run_state.error is None
            orders = {o.side: o for o in node.exchange.open_orders("solo")}
            bid, ask = orders["buy"], orders["sell"]
            assert (bid.market, bid.price, bid.qty, bid.post_only) == (
                "ETH/USD", 199999, 250, True)  # fmt: skip
            assert (ask.side, ask.price, ask.qty) == ("sell", 210000, 50)
            ladder = app.query_one(DepthLadder)
            await settle(pilot, lambda: ladder.ladder is not None and ladder.ladder.bids[0], 20)
            best = ladder.ladder.bids[0]
            assert (best.price, best.qty, best.own) == (199999, 250, True)
            assert any("resting" in n.message for n in app._notifications)
        committed = node.machine.applied_index
    finally:
        await node.stop()
    storage = SqliteStorage(tmp_path / "solo")
    try:
        assert storage.last_index() >= committed  # the order is in the durable log
    finally:
        storage.close()


async def test_switching_clusters_from_the_palette_moves_the_real_peer(tmp_path):
    """Two peers of one cluster name that each traded alone, so neither merges: the screen
    shows the other cluster, and after a yes in the palette the peer leaves its own (its
    store moved aside, not deleted) and joins the other one."""
    name = cluster_name()

    def config(peer: str, discovery: bool) -> PeerConfig:
        return PeerConfig(name=peer, data_dir=tmp_path / peer, discovery=discovery,
                          cluster=name, timing=Timing(found_after=0.2))  # fmt: skip

    ids = {}
    for peer in ("ann", "ben"):  # each founds a cluster of its own and trades in it
        node = Node(config(peer, discovery=False))
        await node.start()
        try:
            await poll(lambda n=node: n.shell.member and bool(n.exchange.markets) and n.registered,
                       20, "markets and the trader's registration")  # fmt: skip
            await node.execute(Submit(peer, "BTC/USD", "buy", "limit", 900, 1000,
                                      client_id=f"{peer}-1"))  # fmt: skip
            ids[peer] = node.machine.cluster_id
        finally:
            await node.stop()
    ann, ben = Node(config("ann", True)), Node(config("ben", True))
    await ann.start()
    await ben.start()
    try:
        app = DexApp(ann, status_every=0.25)
        async with app.run_test(size=(130, 40)) as pilot:

            def shown() -> bool:
                others = (app.status or {}).get("other_clusters", [])
                return any(o["cluster_id"] == ids["ben"] for o in others)

            await settle(pilot, shown, 20, "ben's cluster on ann's screen")
            await run_from_palette(pilot, "Switch to")
            await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5)
            await pilot.press("y")
            await settle(pilot, lambda: ann.machine.cluster_id == ids["ben"] and ann.shell.member,
                         30, "ann in ben's cluster")  # fmt: skip
            await settle(pilot, lambda: app.desk.exchange is ann.exchange, 5)
        owners = {o.owner for o in ann.exchange.open_orders("ben")}
        assert owners == {"ben"} and ann.exchange.open_orders("ann") == []
        kept = list((tmp_path / "ann" / "previous").glob(f"{ids['ann']}-*/raft.sqlite3"))
        assert kept, "ann's own cluster is kept aside"
    finally:
        await ann.stop()
        await ben.stop()
