"""A simulated peer: the real core and state machine behind a fake disk and network.

The Ready handler here follows the real node's order (net/node.py, docs/consensus.md): send
the messages in SEND_BEFORE_PERSIST at once, restore a snapshot and apply committed entries
(answering clients), then persist (the fsync takes simulated time, and a crash before it
completes loses the writes, while the early messages are already on the network), then send
the rest (acks, votes, vote requests), then advance(). Inputs arriving during the fsync queue
up and are fed in one batch after it.
"""

from __future__ import annotations

import random
from collections import deque
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from net.raft import (
    MT,
    ConfState,
    EntryKind,
    EntryRun,
    MemoryStorage,
    Msg,
    ProposalDropped,
    RaftCore,
    Ready,
    Role,
)
from net.raft.ordering import SEND_BEFORE_PERSIST
from net.sim.checker import Invariant, Violation
from net.sim.replica import Replica
from net.sim.weather import TICK_MS

if TYPE_CHECKING:
    from net.sim.simulation import Simulation
    from net.sim.workload import Client


#: the vote_request_early bug: vote requests leave before the candidate's own vote is durable
EARLY_WITH_VOTE_REQUESTS = SEND_BEFORE_PERSIST | {MT.VOTE, MT.PRE_VOTE}


class Input(IntEnum):
    TICK = 0
    MSG = 1
    PROPOSE = 2
    CONF = 3
    TRANSFER = 4


