"""One seeded, deterministic run: N nodes, a fault phase, then a liveness phase.

One random.Random(seed) owns every choice (weather, latencies, faults, workload, the cores'
election timeouts), so a seed replays exactly. The fault phase injects everything the
weather allows while clients and the operator work; then faults stop, crashed nodes restart,
and the cluster must elect a leader and commit every pending command within a time budget.
"""

from __future__ import annotations

import random
import traceback
from dataclasses import dataclass, field

from net.raft import NO_BUGS, Bugs, ConfState, LogStore, Msg, Role
from net.sim.checker import Checker, Invariant, Violation
from net.sim.clock import EventLoop, Trace
from net.sim.faults import Faults
from net.sim.network import Network
from net.sim.node import Input, SimNode
from net.sim.weather import Weather
from net.sim.workload import Client, Operator

CONVERGENCE_POLL_MS = 20


@dataclass(slots=True)
class SimOptions:
    seed: int
    nodes: int = 5
    fault_ms: int = 2000
    liveness_ms: int = 10000
    voter_cap: int = 5
    bugs: Bugs = NO_BUGS
    trace: bool = False
    # commit-only hard states are not written at all: the durable commit index waits for the
    # next Ready that writes entries, a snapshot, or a term/vote change (as a real node may)
    lazy_commit: bool = False


