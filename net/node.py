"""The peer: the shell (``net/shell.py``) driven by asyncio, SQLite and websockets.

Everything a peer decides lives in the sans-I/O :class:`~net.shell.Shell`; this module is
its driver, and the only code that does I/O for it:

- **the shell loop** (:meth:`Node._run`, one task): takes a turn (``next_turn``), sends its
  early messages, makes its writes durable in a worker thread (fsync does not block the
  loop), sends the rest, ``persisted``; stores snapshots the shell asks for; hands answers
  to the RPC requests waiting for them. Inputs (peer messages, ticks, writes, join
  requests) go to the shell as they arrive; while a turn is in flight the shell queues them,
  so under load one turn (one fsync, one message per peer) carries many requests;
- **the ticker** (one tick every ``timing.tick``);
- **joining** (``net/joining.py``): discovery, seeds, grapes, founding and merging;
- **the trader** (:meth:`Node._trader`): registers this peer's name for its key once it is
  in a cluster, and stops the peer (``NameTaken``, exit 2) if the name is another key's;
- **links**: one authenticated websocket per peer the shell wants (``net/transport``);
- **status** (``net/status.py``): what the ``status`` op and the screen show.

Crash-only: an exception in any of the peer's tasks is logged with its traceback, the peer
closes without a word to the cluster, and :attr:`Node.failed` says so (the command exits
non-zero). A peer never answers while its loop is dead. See ``docs/node.md``.
"""

import asyncio
import contextlib
import ipaddress
import logging
import os
import random
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

import engine
from engine import Event
from net.config import ConfigError, PeerConfig
from net.datadir import (
    DEFAULT_CLUSTER,
    DataDir,
    DataDirError,
    check_cluster_name,
    new_node_id,
    open_data_dir,
)
from net.discovery import Discovery, Sighting
from net.feed.hub import FeedHub
from net.feed.limits import FeedLimits
from net.grenache import Presence
from net.joining import Joiner
from net.machine import FORMAT as MACHINE_FORMAT
from net.machine import Machine
from net.raft.config import Config
from net.raft.messages import Msg
from net.recovery import force_new_cluster
from net.rpc.api import Api
from net.rpc.errors import ERR_NO_QUORUM, ERR_TIMEOUT, RpcError
from net.rpc.framing import announced_names
from net.rpc.server import RpcServer
from net.shell import NOT_JOINED, Shell, consensus_id
from net.status import peer_status
from net.storage import FILE, SqliteStorage
from net.traders import NameTaken, Register, TraderCommand, TraderKey, fingerprint
from net.transport.control import JoinReply, JoinRequest
from net.transport.links import PeerLinks
from net.writes import Answer

log = logging.getLogger(__name__)

SLOW_TURN = 0.1  # seconds: a turn slower than this is logged
LEAVE_WITHIN = 3.0  # seconds a clean leave may take before the peer stops regardless
CLOSE_STEP_WITHIN = 1.0  # seconds each part of closing (tasks, discovery, links...) may take
TURN_END_WITHIN = 1.0  # seconds the turn in hand may take to finish when the peer stops
CLOSE_PARTS = 6  # what _close bounds one by one: tasks, discovery, grape, links, feed, RPC
STOP_WITHIN = LEAVE_WITHIN + TURN_END_WITHIN + CLOSE_PARTS * CLOSE_STEP_WITHIN  # longest stop()
STORE_FILES = [FILE, FILE + "-wal", FILE + "-shm"]


