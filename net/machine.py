"""The replicated state machine: what every peer builds by applying the committed log.

It is the engine (every market, book and trade) plus small tables the peers need to agree
on as well: the cluster's identity and member directory (who is who, at which address: a
newcomer learns everyone from the log), the requests already applied (so a command the node
had to propose twice, after a leader change, is applied once), and how many trader commands
were applied (none: the cluster holds only its founding entries and may merge into another,
see ``docs/node.md``).

An entry's commands go to the engine in one ``Exchange.apply_batch`` call: the peer's real
apply path, and the one ``bench/engine.py`` measures from the log's bytes.

Entry payloads (opaque bytes to Raft) are compact JSON objects, one kind per key:

    {"c": [[origin, seq, command], ...]}     engine commands, in order (the JSON-safe form)
    {"m": [node_id, name, addr]}             a member's directory record
    {"cluster": id}                          the founding entry: the cluster's id

An empty payload is a new leader's no-op. A payload that does not parse is skipped (and
reported) rather than allowed to stop the peer: every peer skips it alike.
"""

import hashlib
import json
import logging
from dataclasses import dataclass

import engine
from engine import Command, CreateMarket, Event, Exchange, InvalidInput, parse_command

log = logging.getLogger(__name__)

FORMAT = b"dex-machine/1\n"
DEDUPE_WINDOW = 100_000  # requests per origin remembered for deduplication


@dataclass(frozen=True, slots=True, order=True)
class Member:
    node_id: int
    name: str
    addr: str


@dataclass(slots=True)
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
    requests_class = Requests  # the simulator's injected bugs swap it (net/sim/bugs.py)

    def __init__(self) -> None:
        self.exchange = Exchange()
        self.cluster_id = ""
        self.members: dict[int, Member] = {}  # everyone who ever joined, removed ones too
        self.requests = self.requests_class()
        self.trader_commands = 0  # applied commands other than creating a market
        self.applied_index = 0

    @property
    def pristine(self) -> bool:
        """Nothing but founding entries applied: no trader ever did anything here."""
        return self.trader_commands == 0

    def apply(self, index: int, payload: bytes) -> list[Applied]:
        """Apply one committed normal entry; the outcome of each command in it."""
        self.applied_index = index
        if not payload:
            return []
        try:
            record = json.loads(payload)
            ((kind, body),) = record.items()
        except (ValueError, AttributeError):
            log.error("entry %d: not a dex payload; skipped on every peer", index)
            return []
        if kind == "c" and isinstance(body, list):
            return self._commands(index, body)
        if kind == "m" and _shaped(body, (int, str, str)):
            node_id, name, addr = body
            self.members[node_id] = Member(node_id, name, addr)
        elif kind == "cluster" and isinstance(body, str) and not self.cluster_id:
            self.cluster_id = body
        return []

    def _commands(self, index: int, batch: list) -> list[Applied]:
        """Every request of the entry: duplicates and unparsable ones answered at once, the
        rest handed to the engine together. (The peer's hot path: plain type checks, one
        outcome built per request.)"""
        admit = self.requests.admit
        slots: list[Applied | tuple[int, int]] = []  # (origin, seq): the engine's to answer
        commands: list[Command] = []
        for item in batch:
            if type(item) is not list or len(item) != 3:
                log.error("entry %d: malformed request skipped on every peer", index)
                continue
            origin, seq, obj = item
            if type(origin) is not int or type(seq) is not int or type(obj) is not dict:
                log.error("entry %d: malformed request skipped on every peer", index)
                continue
            if not admit(origin, seq):
                slots.append(Applied(origin, seq, index, None))
                continue
            try:
                command = parse_command(obj)
            except InvalidInput as exc:
                slots.append(Applied(origin, seq, index, None, str(exc)))
                continue
            if not isinstance(command, CreateMarket):
                self.trader_commands += 1
            slots.append((origin, seq))
            commands.append(command)
        if not commands:
            return slots  # type: ignore[return-value]  # every slot is an Applied
        results = iter(self.exchange.apply_batch(commands, index))
        return [
            Applied(slot[0], slot[1], index, next(results)) if type(slot) is tuple else slot
            for slot in slots
        ]  # type: ignore[misc]

    # -- snapshots: the engine's own canonical bytes, plus the tables --

    def snapshot(self) -> bytes:
        tables = {
            "applied": self.applied_index,
            "cluster": self.cluster_id,
            "members": [[m.node_id, m.name, m.addr] for m in sorted(self.members.values(),
                                                                   key=lambda m: m.node_id)],
            "requests": self.requests.to_json(),
            "trader_commands": self.trader_commands,
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
            machine.requests = cls.requests_class.from_json(tables["requests"])
            # a snapshot from before the count existed: assume traders were there
            machine.trader_commands = int(tables.get("trader_commands", 1))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput("snapshot", f"malformed tables: {exc}") from None
        return machine

    def digest(self) -> str:
        """The exchange's digest: what rpc.md's ``digest`` op reports."""
        return self.exchange.digest()

    def state_digest(self) -> str:
        """A digest of everything replicated, the tables too (the simulator compares it)."""
        return hashlib.sha256(self.snapshot()).hexdigest()
