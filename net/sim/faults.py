"""Fault injection, at the rates of the seed's weather, until the fault phase ends:

- partitions: symmetric, isolating, one-way, clogged links, stalled links (held, then
  delivered in one burst); a new leader, or a leader that just admitted a newcomer, cut off
  before its work spreads;
- crashes with restarts, and torn writes (a crash while a write is in flight, after its
  early messages left);
- slow disks: now and then an fsync takes up to seconds;
- write errors: the write fails and the peer stops (crash-only), to be restarted later;
- process pauses: a peer steps nothing for a while, its ticks and messages pile up; now
  and then right as the last chunk of a snapshot arrives (installing a large snapshot is
  when a process stalls: allocation, a collector) and what is sent to it meanwhile is lost,
  so the snapshot and an election timeout's worth of ticks are fed together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from net.raft import Ready
from net.sim.network import Link

if TYPE_CHECKING:
    from net.sim.node import SimNode
    from net.sim.simulation import Simulation


class Faults:
    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.partitions = 0
        self.crashes = 0
        self.pauses = 0
        self.slow_disks = 0
        self.write_errors = 0

    def start(self) -> None:
        w, rng, loop = self.sim.weather, self.sim.rng, self.sim.loop
        loop.after(rng.randint(0, w.partition_every_ms), self._partition)
        loop.after(rng.randint(0, w.crash_every_ms), self._crash)
        if w.pause_every_ms:
            loop.after(rng.randint(0, w.pause_every_ms), self._pause)

    def _ids(self) -> list[int]:
        return [n.id for n in self.sim.machines.values() if n.id]

    def _partition(self) -> None:
        sim = self.sim
        if not sim.issuing:
            return
        w, rng = sim.weather, sim.rng
        sim.loop.after(rng.randint(1, 2 * w.partition_every_ms), self._partition)
        ids = self._ids()
        if len(ids) < 2:
            return
        rng.shuffle(ids)
        kind = rng.randrange(5)
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
        elif kind == 3:  # clog some directed links
            links = [(a, b) for a in ids for b in ids if a != b and rng.random() < 0.3]
            name = f"clog {len(links)} links"
        else:  # stall the links into a node: held, then delivered in one burst
            x = ids[0]
            links = [(o, x) for o in ids if o != x]
            name = f"stall links to n{x}"
        duration = rng.randint(10, w.partition_ms)
        self.partitions += 1
        if sim.trace.enabled:
            sim.trace.log(f"partition: {name} for {duration}ms")
        if kind == 4:
            sim.network.stall(links, duration)
        else:
            sim.network.cut(links, duration)

    def new_leader(self, node: int) -> None:
        """Cut a fresh leader off before its no-op spreads, now and then: short-lived leaders
        leave conflicting uncommitted tails behind, the ingredients of Figure 8."""
        if self.sim.rng.random() < self.sim.weather.depose:
            self.sim.loop.after(self.sim.rng.randint(0, 3), self._isolate, node, "new leader")

    def admitted(self, leader: SimNode) -> None:
        """A leader just told a newcomer "ok": now and then it loses office before the
        newcomer's learner change commits (the newcomer must ask again)."""
        if self.sim.rng.random() < self.sim.weather.depose:
            self.sim.loop.after(
                self.sim.rng.randint(0, 5), self._isolate, leader.id, "admitting leader"
            )

    def _isolate(self, x: int, why: str) -> None:
        sim = self.sim
        if not sim.issuing:
            return
        ids = [i for i in self._ids() if i != x]
        links = [(x, o) for o in ids] + [(o, x) for o in ids]
        duration = sim.rng.randint(20, sim.weather.partition_ms)
        self.partitions += 1
        if sim.trace.enabled:
            sim.trace.log(f"partition: isolate {why} n{x} for {duration}ms")
        sim.network.cut(links, duration)

    def _crash(self) -> None:
        sim = self.sim
        if not sim.issuing:
            return
        w, rng = sim.weather, sim.rng
        sim.loop.after(rng.randint(1, 2 * w.crash_every_ms), self._crash)
        up = [n for n in sim.machines.values() if n.up]
        if not up:
            return
        leader = sim.leader_node()
        writing = [n for n in up if n.writing]  # crashing mid-fsync loses writes: the hard case
        if leader is not None and rng.random() < w.leader_bias:
            node = leader  # deposing leaders mid-replication: Figure 8 territory
        else:
            node = rng.choice(writing if writing and rng.random() < 0.5 else up)
        self._down(node)

    def _pause(self) -> None:
        sim = self.sim
        if not sim.issuing:
            return
        w, rng = sim.weather, sim.rng
        sim.loop.after(rng.randint(1, 2 * w.pause_every_ms), self._pause)
        up = [n for n in sim.machines.values() if n.up and not n.paused]
        if up:
            self.pauses += 1
            rng.choice(up).pause(rng.randint(1, w.pause_ms))

    def snapshot_arrives(self, node: SimNode) -> None:
        """The last chunk of a snapshot reaches ``node``: now and then the process stalls
        right then, long enough that what was sent to it meanwhile is lost, so the snapshot
        and an election timeout's worth of ticks are fed together when it resumes."""
        sim = self.sim
        w = sim.weather
        if sim.issuing and sim.rng.random() < w.snapshot_stall:
            ms = sim.rng.randint(50, 500)
            self.pauses += 1
            self.partitions += 1
            if sim.trace.enabled:
                sim.trace.log(f"partition: cut the links to n{node.id} for {ms}ms")
            sim.network.cut([(o, node.id) for o in self._ids() if o != node.id], ms)
            node.pause(ms)

    def fsync(self) -> tuple[int, bool]:
        """How long the next fsync takes, and whether the write fails."""
        sim = self.sim
        w, rng = sim.weather, sim.rng
        ms = rng.randint(1, w.disk_ms)
        if sim.issuing and w.disk_spike and rng.random() < w.disk_spike:
            self.slow_disks += 1
            ms = rng.randint(w.disk_ms, w.disk_spike_ms)
        fails = sim.issuing and bool(w.write_error) and rng.random() < w.write_error
        return ms, fails

    def write_failed(self, node: SimNode) -> None:
        """The disk refused a write: the peer stops at once (it would crash-only too)."""
        self.write_errors += 1
        if self.sim.trace.enabled:
            self.sim.trace.log(f"{node.name} (n{node.id}): a write failed; the peer stops")
        self._down(node)

    def writing(self, node: SimNode, fsync_ms: int, rd: Ready) -> None:
        """`node` started a write that becomes durable in fsync_ms, its early messages already
        sent: now and then crash it before then (more often when the write holds a new term or
        vote, a candidate's or new leader's), so the write is lost while its effects travel."""
        sim = self.sim
        if not sim.issuing or not sim.weather.torn:
            return
        p = sim.weather.torn
        hs = rd.hard_state
        if hs is not None and hs.vote == node.id:
            p *= 3
        if sim.rng.random() < p:
            sim.loop.after(sim.rng.randrange(fsync_ms), self._torn, node, node.gen)

    def _torn(self, node: SimNode, gen: int) -> None:
        sim = self.sim
        if not (sim.issuing and node.gen == gen and node.up and node.writing):
            return
        if sim.trace.enabled:
            sim.trace.log(f"{node.name} (n{node.id}) crashes with a write in flight")
        self._down(node)
        if sim.rng.random() < 0.5:
            # replies to what the lost write's early messages asked for reach the next
            # incarnation late and all at once, together with fresh ones
            ids = [i for i in self._ids() if i != node.id]
            duration = sim.rng.randint(50, 50 + sim.weather.partition_ms)
            self.partitions += 1
            if sim.trace.enabled:
                sim.trace.log(f"partition: stall links to n{node.id} for {duration}ms")
            sim.network.stall([(o, node.id) for o in ids], duration)

    def _down(self, node: SimNode) -> None:
        sim, rng = self.sim, self.sim.rng
        node.crash()
        self.crashes += 1
        # half the reboots are quick: a node back within an election finds stale requests
        down = rng.randint(1, 30) if rng.random() < 0.5 else rng.randint(1, sim.weather.down_ms)
        sim.loop.after(down, self._restart, node, node.gen)

    def _restart(self, node: SimNode, gen: int) -> None:
        if node.gen == gen and not node.up and not node.stopped:
            node.start()
