"""The feed across real peers (``dex-tui --headless`` processes on loopback).

Every peer applies the same log, so the same book at the same index: two peers' book feeds
carry the same checksum at every index both send, and a client that loses one peer resumes
on another by index without missing or repeating a trade. A consumer that reads nothing is
dropped with 1008 while the peer, its RPC and its other subscribers go on.
"""

import asyncio
import random
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from cluster_helpers import Peer, converged, poll
from test_feed_helpers import WAIT, RawWebsocket

from net.feed.client import FeedClient

BTC = "BTC/USD"


def tenths(ticks: int) -> str:
    """A BTC/USD price (tick 0.1) as the feed writes it."""
    return format(Decimal(ticks).scaleb(-1).normalize(), "f")


def limit(side: str, price: str, qty: str) -> dict:
    return {"op": "submit", "market": BTC, "side": side, "price": price, "qty": qty}


class Recording(FeedClient):
    """A FeedClient that keeps every book (index, checksum) and every trade it receives."""

    def __init__(self, addr: str) -> None:
        super().__init__(addr)
        self.checksums: dict[int, int] = {}
        self.book_indexes: list[int] = []  # of every book message, in order
        self.trades: list[dict] = []

    def _note(self, data: dict) -> None:
        super()._note(data)  # applies book messages: a wrong checksum raises there
        if "event" in data:
            return
        if data["channel"] == "book":
            self.checksums[data["index"]] = data["checksum"]
            self.book_indexes.append(data["index"])
        elif data["channel"] == "trades":
            self.trades.extend(data["trades"])


async def reading(client: FeedClient) -> None:
    """Receive (and so apply and verify) until cancelled."""
    while True:
        await client.receive()


async def stop(readers: list[asyncio.Task]) -> None:
    """Cancel the readers; raise what any of them failed with (a checksum mismatch...)."""
    for task in readers:
        task.cancel()
    for outcome in await asyncio.gather(*readers, return_exceptions=True):
        if not isinstance(outcome, asyncio.CancelledError):
            raise AssertionError("a reader failed") from outcome


async def until_index(client: FeedClient, index: int) -> None:
    """Let ``client`` read until each of its subscriptions is complete up to ``index`` (a
    heartbeat says so when nothing changes)."""
    async with asyncio.timeout(10):
        while min(client.since.get(key, 0) for key in client.subscriptions) < index:
            await client.receive()


