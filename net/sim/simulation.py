"""One seeded, deterministic run: machines that found and join one cluster, a fault phase,
then a liveness phase.

One random.Random(seed) owns every choice (weather, latencies, faults, workload, the cores'
election timeouts), so a seed replays exactly. One machine founds the cluster (the real
founding path) and the others start at random moments in the first 300 ms and join it as
the real peer does (ask, become learners, get promoted); or, in half the seeds, the first
machines up to the voter cap found it together, so elections among many voters with
diverging logs start at once. Every machine is a trader with a key of its own (drawn from
the seed) and the default grant; the cluster's fees are the weather's. The fault phase
injects everything the weather allows while clients trade and the operator stops, restarts
and wipes peers and adds machines, and a lying member now and then proposes forged entries
(``net/sim/forger.py``); then faults stop, every machine that is down starts again (one that
had left rejoins), and the cluster must, within a time budget, have a leader, every machine
a member, caught up and registered, and every pending command answered.
"""

from __future__ import annotations

import random
import traceback
from dataclasses import dataclass, field, replace

from engine import Configure
from engine.accounts import DEFAULT_GRANT
from net.machine import Member
from net.raft import ConfState, LogStore, Msg, Role
from net.sim.bugs import NO_BUGS, Bugs
from net.sim.checker import Checker, Invariant, Violation
from net.sim.clock import EventLoop, Trace
from net.sim.faults import Faults
from net.sim.forger import Forger
from net.sim.network import Network
from net.sim.node import Note, SimNode, addr_of
from net.sim.weather import Weather
from net.sim.workload import Client, Operator

CONVERGENCE_POLL_MS = 20
JOIN_WITHIN_MS = 300  # every machine but the founder starts this soon
LEAVE_WITHIN_MS = 500  # a clean stop waits this long for the leave to finish (real: 3 s)


@dataclass(slots=True)
class SimOptions:
    seed: int
    nodes: int = 5
    fault_ms: int = 2000
    liveness_ms: int = 20000
    voter_cap: int = 5
    bugs: Bugs = NO_BUGS
    trace: bool = False
    forgery: bool = True  # a lying member proposes forged entries (net/sim/forger.py)
    hijack: bool = False  # ...and, too, batches claiming another peer's pending requests
    # the smallest snapshot chunk a seed's weather may draw (64, 512 or 4096); see
    # docs/consensus.md: at 64 bytes the peers' own write retries can outgrow a transfer
    min_chunk_bytes: int = 256


@dataclass(slots=True)
class SimResult:
    seed: int
    nodes: int
    violation: Violation | None
    commands: int  # distinct requests committed and applied
    acked: int  # client commands answered
    end_ms: int
    crashes: int
    partitions: int
    joins: int  # learners added to the configuration
    leaves: int
    wipes: int
    snapshots: int  # taken, or installed from a leader
    pauses: int
    slow_disks: int
    write_errors: int
    registered: int  # traders' accounts opened
    accepted: int  # orders the engine accepted
    no_funds: int  # orders rejected as insufficient_funds
    trades: int
    expired: int  # good-till-date orders that entries' time expired
    triggered: int  # stops that trades triggered
    forged: int  # forged entries committed (each refused as it must be)
    trace: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.violation is None


