"""Fault injection: partitions (symmetric, isolating, one-way, clogged links) and crashes with
restarts, at the rates of the seed's weather, until the fault phase ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from net.sim.network import Link

if TYPE_CHECKING:
    from net.sim.node import SimNode
    from net.sim.simulation import Simulation


class Faults:
    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.partitions = 0
        self.crashes = 0

    def start(self) -> None:
        w, rng, loop = self.sim.weather, self.sim.rng, self.sim.loop
        loop.after(rng.randint(0, w.partition_every_ms), self._partition)
        loop.after(rng.randint(0, w.crash_every_ms), self._crash)

    def _partition(self) -> None:
        sim = self.sim
        if not sim.issuing:
            return
        w, rng = sim.weather, sim.rng
        sim.loop.after(rng.randint(1, 2 * w.partition_every_ms), self._partition)
        ids = [n.id for n in sim.live_nodes()]
        if len(ids) < 2:
            return
        rng.shuffle(ids)
        kind = rng.randrange(4)
        links: list[Link]
        if kind == 0:  # symmetric split into two sides
            side = ids[: rng.randint(1, len(ids) // 2)]
            rest = [i for i in ids if i not in side]
            links = [(a, b) for a in side for b in rest] + [(b, a) for a in side for b in rest]
            name = f"split {sorted(side)} | {sorted(rest)}"
        elif kind == 1:  # isolate the leader if there is one
            x = sim.leader_id() or ids[0]
            links = [(x, o) for o in ids if o != x] + [(o, x) for o in ids if o != x]
            name = f"isolate n{x}"
        elif kind == 2:  # one-way: a node can send but not receive, or the reverse
            x = ids[0]
            out = rng.random() < 0.5
            links = [(x, o) if out else (o, x) for o in ids if o != x]
            name = f"one-way {'from' if out else 'to'} n{x} cut"
        else:  # clog some directed links
            links = [(a, b) for a in ids for b in ids if a != b and rng.random() < 0.3]
            name = f"clog {len(links)} links"
        duration = rng.randint(10, w.partition_ms)
        self.partitions += 1
        if sim.trace.enabled:
            sim.trace.log(f"partition: {name} for {duration}ms")
        sim.network.cut(links, duration)

    def new_leader(self, node: int) -> None:
        """Cut a fresh leader off before its no-op spreads, now and then: short-lived leaders
        leave conflicting uncommitted tails behind, the ingredients of Figure 8."""
        sim = self.sim
        if sim.issuing and sim.rng.random() < sim.weather.depose:
            sim.loop.after(sim.rng.randint(0, 30), self._isolate, node)

    def _isolate(self, x: int) -> None:
        sim = self.sim
        if not sim.issuing:
            return
        ids = [n.id for n in sim.live_nodes() if n.id != x]
        links = [(x, o) for o in ids] + [(o, x) for o in ids]
        duration = sim.rng.randint(20, sim.weather.partition_ms)
        self.partitions += 1
        if sim.trace.enabled:
            sim.trace.log(f"partition: isolate new leader n{x} for {duration}ms")
        sim.network.cut(links, duration)

    def _crash(self) -> None:
        sim = self.sim
        if not sim.issuing:
            return
        w, rng = sim.weather, sim.rng
        sim.loop.after(rng.randint(1, 2 * w.crash_every_ms), self._crash)
        up = [n for n in sim.live_nodes() if n.up]
        if not up:
            return
        leader = sim.leader_id()
        busy = [n for n in up if n.busy]  # crashing mid-fsync loses writes: the hard case
        if leader and rng.random() < w.leader_bias:
            node = sim.nodes[leader]  # deposing leaders mid-replication: Figure 8 territory
        else:
            node = rng.choice(busy if busy and rng.random() < 0.5 else up)
        node.crash()
        self.crashes += 1
        # half the reboots are quick: a node back within an election finds stale requests
        down = rng.randint(1, 30) if rng.random() < 0.5 else rng.randint(1, w.down_ms)
        sim.loop.after(down, self._restart, node, node.gen)

    def _restart(self, node: SimNode, gen: int) -> None:
        if node.gen == gen and not node.up and not node.retired:
            node.start()