async def trade(peers: list[Peer], rng: random.Random, count: int) -> None:
    """``count`` orders over the peers, crossing often, a few at a time."""
    for _ in range(count // 4):
        batch = []
        for peer in peers:
            side = rng.choice(("buy", "sell"))
            price = tenths(1000 + rng.randrange(-30, 31))
            batch.append(peer.call(limit(side, price, f"0.00{rng.randrange(1, 10)}")))
            batch.append(peer.call(limit(side, price, "0.001")))
        await asyncio.gather(*batch)


async def example(*args: str) -> str:
    """Run examples/feed_client.py; its output (it must exit 0)."""
    script = Path(__file__).parent.parent / "examples" / "feed_client.py"
    command = [sys.executable, str(script), args[0], BTC, *args[1:]]
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def all_trade_ids(peer: Peer) -> list[int]:
    trades = await peer.call({"op": "trades", "market": BTC, "limit": 1000})
    return [t["trade_id"] for t in trades]  # type: ignore[union-attr]


async def test_two_peers_send_equal_books_and_a_client_resumes_on_the_other(make_cluster):
    cluster = make_cluster(env={"DEX_FEED_HEARTBEAT": "0.2"})
    peers = await cluster.grow(2)
    rng = random.Random(13)
    first, second = Recording(peers[0].addr), Recording(peers[1].addr)
    mover = Recording(peers[0].addr)  # the client that moves from peers[0] to peers[1]
    for client in (first, second, mover):
        await client.connect()
    readers: list[asyncio.Task] = []
    try:
        await first.subscribe("book", BTC)
        await second.subscribe("book", BTC)
        await mover.subscribe("trades", BTC)
        await mover.subscribe("book", BTC)
        readers = [asyncio.create_task(reading(c)) for c in (first, second, mover)]
        await trade(peers, rng, 40)
        so_far = await all_trade_ids(peers[0])
        await poll(lambda: len(mover.trades) == len(so_far), 10, "the mover to see the trades")
        await stop([readers.pop()])  # the mover stops reading, then loses its peer
        had, had_index = len(mover.trades), mover.books[BTC].index
        await mover.close()
        await trade(peers, rng, 40)  # trades it misses
        await mover.resume(peers[1].addr)
        readers.append(asyncio.create_task(reading(mover)))
        await trade(peers, rng, 16)
        index, _ = await converged(peers)
        await stop(readers)
        for client in (first, second, mover):
            await until_index(client, index)

        # every book message was verified by its client; the two peers agree at each index
        common = first.checksums.keys() & second.checksums.keys()
        assert len(common) >= 5, (first.checksums, second.checksums)
        assert all(first.checksums[i] == second.checksums[i] for i in common)
        book = await peers[0].call({"op": "book", "market": BTC, "depth": 25})
        for client in (first, second):
            local = client.books[BTC]
            assert [list(level) for level in local.levels("bid")] == [
                level[:2]
                for level in book["bids"]  # type: ignore[index]
            ]
            assert len(local.levels("ask")) == len(book["asks"])  # type: ignore[arg-type]
        assert first.books[BTC].checksum() == second.books[BTC].checksum()
        # the example client shows the same book, verified, from either peer
        shown = await example(peers[1].addr, "--count", "1")
        assert f"@ {index}  checksum {first.books[BTC].checksum()} ok" in shown, shown

        # the mover's book came back from a snapshot no older than it had, and is right
        assert mover.book_indexes == sorted(mover.book_indexes)  # the index never went back
        assert mover.books[BTC].index > had_index
        assert mover.books[BTC].checksum() == first.books[BTC].checksum()
        # the mover got every trade exactly once, across two peers
        ids = [t["trade_id"] for t in mover.trades]
        assert ids == await all_trade_ids(peers[1]) and len(ids) > had > 0
        assert len(set(ids)) == len(ids)
    finally:
        for task in readers:
            task.cancel()
        for client in (first, second, mover):
            await client.close()


async def test_a_consumer_that_never_reads_is_dropped_and_nothing_else_slows(make_cluster):
    cluster = make_cluster(env={"DEX_FEED_QUEUE_MESSAGES": "50", "DEX_FEED_SOCKET_BUFFER": "4096"})
    (peer,) = await cluster.grow(1)
    good = FeedClient(peer.addr)
    slow = RawWebsocket(peer.addr)
    reader: asyncio.Task | None = None
    try:
        await good.connect()
        await good.subscribe("book", BTC)
        reader = asyncio.create_task(reading(good))
        await slow.open()
        await slow.send({"op": "subscribe", "channel": "book", "market": BTC})
        await slow.send({"op": "subscribe", "channel": "orders"})
        rounds = 0

        async def flood() -> None:  # four new best asks: a book and an orders message each
            nonlocal rounds
            ticks = [50_000 - 4 * rounds - i for i in range(4)]
            await asyncio.gather(*(peer.call(limit("sell", tenths(t), "0.001")) for t in ticks))
            rounds += 1

        while "feed: dropped" not in peer.log_path.read_text():  # the peer says so, once
            assert rounds < 2000, "the consumer that reads nothing was never dropped"
            await flood()
        for _ in range(20):  # and the flood goes on after the drop
            await flood()
        code, reason, _ = await slow.read_to_close(WAIT)
        assert code == 1008 and reason == "slow consumer: 51 messages queued", (code, reason)
        log = peer.log_path.read_text()
        assert log.count("slow consumer") == 1, log[-2000:]
        # the RPC answers and the good subscriber has every update, verified
        index = (await peer.call({"op": "digest"}))["index"]  # type: ignore[index]
        await stop([reader])
        await until_index(good, index)
        book = await peer.call({"op": "book", "market": BTC, "depth": 25})
        assert good.books[BTC].levels("ask")[0] == tuple(book["asks"][0][:2])  # type: ignore[index]
        assert good.books[BTC].levels("ask")[0][0] == tenths(50_000 - 4 * (rounds - 1) - 3)
    finally:
        if reader is not None:
            reader.cancel()
        slow.close()
        await good.close()
