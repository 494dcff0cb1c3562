"""A peer without a network: one engine, commands applied the moment they are executed.

The terminal app normally embeds a ``net.Node``. Tests, screenshots and the load
benchmark's baseline need the same interface with no consensus underneath, deterministic
and instant; :class:`LocalPeer` is that. Its ``hold`` gate keeps writes pending (to show
and test the pending state), and ``quorum=False`` makes writes fail the way a peer on the
minority side of a partition does.

Time is consensus time, as a leader would stamp it: each entry's is the wall clock in ms
(``clock``, injectable so tests and screenshots are fixed), never lower than the last,
handed to the engine with :meth:`Exchange.advance` before the entry's command. And as a
leader proposes a time tick when a good-till-date order is due, a timer applies an entry
with no command at the engine's :meth:`~Exchange.next_expiry` (re-armed after every
entry), so an order expires on time even when nothing else happens.

Money is on, as in a real cluster: the founding markets, then ``Configure`` with the grant
(the default one unless told otherwise; ``grant=None`` leaves the exchange without money)
and an account for this peer's trader, as its registration would open. Other traders that
place orders in a test need an account too (:meth:`open_account`). Its trader key is made
from ``seed`` (32 bytes; random without one): LocalPeer has no data dir to keep it in.
"""

import asyncio
import os
import time
from collections.abc import Callable
from importlib.metadata import version

from engine import FOUNDING_MARKETS, Command, Configure, Event, Exchange, OpenAccount
from engine.accounts import DEFAULT_GRANT
from net.rpc.errors import RpcError
from net.traders import Register, TraderCommand, TraderKey

TICK_LATE = 0.005  # seconds after an expiry the timer fires, so the clock has passed it


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class LocalPeer:
    def __init__(
        self,
        name: str = "alice",
        grant: str | None = DEFAULT_GRANT,
        seed: bytes | None = None,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        self._name = name
        self.clock = clock  # ms since the epoch: the leader's clock
        self._timer: asyncio.TimerHandle | None = None
        self._grant = grant
        self._key = TraderKey.from_seed(seed if seed is not None else os.urandom(32))
        self._exchange = Exchange()
        self.index = 0
        self.quorum = True
        self.hold: asyncio.Event | None = None  # when set to an unset Event, writes wait on it
        self.peers: list[dict] = []  # what status() reports about other peers
        self.others: list[dict] = []  # other clusters of its name that it reports
        self.epoch = 0  # bumped when it "moves" to another cluster (switch_cluster)
        self.no_quorum_s = 0.0
        self._found()

    def _found(self) -> None:
        """What a new cluster's founding entry and this trader's registration apply."""
        for command in FOUNDING_MARKETS:
            self.apply(command)
        if self._grant is not None:
            self.apply(Configure(self._grant))
            self.open_account(self._name)

    @property
    def name(self) -> str:
        return self._name

    @property
    def owner(self) -> str:
        return self._name

    @property
    def trader_key(self) -> str:
        return self._key.hex

    @property
    def api_addr(self) -> str:
        return "127.0.0.1:0"

    @property
    def exchange(self) -> Exchange:
        return self._exchange

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def writable(self) -> None:
        pass  # always in its (one-peer) cluster

    async def wait_applied(self, index: int, timeout: float) -> int:
        return self.index  # every write is applied when execute returns

    def apply(self, command: Command | None) -> list[Event]:
        """Apply one entry at the next index at once (for setting up a book): its time,
        then ``command`` (None: a time tick); the events of both."""
        self.index += 1
        exchange = self._exchange
        events = exchange.advance(self.clock(), self.index)
        if command is not None:
            events += exchange.apply(command, self.index)
        self._arm()
        return events

    def _arm(self) -> None:
        """Time the next tick for the next expiry (needs a running loop: a peer set up
        before the app starts is armed by its first entry once it runs)."""
        due = self._exchange.next_expiry()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if due is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        delay = max(0.0, (due - self.clock()) / 1000) + TICK_LATE
        self._timer = loop.call_later(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        due = self._exchange.next_expiry()
        if due is not None and due <= self.clock():
            self.apply(None)  # re-arms
        else:
            self._arm()  # early (the clock moved) or nothing left: wait again, or not

    def open_account(self, owner: str) -> list[Event]:
        """An account with the grant for ``owner`` (what registering a trader does)."""
        return self.apply(OpenAccount(owner))

    async def execute(self, command: TraderCommand) -> tuple[int, list[Event]]:
        if self.hold is not None:
            await self.hold.wait()
        if not self.quorum:
            raise RpcError("ERR_NO_QUORUM", "no leader reachable: this side cannot commit")
        if isinstance(command, Register):  # its trader's account is open from the start
            raise RpcError("ERR_INVALID", "a local peer's trader is registered from the start")
        events = self.apply(command)
        return self.index, events

    async def switch_cluster(self, cluster_id: str) -> None:
        """As a peer moving over does: a new, empty state (the founding markets again)."""
        self._exchange = Exchange()
        self.index = 0
        self._found()
        self.others = [o for o in self.others if o["cluster_id"] != cluster_id]
        self.epoch += 1

    def status(self, digest: bool = True) -> dict:
        return {
            "name": self._name,
            "node_id": 1,
            "cluster": "dex",
            "cluster_id": "local",
            "state": "trading" if self.quorum else "no_quorum",
            "joining": None,
            "no_quorum_s": 0.0 if self.quorum else self.no_quorum_s,
            "other_clusters": self.others,
            "role": "leader" if self.quorum else "follower",
            "term": 1,
            "leader": self._name if self.quorum else None,
            "commit_index": self.index,
            "applied_index": self.index,
            "digest": self._exchange.digest() if digest else None,
            "voters": [self._name, *(p["name"] for p in self.peers if "voter" in p["state"])],
            "learners": [p["name"] for p in self.peers if "learner" in p["state"]],
            "peers": self.peers,
            "quorum": self.quorum,
            "version": version("dex"),
        }
