"""Test doubles for the RPC: a backend that applies commands straight to a local Exchange.

The real backend is the peer (consensus, then apply); these tests are about the RPC layer, so
:class:`LocalBackend` commits by applying at once, numbering log indexes 1, 2, 3, ... in a
:class:`Ledger` that several traders' backends may share (to test ``ERR_FORBIDDEN``).
:func:`serving` starts a real server on 127.0.0.1 with a client and a raw HTTP session.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from engine import FOUNDING_MARKETS, Command, Configure, Event, Exchange, OpenAccount
from net.rpc import Api, Limits, RpcClient, RpcError, RpcServer
from net.rpc.errors import ERR_TIMEOUT
from net.traders import TraderKey

BTC = "BTC/USD"  # tick 0.1, lot 0.001
ETH = "ETH/USD"  # tick 0.01, lot 0.01
HOST = "127.0.0.1"

Body = bytes | AsyncIterable[bytes]  # an async iterable is sent chunked


#: Each test trader's grant: enough that only tests about money meet its limits.
GRANT = "BTC=1000000000,ETH=1000000000,USD=100000000000"


#: The consensus time of a test ledger's entries until a test moves it (ms).
START_MS = 1_800_000_000_000


class Ledger:
    """One exchange and its log (the founding markets, money on): the state every backend
    sharing it sees. Each command is an entry of its own at consensus time :attr:`time`,
    which a test moves by hand (:meth:`tick` applies an entry of time alone)."""

    def __init__(self, grant: str = GRANT) -> None:
        self.exchange = Exchange()
        self.index = 0
        self.time = START_MS
        self.changed = asyncio.Condition()
        for command in (*FOUNDING_MARKETS, Configure(grant)):
            self.apply(command)

    def apply(self, command: Command) -> tuple[int, list[Event]]:
        self.index += 1
        self.exchange.advance(self.time, self.index)  # (its expiries are nobody's answer)
        return self.index, self.exchange.apply(command, self.index)

    def tick(self, ms: int) -> list[Event]:
        """Move time on by ``ms`` in an entry of its own (the leader's time tick)."""
        self.index += 1
        self.time += ms
        return self.exchange.advance(self.time, self.index)


class LocalBackend:
    """A peer (net.peer.Peer) for trader ``owner``, committing by applying to the ledger at once.

    Set ``failure`` to make ``execute`` raise it (a minority peer, a bug...), ``hold`` to
    make it wait for that event first (a slow commit), or ``joining`` to refuse writes as a
    peer that is not in a cluster yet does.
    """

    def __init__(self, owner: str = "alice", ledger: Ledger | None = None) -> None:
        self.owner = self.name = owner
        self.trader_key = TraderKey.from_seed(owner.encode().ljust(32, b".")[:32]).hex
        self.ledger = ledger or Ledger()
        if not self.exchange.balances(owner):
            self.ledger.apply(OpenAccount(owner))
        self.failure: Exception | None = None
        self.joining: RpcError | None = None
        self.hold: asyncio.Event | None = None
        self.executed: list[Command] = []

    @property
    def exchange(self) -> Exchange:
        return self.ledger.exchange

    async def execute(self, command: Command) -> tuple[int, list[Event]]:
        if self.hold is not None:
            await self.hold.wait()
        if self.failure is not None:
            raise self.failure
        self.executed.append(command)
        result = self.ledger.apply(command)
        async with self.ledger.changed:
            self.ledger.changed.notify_all()
        return result

    def writable(self) -> None:
        if self.joining is not None:
            raise self.joining

    def status(self) -> dict:
        index = self.exchange.applied_index
        return {
            "name": self.owner,
            "node_id": f"node-{self.owner}",
            "cluster_id": "test",
            "role": "leader",
            "term": 1,
            "leader": f"node-{self.owner}",
            "commit_index": index,
            "applied_index": index,
            "digest": self.exchange.digest(),
            "voters": [f"node-{self.owner}"],
            "learners": [],
            "peers": [],
            "version": "test",
        }

    async def wait_applied(self, index: int, timeout: float) -> int:
        changed = self.ledger.changed
        try:
            async with asyncio.timeout(timeout), changed:
                await changed.wait_for(lambda: self.exchange.applied_index >= index)
        except TimeoutError:
            raise RpcError(ERR_TIMEOUT, f"index {index} not applied within {timeout} s") from None
        return self.exchange.applied_index


@dataclass
class Peer:
    """A served backend, its client, and a session for hand-made HTTP requests."""

    backend: LocalBackend
    server: RpcServer
    client: RpcClient
    session: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.port}/"

    async def call(self, payload: object, **kwargs: Any) -> Any:
        """The client's call, typed loosely: tests index into the replies they expect."""
        return await self.client.call(payload, **kwargs)

    async def post(
        self, body: Body, headers: dict[str, str] | None = None, path: str = "/"
    ) -> tuple[int, str, bytes]:
        """A raw request: (status, content type, body)."""
        url = f"http://{HOST}:{self.server.port}{path}"
        async with self.session.post(url, data=body, headers=headers or {}) as response:
            return response.status, response.content_type, await response.read()


@asynccontextmanager
async def serving(
    backend: LocalBackend | None = None, limits: Limits | None = None,
    write_token: str | None = None,
) -> AsyncIterator[Peer]:  # fmt: skip
    backend = backend or LocalBackend()
    server = RpcServer(Api(backend, write_token), limits)
    port = await server.start(HOST, 0)
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        RpcClient(HOST, port, timeout=5) as client,
        aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session,
    ):
        try:
            yield Peer(backend, server, client, session)
        finally:
            await server.stop()


@contextmanager
def served_in(runner: asyncio.Runner, backend: LocalBackend | None = None) -> Iterator[Peer]:
    """:func:`serving` for synchronous tests (hypothesis): run calls with ``runner.run``."""
    context = serving(backend)
    peer = runner.run(context.__aenter__())
    try:
        yield peer
    finally:
        runner.run(context.__aexit__(None, None, None))
