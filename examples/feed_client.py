#!/usr/bin/env python3
"""Watch a market through a peer's websocket feed: the top of the book and the trades.

    python examples/feed_client.py 127.0.0.1:PORT BTC/USD [--also 127.0.0.1:PORT2 ...]

Every book message is applied to a local copy whose checksum is verified against the
peer's (docs/feed.md); a mismatch stops it, saying so (exit 1). With ``--also``, when a
peer goes away the client resumes on the next one by log index: the trades it missed are
replayed, none twice, and the book starts again from a snapshot no older than it had.
``--count N`` stops after N book and trade messages (0: run until interrupted).
"""

import argparse
import asyncio
import itertools
import sys

import aiohttp

from net.feed.client import FeedClient, FeedClosed
from net.feed.localbook import BookMismatch


def show_book(feed: FeedClient, market: str, levels: int) -> None:
    book = feed.books[market]
    bids, asks = book.levels("bid")[:levels], book.levels("ask")[:levels]
    print(f"book {market} @ {book.index}  checksum {book.checksum()} ok")
    for bid, ask in itertools.zip_longest(bids, asks, fillvalue=("", "")):
        print(f"  {bid[1]:>14} {bid[0]:>12} | {ask[0]:<12} {ask[1]:<14}")


def show_trades(message: dict) -> None:
    for t in message["trades"]:
        print(f"trade #{t['trade_id']} {t['aggressor']:>4} {t['qty']} @ {t['price']}"
              f"  time {t['time']}  index {t['index']}")  # fmt: skip


async def watch(addrs: list[str], market: str, levels: int, count: int) -> int:
    peers = itertools.cycle(addrs)
    feed = FeedClient(next(peers))
    await feed.connect()
    await feed.subscribe("book", market)
    await feed.subscribe("trades", market)
    seen = 0
    try:
        while not count or seen < count:
            try:
                message = await feed.receive()
            except BookMismatch as wrong:
                print(f"book: {wrong}", file=sys.stderr)
                return 1
            except (FeedClosed, aiohttp.ClientError, ConnectionError) as lost:
                if len(addrs) == 1:
                    print(f"feed lost: {lost}", file=sys.stderr)
                    return 1
                addr = next(peers)
                print(f"feed lost ({lost}); resuming on {addr} from index {feed.index}")
                await feed.resume(addr)
                continue
            event = message.get("event")
            if event == "error":
                print(f"error: {message['reason']}", file=sys.stderr)
                return 1
            if event is not None:  # subscribed, heartbeat: nothing to show
                continue
            seen += 1
            if message["channel"] == "book":
                show_book(feed, market, levels)
            elif message["channel"] == "trades":
                show_trades(message)
    finally:
        await feed.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("addr", help="a peer's API address, host:port")
    parser.add_argument("market", help="a market symbol, e.g. BTC/USD")
    parser.add_argument("--also", action="append", default=[], metavar="ADDR",
                        help="another peer to resume on if the first goes away")  # fmt: skip
    parser.add_argument("--levels", type=int, default=5, help="book levels shown per side")
    parser.add_argument(
        "--count", type=int, default=0, help="stop after this many book and trade messages"
    )
    args = parser.parse_args()
    try:
        return asyncio.run(watch([args.addr, *args.also], args.market, args.levels, args.count))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
