"""The peer: consensus, durable log, engine, RPC and peer links in one asyncio process.

One task owns the Raft core (the *shell loop*, :meth:`Node._run`): it feeds the core what
arrived (peer messages, ticks, proposals), takes a Ready, makes its writes durable in a
worker thread (fsync does not block the loop), sends its messages, applies its committed
entries to the state machine (:mod:`net.machine`) and resolves the requests waiting for
them, then advances. Everything that arrives meanwhile waits in the inbox, so under load one
Ready (one fsync, one message per peer) carries many requests: group commit for free.

Writes from the RPC (:meth:`execute`) get a per-node sequence number, are batched into one
log entry per loop turn and wait until applied here; a request not applied in time is
proposed again (the machine drops the duplicate), and fails with ERR_NO_QUORUM when no
leader is known for a while (this side of a partition cannot commit) or ERR_TIMEOUT.

Membership (:meth:`_membership`, a slower loop) founds a cluster when there is none to join,
joins one through ``--peer`` seeds or discovery, promotes caught-up learners to voters up
to ``max_voters``, replaces voters gone longer than ``remove_after``, and on a clean stop
hands leadership over and removes this peer. See ``docs/node.md``.
"""

import asyncio
import contextlib
import json
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version

from aiohttp import web

import engine
from engine import Command, CreateMarket, Event, encode_command
from net.config import PeerConfig
from net.datadir import DataDir, open_data_dir
from net.discovery import Discovery, Sighting
from net.grenache import Presence, announced_names
from net.machine import Applied, Machine
from net.raft.confchange import ConfChange, ConfChangeType
from net.raft.config import Config
from net.raft.core import RaftCore
from net.raft.entries import EntryKind, EntryRun
from net.raft.errors import ProposalDropped
from net.raft.messages import Msg
from net.raft.ordering import SEND_BEFORE_PERSIST
from net.raft.state import Ready, Role
from net.rpc.api import Api
from net.rpc.errors import RpcError
from net.rpc.server import RpcServer
from net.storage import SqliteStorage
from net.transport.control import JoinReply, JoinRequest
from net.transport.links import PeerLinks, TransportError

log = logging.getLogger(__name__)

#: Markets every new cluster starts with (spec/cli.md).
FOUNDING_MARKETS = (
    CreateMarket("BTC/USD", "BTC", "USD", "0.1", "0.001"),
    CreateMarket("ETH/USD", "ETH", "USD", "0.01", "0.01"),
)
SLOW_READY = 0.1  # seconds: a loop turn slower than this is logged
ENTRY_COMMANDS = 256  # requests batched into one log entry, at most (~50 KiB)
ROLE_NAMES = {Role.LEADER: "leader", Role.FOLLOWER: "follower", Role.CANDIDATE: "candidate",
              Role.PRE_CANDIDATE: "candidate"}  # fmt: skip


@dataclass(slots=True)
class Pending:
    """A write waiting to be applied here."""

    item: list  # [origin, seq, command]: what the log carries
    future: asyncio.Future
    deadline: float
    proposed_at: float = 0.0  # 0: waiting in the outbox


@dataclass(slots=True)
class Inbox:
    """What waits for the shell loop: only it touches the core (never mid-Ready)."""

    messages: list[Msg] = field(default_factory=list)
    ticks: int = 0
    actions: list[Callable[[RaftCore], None]] = field(default_factory=list)


