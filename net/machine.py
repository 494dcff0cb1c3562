"""The replicated state machine: what every peer builds by applying the committed log.

It is the engine (every market, book and trade) plus two small tables the peers need to
agree on as well: the cluster's identity and member directory (who is who, at which
address: a newcomer learns everyone from the log), and the requests already applied (so a
command the node had to propose twice, after a leader change, is applied once).

Entry payloads (opaque bytes to Raft) are compact JSON objects, one kind per key:

    {"c": [[origin, seq, command], ...]}     engine commands, in order (the JSON-safe form)
    {"m": [node_id, name, addr]}             a member's directory record
    {"cluster": id}                          the founding entry: the cluster's id

An empty payload is a new leader's no-op. A payload that does not parse is skipped (and
reported) rather than allowed to stop the peer: every peer skips it alike.
"""

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import engine
from engine import Event, Exchange, InvalidInput, parse_command

log = logging.getLogger(__name__)

FORMAT = b"dex-machine/1\n"
DEDUPE_WINDOW = 100_000  # requests per origin remembered for deduplication


@dataclass(frozen=True, slots=True)
class Member:
    node_id: int
    name: str
    addr: str


@dataclass(frozen=True, slots=True)
class Applied:
    """One command's outcome, for the node to hand to whoever is waiting for it."""

    origin: int
    seq: int
    index: int
    events: list[Event] | None  # None: a duplicate of a request applied earlier
    error: str | None = None  # the command did not parse (InvalidInput)


def _shaped(value: object, types: tuple[type, ...]) -> bool:
    """``value`` is a list of exactly these types (bools are not ints here)."""
    return (
        isinstance(value, list)
        and len(value) == len(types)
        and all(
            isinstance(v, t) and not isinstance(v, bool) for v, t in zip(value, types, strict=True)
        )
    )


class Requests:
    """Which (origin, seq) were applied, per origin: a sliding window, decided by the log.

    Requests of one origin may commit out of order (a pipelined proposal lost in a leader
    change and re-proposed), so a high-water mark is not enough; the window keeps every seq
    above ``floor`` and treats anything at or below it as done (too old to be retried).
    """

    __slots__ = ("floors", "seen")

    def __init__(self) -> None:
        self.seen: dict[int, set[int]] = {}
        self.floors: dict[int, int] = {}

    def admit(self, origin: int, seq: int) -> bool:
        """True the first time (origin, seq) is applied; records it."""
        seen = self.seen.setdefault(origin, set())
        if seq <= self.floors.get(origin, 0) or seq in seen:
            return False
        seen.add(seq)
        if len(seen) > 2 * DEDUPE_WINDOW:
            floor = sorted(seen)[-DEDUPE_WINDOW - 1]
            self.floors[origin] = floor
            self.seen[origin] = {s for s in seen if s > floor}
        return True

    def to_json(self) -> list:
        return [[o, self.floors.get(o, 0), sorted(self.seen[o])] for o in sorted(self.seen)]

    @classmethod
    def from_json(cls, rows: list) -> "Requests":
        table = cls()
        for origin, floor, seqs in rows:
            table.floors[int(origin)] = int(floor)
            table.seen[int(origin)] = {int(s) for s in seqs}
        return table


class Machine:
    def __init__(self) -> None:
        self.exchange = Exchange()
        self.cluster_id = ""
        self.members: dict[int, Member] = {}  # everyone who ever joined, removed ones too
        self.requests = Requests()
        self.applied_index = 0

    def apply(self, index: int, payload: bytes) -> Iterator[Applied]:
        """Apply one committed normal entry; yield the outcome of each command in it."""
        self.applied_index = index
        if not payload:
            return
        try:
            record = json.loads(payload)
            ((kind, body),) = record.items()
        except (ValueError, AttributeError):
            log.error("entry %d: not a dex payload; skipped on every peer", index)
            return
        if kind == "c" and isinstance(body, list):
            yield from self._commands(index, body)
        elif kind == "m" and _shaped(body, (int, str, str)):
            node_id, name, addr = body
            self.members[node_id] = Member(node_id, name, addr)
        elif kind == "cluster" and isinstance(body, str) and not self.cluster_id:
            self.cluster_id = body

    def _commands(self, index: int, batch: list) -> Iterator[Applied]:
        for item in batch:
            if not _shaped(item, (int, int, dict)):
                log.error("entry %d: malformed request skipped on every peer", index)
                continue
            origin, seq, obj = item
            if not self.requests.admit(origin, seq):
                yield Applied(origin, seq, index, None)
                continue
            try:
                command = parse_command(obj)
            except InvalidInput as exc:
                yield Applied(origin, seq, index, None, str(exc))
                continue
            yield Applied(origin, seq, index, self.exchange.apply(command, index))

    # -- snapshots: the engine's own canonical bytes, plus the tables --

    def snapshot(self) -> bytes:
        tables = {
            "applied": self.applied_index,
            "cluster": self.cluster_id,
            "members": [[m.node_id, m.name, m.addr] for m in sorted(self.members.values(),
                                                                   key=lambda m: m.node_id)],
            "requests": self.requests.to_json(),
        }  # fmt: skip
        head = json.dumps(tables, separators=(",", ":"), sort_keys=True).encode()
        return FORMAT + len(head).to_bytes(8, "big") + head + self.exchange.snapshot()

    @classmethod
    def restore(cls, data: bytes) -> "Machine":
        """The machine a snapshot describes; engine.InvalidInput if it is not one."""
        if not data.startswith(FORMAT):
            raise InvalidInput("snapshot", "not a dex state machine snapshot")
        rest = data[len(FORMAT) :]
        size = int.from_bytes(rest[:8], "big")
        try:
            tables = json.loads(rest[8 : 8 + size])
            machine = cls()
            machine.exchange = engine.Exchange.restore(rest[8 + size :])
            machine.applied_index = int(tables["applied"])
            machine.cluster_id = str(tables["cluster"])
            machine.members = {int(i): Member(int(i), str(n), str(a))
                               for i, n, a in tables["members"]}  # fmt: skip
            machine.requests = Requests.from_json(tables["requests"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput("snapshot", f"malformed tables: {exc}") from None
        return machine

    def digest(self) -> str:
        """The exchange's digest: what rpc.md's ``digest`` op reports."""
        return self.exchange.digest()
