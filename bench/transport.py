"""Transport throughput: raft messages/s and MB/s from one PeerLinks to another over loopback.

    python bench/transport.py [--seconds 2] [--window 256] [--same-process]

Node 1 streams raft messages to node 2 for ``--seconds`` per workload, keeping at most
``--window`` of them unacknowledged; node 2 acknowledges every 32 messages (and the last one)
with an APP_RESP over the same link, as a pipelining follower would. Workloads: heartbeats
(about 80 bytes encoded), appends of 64 entries x 100 bytes (about 7 KB), and 256 KB snapshot
chunks (the consensus core's default chunk). Each line prints messages/s, MB/s of frames on the
wire (tags and framing included) and the mean messages per frame, which shows the batching.

By default node 2 runs in a child process, so each end has a core as two peers would;
``--same-process`` runs both on one event loop, which shows the transport's CPU cost alone.
"""

import argparse
import asyncio
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from net.raft.entries import EntryRun
from net.raft.messages import MT, Msg
from net.transport import Message, PeerLinks

HOST = "127.0.0.1"
CLUSTER = "bench"
SECRET = b"bench secret"
ACK_EVERY = 32


def heartbeat(last: bool) -> Msg:
    return Msg(MT.HB, 1, 2, 3, commit=1_000_000, done=last)


def append(last: bool) -> Msg:
    run = EntryRun(1_000_001, (3,) * 64, bytes(64), (b"x" * 100,) * 64)
    return Msg(MT.APP, 1, 2, 3, index=1_000_000, log_term=3, commit=999_000, ents=run, done=last)


def chunk(last: bool) -> Msg:
    return Msg(MT.SNAP, 1, 2, 3, offset=1 << 30, data=b"s" * (256 << 10), done=last)


WORKLOADS = {"heartbeat": heartbeat, "append 64 x 100 B": append, "snapshot chunk 256 KB": chunk}


async def serve() -> tuple[PeerLinks, web.AppRunner]:
    """Node 2: acknowledge what arrives, every ACK_EVERY messages and on a ``done`` one."""
    received = 0

    def on_message(sender: int, message: Message) -> None:
        nonlocal received
        received += 1
        if received % ACK_EVERY == 0 or (isinstance(message, Msg) and message.done):
            links.send(sender, Msg(MT.APP_RESP, 2, sender, 3, index=received))

    links = PeerLinks(2, CLUSTER, SECRET, on_message)
    app = web.Application()
    links.route(app)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, HOST, 0).start()
    return links, runner


@dataclass
class Acks:
    """Node 1's view of node 2's acknowledgements."""

    count: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def on_message(self, sender: int, message: Message) -> None:
        if isinstance(message, Msg) and message.type is MT.APP_RESP:
            self.count = message.index
            self.changed.set()

    async def wait(self) -> None:
        await self.changed.wait()
        self.changed.clear()


async def stream(
    links: PeerLinks, acks: Acks, make: Callable[[bool], Msg], args: argparse.Namespace
) -> str:
    """Run one workload; its line of results."""
    loop = asyncio.get_running_loop()
    message, last = make(False), make(True)
    frames, wire = links.stats.frames_out, links.stats.bytes_out
    base, sent = acks.count, 0
    start = loop.time()
    while loop.time() - start < args.seconds:
        while sent - (acks.count - base) < args.window and links.send(2, message):
            sent += 1
        await acks.wait()
    while not links.send(2, last):
        await acks.wait()
    sent += 1
    while acks.count - base < sent:
        await acks.wait()
    elapsed = loop.time() - start
    frames = links.stats.frames_out - frames
    wire = links.stats.bytes_out - wire
    return f"{sent / elapsed:>12,.0f} {wire / elapsed / 1e6:>9,.1f} {sent / frames:>12,.1f}"


async def main(args: argparse.Namespace) -> None:
    acks = Acks()
    sender = PeerLinks(1, CLUSTER, SECRET, acks.on_message)
    child = None
    if args.same_process:
        receiver, runner = await serve()
        port = runner.addresses[0][1]
    else:
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        port = int(child.stdout.readline())
    try:
        sender.set_peer(2, f"{HOST}:{port}")
        while sender.connected() != {2}:
            await asyncio.sleep(0.01)
        where = "one event loop" if args.same_process else "two processes"
        print(f"transport over loopback, {where}, window {args.window}, {args.seconds} s each")
        print(f"{'workload':<24} {'messages/s':>12} {'MB/s':>9} {'msgs/frame':>12}")
        for name, make in WORKLOADS.items():
            print(f"{name:<24} {await stream(sender, acks, make, args)}", flush=True)
    finally:
        await sender.close()
        if child is not None:
            child.terminate()
            child.wait()
        else:
            await receiver.close()
            await runner.cleanup()


async def serve_forever() -> None:
    """The child: serve node 2, tell the parent the port, run until terminated."""
    _, runner = await serve()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--same-process", action="store_true")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    asyncio.run(serve_forever() if arguments.serve else main(arguments))