class Node:
    """A full dex peer. ``await start()``, serve, ``await stop()`` (a clean leave)."""

    def __init__(self, config: PeerConfig) -> None:
        config.check()
        self.config = config
        self.timing = config.timing
        self.data: DataDir | None = None
        self.storage: SqliteStorage | None = None
        self.machine = Machine()
        self.core: RaftCore | None = None  # None until this peer founds or joins a cluster
        self.links: PeerLinks | None = None
        self.discovery: Discovery | None = None
        self.grape: Presence | None = None  # --grape: announced there, peers looked up
        self.api_host = config.bind
        self.api_port = 0
        self.started_at = 0.0
        self.listeners: list[Callable[[int, list[Event]], None]] = []  # the TUI's feed
        self._rpc = RpcServer(Api(self))
        self._runner: web.ServerRunner | None = None
        self._inbox = Inbox()
        self._wake = asyncio.Event()
        self._outbox: list[int] = []  # seqs to propose
        self._pending: dict[int, Pending] = {}
        self._seq = 0
        self._seen: dict[int, float] = {}  # node id -> when a message last came from it
        self._leaderless_since: float | None = None
        self._applied_waiters: list[tuple[int, asyncio.Future]] = []
        self._accepted: dict[int, str] = {}  # newcomers this leader let in: keep their links
        self._admitting: set[int] = set()  # let in, not yet learners: admitted until they are
        self._unreachable: set[int] = set()  # peers a Ready's messages could not be queued for
        self._tasks: list[asyncio.Task] = []
        self._stopping = False

    # ------------------------------------------------------------------ identity

    @property
    def node_id(self) -> int:
        assert self.data is not None
        return self.data.identity.node_id

    @property
    def name(self) -> str:
        assert self.data is not None
        return self.data.identity.name

    @property
    def owner(self) -> str:  # rpc Backend: the trader this peer places orders for
        return self.name

    @property
    def api_addr(self) -> str:
        return f"{self.api_host}:{self.api_port}"

    @property
    def exchange(self) -> engine.Exchange:  # rpc Backend
        return self.machine.exchange

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the data dir and log, listen, and begin founding, joining or rejoining."""
        self.started_at = time.monotonic()
        self.data = open_data_dir(self.config.name, self.config.data_dir)
        try:
            self.storage = SqliteStorage(self.data.path)
        except BaseException:
            self.data.close()
            raise
        # Requests are numbered (boot << 40) + n: unique across restarts, so the machine's
        # dedupe never mistakes a new request for an old one.
        self._seq = self.data.next_boot() << 40
        snapshot = self.storage.snapshot()
        if snapshot.data:
            self.machine = Machine.restore(snapshot.data)
        self.links = PeerLinks(
            self.node_id,
            self.machine.cluster_id,
            self.config.secret.encode(),
            self._on_peer_message,
            on_join=self._on_join,
        )
        server = web.Server(self._dispatch, access_log=None)
        self._runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.config.bind, self.config.api_port).start()
        self.api_port = self._runner.addresses[0][1]
        if self.api_host in ("0.0.0.0", "::"):
            self.api_host = self.config.interface if self.config.interface != "all" else "127.0.0.1"
        if self.storage.last_index() or self.storage.hard_state.term or snapshot.data:
            self._start_core()  # a restart: rejoin as the member this peer is
        if self.config.discovery:
            self.discovery = Discovery(self.config.interface)
            await self.discovery.start(self._sighting())
        if self.config.grape:
            self.grape = Presence(self.config.grape, announced_names(self.name), self.api_port)
            self.grape.start()
        self._tasks = [
            asyncio.create_task(self._run(), name="dex-shell"),
            asyncio.create_task(self._ticker(), name="dex-ticker"),
            asyncio.create_task(self._membership(), name="dex-membership"),
        ]

    async def stop(self) -> None:
        """Leave cleanly: hand over leadership, give up the vote, close. Bounded (~3 s)."""
        if self._stopping:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(3.0):
                await self._leave()
        self._stopping = True
        self._wake.set()
        shell, *others = self._tasks or [None]
        for task in others:
            task.cancel()
        if shell is not None:  # let it finish the Ready in hand: a write may be in flight
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(shell), 1.0)
            shell.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(RpcError("ERR_TIMEOUT", "the peer is shutting down"))
        if self.discovery is not None:
            await self.discovery.close()
        if self.grape is not None:
            await self.grape.stop()
        if self.links is not None:
            await self.links.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.storage is not None:
            self.storage.close()
        if self.data is not None:
            self.data.close()

    async def _leave(self) -> None:
        core = self.core
        if core is None or self.node_id not in (*core.conf.voters, *core.conf.learners):
            return
        others = [v for v in core.conf.voters if v != self.node_id]
        if not others:
            return  # the last voter: nothing to hand over; the data dir keeps the cluster
        if core.role == Role.LEADER:
            target = max(others, key=lambda v: core.prs[v].match if v in core.prs else 0)
            self._do(lambda c: c.transfer_leader(target))
            while core.role == Role.LEADER:
                await asyncio.sleep(self.timing.tick)
        leave = ConfChange(ConfChangeType.REMOVE, self.node_id)
        while self.node_id in (*core.conf.voters, *core.conf.learners):
            self._do(lambda c: c.propose_conf_change(leave))
            await asyncio.sleep(10 * self.timing.tick)

    def _do(self, action: Callable[[RaftCore], None]) -> None:
        """Run ``action`` on the core at the shell loop's next turn (ProposalDropped ignored)."""
        self._inbox.actions.append(action)
        self._wake.set()

    # ------------------------------------------------------------------ the shell loop

    def _start_core(self) -> None:
        assert self.storage is not None
        t = self.timing
        cfg = Config(
            id=self.node_id,
            election_tick=t.election_ticks,
            heartbeat_tick=t.heartbeat_ticks,
            applied=self.storage.snapshot().meta.index,
        )
        self.core = RaftCore(cfg, self.storage, random.Random(secrets.randbits(64)))
        self._refresh_links()

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.timing.tick)
            self._inbox.ticks += 1
            self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            core = self.core
            if core is None:
                self._inbox = Inbox()  # not a member of anything yet: nothing to feed
                continue
            self._feed(core)
            while core.has_ready():
                await self._handle(core, core.ready())

    def _feed(self, core: RaftCore) -> None:
        inbox, self._inbox = self._inbox, Inbox()
        for message in inbox.messages:
            core.step(message)
        for action in inbox.actions:
            with contextlib.suppress(ProposalDropped):  # no leader: the caller tries again
                action(core)
        for _ in range(inbox.ticks):
            core.tick()
        if inbox.ticks:
            self._check_requests(core)
        if self._outbox:
            self._propose(core)

    async def _handle(self, core: RaftCore, rd: Ready) -> None:
        """Send early, apply, persist, send the rest, advance (docs/consensus.md)."""
        assert self.storage is not None and self.links is not None
        started = time.monotonic()
        durable = self.storage.hard_state
        hs = rd.hard_state
        # Nothing leaves early in a Ready that changes term or vote: a lone voter can win an
        # election in the Ready that casts its vote, and its appends must not reach anyone
        # before that vote is on disk (a restart could otherwise reuse the term).
        early_ok = hs is None or (hs.term, hs.vote) == (durable.term, durable.vote)
        early = [m for m in rd.messages if early_ok and m.type in SEND_BEFORE_PERSIST]
        self._send(core, early)  # the leader's disk write overlaps replication (§10.2.1)
        # Committed entries are durable on a majority already: apply them (and answer their
        # clients) now, not after this Ready's own write. Applying acknowledges nothing.
        if rd.snapshot is not None:
            self.machine = Machine.restore(rd.snapshot.data)
            log.info("installed a snapshot at index %d", rd.snapshot.meta.index)
            self._cluster_known()
        if rd.committed is not None:
            self._apply(rd.committed)
        if rd.hard_state is not None or rd.entries is not None or rd.snapshot is not None:
            await asyncio.to_thread(
                self.storage.save, rd.hard_state, rd.entries, rd.snapshot, rd.must_sync
            )
        saved = time.monotonic()
        self._send(
            core, [m for m in rd.messages if not early_ok or m.type not in SEND_BEFORE_PERSIST]
        )
        conf_before = core.conf
        core.advance()
        for node_id in self._unreachable:  # stop pipelining to them; probe instead
            core.report_unreachable(node_id)
        self._unreachable.clear()
        if core.conf != conf_before:
            self._refresh_links()
        self._leaderless_since = (
            None if core.leader else (self._leaderless_since or time.monotonic())
        )
        self._wake_applied_waiters()
        await self._maybe_snapshot(core)
        if (took := time.monotonic() - started) > SLOW_READY:
            log.warning("slow turn: %.0f ms (%.0f ms writing; %d entries, %d applied)",
                        took * 1000, (saved - started) * 1000, len(rd.entries or ()),
                        len(rd.committed or ()))  # fmt: skip

    def _send(self, core: RaftCore, messages: list[Msg]) -> None:
        assert self.links is not None
        for message in messages:
            if not self.links.send(message.to, message):
                self._unreachable.add(message.to)  # told to the core after advance()

    def _apply(self, run: EntryRun) -> None:
        mine = self.node_id
        for index, _term, kind, payload in run:
            if kind != EntryKind.NORMAL:
                self.machine.applied_index = index
                continue
            had_cluster = self.machine.cluster_id
            for applied in self.machine.apply(index, payload):
                if applied.events:
                    for listener in self.listeners:
                        listener(index, applied.events)
                if applied.origin == mine:
                    self._resolve(applied)
            if self.machine.cluster_id != had_cluster:
                self._cluster_known()
            if payload.startswith(b'{"m"'):
                self._refresh_links()

    def _resolve(self, applied: Applied) -> None:
        pending = self._pending.get(applied.seq)
        if pending is None or (applied.events is None and applied.error is None):
            return  # not waited for here, or a duplicate of what already answered it
        del self._pending[applied.seq]
        if pending.future.done():
            return
        if applied.error is not None:
            pending.future.set_exception(RpcError("ERR_INVALID", applied.error))
        else:
            pending.future.set_result((applied.index, applied.events))

    async def _maybe_snapshot(self, core: RaftCore) -> None:
        assert self.storage is not None
        t = self.timing
        applied = self.machine.applied_index
        if applied - self.storage.snapshot().meta.index < t.snapshot_every:
            return
        image = self.machine.snapshot()  # on the loop: the state must not move under it
        storage = self.storage

        def persist() -> None:
            storage.create_snapshot(applied, core.conf, image)
            storage.compact(max(storage.first_index(), applied - t.keep_entries))

        await asyncio.to_thread(persist)

    # ------------------------------------------------------------------ writes (rpc Backend)

    async def execute(self, command: Command) -> tuple[int, list[Event]]:
        """Commit ``command`` through consensus; (log index, its events) once applied here."""
        now = time.monotonic()
        if self.core is None:
            raise RpcError("ERR_NO_QUORUM", "this peer has not joined a cluster yet")
        if self._no_quorum(now):
            raise RpcError("ERR_NO_QUORUM", "no leader reachable: this side cannot commit")
        if len(self._pending) > 50_000:
            raise RpcError("ERR_BUSY", "too many writes in flight; retry later")
        self._seq += 1
        future = asyncio.get_running_loop().create_future()
        item = [self.node_id, self._seq, encode_command(command)]
        self._pending[self._seq] = Pending(item, future, now + self.timing.request_timeout)
        self._outbox.append(self._seq)
        self._wake.set()
        return await future

    def _propose(self, core: RaftCore) -> None:
        """Put the outbox into log entries (at most ENTRY_COMMANDS each) and propose them."""
        now = time.monotonic()
        items = []
        for seq in self._outbox:
            pending = self._pending.get(seq)
            if pending is not None:
                pending.proposed_at = now
                items.append(pending.item)
        payloads = tuple(
            _commands_payload(items[i : i + ENTRY_COMMANDS])
            for i in range(0, len(items), ENTRY_COMMANDS)
        )
        try:
            core.propose_many(payloads)
            self._outbox.clear()
        except ProposalDropped:
            for seq in self._outbox:  # no leader yet: keep them for the next turn
                if seq in self._pending:
                    self._pending[seq].proposed_at = 0.0

    def _check_requests(self, core: RaftCore) -> None:
        """Per tick: fail late writes, re-propose lost ones, refuse when leaderless."""
        now = time.monotonic()
        no_quorum = self._no_quorum(now)
        for seq, pending in list(self._pending.items()):
            error = None
            if now >= pending.deadline:
                error = RpcError(
                    "ERR_TIMEOUT", "not committed in time; retry with the same client_id"
                )
            elif no_quorum:
                error = RpcError("ERR_NO_QUORUM", "no leader reachable: this side cannot commit")
            if error is not None:
                del self._pending[seq]
                if not pending.future.done():
                    pending.future.set_exception(error)
            elif pending.proposed_at and now - pending.proposed_at > self.timing.retry_after:
                pending.proposed_at = 0.0
                self._outbox.append(seq)

    def _no_quorum(self, now: float) -> bool:
        since = self._leaderless_since
        return since is not None and now - since > self.timing.no_leader_grace

    async def wait_applied(self, index: int, timeout: float) -> int:  # rpc Backend
        if self.machine.applied_index < index:
            future = asyncio.get_running_loop().create_future()
            self._applied_waiters.append((index, future))
            try:
                async with asyncio.timeout(timeout):
                    await future
            except TimeoutError:
                raise RpcError(
                    "ERR_TIMEOUT", f"index {index} not applied within {timeout} s"
                ) from None
        return self.machine.applied_index

    def _wake_applied_waiters(self) -> None:
        applied = self.machine.applied_index
        waiting = []
        for index, future in self._applied_waiters:
            if index <= applied:
                if not future.done():
                    future.set_result(applied)
            elif not future.done():
                waiting.append((index, future))
        self._applied_waiters = waiting

    # ------------------------------------------------------------------ peers

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        """One port for both: websocket upgrades on /peer are links, the rest is RPC."""
        assert self.links is not None
        if request.method == "GET" and request.path == self.links.path:
            return await self.links.accept(request)
        return await self._rpc.handle(request)

    def _on_peer_message(self, sender: int, message: object) -> None:
        self._seen[sender] = time.monotonic()
        if isinstance(message, Msg):  # (links also carry PeerInfo; this node sends none)
            self._inbox.messages.append(message)
            self._wake.set()

    def _refresh_links(self) -> None:
        """Keep a link to every member of the configuration whose address is known."""
        if self.core is None or self.links is None:
            return
        conf = self.core.conf
        members = {*conf.voters, *conf.learners} - {self.node_id}
        for node_id in members:
            member = self.machine.members.get(node_id)
            if member is not None:
                self.links.set_peer(node_id, member.addr)
        for node_id in list(self._seen):
            if node_id not in members and node_id not in self._accepted:
                self.links.remove_peer(node_id)

    async def _on_join(self, request: JoinRequest) -> JoinReply:
        """A newcomer asks in: the leader adds it as a learner (promotion comes later)."""
        core = self.core
        if core is None or core.role != Role.LEADER:
            leader = self.machine.members.get(core.leader) if core is not None else None
            return JoinReply(
                ok=False,
                leader_id=leader.node_id if leader else 0,
                leader_addr=leader.addr if leader else "",
                reason="not the leader",
            )
        assert self.links is not None
        self._accepted[request.node_id] = request.addr
        self.links.set_peer(request.node_id, request.addr)
        record = json.dumps({"m": [request.node_id, request.name[:64], request.addr]}).encode()
        add = ConfChange(ConfChangeType.ADD_LEARNER, request.node_id)

        def admit(c: RaftCore) -> None:
            c.propose(record)
            if request.node_id not in (*c.conf.voters, *c.conf.learners):
                c.propose_conf_change(add)

        # The newcomer now waits for the log and does not ask again; a change dropped
        # because another is pending is proposed again by _lead_membership.
        self._admitting.add(request.node_id)
        self._do(admit)
        return JoinReply(ok=True, leader_id=self.node_id, leader_addr=self.api_addr)

    # ------------------------------------------------------------------ membership

    async def _membership(self) -> None:
        while not self._stopping:
            try:
                if self.core is None:
                    await self._find_cluster()
                elif self.core.role == Role.LEADER:
                    self._lead_membership(self.core)
            except Exception:
                log.exception("membership step failed; retrying")
            await asyncio.sleep(0.2)

    async def _find_cluster(self) -> None:
        """Join a cluster seen through seeds or discovery; found one when there is none."""
        assert self.links is not None
        targets = list(self.config.peers)
        unclustered = []
        if self.discovery is not None:
            for sighting in self.discovery.seen.values():
                if sighting.cluster_id:
                    targets.append(sighting.addr)
                else:
                    unclustered.append(sighting)
        grape_peers = await self._grape_peers()
        targets += grape_peers
        request = JoinRequest(self.node_id, self.name, self.api_addr)
        for addr in targets:
            with contextlib.suppress(TransportError, OSError):
                reply = await self.links.request_join(addr, request, timeout=5.0)
                if not reply.ok and reply.leader_addr:
                    reply = await self.links.request_join(reply.leader_addr, request, timeout=5.0)
                if reply.ok:
                    log.info("joined through %s; waiting for the leader's log", addr)
                    self._start_core()
                    return
        if self.config.peers:
            return  # told whom to join: keep asking (spec/cli.md); never found a second cluster
        waited = time.monotonic() - self.started_at
        if waited < self.timing.found_after:
            return
        if any(s.node_id < self.node_id for s in unclustered):
            return  # a peer with a lower id founds; this one joins it once it has
        if waited < 3 * self.timing.found_after and any(a < self.api_addr for a in grape_peers):
            return  # the same on a grape, by address; bounded, as an entry may be stale
        await self._found()

    async def _found(self) -> None:
        """Become a cluster of one and create the starting markets."""
        assert self.storage is not None
        cluster_id = f"dex-{secrets.token_hex(6)}"
        log.info("founding cluster %s", cluster_id)
        self.storage.bootstrap((self.node_id,))
        self._start_core()
        core = self.core
        assert core is not None
        while core.role != Role.LEADER:  # campaign once the founding configuration applies
            if core.applied_index >= self.storage.last_index() and core.role == Role.FOLLOWER:
                self._do(lambda c: c.campaign())
            await asyncio.sleep(self.timing.tick)
        founding = (
            json.dumps({"cluster": cluster_id}).encode(),
            json.dumps({"m": [self.node_id, self.name, self.api_addr]}).encode(),
        )
        self._do(lambda c: c.propose_many(founding))
        for market in FOUNDING_MARKETS:
            await self.execute(market)

    def _lead_membership(self, core: RaftCore) -> None:
        """Leader only: promote caught-up learners, replace voters gone too long."""
        conf = core.conf
        if core.pending_conf_index > core.applied_index:
            return  # one change at a time
        self._admitting -= {*conf.voters, *conf.learners}
        for newcomer in self._admitting:  # let in, but its change was dropped: again
            self._conf(ConfChange(ConfChangeType.ADD_LEARNER, newcomer, conf.index))
            return
        now = time.monotonic()
        last = core.last_index()
        if len(conf.voters) < self.config.max_voters:
            for learner in conf.learners:
                pr = core.prs.get(learner)
                heard = now - self._seen.get(learner, 0.0)
                if pr is not None and pr.match >= last - 1 and heard < 1.0:
                    self._conf(ConfChange(ConfChangeType.ADD_VOTER, learner, conf.index))
                    return
        for voter in conf.voters:
            if voter == self.node_id:
                continue
            gone = now - self._seen.get(voter, self.started_at)
            alive = 1 + sum(
                1 for v in conf.voters if v != self.node_id and now - self._seen.get(v, 0.0) < 2.0
            )
            if gone > self.timing.remove_after and alive > len(conf.voters) // 2:
                log.info("removing voter %d, unreachable for %.0f s", voter, gone)
                self._conf(ConfChange(ConfChangeType.REMOVE, voter, conf.index))
                return
        if self.machine.cluster_id:
            self._announce_cluster()

    def _conf(self, change: ConfChange) -> None:
        self._do(lambda c: c.propose_conf_change(change))

    # ------------------------------------------------------------------ status (rpc Backend)

    def status(self, digest: bool = True) -> dict:
        """The ``status`` op's data. ``digest=False`` leaves out the state digest, which
        serialises the whole exchange (a quarter second for a big book): the terminal reads
        status every second and takes the digest itself only when the book is quiet."""
        core = self.core
        conf = core.conf if core is not None else None
        members = self.machine.members
        now = time.monotonic()

        def named(node_id: int) -> str:
            member = members.get(node_id)
            return member.name if member else str(node_id)

        peers = []
        if conf is not None:
            for node_id in sorted({*conf.voters, *conf.learners} - {self.node_id}):
                member = members.get(node_id)
                seen = self._seen.get(node_id)
                connected = self.links is not None and node_id in self.links.connected()
                peers.append({
                    "name": named(node_id),
                    "addr": member.addr if member else "",
                    "state": ("voter" if node_id in conf.voters else "learner")
                    + ("" if connected else ", unreachable"),
                    "last_seen_ms": int((now - seen) * 1000) if seen else None,
                })  # fmt: skip
        role = "joining"
        if core is not None:
            role = ROLE_NAMES[core.role]
            if conf is not None and self.node_id in conf.learners:
                role = "learner"
        return {
            "name": self.name,
            "node_id": self.node_id,
            "cluster_id": self.machine.cluster_id,
            "role": role,
            "term": core.term if core is not None else 0,
            "leader": named(core.leader) if core is not None and core.leader else None,
            "commit_index": core.commit_index if core is not None else 0,
            "applied_index": self.machine.applied_index,
            "digest": self.machine.digest() if digest else None,
            "voters": [named(v) for v in conf.voters] if conf is not None else [],
            "learners": [named(v) for v in conf.learners] if conf is not None else [],
            "peers": peers,
            "quorum": not self._no_quorum(now) and core is not None,
            "version": version("dex"),
        }

    # ------------------------------------------------------------------ discovery

    def _sighting(self) -> Sighting:
        return Sighting(self.name, self.node_id, self.machine.cluster_id, self.api_addr)

    async def _grape_peers(self) -> list[str]:
        """Peers announced on the grape (``--grape``), to try joining like seeds.

        A grape cannot say whether a peer is in a cluster; one that is not answers a join
        with a refusal, as a seed would.
        """
        return [] if self.grape is None else await self.grape.peers(exclude=self.api_addr)

    def _cluster_known(self) -> None:
        if self.links is not None:
            self.links.cluster_id = self.machine.cluster_id
        self._announce_cluster()

    def _announce_cluster(self) -> None:
        advertised = self.discovery.advertised if self.discovery is not None else None
        if advertised is not None and advertised.cluster_id != self.machine.cluster_id:
            assert self.discovery is not None
            self._tasks.append(asyncio.ensure_future(self.discovery.update(self._sighting())))


def _commands_payload(batch: list) -> bytes:
    return json.dumps({"c": batch}, separators=(",", ":")).encode()