class Node:
    """A full dex peer (a :class:`net.peer.Peer`). ``await start()``, serve, ``await stop()``
    (a clean leave)."""

    def __init__(self, config: PeerConfig) -> None:
        config.check()
        self.config = config
        self.timing = config.timing
        self.data: DataDir | None = None
        self.key: TraderKey = None  # type: ignore[assignment]  # set by start()
        self.storage: SqliteStorage | None = None
        self.shell: Shell = None  # type: ignore[assignment]  # set by start()
        self.links: PeerLinks = None  # type: ignore[assignment]  # set by start()
        self.discovery: Discovery | None = None
        self.grape: Presence | None = None  # --grape: announced there, peers looked up
        self.joiner = Joiner(self)
        self.api_host = config.bind
        self.api_port = 0
        self.listeners: list[Callable[[int, list[Event]], None]] = []  # the screen's feed
        self.epoch = 0  # bumped when this peer's state is replaced by another cluster's
        self.ready = asyncio.Event()  # in a cluster, its markets applied (spec/cli.md)
        self.failed: asyncio.Future[BaseException] | None = None  # set by start()
        # the websocket feed on GET /ws (docs/feed.md): fed every applied command's events,
        # flushed after each round of turns; reads, so it needs no API token
        self.feed = FeedHub(self, FeedLimits.from_env(os.environ))
        self.listeners.append(self.feed.on_events)
        self._rpc = RpcServer(
            Api(self, None if _loopback(config.bind) else config.api_token), feed=self.feed.handle
        )
        self._runner: web.ServerRunner | None = None
        self._wake = asyncio.Event()
        self._turning = asyncio.Lock()  # held by the shell loop while a turn is in flight
        self._futures: dict[int, asyncio.Future] = {}
        self._applied_waiters: list[tuple[int, asyncio.Future]] = []
        self._linked: set[int] = set()
        self._links_version = -1
        self._tasks: list[asyncio.Task] = []
        self._chores: set[asyncio.Task] = set()  # short tasks (re-advertising)
        self._stopping = False
        self._closed = False

    # ------------------------------------------------------------------ identity

    @property
    def node_id(self) -> int:
        return self.shell.id

    @property
    def name(self) -> str:
        assert self.data is not None
        return self.data.identity.name

    @property
    def owner(self) -> str:  # the trader this peer places orders for
        return self.name

    @property
    def trader_key(self) -> str:
        """This peer's trader's public key, hex."""
        return self.key.hex

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint

    @property
    def registered(self) -> bool:
        """The applied log binds this peer's name to its key."""
        return self.machine.traders.get(self.key.hex) == self.name

    @property
    def api_addr(self) -> str:
        return f"{self.api_host}:{self.api_port}"

    @property
    def machine(self) -> Machine:
        return self.shell.machine

    @property
    def exchange(self) -> engine.Exchange:
        return self.shell.machine.exchange

    @property
    def core(self):
        return self.shell.core

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the data dir and log, listen, and begin founding, joining or rejoining.

        DataDirError / StorageError / ConfigError / RecoveryError: the peer cannot start
        (one line each; the command exits 2)."""
        self.failed = asyncio.get_running_loop().create_future()
        self.data = open_data_dir(self.config.name, self.config.data_dir)
        try:
            self.key = TraderKey.load_or_create(self.data.path)
            self.storage = SqliteStorage(self.data.path)
            _check_format(self.storage, self.data)
            cluster = self._cluster_name(self.storage)
            consensus_id(self.storage, self.data.identity.legacy_node_id, new_node_id)
            if self.config.force_new_cluster:
                changes = force_new_cluster(self.storage, self.storage.node_id)
                log.warning("--force-new-cluster: this peer is now the only voter of its "
                            "cluster (%d configuration entries written)", changes)  # fmt: skip
        except BaseException:
            if self.storage is not None:
                self.storage.close()
            self.data.close()
            raise
        self.data.remember_cluster(cluster)
        server = web.Server(self._dispatch, access_log=None)
        self._runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.config.bind, self.config.api_port).start()
        self.api_port = self._runner.addresses[0][1]
        if self.api_host in ("0.0.0.0", "::"):
            self.api_host = self.config.interface if self.config.interface != "all" else "127.0.0.1"
        self._open_shell(cluster)
        if self.config.discovery:
            self.discovery = Discovery(self.config.interface)
            await self.discovery.start(self._sighting())
        if self.config.grape:
            self.grape = Presence(self.config.grape, announced_names(self.name), self.api_port)
            self.grape.start()
        self._tasks = [
            self._task(self._run(), "dex-shell"),
            self._task(self._ticker(), "dex-ticker"),
            self._task(self.joiner.run(), "dex-joining"),
            self._task(self._trader(), "dex-trader"),
        ]
        self.wake()

    def _cluster_name(self, storage: SqliteStorage) -> str:
        """``--cluster``, checked against the name this data dir remembers."""
        assert self.data is not None
        remembered = self.data.cluster_name()
        wanted = check_cluster_name(self.config.cluster or remembered or DEFAULT_CLUSTER)
        holds_log = storage.last_index() or storage.snapshot().data
        if remembered and wanted != remembered and holds_log:
            raise ConfigError(
                f"--cluster: data dir {self.data.path} belongs to cluster {remembered!r}, not "
                f"{wanted!r} (start it with --cluster {remembered}, or use another --data-dir)"
            )
        return wanted

    def _open_shell(self, cluster: str) -> None:
        """A shell over this data dir's consensus store, and links for its consensus id."""
        assert self.storage is not None and self.data is not None
        t = self.timing
        self.shell = Shell(
            self.storage.node_id, self.name, self.api_addr, self.storage,
            cluster=cluster, timing=t, rng=random.Random(secrets.randbits(64)),
            raft=Config(id=0, election_tick=t.election_ticks, heartbeat_tick=t.heartbeat_ticks),
            first_seq=self.data.next_request_base(), now=time.monotonic(),
            key=self.key, money=self.config.money,
            max_voters=self.config.max_voters, on_events=self._on_events,
        )  # fmt: skip
        self.links = PeerLinks(
            self.shell.id,
            self.machine.cluster_id,
            self.config.secret.encode(),
            self._on_peer_message,
            on_join=self._on_join,
        )
        self._linked = set()
        self._links_version = -1

    async def stop(self) -> None:
        """Leave cleanly: hand over leadership, give up the vote, close. Bounded: STOP_WITHIN."""
        if self._stopping or self._closed:
            return
        if not self.loop_died:
            await self._leave()
        self._stopping = True
        self._wake.set()
        shell_task, *others = self._tasks or [None]
        for task in others:
            task.cancel()
        if shell_task is not None:  # let it finish the turn in hand: a write may be in flight
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(shell_task), TURN_END_WITHIN)
        await self._close()

    async def abort(self) -> None:
        """Close at once, without a word to the cluster (the loop died: crash-only)."""
        self._stopping = True
        await self._close()

    async def _close(self) -> None:
        """Close every part, each within CLOSE_STEP_WITHIN: a part that overruns is named in
        the log and left behind (crash-only: nothing durable depends on a tidy close)."""
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await _bounded("the peer's tasks", asyncio.gather(*self._tasks, return_exceptions=True))
        self._fail_waiting(RpcError(ERR_TIMEOUT, "the peer is shutting down"))
        if self.discovery is not None:
            await _bounded("discovery", self.discovery.close())
        if self.grape is not None:
            await _bounded("the grape announcer", self.grape.stop())
        if self.links is not None:
            await _bounded("the peer links", self.links.close())
        await _bounded("the feed's connections", self.feed.close())
        if self._runner is not None:
            await _bounded("the RPC server", self._runner.cleanup())
        if self.storage is not None:
            self.storage.close()
        if self.data is not None:
            self.data.close()

    async def _leave(self) -> None:
        shell = self.shell
        if shell is None or not shell.member:
            return
        shell.leave()
        self.wake()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LEAVE_WITHIN):
                while not shell.left:
                    await asyncio.sleep(self.timing.tick)

    async def move_aside(self, why: str) -> None:
        """Leave this cluster, move the consensus store aside (never deleted) and start over
        as a new member with an empty log: a merge, or a switch the user asked for."""
        assert self.data is not None and self.storage is not None
        old = self.machine.cluster_id or "no-cluster"
        await self._leave()
        async with self._turning:
            self._fail_waiting(RpcError(ERR_TIMEOUT, f"this peer left its cluster: {why}"))
            await self.links.close()
            self.storage.close()
            moved = self.data.move_aside(STORE_FILES, old)
            log.warning("left cluster %s (%s); its store is kept in %s", old, why, moved)
            self.storage = SqliteStorage(self.data.path)
            consensus_id(self.storage, 0, new_node_id)
            self._open_shell(self.shell.cluster)
            self.epoch += 1
        if self.discovery is not None:
            await self.discovery.update(self._sighting())
        self.wake()

    async def switch_cluster(self, cluster_id: str) -> None:
        """The user's choice on the screen: move this peer to cluster ``cluster_id``."""
        await self.joiner.switch(cluster_id, "asked to on the screen")

    def wake(self) -> None:
        self._wake.set()

    def _task(self, coro, name: str) -> asyncio.Task:
        """One of the peer's own tasks: if it ends, the peer has failed (crash-only)."""
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._task_done)
        return task

    @property
    def loop_died(self) -> bool:
        """One of the peer's tasks failed (crash-only: close without a word to anyone).
        A refused name is a failure too, but not of the loop: that peer may leave cleanly."""
        failed = self.failed
        return failed is not None and failed.done() and not isinstance(failed.result(), NameTaken)

    def _task_done(self, task: asyncio.Task) -> None:
        if task.cancelled() or self._stopping:
            return
        error = task.exception() or RuntimeError(f"{task.get_name()} ended")
        assert self.failed is not None
        if isinstance(error, NameTaken):  # the command stops the peer, cleanly, and exits 2
            log.error("%s", error)
            if not self.failed.done():
                self.failed.set_result(error)
            return
        log.critical("the peer's task %s died; stopping the peer", task.get_name(),
                     exc_info=error)  # fmt: skip
        assert self.failed is not None
        if not self.failed.done():
            self.failed.set_result(error)
        self._chore(self.abort())

    def _chore(self, coro) -> None:
        """A short task whose failure is logged, not fatal."""
        task = asyncio.ensure_future(coro)
        self._chores.add(task)

        def done(task: asyncio.Task) -> None:
            self._chores.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.warning("%s failed", task, exc_info=task.exception())

        task.add_done_callback(done)

    # ------------------------------------------------------------------ the shell loop

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.timing.tick)
            self.shell.tick(time.monotonic())
            self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            async with self._turning:
                await self._turns()
            self._after_turns()

    async def _turns(self) -> None:
        shell, storage = self.shell, self.storage
        assert storage is not None
        while (turn := shell.next_turn(time.monotonic())) is not None:
            started = time.monotonic()
            self._send(turn.early)  # the leader's disk write overlaps replication
            self._answer()  # what this turn applied: committed already, no need to wait
            rd = turn.ready
            if turn.writes:
                await asyncio.to_thread(
                    storage.save, rd.hard_state, rd.entries, rd.snapshot, rd.must_sync
                )
            saved = time.monotonic()
            self._send(turn.late)
            shell.persisted(turn, saved)
            if rd.snapshot is not None:
                log.info("installed a snapshot at index %d", rd.snapshot.meta.index)
            self._answer()
            if rd.committed is not None or rd.snapshot is not None:
                self._wake_applied_waiters()
            if (took := time.monotonic() - started) > SLOW_TURN:
                log.warning("slow turn: %.0f ms (%.0f ms writing; %d entries, %d applied)",
                            took * 1000, (saved - started) * 1000, len(rd.entries or ()),
                            len(rd.committed or ()))  # fmt: skip
        due = shell.snapshot_due(time.monotonic())
        if due is not None:
            index, conf, image, compact = due

            def persist() -> None:
                storage.create_snapshot(index, conf, image)
                storage.compact(compact)

            try:
                await asyncio.to_thread(persist)
            finally:
                shell.snapshot_saved()

    def _after_turns(self) -> None:
        shell = self.shell
        self._answer()
        self.feed.flush()
        if shell.version != self._links_version:
            self._refresh_links()
        if self.links.cluster_id != shell.machine.cluster_id:
            self.links.cluster_id = shell.machine.cluster_id
        if self.discovery is not None and self.discovery.advertised != self._sighting():
            self._chore(self.discovery.update(self._sighting()))
        if not self.ready.is_set() and shell.member and self.registered:
            self.ready.set()

    def _send(self, messages: list[Msg]) -> None:
        links, shell = self.links, self.shell
        for message in messages:
            if not links.send(message.to, message):
                shell.unreachable(message.to)

    def _answer(self) -> None:
        for answer in self.shell.take_answers():
            future = self._futures.pop(answer.seq, None)
            if future is not None and not future.done():
                _settle(future, answer)

    def _on_events(self, index: int, events: list[Event]) -> None:
        for listener in self.listeners:
            listener(index, events)

    # ------------------------------------------------------------------ the trader

    async def _trader(self) -> None:
        """Keep this peer's name registered for its key in whichever cluster it is in (a
        merge or switch starts a new log); NameTaken once the log gives it to another key.

        The check is the applied log's word: a register is committed after everything
        before it, so when two keys race for a name, every peer sees the same winner."""
        while True:
            await asyncio.sleep(self.timing.tick)
            machine = self.machine
            holder = machine.names.get(self.name)
            if holder is not None and holder != self.key.hex:
                raise NameTaken(
                    f"--name: {self.name!r} belongs to another key ({fingerprint(holder)}) in "
                    f"this cluster; this data dir's key is {self.key.fingerprint} (pick "
                    "another name, or start the data dir that holds that key)"
                )
            if holder is not None or self.shell.state(time.monotonic()) != "trading":
                continue
            with contextlib.suppress(RpcError):  # not committed: the next round tries again
                await self.execute(Register(self.name))

    # ------------------------------------------------------------------ writes

    def writable(self) -> None:
        """RpcError ERR_NO_QUORUM unless this peer can take writes now."""
        state = self.shell.state(time.monotonic())
        if state == "joining":
            raise RpcError(ERR_NO_QUORUM, NOT_JOINED)

    async def execute(self, command: TraderCommand) -> tuple[int, list[Event]]:
        """Commit ``command`` through consensus; (log index, its events) once applied here."""
        if self._stopping:
            raise RpcError(ERR_TIMEOUT, "the peer is shutting down")
        seq = self.shell.submit(command, time.monotonic())
        future = asyncio.get_running_loop().create_future()
        self._futures[seq] = future
        self._wake.set()
        return await future

    async def wait_applied(self, index: int, timeout: float) -> int:
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

    def _fail_waiting(self, error: RpcError) -> None:
        futures, self._futures = self._futures, {}
        for future in futures.values():
            if not future.done():
                future.set_exception(error)

    # ------------------------------------------------------------------ peers

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        """One port for both: websocket upgrades on /peer are links, the rest is RPC."""
        if self.failed is not None and self.failed.done():
            raise web.HTTPServiceUnavailable(text="dex: this peer's loop died; see its log\n")
        if request.method == "GET" and request.path == self.links.path:
            return await self.links.accept(request)
        return await self._rpc.handle(request)

    def _on_peer_message(self, sender: int, message: object) -> None:
        if isinstance(message, Msg):  # (links also carry PeerInfo; this node sends none)
            self.shell.step(message, time.monotonic())
            self._wake.set()

    async def _on_join(self, request: JoinRequest) -> JoinReply:
        reply = self.shell.join_request(request, time.monotonic())
        if reply.ok:
            self._wake.set()
        elif not reply.leader_addr:  # (a member that is not the leader names it: no news)
            log.info("join request from %s (%s) refused: %s", request.name, request.addr,
                     reply.reason)  # fmt: skip
        return reply

    def _refresh_links(self) -> None:
        """Keep a link to every peer the shell wants, and only to those."""
        wanted = self.shell.links()
        for node_id, addr in wanted.items():
            with contextlib.suppress(ValueError):  # an address from the log that is unusable
                self.links.set_peer(node_id, addr)
        for node_id in self._linked - wanted.keys():
            self.links.remove_peer(node_id)
        self._linked = set(wanted)
        self._links_version = self.shell.version

    def _sighting(self) -> Sighting:
        machine = self.machine
        return Sighting(self.name, self.shell.id, machine.cluster_id, self.api_addr,
                        self.shell.cluster, machine.pristine)  # fmt: skip

    # ------------------------------------------------------------------ status

    def status(self, digest: bool = True) -> dict:
        """The ``status`` op's data (``net/status.py``). ``digest=False`` leaves out the
        state digest, which serialises the whole exchange: the terminal reads the status
        every second and takes the digest itself only when the book is quiet."""
        return peer_status(self, digest)


def _check_format(storage: SqliteStorage, data: DataDir) -> None:
    """DataDirError when the store's snapshot is from a dex whose state this one cannot read
    (before traders signed their commands): one line, not a traceback."""
    image = storage.snapshot().data
    if image and not image.startswith(MACHINE_FORMAT):
        raise DataDirError(
            f"data dir {data.path}: its log is from an older version of dex (before signed "
            "traders); start with another --data-dir"
        )


def _loopback(addr: str) -> bool:
    return ipaddress.ip_address(addr).is_loopback


def _settle(future: asyncio.Future, answer: Answer) -> None:
    if answer.error is not None:
        future.set_exception(answer.error)
    else:
        future.set_result((answer.index, answer.events))


async def _bounded(what: str, step: Awaitable[object]) -> None:
    """Await one part of closing for at most CLOSE_STEP_WITHIN; log it if it overran."""
    try:
        async with asyncio.timeout(CLOSE_STEP_WITHIN):
            await step
    except TimeoutError:
        log.warning("closing %s took over %.0f s; going on without it", what, CLOSE_STEP_WITHIN)