class Simulation:
    def __init__(self, opts: SimOptions) -> None:
        if not 1 <= opts.nodes <= 9:
            raise ValueError("nodes must be between 1 and 9")
        self.opts = opts
        self.rng = random.Random(opts.seed * 16 + opts.nodes)
        self.orders_rng = random.Random(f"orders {opts.seed} {opts.nodes}")  # (workload.py)
        self.weather = Weather.draw(self.rng)
        if self.weather.chunk_bytes < opts.min_chunk_bytes:
            self.weather = replace(self.weather, chunk_bytes=opts.min_chunk_bytes)
        self.timing = self.weather.timing()
        w = self.weather
        self.money = Configure(DEFAULT_GRANT, w.maker_fee_bps, w.taker_fee_bps)
        self.leave_within_ms = LEAVE_WITHIN_MS
        self.loop = EventLoop()
        self.trace = Trace(self.loop, opts.trace)
        self.checker = Checker(ConfState(), lambda old, new: None, self._durable_logs)
        self.network = Network(
            self.loop, self.rng, self.weather, self._deliver, self._deliver_batch, self.trace
        )
        self.machines: dict[int, SimNode] = {}
        self.by_id: dict[int, SimNode] = {}
        self._next_id = 0
        self.snapshots = 0
        self.issuing = True  # fault phase: faults, new commands and operator actions
        self.operator = Operator(self)
        self.faults = Faults(self)
        self.forger = Forger(self)
        for slot in range(opts.nodes):
            self.machines[slot] = SimNode(self, slot)
        self.clients = [
            Client(self, f"c{i}", self.machines[i % opts.nodes]) for i in range(w.clients)
        ]
        self.founders = list(self.machines.values())[: min(self.weather.founders, opts.voter_cap)]
        members = []
        for node in self.founders:
            node.storage.claim_node_id(self.new_id())
            members.append(Member(node.id, node.name, addr_of(node.id)))
        for node in self.founders:
            node.found(members)
        if opts.trace:
            self.trace.log(f"seed {opts.seed}, {opts.nodes} nodes, {self.weather}")

    # -- queries used by the actors --

    def now(self) -> float:
        """Simulated time in seconds, as the shell takes it."""
        return self.loop.now / 1000

    def new_id(self) -> int:
        """Consensus ids, never reused (what a fresh store draws)."""
        self._next_id += 1
        return self._next_id

    def register(self, node: SimNode) -> None:
        self.by_id[node.id] = node

    def random_member(self, exclude: int) -> int:
        """A peer in the cluster, as discovery would show one (0 if none is up)."""
        ids = [
            n.id
            for n in self.machines.values()
            if n.up and n.id != exclude and n.shell is not None and n.shell.member
        ]
        return self.rng.choice(ids) if ids else 0

    def leader_node(self) -> SimNode | None:
        best: tuple[int, SimNode] | None = None
        for n in self.machines.values():
            core = n.shell.core if n.up and n.shell is not None else None
            if (
                core is not None
                and core.role == Role.LEADER
                and (best is None or core.term > best[0])
            ):
                best = (core.term, n)
        return best[1] if best else None

    def leader_id(self) -> int:
        leader = self.leader_node()
        return leader.id if leader is not None else 0

    def spawn(self) -> None:
        slot = len(self.machines)
        node = self.machines[slot] = SimNode(self, slot)
        if self.trace.enabled:
            self.trace.log(f"new machine {node.name}")
        node.start()

    # -- wiring --

    def _durable_logs(self) -> list[tuple[int, LogStore]]:
        return [(n.id, n.storage) for n in self.machines.values() if n.id]

    def _node_for(self, to: int) -> SimNode | None:
        node = self.by_id.get(to)
        if node is None or not node.up or node.id != to:
            return None  # down, or wiped since (its new incarnation has another id)
        return node

    def _deliver(self, m: Msg | Note) -> None:
        node = self._node_for(m.to)
        if node is not None:
            if self.trace.enabled:
                self.trace.log(f"deliver {m}")
            node.deliver(m)

    def _deliver_batch(self, to: int, msgs: list[Msg | Note]) -> None:
        node = self._node_for(to)
        if node is not None:
            if self.trace.enabled:
                self.trace.log(f"deliver a burst of {len(msgs)} to n{to}:")
                for m in msgs:
                    self.trace.log(f"  {m}")
            node.deliver_many(msgs)

    # -- the run --

    def run(self) -> SimResult:
        opts, loop = self.opts, self.loop
        violation: Violation | None = None
        try:
            for node in self.machines.values():
                founder = node in self.founders
                loop.after(0 if founder else self.rng.randint(1, JOIN_WITHIN_MS), node.start)
            for client in self.clients:
                loop.after(self.rng.randint(0, 50), client.next_command)
            loop.after(self.weather.operator_every_ms, self.operator.step)
            self.faults.start()
            self.forger.start()
            while loop.run_next(opts.fault_ms):
                pass
            self._end_faults()
            deadline = opts.fault_ms + opts.liveness_ms
            while not self._converged():
                if not self._run_until(loop.now + CONVERGENCE_POLL_MS, deadline):
                    raise Violation(*self._stuck())
        except Violation as v:
            violation = v
        except Exception as e:  # the peer's code blew up: report it as a finding
            tb = traceback.format_exception(e)
            violation = Violation(Invariant.CORE_ERROR, "".join(tb[-3:]).strip())
        if violation is not None and self.trace.enabled:
            self.trace.log(f"VIOLATION {violation}")
        f, o, h = self.faults, self.operator, self.checker
        return SimResult(
            seed=opts.seed, nodes=opts.nodes, violation=violation,
            commands=h.commands, acked=sum(c.acked for c in self.clients),
            end_ms=loop.now, crashes=f.crashes, partitions=f.partitions,
            joins=h.joins, leaves=o.leaves, wipes=o.wipes, snapshots=self.snapshots,
            pauses=f.pauses, slow_disks=f.slow_disks, write_errors=f.write_errors,
            registered=h.registered, accepted=h.accepted, no_funds=h.no_funds, trades=h.trades,
            expired=h.expired, triggered=h.triggered, forged=h.forged_kinds.total(),
            trace=self.trace.lines,
        )  # fmt: skip

    def _run_until(self, t: int, deadline: int) -> bool:
        if t > deadline:
            return False
        while self.loop.run_next(t):
            pass
        self.loop.now = t
        return True

    def _end_faults(self) -> None:
        self.issuing = False
        self.network.heal_all()
        for node in self.machines.values():
            if node.leaving:
                node.crash()  # stopped mid-leave: it starts again below, as a user would
            if not node.up:
                node.start()  # a crashed one restarts; one that left starts again, rejoins
        if self.trace.enabled:
            self.trace.log("faults stop; every machine is started")

    def _outsiders(self) -> list[SimNode]:
        """Running machines that are not in the leader's configuration."""
        leader = self.leader_node()
        conf = leader.shell.core.conf if leader and leader.shell and leader.shell.core else None
        members = set(conf.voters + conf.learners) if conf is not None else set()
        return [n for n in self.machines.values() if n.up and n.id not in members]

    def _converged(self) -> bool:
        """A leader, no client waiting, every machine a member, at the leader's commit and
        registered."""
        if any(c.pending for c in self.clients) or self._outsiders():
            return False
        leader = self.leader_node()
        if leader is None or leader.shell is None or leader.shell.core is None:
            return False
        core = leader.shell.core
        if core.commit_index != core.last_index():
            return False
        members = core.conf.voters + core.conf.learners
        for m in members:
            node = self.by_id.get(m)
            if node is None or not node.up or node.id != m or node.writing or node.paused:
                return False
            if node.applied != core.commit_index or not node.registered:
                holder = node.shell.machine.names.get(node.name) if node.shell else None
                if holder is not None and holder != node.key.hex:
                    raise Violation(
                        Invariant.FORGERY_REFUSED,
                        f"{node.name}'s name is registered to another key ({holder[:8]})",
                    )
                return False
        for m in members:
            shell = self.by_id[m].shell
            assert shell is not None
            self.checker.on_digest(m, core.commit_index, shell.machine.state_digest())
        return True

    def _stuck(self) -> tuple[Invariant, str]:
        parts = []
        for n in self.machines.values():
            shell = n.shell
            core = shell.core if shell is not None else None
            if core is None:
                state = "down" if not n.up else "no core"
            else:
                state = (
                    f"{core.role.name} t{core.term} lead={core.leader} commit={core.commit_index} "
                    f"applied={n.applied} last={core.last_index()} "
                    f"member={shell.member if shell else False} registered={n.registered}"
                )
            parts.append(f"{n.name}=n{n.id}: {state}")
        pending = [f"{c.name}#{c.seq}" for c in self.clients if c.pending]
        outsiders = self._outsiders()
        kind = Invariant.MEMBERSHIP if outsiders else Invariant.LIVENESS
        out = [f"{n.name}=n{n.id}" for n in outsiders]
        return kind, f"not converged; outside {out}; pending {pending}; " + "; ".join(parts)


def run_seed(seed: int, nodes: int = 5, **kw: object) -> SimResult:
    return Simulation(SimOptions(seed=seed, nodes=nodes, **kw)).run()  # type: ignore[arg-type]
