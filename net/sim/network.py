"""A network that delays, drops, duplicates and reorders messages, and partitions links
(a cut is one-way; a symmetric partition cuts both directions). A stalled link holds what
arrives on it and hands it over in one burst when the stall ends, like a connection that
stops and then flushes: the receiver feeds the burst to its core as one batch."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable

from net.raft import Msg
from net.sim.clock import EventLoop, Trace
from net.sim.weather import Weather

Link = tuple[int, int]


class Network:
    def __init__(
        self,
        loop: EventLoop,
        rng: random.Random,
        weather: Weather,
        deliver: Callable[[Msg], None],
        deliver_batch: Callable[[int, list[Msg]], None],
        trace: Trace,
    ) -> None:
        self._loop = loop
        self._rng = rng
        self._w = weather
        self._deliver = deliver
        self._deliver_batch = deliver_batch
        self._stalls: Counter[Link] = Counter()
        self._held: dict[Link, list[Msg]] = {}
        self._trace = trace
        self._cuts: Counter[Link] = Counter()
        self._epoch = 0  # heal_all() invalidates pending un-cuts
        self.faulty = True

    def latency(self) -> int:
        w = self._w
        d = w.latency_ms + self._rng.randint(0, w.jitter_ms)
        if self.faulty and w.spike and self._rng.random() < w.spike:
            d += self._rng.randint(0, w.spike_ms)
        return d

    def send(self, m: Msg) -> None:
        rng = self._rng
        if self.faulty and rng.random() < self._w.drop:
            return
        copies = 2 if self.faulty and rng.random() < self._w.duplicate else 1
        for _ in range(copies):
            self._loop.after(self.latency(), self._arrive, m)

    def _arrive(self, m: Msg) -> None:
        link = (m.frm, m.to)
        if self._cuts[link]:
            return
        if self._stalls[link]:
            self._held.setdefault(link, []).append(m)
            return
        self._deliver(m)

    def stall(self, links: Iterable[Link], duration: int) -> None:
        links = list(links)
        self._stalls.update(links)
        self._loop.after(duration, self._unstall, links, self._epoch)

    def _unstall(self, links: list[Link], epoch: int) -> None:
        if epoch != self._epoch:
            return
        self._stalls.subtract(links)
        self._flush([link for link in links if not self._stalls[link]])

    def _flush(self, links: list[Link]) -> None:
        """Hand over what stalled links hold: per receiver one batch, each link's messages in
        order, the links in random order (separate connections keep no order between them)."""
        links = [link for link in links if link in self._held]
        self._rng.shuffle(links)
        bursts: dict[int, list[Msg]] = {}
        for link in links:
            bursts.setdefault(link[1], []).extend(self._held.pop(link))
        for to, msgs in bursts.items():
            self._deliver_batch(to, msgs)

    def cut(self, links: Iterable[Link], duration: int) -> None:
        links = list(links)
        self._cuts.update(links)
        self._loop.after(duration, self._uncut, links, self._epoch)

    def _uncut(self, links: list[Link], epoch: int) -> None:
        if epoch == self._epoch:
            self._cuts.subtract(links)

    def heal_all(self) -> None:
        """Faults stop: no cuts, losses, duplicates or spikes from now on."""
        self._cuts.clear()
        self._stalls.clear()
        self._epoch += 1
        self._loop.after(0, self._flush, sorted(self._held))
        self.faulty = False
        if self._trace.enabled:
            self._trace.log("network healed")
