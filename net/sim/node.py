"""A simulated machine: the peer's real shell (``net/shell.py``) behind a fake disk and network.

This is a driver of the shell, as ``net/node.py`` is, with virtual time instead of asyncio:
it runs the turns the shell hands out (early messages on the network at once, the write
durable after a simulated fsync, then the rest and ``persisted``), stores the snapshots the
shell asks for, carries join requests and replies, and hands answers back to clients. Every
rule about what to send when, what to apply and who is a member is the shell's.

A machine has a disk (its consensus store, kept across crashes) and a process (the shell,
lost on a crash with everything not yet durable). The process can pause: it then steps
nothing, and what arrives (messages, ticks, a finished write, clients) piles up and is fed
in one burst when it resumes. A write can fail: the process stops at once (crash-only), as
the real peer does.

A machine is a trader too, as a real peer is: its data dir holds a key (drawn from the
seed, kept across crashes and wipes), every write its shell makes is signed with it, and
once the machine is in a cluster that trades it registers its name for that key (retrying
on each tick until the log binds them), as ``net/node.py`` does. Its clients are its
trader's: a command's owner is this machine's registered name.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from net.machine import Applied, Member
from net.raft import MT, ConfState, MemoryStorage, Msg, Role, Snapshot
from net.rpc.errors import ERR_NO_QUORUM, ERR_UNREACHABLE, RpcError
from net.shell import NOT_JOINED, Shell, Turn, consensus_id
from net.sim.bugs import shell_class
from net.sim.checker import Invariant, Violation
from net.sim.weather import TICK_MS
from net.traders import Register, TraderCommand, TraderKey
from net.transport.control import JoinReply, JoinRequest
from net.writes import Answer

if TYPE_CHECKING:
    from net.sim.simulation import Simulation
    from net.sim.workload import Client

CLUSTER = "sim"
SIM_EPOCH_MS = 1_800_000_000_000  # what the machines' clocks read when a run starts


@dataclass(frozen=True, slots=True)
class Note:
    """A join request or reply on the simulated network (the real ones travel on a link)."""

    frm: int
    to: int
    body: JoinRequest | JoinReply

    def __str__(self) -> str:
        return f"{type(self.body).__name__} n{self.frm}->n{self.to} {self.body}"


def addr_of(node_id: int) -> str:
    return f"sim:{node_id}"


def id_of(addr: str) -> int:
    host, _, port = addr.partition(":")
    return int(port) if host == "sim" and port.isdigit() else 0


class SimNode:
    """One machine (see the module doc); ``slot`` names it across wipes and restarts."""

    def __init__(self, sim: Simulation, slot: int) -> None:
        self.sim = sim
        self.slot = slot
        self.name = f"m{slot}"
        self.storage = MemoryStorage()  # what is durable: survives crashes
        self.last_id = 0  # the consensus id it last ran as (a wipe's keep_id_on_wipe bug)
        self.gen = 0  # incarnation: events of a crashed incarnation are ignored
        self.boots = 0
        self.up = False
        self.stopped = False  # left the cluster cleanly and was not started again
        self.leaving = False
        self.writing = False  # a turn's write is being made durable
        self.paused = False
        self.piled: list[Callable[[], None]] = []  # inputs that arrived during a pause
        self.shell: Shell | None = None
        self.applied = 0
        self.led_term = 0  # the last term this node was seen leading
        self.new_term = False  # it leads a term whose first turn is not written yet
        # seq -> (client, its attempt); no client: this machine's own register
        self.waiting: dict[int, tuple[Client | None, int]] = {}
        self.registering = 0  # the seq of the register in flight (0: none)
        self.refused_seen = 0  # the machine's refused count after the entry last applied
        self.tick_ms = TICK_MS + sim.rng.randint(-1, 1)  # clocks drift a little
        self.key = TraderKey.from_seed(sim.rng.randbytes(32))  # the data dir's trader key
        # its wall clock: off by up to a second either way, so leaders disagree about time
        # (from its slot, not the run's random stream: seeds keep reproducing what they did)
        self.clock_skew_ms = zlib.crc32(b"clock %d" % slot) % 2001 - 1000

    @property
    def id(self) -> int:
        return self.storage.node_id

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        sim = self.sim
        self.gen += 1
        self.boots += 1
        self.up, self.stopped, self.leaving = True, False, False
        self.writing = self.paused = self.new_term = False
        self.piled.clear()
        if sim.opts.bugs.keep_id_on_wipe and not self.storage.node_id and self.last_id:
            self.storage.claim_node_id(self.last_id)  # the bug: the old voter, log lost
        self.shell = self._new_shell()
        self.last_id = self.id
        sim.register(self)
        self.applied = self.storage.snapshot().meta.index
        self.refused_seen = self.shell.machine.refused
        self.registering = 0
        if sim.trace.enabled:
            sim.trace.log(f"{self.name} starts as n{self.id} at applied {self.applied}")
        sim.loop.after(sim.rng.randint(1, self.tick_ms), self._tick, self.gen)
        self._pump()

    def _new_shell(self) -> Shell:
        sim = self.sim
        node_id = consensus_id(self.storage, 0, sim.new_id)
        return shell_class(sim.opts.bugs)(
            node_id, self.name, addr_of(node_id), self.storage,
            cluster=CLUSTER, timing=sim.timing, raft=sim.weather.config(),
            rng=random.Random(sim.rng.getrandbits(64)), first_seq=self.boots << 40,
            now=sim.now(), key=self.key, money=sim.money, wall=self.wall,
            max_voters=sim.opts.voter_cap,
            observer=self,
        )  # fmt: skip

    def wall(self) -> int:
        """This machine's clock in ms (what it stamps entries with when it leads)."""
        return SIM_EPOCH_MS + self.sim.loop.now + self.clock_skew_ms

    def found(self, founders: list[Member]) -> None:
        """Write the founding entries with the shell's own ``found``, before this machine's
        process first runs (every founder's store holds them before any of them starts)."""
        self._new_shell().found(CLUSTER + "-cluster", founders)

    def crash(self) -> None:
        """Lose everything volatile, including writes whose fsync has not completed."""
        self.gen += 1
        self.up = False
        self.writing = self.paused = False
        self.piled.clear()
        self.shell = None
        lost = [(client, attempt) for client, attempt in self.waiting.values() if client]
        self.waiting.clear()
        self.registering = 0
        if self.sim.trace.enabled:
            self.sim.trace.log(f"{self.name} (n{self.id}) CRASH")
        for client, attempt in lost:  # their connections break: the clients see it at once
            self._reply(client, attempt, None, RpcError(ERR_UNREACHABLE, "connection lost"))

    def wipe(self) -> None:
        """Crash, and lose the consensus store too (the data dir's identity is kept)."""
        self.crash()
        self.storage = MemoryStorage()
        if self.sim.trace.enabled:
            self.sim.trace.log(f"{self.name} WIPED (it was n{self.last_id})")

    def leave(self) -> None:
        """A clean stop (SIGTERM): leave the cluster, then the process ends."""
        if self.up and self.shell is not None:
            self.leaving = True
            self.do(self.shell.leave)
            self.sim.loop.after(self.sim.leave_within_ms, self._stop, self.gen)

    def _stop(self, gen: int) -> None:
        if gen == self.gen and self.up and self.leaving and self.sim.issuing:
            if self.sim.trace.enabled:
                left = self.shell is not None and self.shell.left
                self.sim.trace.log(f"{self.name} stops ({'left' if left else 'leave timed out'})")
            self.crash()
            self.stopped = True

    def pause(self, ms: int) -> None:
        if self.up and not self.paused:
            self.paused = True
            self.sim.loop.after(ms, self._resume, self.gen)
            if self.sim.trace.enabled:
                self.sim.trace.log(f"{self.name} pauses for {ms}ms")

    def _resume(self, gen: int) -> None:
        """Feed everything that piled up, then take the turns: as a real peer's event loop,
        woken after a stall, runs every callback that is ready (messages, ticks) before its
        shell loop takes the next turn."""
        if gen != self.gen or not self.paused:
            return
        self.paused = False
        piled, self.piled = self.piled, []
        if self.sim.trace.enabled:
            self.sim.trace.log(f"{self.name} resumes: {len(piled)} inputs piled up")
        for action in piled:
            if gen != self.gen:
                return  # an input crashed it (a failed write)
            action()
        self._pump()

    # ------------------------------------------------------------------ inputs

    def do(self, action: Callable[[], Any]) -> None:
        """Run ``action`` in this process now, or when it resumes; then take the turns."""
        if not self.up:
            return
        if self.paused:
            self.piled.append(action)
            return
        action()
        self._pump()

    def _tick(self, gen: int) -> None:
        if gen != self.gen:
            return
        self.sim.loop.after(self.tick_ms, self._tick, gen)
        self.do(self._on_tick)

    def _on_tick(self) -> None:
        shell = self.shell
        assert shell is not None
        now = self.sim.now()
        shell.tick(now)
        if self.leaving and shell.left:
            self._stop(self.gen)
            return
        if shell.ask_due(now):
            self._ask_in(shell)
        self._register(shell, now)

    @property
    def registered(self) -> bool:
        """The log this process applied binds this machine's name to its key."""
        shell = self.shell
        return shell is not None and shell.machine.traders.get(self.key.hex) == self.name

    def _register(self, shell: Shell, now: float) -> None:
        """Register this machine's name for its key once its cluster trades, one register in
        flight at a time (as ``Node._trader`` does; a failed one is tried again)."""
        if self.registering or self.name in shell.machine.names:
            return
        if shell.state(now) != "trading":
            return
        try:
            seq = shell.submit(Register(self.name), now)
        except RpcError:
            return
        self.registering = seq
        self.waiting[seq] = (None, 0)
        if self.sim.trace.enabled:
            self.sim.trace.log(f"{self.name} (n{self.id}) registers its name (request {seq})")

    def deliver(self, message: Msg | Note) -> None:
        if isinstance(message, Msg) and message.type == MT.SNAP and message.done:
            self.sim.faults.snapshot_arrives(self)  # may stall the process right now

        def handle() -> None:
            assert self.shell is not None
            if isinstance(message, Msg):
                self.shell.step(message, self.sim.now())
            elif isinstance(message.body, JoinRequest):
                reply = self.shell.join_request(message.body, self.sim.now())
                self.sim.network.send(Note(self.id, message.frm, reply))
                if reply.ok:
                    self.sim.faults.admitted(self)
            else:
                self.shell.join_reply(message.body, addr_of(message.frm), self.sim.now())

        self.do(handle)

    def deliver_many(self, messages: list[Msg | Note]) -> None:
        """Messages that arrived together: fed as one batch, then the turns."""

        def handle() -> None:
            for message in messages:
                assert self.shell is not None
                if isinstance(message, Msg):
                    self.shell.step(message, self.sim.now())
                else:
                    self.deliver(message)

        self.do(handle)

    def submit(self, client: Client, attempt: int, command: TraderCommand) -> None:
        """A client's write arrives, as an RPC would: a machine that is down refuses the
        connection, and one still joining (or that has not applied its log since it started)
        refuses writes as ``Node.writable`` does."""
        if not self.up:
            self._reply(client, attempt, None, RpcError(ERR_UNREACHABLE, "connection refused"))
            return

        def handle() -> None:
            shell, now = self.shell, self.sim.now()
            assert shell is not None
            try:
                if shell.state(now) == "joining":
                    raise RpcError(ERR_NO_QUORUM, NOT_JOINED)
                seq = shell.submit(command, now)
            except RpcError as error:
                self._reply(client, attempt, None, error)
                return
            self.waiting[seq] = (client, attempt)

        self.do(handle)

    def _ask_in(self, shell: Shell) -> None:
        """Send a join request to what the shell knows and to a peer discovery shows."""
        sim = self.sim
        targets = [id_of(a) for a in shell.join_targets()]
        member = sim.random_member(exclude=self.id)
        if member:
            targets.append(member)
        request = shell.join_request_for()
        for target in dict.fromkeys(t for t in targets[:3] if t and t != self.id):
            sim.network.send(Note(self.id, target, request))

    # ------------------------------------------------------------------ turns

    def _pump(self) -> None:
        shell, sim = self.shell, self.sim
        while self.up and not self.paused and not self.writing and shell is not None:
            turn = shell.next_turn(sim.now())
            if turn is None:
                self._idle(shell)
                return
            rd = turn.ready
            if rd.role == Role.LEADER and self.led_term != rd.term:
                self.led_term = rd.term
                if turn.early:  # a leader's messages leave now: its own vote must be durable
                    self._took_office(shell)
                else:  # a lone voter wins in the Ready that casts its vote: once it is written
                    self.new_term = True
            if sim.trace.enabled:
                self._trace_turn(turn)
            self._send(turn.early)  # on the network before the write below is durable
            self._answer(shell)
            if rd.must_sync:
                self.writing = True
                fsync, fails = sim.faults.fsync()
                sim.loop.after(fsync, self._synced, self.gen, turn, fails)
                sim.faults.writing(self, fsync, rd)
                return
            self._persist(turn, write=True)

    def _synced(self, gen: int, turn: Turn, fails: bool) -> None:
        if gen != self.gen:
            return  # crashed mid-fsync: the write is lost, the early messages are not
        if fails:
            self.sim.faults.write_failed(self)  # the process stops: nothing is written
            return
        rd = turn.ready
        self.sim.checker.on_persist(
            self.id, self.storage, self.storage.hard_state, rd.hard_state, rd.entries, rd.snapshot
        )
        self.storage.save(rd.hard_state, rd.entries, rd.snapshot)  # durable from here on
        self.do(lambda: self._persist(turn, write=False))

    def _persist(self, turn: Turn, write: bool) -> None:
        """The write is durable: send what acknowledges it, then ``persisted``. With
        write=True it is made here (a Ready that needs no fsync); else it happened already."""
        shell, rd = self.shell, turn.ready
        assert shell is not None
        if write and turn.writes:
            self.sim.checker.on_persist(
                self.id, self.storage, self.storage.hard_state, rd.hard_state, rd.entries,
                rd.snapshot,
            )  # fmt: skip
            self.storage.save(rd.hard_state, rd.entries, rd.snapshot)
        if self.new_term:
            self.new_term = False
            self._took_office(shell)
        self._send(turn.late)
        self.writing = False
        shell.persisted(turn, self.sim.now())
        self._answer(shell)

    def _took_office(self, shell: Shell) -> None:
        assert shell.core is not None
        self.sim.checker.on_new_leader(self.id, shell.core, self.storage)
        self.sim.faults.new_leader(self.id)

    def _idle(self, shell: Shell) -> None:
        """Store a snapshot if the shell asks: a write of its own, taking disk time, during
        which the shell is busy (inputs wait for it, as they wait for a turn's write)."""
        due = shell.snapshot_due(self.sim.now())
        if due is None:
            return
        self.writing = True
        fsync, _ = self.sim.faults.fsync()
        self.sim.loop.after(fsync, self._snapshot_written, self.gen, due)

    def _snapshot_written(self, gen: int, due: tuple[int, ConfState, bytes, int]) -> None:
        if gen != self.gen:
            return  # crashed before it was written: no snapshot, the log is whole
        index, conf, image, compact = due
        store = self.storage
        store.create_snapshot(index, conf, image)
        store.compact(compact)
        self.sim.snapshots += 1

        def saved() -> None:
            assert self.shell is not None
            self.sim.checker.on_digest(self.id, index, self.shell.machine.state_digest())
            self.writing = False
            self.shell.snapshot_saved()

        self.do(saved)

    def _send(self, messages: list[Msg]) -> None:
        sim = self.sim
        for m in messages:
            sim.checker.on_send(m, self.storage)
            sim.network.send(m)

    def _answer(self, shell: Shell) -> None:
        for answer in shell.take_answers():
            waiting = self.waiting.pop(answer.seq, None)
            if waiting is not None:
                client, attempt = waiting
                self._reply(client, attempt, answer, answer.error)

    def _reply(
        self, client: Client | None, attempt: int, answer: Answer | None, error: RpcError | None
    ) -> None:
        sim = self.sim
        events = (answer.events or []) if answer is not None else []
        if answer is not None and error is None:
            sim.checker.on_answer(self.id, self.key.hex, answer.seq, answer.index, events)
        if client is None:  # this machine's register: done (or to be tried again)
            if answer is not None and answer.seq == self.registering:
                self.registering = 0
            return
        sim.loop.after(sim.network.latency(), client.on_reply, attempt, error, events)

    # ------------------------------------------------------------------ the checker's view
    # (the shell's Observer: called as each entry is applied, and on a snapshot install)

    def entry_applied(
        self, shell: Shell, index: int, term: int, kind: int, payload: bytes,
        outcomes: list[Applied],
    ) -> None:  # fmt: skip
        checker = self.sim.checker
        if index != self.applied + 1:
            raise Violation(
                Invariant.STATE_MACHINE_SAFETY, f"n{self.id} applies {index} after {self.applied}"
            )
        first = index >= len(checker.h_terms)
        assert shell.core is not None
        machine = shell.machine
        refused, self.refused_seen = machine.refused - self.refused_seen, machine.refused
        touched = machine.engine_index == index  # the engine was handed a command
        checker.on_apply(
            self.id, index, term, kind, payload, outcomes, shell.core.term, refused, touched,
            machine.traders,
        )  # fmt: skip
        checker.check_money(self.id, index, machine.exchange)
        self.applied = index
        if index % self.sim.weather.digest_every == 0:
            checker.on_digest(self.id, index, shell.machine.state_digest())
        if first:
            checker.check_commit_survives_elections(index)

    def restored(self, shell: Shell, snapshot: Snapshot) -> None:
        meta = snapshot.meta
        self.applied = meta.index
        self.refused_seen = shell.machine.refused
        self.sim.checker.on_restore(self.id, meta.index, meta.term, shell.machine.state_digest())
        self.sim.checker.check_money(self.id, meta.index, shell.machine.exchange)

    def _trace_turn(self, turn: Turn) -> None:
        rd = turn.ready
        parts = [f"n{self.id} ready {rd.role.name} t{rd.term}"]
        if rd.hard_state is not None:
            hs = rd.hard_state
            parts.append(f"hs=(t{hs.term} v{hs.vote} c{hs.commit})")
        if rd.entries is not None:
            parts.append(f"append {rd.entries.first}..{rd.entries.last}")
        if rd.snapshot is not None:
            parts.append(f"snapshot@{rd.snapshot.meta.index}")
        if rd.committed is not None:
            parts.append(f"apply {rd.committed.first}..{rd.committed.last}")
        if rd.messages:
            parts.append(f"send {len(turn.early)}+{len(turn.late)}")
        self.sim.trace.log(" ".join(parts))