@dataclass(slots=True)
class SimResult:
    seed: int
    nodes: int
    violation: Violation | None
    commands: int  # distinct client commands committed and applied
    acked: int
    end_ms: int
    crashes: int
    partitions: int
    conf_changes: int  # membership changes the operator proposed
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
        self.weather = Weather.draw(self.rng)
        self.loop = EventLoop()
        self.trace = Trace(self.loop, opts.trace)
        ids = list(range(1, opts.nodes + 1))
        cap = min(opts.voter_cap, opts.nodes)
        founders = ConfState(tuple(ids[:cap]), tuple(ids[cap:]))
        self.checker = Checker(ConfState(), self._on_conf, self._durable_logs)
        self.network = Network(
            self.loop, self.rng, self.weather, self._deliver, self._deliver_batch, self.trace
        )
        self.nodes: dict[int, SimNode] = {i: SimNode(self, i, founders) for i in ids}
        self._next_id = opts.nodes + 1
        self.issuing = True  # fault phase: faults, new commands and membership changes
        self.clients = [Client(self, f"c{i}") for i in range(self.weather.clients)]
        self.operator = Operator(self, opts.voter_cap)
        self.faults = Faults(self)
        if opts.trace:
            self.trace.log(f"seed {opts.seed}, {opts.nodes} nodes, {self.weather}")

    # -- queries used by the actors --

    def live_nodes(self) -> list[SimNode]:
        """Machines not retired (up or crashed)."""
        return [n for n in self.nodes.values() if not n.retired]

    def pick_node(self) -> SimNode:
        return self.rng.choice(self.live_nodes())

    def leader_id(self) -> int:
        best = (0, 0)
        for n in self.nodes.values():
            if n.up and n.core is not None and n.core.role == Role.LEADER:
                best = max(best, (n.core.term, n.id))
        return best[1]

    # -- wiring --

    def _durable_logs(self) -> list[tuple[int, LogStore]]:
        return [(n.id, n.storage) for n in self.live_nodes()]

    def _deliver(self, m: Msg) -> None:
        node = self.nodes.get(m.to)
        if node is not None and node.up:
            if self.trace.enabled:
                self.trace.log(f"deliver {m}")
            node.feed(Input.MSG, m)

    def _deliver_batch(self, to: int, msgs: list[Msg]) -> None:
        node = self.nodes.get(to)
        if node is not None and node.up:
            if self.trace.enabled:
                self.trace.log(f"deliver a burst of {len(msgs)} to n{to}:")
                for m in msgs:
                    self.trace.log(f"  {m}")
            node.feed_many(msgs)

    def _on_conf(self, old: ConfState, new: ConfState) -> None:
        """Removed machines are decommissioned (ids are never reused) and replaced; after the
        current event, so a node applying its own removal finishes its Ready first."""
        for gone in sorted(set(old.voters + old.learners) - set(new.voters + new.learners)):
            self.loop.after(0, self._retire, gone)

    def _retire(self, gone: int) -> None:
        node = self.nodes[gone]
        if node.up:
            node.crash()
        node.retired = True
        if self.trace.enabled:
            self.trace.log(f"n{gone} removed and retired")
        if self.issuing and len(self.live_nodes()) < self.opts.nodes:
            self._spawn()

    def _spawn(self) -> None:
        node = SimNode(self, self._next_id, None)
        self.nodes[node.id] = node
        self._next_id += 1
        node.start()

    # -- the run --

    def run(self) -> SimResult:
        opts, loop = self.opts, self.loop
        violation: Violation | None = None
        try:
            for node in self.nodes.values():
                node.start()
            for client in self.clients:
                loop.after(self.rng.randint(0, 50), client.next_command)
            loop.after(self.weather.membership_every_ms, self.operator.step)
            self.faults.start()
            while loop.run_next(opts.fault_ms):
                pass
            self._end_faults()
            deadline = opts.fault_ms + opts.liveness_ms
            while not self._converged():
                if not self._run_until(loop.now + CONVERGENCE_POLL_MS, deadline):
                    raise Violation(Invariant.LIVENESS, self._stuck_report())
        except Violation as v:
            violation = v
        except Exception as e:  # the core or engine blew up: report it as a finding
            tb = traceback.format_exception(e)
            violation = Violation(Invariant.CORE_ERROR, "".join(tb[-3:]).strip())
        if violation is not None and self.trace.enabled:
            self.trace.log(f"VIOLATION {violation}")
        return SimResult(
            seed=opts.seed,
            nodes=opts.nodes,
            violation=violation,
            commands=self.checker.commands,
            acked=sum(c.acked for c in self.clients),
            end_ms=loop.now,
            crashes=self.faults.crashes,
            partitions=self.faults.partitions,
            conf_changes=self.operator.changes,
            trace=self.trace.lines,
        )

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
        for node in self.live_nodes():
            if not node.up:
                node.start()
        if self.trace.enabled:
            self.trace.log("faults stop; every node restarted")

    def _converged(self) -> bool:
        """A leader, no client waiting, and every member applied all the leader has."""
        if any(c.pending for c in self.clients):
            return False
        lid = self.leader_id()
        if not lid:
            return False
        leader = self.nodes[lid].core
        assert leader is not None
        if leader.commit_index != leader.last_index():
            return False
        for m in leader.conf.voters + leader.conf.learners:
            node = self.nodes.get(m)
            if node is None or not node.up or node.busy or node.applied != leader.commit_index:
                return False
        for m in leader.conf.voters + leader.conf.learners:
            replica = self.nodes[m].replica
            assert replica is not None
            self.checker.on_digest(m, leader.commit_index, replica.digest())
        return True

    def _stuck_report(self) -> str:
        parts = []
        for n in self.nodes.values():
            if n.retired:
                continue
            c = n.core
            state = (
                "down"
                if c is None
                else (
                    f"{c.role.name} t{c.term} lead={c.leader} commit={c.commit_index} "
                    f"applied={n.applied} last={c.last_index()}"
                )
            )
            parts.append(f"n{n.id}: {state}")
        pending = [f"{c.name}#{c.seq}" for c in self.clients if c.pending]
        return f"not converged; pending {pending}; " + "; ".join(parts)


def run_seed(seed: int, nodes: int = 5, **kw: object) -> SimResult:
    return Simulation(SimOptions(seed=seed, nodes=nodes, **kw)).run()  # type: ignore[arg-type]
