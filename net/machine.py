"""The replicated state machine: what every peer builds by applying the committed log.

It is the engine (every market, book, trade and balance) plus small tables the peers need
to agree on as well: the cluster's identity and member directory (who is who, at which
address: a newcomer learns everyone from the log), the traders (each registered name and
the key it belongs to, ``net/traders.py``), the requests already applied (so a command the
node had to propose twice, after a leader change, is applied once), and how many trader
commands were applied (none: the cluster holds only its founding entries and may merge into
another, see ``docs/node.md``).

An entry's commands go to the engine in one ``Exchange.apply_batch`` call: the peer's real
apply path, and the one ``bench/engine.py`` measures from the log's bytes.

Entry payloads (opaque bytes to Raft) are compact JSON objects, one kind per key:

    {"t": [key, signature, [[origin, seq, command], ...]]}   a trader's signed batch
    {"c": [[origin, seq, command], ...]}     the exchange's own commands (create_market,
                                             configure: the founding entry), unsigned
    {"m": [node_id, name, addr]}             a member's directory record
    {"cluster": id}                          the founding entry: the cluster's id

A signed batch's commands carry no owner: the machine sets it to the name registered for
the key that signed, after checking the signature (``net/traders.py``). A batch whose
signature does not verify is refused whole, and so is any trader command outside a signed
batch; such refusals are counted (``refused``) and logged, never answered (the origin and
request number they claim cannot be trusted). Request numbers are de-duplicated per trader
key, so a member cannot spend another trader's numbers either.

**Time comes from the log.** The leader puts its clock before every normal payload it
appends (:func:`stamp`: a zero byte, then the time in ms as 8 big-endian bytes; Raft's
``header``), so each entry carries the consensus time at which it was made. Applying an
entry first hands that time to the engine (``Exchange.advance``), which never lets time go
back (a new leader whose clock is behind cannot undo what an earlier one stamped) and
expires the good-till-date orders that are due; then come the entry's commands, stamped
with that time. Every peer applies the same bytes, so every peer has the same time at the
same index: trades, orders, candles and expiries agree everywhere. Expiries need no traffic:
a leader that sees an expiry due proposes a bare stamp, a *time tick* (``net/shell.py``).
Founding entries, written before any leader exists, carry no stamp (time 0).

An empty body is a new leader's no-op (or a time tick). A payload that does not parse is
skipped (and reported) rather than allowed to stop the peer: every peer skips it alike.
"""

import hashlib
import json
import logging
from dataclasses import dataclass

import engine
from engine import Command, Event, Exchange, InvalidInput, OpenAccount, parse_command
from engine.commands import MAX_NAME
from net.traders import TRADER_OPS, Verifier

log = logging.getLogger(__name__)

FORMAT = b"dex-machine/3\n"
TIME_MARK = b"\x00"  # a stamped payload starts so (JSON never does)
STAMP_SIZE = 9  # the mark and 8 bytes of ms
DEDUPE_WINDOW = 100_000  # requests per trader (or origin) remembered for deduplication
SYSTEM_OPS = frozenset({"create_market", "configure"})  # what an unsigned entry may carry


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
    # The key that signed it ("" for the exchange's own): a peer answers only its own key's
    # requests, since the origin and number are whatever the signer wrote.
    signer: str = ""
    # Not a request's: the expiries the entry's time brought (origin and seq 0, no signer)
    by_time: bool = False


def stamp(ms: int) -> bytes:
    """The leader's header of an entry made at ``ms`` (consensus time, see the module doc)."""
    return TIME_MARK + ms.to_bytes(8, "big")


def split_stamp(payload: bytes) -> tuple[int | None, bytes]:
    """(the entry's time, or None when unstamped; its body)."""
    if payload[:1] == TIME_MARK and len(payload) >= STAMP_SIZE:
        return int.from_bytes(payload[1:STAMP_SIZE], "big"), payload[STAMP_SIZE:]
    return None, payload


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
    """Which (who, seq) were applied, per ``who`` (a trader's key, or ``#origin`` for the
    exchange's own unsigned commands): a sliding window, decided by the log.

    Requests of one trader may commit out of order (a pipelined proposal lost in a leader
    change and re-proposed), so a high-water mark is not enough; the window keeps every seq
    above ``floor`` and treats anything at or below it as done (too old to be retried).
    """

    __slots__ = ("floors", "seen")

    def __init__(self) -> None:
        self.seen: dict[str, set[int]] = {}
        self.floors: dict[str, int] = {}

    def admit(self, origin: str, seq: int) -> bool:
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
            table.floors[str(origin)] = int(floor)
            table.seen[str(origin)] = {int(s) for s in seqs}
        return table