class SimNode:
    def __init__(self, sim: Simulation, node_id: int, founders: ConfState | None) -> None:
        self.sim = sim
        self.id = node_id
        self.storage = MemoryStorage()  # what is durable: survives crashes
        if founders is not None:
            self.storage.bootstrap(founders.voters, founders.learners)
        self.gen = 0  # incarnation: events of a crashed incarnation are ignored
        self.up = False
        self.retired = False
        self.busy = False  # a Ready is being persisted
        self.core: RaftCore | None = None
        self.replica: Replica | None = None
        self.applied = 0
        self.led_term = 0  # the last term this node was seen leading
        self.inbox: deque[tuple[Input, Any]] = deque()
        self.waiting: dict[tuple[str, int], Client] = {}
        self.tick_ms = TICK_MS + sim.rng.randint(-1, 1)  # clocks drift a little

    # -- life cycle --

    def start(self) -> None:
        sim = self.sim
        self.gen += 1
        self.up = True
        self.busy = False
        snap = self.storage.snapshot()
        bugs = sim.opts.bugs
        self.replica = Replica.restore(snap.data, bugs) if snap.data else Replica.empty(bugs)
        self.applied = snap.meta.index
        rng = random.Random(sim.rng.getrandbits(64))
        self.core = RaftCore(sim.weather.config(self.id, self.applied), self.storage, rng, bugs)
        if sim.trace.enabled:
            sim.trace.log(f"n{self.id} starts at applied {self.applied}")
        sim.loop.after(sim.rng.randint(1, self.tick_ms), self._tick, self.gen)

    def crash(self) -> None:
        """Lose everything volatile, including writes whose fsync has not completed."""
        self.gen += 1
        self.up = False
        self.busy = False
        self.core = None
        self.replica = None
        self.inbox.clear()
        self.waiting.clear()
        if self.sim.trace.enabled:
            self.sim.trace.log(f"n{self.id} CRASH")

    def _tick(self, gen: int) -> None:
        if gen != self.gen:
            return
        self.feed(Input.TICK, None)
        self.sim.loop.after(self.tick_ms, self._tick, gen)

    # -- inputs --

    def feed(self, kind: Input, arg: Any) -> None:
        if not self.up:
            return
        if self.busy:
            self.inbox.append((kind, arg))
            return
        self._input(kind, arg)
        self._pump()

    def feed_many(self, msgs: list[Msg]) -> None:
        """Messages that arrived together: fed as one batch, then one Ready (as the real
        node feeds everything its inbox holds)."""
        if not self.up:
            return
        if self.busy:
            self.inbox.extend((Input.MSG, m) for m in msgs)
            return
        for m in msgs:
            self._input(Input.MSG, m)
        self._pump()

    def _input(self, kind: Input, arg: Any) -> None:
        core = self.core
        assert core is not None
        if kind == Input.TICK:
            core.tick()
        elif kind == Input.MSG:
            core.step(arg)
        elif kind == Input.PROPOSE:
            client, seq, payload = arg
            try:
                core.propose(payload)
            except ProposalDropped:
                self.sim.loop.after(self.sim.network.latency(), client.on_reject, seq)
                return
            self.waiting[(client.name, seq)] = client
        else:
            try:
                if kind == Input.CONF:
                    core.propose_conf_change(arg)
                else:
                    core.transfer_leader(arg)
            except ProposalDropped:
                pass

    # -- the Ready handler --

    def _pump(self) -> None:
        core = self.core
        assert core is not None
        sim = self.sim
        while not self.busy and core.has_ready():
            rd = core.ready()
            if rd.role == Role.LEADER and self.led_term != rd.term:
                self.led_term = rd.term
                sim.checker.on_new_leader(self.id, core, self.storage)
                sim.faults.new_leader(self.id)
            if sim.trace.enabled:
                self._trace_ready(rd)
            early, late = self._split(rd.messages)
            gen = self.gen
            self._send(early)  # on the network before the write below is durable
            self._install(rd)  # may retire this node (after this event) or raise a Violation
            if rd.must_sync:
                self.busy = True
                fsync = sim.rng.randint(1, sim.weather.disk_ms)
                sim.loop.after(fsync, self._synced, gen, rd, late)
                sim.faults.writing(self, fsync, rd)
            else:  # a commit-only change: written lazily, no fsync to wait for
                self._persist(rd, late, write=not sim.opts.lazy_commit)

    def _split(self, msgs: list[Msg]) -> tuple[list[Msg], list[Msg]]:
        """The production order's early and late messages, or a buggy one."""
        bugs = self.sim.opts.bugs
        if bugs.send_before_persist:
            return msgs, []
        types = EARLY_WITH_VOTE_REQUESTS if bugs.vote_request_early else SEND_BEFORE_PERSIST
        early = [m for m in msgs if m.type in types]
        if len(early) == len(msgs):
            return early, []
        return early, [m for m in msgs if m.type not in types]

    def _synced(self, gen: int, rd: Ready, late: list[Msg]) -> None:
        if gen != self.gen:
            return  # crashed mid-fsync: the writes are lost, the early messages are not
        self.busy = False
        self._persist(rd, late)
        while self.inbox:
            self._input(*self.inbox.popleft())
        self._pump()

    def _install(self, rd: Ready) -> None:
        """Restore the snapshot and apply committed entries, before this Ready's writes are
        durable: committed entries are durable on a quorum already."""
        sim = self.sim
        if rd.snapshot is not None:
            meta = rd.snapshot.meta
            self.replica = Replica.restore(rd.snapshot.data, sim.opts.bugs)
            self.applied = meta.index
            sim.checker.on_restore(self.id, meta.index, meta.term, self.replica.digest())
        if rd.committed is not None:
            self._apply(rd.committed)

    def _persist(self, rd: Ready, late: list[Msg], write: bool = True) -> None:
        """The write is durable: send what acknowledges it, advance(). With write=False (a
        commit-only Ready under the lazy_commit option) nothing reaches the disk."""
        core, sim, store = self.core, self.sim, self.storage
        assert core is not None
        if write:
            sim.checker.on_persist(
                self.id, store, store.hard_state, rd.hard_state, rd.entries, rd.snapshot
            )
            store.save(rd.hard_state, rd.entries, rd.snapshot)
        self._send(late)
        core.advance()
        self._maybe_snapshot()

    def _send(self, msgs: list[Msg]) -> None:
        sim = self.sim
        for m in msgs:
            sim.checker.on_send(m, self.storage)
            sim.network.send(m)

    def _apply(self, run: EntryRun) -> None:
        sim, replica = self.sim, self.replica
        assert replica is not None
        checker, every = sim.checker, sim.weather.digest_every
        known = len(checker.h_terms) - 1  # the canonical history's last index before this run
        for index, term, kind, payload in run:
            if index != self.applied + 1:
                raise Violation(
                    Invariant.STATE_MACHINE_SAFETY,
                    f"n{self.id} applies {index} after {self.applied}",
                )
            command = None
            if kind == EntryKind.NORMAL and payload:
                client, seq, admitted = replica.apply(index, payload)
                if admitted:
                    command = (client, seq)
                waiter = self.waiting.pop((client, seq), None)
                if waiter is not None:
                    sim.loop.after(sim.network.latency(), waiter.on_ack, seq)
            checker.on_apply(self.id, index, term, kind, payload, command)
            self.applied = index
            if index % every == 0:
                checker.on_digest(self.id, index, replica.digest())
        if run.last > known:  # this node is the first to apply these entries
            checker.check_commit_survives_elections(run.last)

    def _maybe_snapshot(self) -> None:
        store, w = self.storage, self.sim.weather
        if self.applied - store.snapshot().meta.index < w.snapshot_every:
            return
        assert self.core is not None and self.replica is not None
        store.create_snapshot(self.applied, self.core.conf, self.replica.snapshot())
        self.sim.checker.on_digest(self.id, self.applied, self.replica.digest())
        store.compact(self.applied - w.keep_entries)

    def _trace_ready(self, rd: Ready) -> None:
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
            parts.append(f"send {len(rd.messages)}")
        self.sim.trace.log(" ".join(parts))
