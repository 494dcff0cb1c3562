"""A small synchronous harness for unit tests of the Raft core (after etcd's raft_test.go
`network`): cores over MemoryStorage, messages delivered in rounds, links cut at will."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

from net.raft import (
    MT,
    Config,
    EntryKind,
    EntryRun,
    HardState,
    MemoryStorage,
    Msg,
    RaftCore,
    Role,
)


class Cluster:
    def __init__(
        self,
        voters: Iterable[int],
        learners: Iterable[int] = (),
        core: Callable[..., RaftCore] = RaftCore,
        **cfg: object,
    ) -> None:
        self.core = core  # (cfg, storage, rng) -> a core: RaftCore, or a buggy one
        self.voters = tuple(voters)
        self.learners = tuple(learners)
        self.cfg = cfg
        self.stores: dict[int, MemoryStorage] = {}
        self.cores: dict[int, RaftCore] = {}
        self.applied: dict[int, list[tuple[int, bytes]]] = {}
        self.cut: set[tuple[int, int]] = set()
        self.down: set[int] = set()
        self.drop: Callable[[Msg], bool] = lambda m: False
        self.inbox: list[Msg] = []
        self.sent: list[Msg] = []
        for node in self.voters + self.learners:
            self.add_node(node, founder=True)

    @classmethod
    def with_logs(cls, logs: dict[int, list[int]], term: int, **cfg: object) -> Cluster:
        """Founders whose logs hold, after the bootstrap entries, entries of these terms; the
        payload of an entry is its (index, term), so equal positions hold equal entries."""
        c = cls(sorted(logs), **cfg)
        for node, terms in logs.items():
            store = c.stores[node]
            first = store.last_index() + 1
            payloads = tuple(f"{first + n}@{t}".encode() for n, t in enumerate(terms))
            run = EntryRun(first, tuple(terms), bytes(len(terms)), payloads)
            store.save(HardState(term, 0, store.hard_state.commit), run, None)
            c.start(node)
        return c

    def add_node(self, node: int, founder: bool = False) -> RaftCore:
        self.stores[node] = MemoryStorage()
        if founder:
            self.stores[node].bootstrap(self.voters, self.learners)
        return self.start(node)

    def start(self, node: int) -> RaftCore:
        cfg = Config(id=node, **self.cfg)  # type: ignore[arg-type]
        self.cores[node] = self.core(cfg, self.stores[node], random.Random(node))
        self.down.discard(node)
        self.applied[node] = []
        self.process(node)  # re-apply the committed log (the configuration with it)
        return self.cores[node]

    def crash(self, node: int) -> None:
        self.down.add(node)
        del self.cores[node]

    def isolate(self, node: int) -> None:
        for other in self.stores:
            if other != node:
                self.cut |= {(node, other), (other, node)}

    def heal(self) -> None:
        self.cut.clear()

    def process(self, node: int) -> None:
        core = self.cores[node]
        while core.has_ready():
            rd = core.ready()
            self.stores[node].save(rd.hard_state, rd.entries, rd.snapshot)
            if rd.snapshot is not None:
                self.applied[node] = [(rd.snapshot.meta.index, b"<snapshot>")]
            if rd.committed is not None:
                for index, _, kind, payload in rd.committed:
                    if kind == EntryKind.NORMAL and payload:
                        self.applied[node].append((index, payload))
            self.inbox.extend(rd.messages)
            self.sent.extend(rd.messages)
            core.advance()

    def deliver(self) -> int:
        msgs, self.inbox = self.inbox, []
        n = 0
        for m in msgs:
            if m.to in self.down or m.to not in self.cores or (m.frm, m.to) in self.cut:
                continue
            if self.drop(m):
                continue
            self.cores[m.to].step(m)
            n += 1
        return n

    def stabilize(self, rounds: int = 200) -> None:
        for _ in range(rounds):
            for node in sorted(self.cores):
                self.process(node)
            if not self.inbox:
                return
            self.deliver()
        raise AssertionError("did not stabilize")

    def tick(self, node: int, n: int = 1) -> None:
        for _ in range(n):
            self.cores[node].tick()
            self.process(node)

    def tick_all(self, n: int) -> None:
        for _ in range(n):
            for node in sorted(self.cores):
                self.cores[node].tick()
            self.stabilize()

    def elect(self, node: int) -> RaftCore:
        self.cores[node].campaign()
        self.stabilize()
        assert self.cores[node].role == Role.LEADER, self.cores[node].role
        return self.cores[node]

    def leader(self) -> RaftCore | None:
        leaders = [c for c in self.cores.values() if c.role == Role.LEADER]
        return max(leaders, key=lambda c: c.term) if leaders else None

    def sent_of(self, mt: MT) -> list[Msg]:
        return [m for m in self.sent if m.type == mt]

    def payloads(self, node: int) -> list[bytes]:
        return [p for _, p in self.applied[node]]