class Machine:
    requests_class = Requests  # the simulator's injected bugs swap it (net/sim/bugs.py)

    def __init__(self) -> None:
        self.exchange = Exchange()
        self.cluster_id = ""
        self.members: dict[int, Member] = {}  # everyone who ever joined, removed ones too
        self.requests = self.requests_class()
        self.traders: dict[str, str] = {}  # key (hex) -> its registered name
        self.names: dict[str, str] = {}  # name -> the key it belongs to
        self.trader_commands = 0  # applied signed commands, registrations aside
        self.refused = 0  # batches and commands refused unanswered (bad signature, unsigned)
        self.applied_index = 0
        # The last entry whose commands reached the engine (the simulator checks that a
        # refused entry's never do); not replicated: the engine is handed every entry's time.
        self.engine_index = 0
        self.verifier = Verifier()  # (a cache, not replicated state)

    @property
    def pristine(self) -> bool:
        """Nothing but founding entries applied: no trader ever did anything here."""
        return self.trader_commands == 0

    def apply(self, index: int, payload: bytes) -> list[Applied]:
        """Apply one committed normal entry; the outcome of each command in it (led by the
        expiries its time brought, as an outcome of origin 0 that no one waits for)."""
        self.applied_index = index
        at, payload = split_stamp(payload)
        if at is None:
            return self._body(index, payload)
        expired = self.exchange.advance(at, index)
        if not expired:
            return self._body(index, payload)
        return [Applied(0, 0, index, expired, by_time=True), *self._body(index, payload)]

    def _body(self, index: int, payload: bytes) -> list[Applied]:
        if not payload:
            return []
        try:
            record = json.loads(payload)
            ((kind, body),) = record.items()
        except (ValueError, AttributeError):
            log.error("entry %d: not a dex payload; skipped on every peer", index)
            return []
        if kind == "t" and _shaped(body, (str, str, list)):
            key, signature, items = body
            problem = self.verifier.check(self.cluster_id, key, signature, payload)
            if not problem:
                return self._commands(index, items, key)
            self.refused += 1
            log.warning("entry %d: a batch refused on every peer: %s", index, problem)
        elif kind == "c" and isinstance(body, list):
            return self._commands(index, body, None)
        if kind == "m" and _shaped(body, (int, str, str)):
            node_id, name, addr = body
            self.members[node_id] = Member(node_id, name, addr)
        elif kind == "cluster" and isinstance(body, str) and not self.cluster_id:
            self.cluster_id = body
        return []

    def _commands(self, index: int, batch: list, key: str | None) -> list[Applied]:
        """Every request of the entry (signed by ``key``, or the exchange's own when None):
        duplicates and refused ones answered at once, the rest handed to the engine
        together. (The peer's hot path: plain type checks, one outcome built per request.)"""
        admit = self.requests.admit
        signer = key or ""
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
            op = obj.get("op")
            if key is None and op not in SYSTEM_OPS:
                self.refused += 1  # (not answered: nothing vouches for origin and seq)
                log.warning("entry %d: an unsigned %r refused on every peer", index, op)
                continue
            if not admit(key or f"#{origin}", seq):
                slots.append(Applied(origin, seq, index, None, None, signer))
                continue
            try:
                command = self._trader_command(key, obj) if key is not None else parse_command(obj)
            except InvalidInput as exc:
                slots.append(Applied(origin, seq, index, None, str(exc), signer))
                continue
            if command is None:  # a register that changed nothing: answered, no events
                slots.append(Applied(origin, seq, index, [], None, signer))
                continue
            if key is not None and not isinstance(command, OpenAccount):  # (a registration)
                self.trader_commands += 1
            slots.append((origin, seq))
            commands.append(command)
        if not commands:
            return slots  # type: ignore[return-value]  # every slot is an Applied
        self.engine_index = index
        results = iter(self.exchange.apply_batch(commands, index))
        return [
            Applied(slot[0], slot[1], index, next(results), None, signer)
            if type(slot) is tuple
            else slot
            for slot in slots
        ]  # type: ignore[misc]

    def _trader_command(self, key: str, obj: dict) -> Command | None:
        """The engine command a signed request stands for, owned by the key's name (None: a
        repeated register); InvalidInput when the trader may not make it."""
        op = obj.get("op")
        if op not in TRADER_OPS:
            raise InvalidInput("op", f"{str(op)[:40]!r} is not a trader command")
        if "owner" in obj:
            raise InvalidInput("owner", "a signed command's owner is its key's name")
        if op == "register":
            return self._register(key, obj)
        name = self.traders.get(key)
        if name is None:
            raise InvalidInput("trader", "this key has no registered name (register first)")
        obj["owner"] = name
        return parse_command(obj)

    def _register(self, key: str, obj: dict) -> OpenAccount | None:
        """Bind a name to ``key``, first come first served; the new trader's account."""
        name = obj.get("name")
        if set(obj) != {"op", "name"} or not isinstance(name, str):
            raise InvalidInput("name", "expected the name to register")
        if not 0 < len(name) <= MAX_NAME or not name.isprintable():
            raise InvalidInput("name", f"expected 1 to {MAX_NAME} printable characters")
        current = self.traders.get(key)
        if current is not None:
            if current == name:
                return None
            raise InvalidInput("name", f"this key is registered as {current!r} already")
        if name in self.names:
            raise InvalidInput("name", f"{name!r} belongs to another key")
        self.traders[key] = name
        self.names[name] = key
        return OpenAccount(name)

    # -- snapshots: the engine's own canonical bytes, plus the tables --

    def snapshot(self) -> bytes:
        tables = {
            "applied": self.applied_index,
            "cluster": self.cluster_id,
            "members": [[m.node_id, m.name, m.addr] for m in sorted(self.members.values(),
                                                                   key=lambda m: m.node_id)],
            "refused": self.refused,
            "requests": self.requests.to_json(),
            "trader_commands": self.trader_commands,
            "traders": sorted([key, name] for key, name in self.traders.items()),
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
            machine.trader_commands = int(tables["trader_commands"])
            machine.refused = int(tables["refused"])
            machine.traders = {str(key): str(name) for key, name in tables["traders"]}
            machine.names = {name: key for key, name in machine.traders.items()}
            if len(machine.names) != len(machine.traders):
                raise ValueError("a name registered to two keys")
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput("snapshot", f"malformed tables: {exc}") from None
        return machine

    def digest(self) -> str:
        """The exchange's digest: what rpc.md's ``digest`` op reports."""
        return self.exchange.digest()

    def state_digest(self) -> str:
        """A digest of everything replicated, the tables too (the simulator compares it)."""
        return hashlib.sha256(self.snapshot()).hexdigest()
