"""Harness for the transport tests: PeerLinks served on 127.0.0.1, raw authenticated sockets.

:class:`Peer` is one node's links on its own aiohttp app and port, recording what arrives.
:func:`raw_link` speaks the handshake itself and hands back the socket and session, so a test
can send frames a well-behaved peer never would. :func:`eventually` polls with a deadline.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web

from net.raft.entries import EntryRun
from net.raft.messages import MT, Msg
from net.transport import Limits, Message, PeerLinks
from net.transport.auth import ClientHandshake, Purpose, Session
from net.transport.links import JoinHandler

HOST = "127.0.0.1"
CLUSTER = "test-cluster"
SECRET = b"test secret"


async def eventually(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.005)


class Peer:
    """One node's PeerLinks on its own port; ``received`` holds (sender, message) in order."""

    def __init__(
        self,
        node_id: int,
        *,
        secret: bytes = SECRET,
        cluster: str = CLUSTER,
        limits: Limits | None = None,
        on_join: JoinHandler | None = None,
        port: int = 0,
    ) -> None:
        self.node_id = node_id
        self.received: list[tuple[int, Message]] = []
        self.links = PeerLinks(
            node_id,
            cluster,
            secret,
            lambda sender, message: self.received.append((sender, message)),
            on_join=on_join,
            limits=limits,
        )
        self.runner: web.AppRunner | None = None
        self.port = port  # 0 until started: any free port

    @property
    def addr(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def raft(self) -> list[Msg]:
        return [m for _, m in self.received if isinstance(m, Msg)]

    async def start(self) -> None:
        app = web.Application()
        self.links.route(app)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        await web.TCPSite(self.runner, HOST, self.port).start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        await self.links.close()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@asynccontextmanager
async def running(*peers: Peer) -> AsyncIterator[None]:
    """Start the peers; stop them all afterwards, whatever happened."""
    try:
        for peer in peers:
            await peer.start()
        yield
    finally:
        for peer in peers:
            await peer.stop()


async def mesh(*peers: Peer) -> None:
    """Have every peer link to every other, and wait until all links are up."""
    for peer in peers:
        for other in peers:
            if other is not peer:
                peer.links.set_peer(other.node_id, other.addr)
    for peer in peers:
        others = {p.node_id for p in peers} - {peer.node_id}
        await eventually(lambda p=peer, o=others: settled(p, o), "all linked")


def settled(peer: Peer, others: set[int]) -> bool:
    """Linked to exactly ``others``, each over the connection both ends keep when both dial
    (the lower id's), so no duplicate can still replace it."""
    live = peer.links._live
    return (
        peer.links.connected() == others
        and len(live) == len(others)
        and all(link.outbound == (peer.node_id < link.peer) for link in live)
    )


def app(frm: int, to: int, index: int, entries: int = 1, size: int = 8) -> Msg:
    """An append of ``entries`` payloads of ``size`` bytes after ``index``."""
    run = EntryRun(index + 1, (1,) * entries, bytes(entries), (b"p" * size,) * entries)
    return Msg(MT.APP, frm, to, 1, index=index, log_term=1, commit=index, ents=run)


@asynccontextmanager
async def raw_link(
    port: int,
    *,
    node_id: int = 9,
    expect: int = 0,
    purpose: Purpose = Purpose.LINK,
    autoping: bool = True,
) -> AsyncIterator[tuple[aiohttp.ClientWebSocketResponse, Session]]:
    """A websocket to the peer on ``port`` that has done the handshake as ``node_id``."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"http://{HOST}:{port}/peer", autoping=autoping) as ws,
    ):
        handshake = ClientHandshake(SECRET, CLUSTER, node_id, purpose, expect)
        await ws.send_bytes(handshake.hello())
        challenge = await ws.receive(timeout=5)
        proof, session = handshake.finish(challenge.data)
        await ws.send_bytes(proof)
        yield ws, session
