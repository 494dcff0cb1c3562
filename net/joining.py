"""Getting into one cluster: whom to ask, when to found, when two clusters become one.

The rules, as plain functions of what discovery saw (tested on their own):

- **Ask.** A peer that wants in (``net/membership.py``) asks, every second, the leader a
  refusal named, the members its log knows, every discovered peer of its cluster *name* that
  is in a cluster (of its own cluster id, if its log has one: a log never joins another
  cluster), its ``--peer`` seeds and the peers on its grape.
- **Found.** A peer with no log founds a cluster of one only after it has looked: it has
  asked discovery at least :data:`MIN_QUERIES` times over ``found_after`` seconds (2 s),
  no live peer of its name is in a cluster, and no peer of its name without a cluster has
  a lower node id (that one founds; this one joins it), or that peer has not founded
  within a few seconds. Given seeds, it never founds: it keeps asking.
- **Merge.** Two clusters of one name may still meet (started within moments of each
  other, or on two machines that only now see each other). A *pristine* cluster (no trader
  command applied: nothing but its founding entries) dissolves into the other when the other
  is not pristine or, both pristine, has the lower cluster id: each of its peers leaves it
  cleanly, moves its consensus store aside (``DATA_DIR/previous/``, never deleted) and
  joins the winner as a new member. Two clusters that both hold trades never merge by
  themselves: the screen shows the other one and offers to switch (:meth:`Joiner.switch`).

:class:`Joiner` is the node's task that runs these rules and does the I/O: discovery
queries, grape lookups, join requests over the transport.
"""

import asyncio
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from net.discovery import Sighting
from net.transport.control import JoinReply, JoinRequest
from net.transport.links import TransportError

if TYPE_CHECKING:
    from net.node import Node

log = logging.getLogger(__name__)

MIN_QUERIES = 3  # discovery questions asked before a peer may found a cluster
STEP = 0.25  # seconds between the joiner's looks
QUERY_JOINING = 0.5  # ask discovery this often while wanting in...
QUERY_MEMBER = 2.0  # ...and this often as a member (to see other clusters)
FRESH = 5.0  # a sighting that answered a question this recently is a live peer
UNREACHABLE_FOR = 3.0  # an address whose join request failed is skipped this long
JOIN_TIMEOUT = 2.0  # seconds for one join request
LOWER_ID_WAIT = 3.0  # x found_after: how long a lower-id peer without a cluster is waited for


@dataclass(frozen=True, slots=True)
class Visible:
    """Another cluster of this peer's name, as discovery shows it."""

    cluster_id: str
    pristine: bool
    peers: tuple[str, ...]  # names
    addrs: tuple[str, ...]


def visible_clusters(sightings: Iterable[Sighting], name: str, mine: str) -> list[Visible]:
    """The clusters of name ``name`` other than ``mine`` that ``sightings`` show."""
    found: dict[str, list[Sighting]] = {}
    for s in sightings:
        if s.cluster == name and s.cluster_id and s.cluster_id != mine:
            found.setdefault(s.cluster_id, []).append(s)
    return [
        Visible(
            cid,
            all(s.pristine for s in seen),
            tuple(sorted(s.name for s in seen)),
            tuple(s.addr for s in seen),
        )
        for cid, seen in sorted(found.items())
    ]


def merge_target(mine: str, pristine: bool, visible: list[Visible]) -> Visible | None:
    """The cluster the pristine cluster ``mine`` should dissolve into, if one beats it."""
    if not mine or not pristine:
        return None

    def beats(other: Visible) -> bool:
        return not other.pristine or other.cluster_id < mine

    winners = [v for v in visible if beats(v)]
    # a cluster with trades first (it cannot move), then the lowest id: every loser agrees
    return min(winners, key=lambda v: (v.pristine, v.cluster_id), default=None)


def may_found(
    *,
    node_id: int,
    name: str,
    waited: float,
    looked: float,
    queries: int,
    found_after: float,
    sightings: Iterable[Sighting],
    seeds: bool,
) -> bool:
    """Whether a peer with no log should found a cluster now (the rule in the module doc).

    ``waited``: seconds since it started; ``looked``: since its first discovery question
    (``queries`` asked so far; ``looked`` = ``waited`` and a large ``queries`` without
    discovery); ``sightings``: live peers of any name.
    """
    if seeds or looked < found_after or queries < MIN_QUERIES:
        return False
    ours = [s for s in sightings if s.cluster == name]
    if any(s.cluster_id for s in ours):
        return False
    lower = any(s.node_id < node_id for s in ours)
    return not lower or waited > LOWER_ID_WAIT * found_after


