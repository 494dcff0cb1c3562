"""A Python Grenache client: announce and look up through a grape, call services.

Grenache has no registry of its own: services announce ``[name, port]`` to a grape (a DHT
node with an HTTP API) and clients look the name up there, getting ``"ip:port"`` strings, then
POST Grenache RPC frames straight to the peers (research/grenache-protocol.md §1-3). This
module is that client, for the peer itself (:class:`Presence` announces it and finds other
peers) and for tools and tests (:class:`Grenache`'s ``request`` and ``map``).

Every HTTP call has a timeout (a grape or peer that never answers must not stall a caller;
the stock JS client's missing default is a known hang) and every failure is an
:class:`~net.rpc.errors.RpcError`. Lookups are not cached: a grape lookup costs milliseconds,
and a cache is what makes a stock JS client blind to a peer for 10 s after it appears.
"""

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Sequence
from types import TracebackType

import aiohttp

from .config import ConfigError, split_addr
from .rpc.client import RpcClient
from .rpc.errors import ERR_BAD_REPLY, ERR_TIMEOUT, ERR_UNREACHABLE, RpcError
from .rpc.framing import PEER_SERVICE

log = logging.getLogger(__name__)

#: Seconds between announcements: well inside a grape's expiry (``--dpa``, 20 s advised).
ANNOUNCE_EVERY = 1.0
DEFAULT_TIMEOUT = 5.0
#: The stock client's error when a name has no peers; callers may switch on it.
ERR_LOOKUP_EMPTY = "ERR_GRAPE_LOOKUP_EMPTY"
ERR_GRAPE = "ERR_GRAPE"


class Grenache:
    """Talks to one grape and to the peers it names; close it (or use ``async with``)."""

    def __init__(self, grape: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.grape = grape.rstrip("/")
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None  # made in the caller's event loop
        self._clients: dict[tuple[str, str], RpcClient] = {}  # (address, name): kept alive

    async def announce(self, name: str, port: int) -> int:
        """Publish ``name`` at ``port`` (under the grape's own IP); the DHT nodes reached."""
        reached = await self._grape("announce", [name, port])
        return reached if isinstance(reached, int) else 0

    async def lookup(self, name: str) -> list[str]:
        """The ``"ip:port"`` addresses announced under ``name`` (empty when none)."""
        found = await self._grape("lookup", name)
        if not isinstance(found, list) or not all(isinstance(a, str) for a in found):
            raise RpcError(ERR_BAD_REPLY, f"grape lookup: expected a list, got {found!r:.100}")
        return found

    async def request(
        self, name: str, payload: object, *, compress: bool = False, timeout: float | None = None
    ) -> object:
        """Call one peer announced under ``name``, chosen at random, as the stock client does."""
        dest = random.choice(await self._dests(name))
        return await self._client(dest, name).call(payload, compress=compress, timeout=timeout)

    async def map(
        self, name: str, payload: object, *, compress: bool = False, timeout: float | None = None
    ) -> list[object]:
        """Call every peer announced under ``name`` at once; results in lookup order.

        Like the stock client's ``map``, one failure fails the whole call (the first in
        lookup order, after every call has finished, so nothing is left running).
        """
        dests = await self._dests(name)
        calls = (self._client(d, name).call(payload, compress=compress, timeout=timeout)
                 for d in dests)  # fmt: skip
        results = await asyncio.gather(*calls, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results

    async def close(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.close()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def __aenter__(self) -> "Grenache":
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    async def _dests(self, name: str) -> list[str]:
        dests = await self.lookup(name)
        if not dests:
            raise RpcError(ERR_LOOKUP_EMPTY, f"no peer announced as {name!r} on {self.grape}")
        return dests

    def _client(self, dest: str, name: str) -> RpcClient:
        client = self._clients.get((dest, name))
        if client is None:
            try:
                host, port = split_addr(dest, "grape lookup")
            except ConfigError as error:
                raise RpcError(ERR_BAD_REPLY, str(error)) from None
            client = RpcClient(host, port, key=name, timeout=self.timeout)
            self._clients[dest, name] = client
        return client

    async def _grape(self, path: str, data: object) -> object:
        """POST ``{"data": ...}`` to the grape's HTTP API; its result, or RpcError.

        A grape reports a failure as a JSON string with status 200 (``"ERR_GRAPE_LOOKUP"``,
        ``"No nodes to query"``), so a string result is an error here.
        """
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = f"{self.grape}/{path}"
        try:
            async with self._session.post(
                url, json={"data": data}, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as response:
                text = await response.text()
                status = response.status
        except TimeoutError:
            raise RpcError(ERR_TIMEOUT, f"no reply from {url} within {self.timeout} s") from None
        except aiohttp.ClientError as error:
            raise RpcError(ERR_UNREACHABLE, f"{url}: {error}") from None
        if status != 200:
            raise RpcError(ERR_GRAPE, f"{url}: HTTP {status} {text[:200]}")
        try:
            result = json.loads(text)
        except ValueError:
            raise RpcError(ERR_BAD_REPLY, f"{url}: not JSON: {text[:200]!r}") from None
        if isinstance(result, str):
            raise RpcError(ERR_GRAPE, f"{url}: {result}")
        return result


class Presence:
    """A peer's life on a grape: announce its names every second, look other peers up.

    Withdrawal is by silence: Grenache has no un-announce, so after :meth:`stop` the names
    expire on the grapes (``--dpa``). Failures are logged once per outage, never raised: the
    peer works without the grape.
    """

    def __init__(
        self, grape: str, names: Sequence[str], port: int, *, every: float = ANNOUNCE_EVERY
    ) -> None:
        # Shorter than the interval, so a silent grape cannot push announcements apart.
        self.client = Grenache(grape, timeout=min(DEFAULT_TIMEOUT, 2 * every))
        self.names = tuple(names)
        self.port = port
        self.every = every
        self._task: asyncio.Task | None = None
        self._failing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._announce(), name="dex-grape")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.client.close()

    async def peers(self, exclude: str) -> list[str]:
        """Addresses announced under :data:`PEER_SERVICE` but ``exclude``; [] if unreachable."""
        try:
            found = await self.client.lookup(PEER_SERVICE)
        except RpcError as error:
            log.debug("grape lookup of %s failed: %s", PEER_SERVICE, error)
            return []
        return [addr for addr in found if addr != exclude]

    async def _announce(self) -> None:
        while True:
            results = await asyncio.gather(
                *(self.client.announce(name, self.port) for name in self.names),
                return_exceptions=True,
            )
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors and not self._failing:
                log.warning("announcing on %s failed: %s", self.client.grape, errors[0])
            elif not errors and self._failing:
                log.info("announcing on %s again", self.client.grape)
            self._failing = bool(errors)
            await asyncio.sleep(self.every)