class Joiner:
    """The node's joining task: see the module doc. ``others`` (clusters of this name
    besides this peer's) and ``note`` (what this peer is doing to get in, or what keeps it
    out) are for the status op and the screen."""

    def __init__(self, node: "Node") -> None:
        self.node = node
        self.started = time.monotonic()
        self.others: list[Visible] = []
        self.note = ""
        self.pinned = ""  # after a switch: join only this cluster id
        self._unreachable: dict[str, float] = {}
        self._reported: dict[str, str] = {}  # addr -> the last problem logged about it
        self._first_query = 0.0
        self._last_query = float("-inf")
        self._grape_peers: list[str] = []
        self._clusters_seen: frozenset[tuple[str, str]] = frozenset()
        self._moving = False

    async def run(self) -> None:
        while True:
            await self.step()
            await asyncio.sleep(STEP)

    async def step(self) -> None:
        node, now = self.node, time.monotonic()
        shell = node.shell
        self._query(now, shell.wants_in())
        sightings = self._sightings()
        mine = shell.machine.cluster_id
        self.others = visible_clusters(sightings, shell.cluster, mine)
        if mine and not self._moving:
            target = merge_target(mine, shell.machine.pristine, self.others)
            if target is not None and await self._alive(target):
                await self.switch(target.cluster_id, f"cluster {target.cluster_id} wins the merge")
                return
        clusters = frozenset((s.addr, s.cluster_id) for s in sightings if s.cluster_id)
        if clusters - self._clusters_seen:
            shell.membership.ask_now()  # a cluster came into view: ask it now, not in a second
        self._clusters_seen = clusters
        if shell.ask_due(now):
            await self._ask(sightings)
        if shell.core is None and self._may_found(now, sightings):
            cluster_id = f"dex-{secrets.token_hex(6)}"
            d = node.discovery
            log.info("no cluster of name %r found after %.1f s (%d discovery questions; peers "
                     "seen: %s)", shell.cluster, now - self.started,
                     d.queries if d else 0, ", ".join(f"{s.name}/{s.node_id:x}" for s in sightings
                     if s.cluster == shell.cluster) or "none")  # fmt: skip
            log.info("founding cluster %s", cluster_id)
            shell.found(cluster_id)
            node.wake()

    async def switch(self, cluster_id: str, why: str) -> None:
        """Leave this cluster and join ``cluster_id`` (its store is moved aside, never
        deleted): the merge rule's move, or the user's choice on the screen."""
        if self._moving:
            return
        self._moving = True
        try:
            log.warning("moving to cluster %s: %s", cluster_id, why)
            await self.node.move_aside(f"{why}; joining {cluster_id}")
            self.pinned = cluster_id
            self.started = time.monotonic()
        finally:
            self._moving = False

    # ---------------------------------------------------------------- internals

    def _query(self, now: float, joining: bool) -> None:
        discovery = self.node.discovery
        if discovery is None:
            return
        if now - self._last_query >= (QUERY_JOINING if joining else QUERY_MEMBER):
            discovery.query()
            self._last_query = now
            self._first_query = self._first_query or now

    def _sightings(self) -> list[Sighting]:
        discovery = self.node.discovery
        return [] if discovery is None else discovery.fresh(FRESH)

    def _may_found(self, now: float, sightings: list[Sighting]) -> bool:
        node = self.node
        if self.pinned:
            return False  # moved here to join that cluster: never found another instead
        discovery = node.discovery
        waited = now - self.started
        looked, queries = waited, MIN_QUERIES
        if discovery is not None:
            looked = now - self._first_query if self._first_query else 0.0
            queries = discovery.queries
        early = waited < LOWER_ID_WAIT * node.timing.found_after
        if node.grape is not None and early and any(a < node.api_addr for a in self._grape_peers):
            return False  # as with a lower id: the lowest address on a grape founds
        return may_found(
            node_id=node.shell.id, name=node.shell.cluster, waited=waited, looked=looked,
            queries=queries, found_after=node.timing.found_after,
            sightings=[s for s in sightings if s.addr not in self._recently_unreachable(now)],
            seeds=bool(node.config.peers),
        )  # fmt: skip

    def _recently_unreachable(self, now: float) -> set[str]:
        return {a for a, t in self._unreachable.items() if now - t < UNREACHABLE_FOR}

    async def _ask(self, sightings: list[Sighting]) -> None:
        node, shell = self.node, self.node.shell
        mine = self.pinned or shell.machine.cluster_id
        if node.grape is not None:
            self._grape_peers = await node.grape.peers(exclude=node.api_addr)
        candidates = [
            *shell.join_targets(),
            *(s.addr for s in sightings if s.cluster == shell.cluster and s.cluster_id
              and (not mine or s.cluster_id == mine)),
            *node.config.peers,
            *self._grape_peers,
        ]  # fmt: skip
        skip = self._recently_unreachable(time.monotonic()) | {node.api_addr}
        targets = [a for a in dict.fromkeys(candidates) if a not in skip]
        request = shell.join_request_for()
        for addr in targets[:8]:
            reply = await self._request(addr, request)
            if reply is None:
                continue
            if not reply.ok and reply.leader_addr and reply.leader_addr not in skip:
                leader = reply.leader_addr
                reply = await self._request(leader, request) or reply
                addr = leader
            if node.shell is not shell:
                return  # moved meanwhile
            shell.join_reply(reply, addr, time.monotonic())
            node.wake()
            if reply.ok:
                if not self.note.startswith("let in"):
                    log.info("asked to join through %s; waiting for the leader's log", addr)
                self.note = f"let in by {addr}; waiting for the cluster's log"
                return

    async def _request(self, addr: str, request: JoinRequest) -> JoinReply | None:
        links = self.node.links
        try:
            reply = await links.request_join(addr, request, timeout=JOIN_TIMEOUT)
        except (TransportError, OSError, ValueError) as error:
            self._unreachable[addr] = time.monotonic()
            self._report(addr, f"cannot ask {addr} to let this peer in: {error}")
            return None
        if not reply.ok and not reply.leader_addr:
            self._report(addr, f"{addr} refused this peer: {reply.reason}")
        return reply

    def _report(self, addr: str, problem: str) -> None:
        """Log a join problem once per address and reason (a peer asks every second)."""
        if self._reported.get(addr) != problem:
            self._reported[addr] = problem
            log.warning("%s", problem)
        self.note = problem

    async def _alive(self, target: Visible) -> bool:
        """Whether a peer of ``target`` answers (a refusal says so as well as a welcome)."""
        request = self.node.shell.join_request_for()
        for addr in target.addrs:
            reply = await self._request(addr, request)
            if reply is not None and reply.cluster_id == target.cluster_id:
                return True
        return False
