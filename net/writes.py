"""Writes waiting for consensus: numbered, batched into signed log entries, retried, answered.

A write (a command of this peer's trader) gets a request number ``seq`` unique to its
trader: ``base + n``, where the base of each start is durable in the data dir and above
every earlier one's (``DataDir.next_request_base``), so numbers never repeat across
restarts or a key restored into a new data dir, and the machine's (trader, seq)
de-duplication never mistakes a new request for an old one. Writes wait in an outbox until
the shell's next turn, which puts them into log entries of at most :data:`ENTRY_COMMANDS`,
each signed once by the trader's key (``net/traders.py``; group commit: under load one
entry, one signature, one fsync and one message per follower carry many requests).

A write not applied after ``retry_after`` is proposed again (a leader change may have lost
it; the machine applies it once), and fails with ``ERR_TIMEOUT`` after ``request_timeout``
or ``ERR_NO_QUORUM`` once no leader has been known for ``no_leader_grace``. Every outcome is
an :class:`Answer` for the driver to hand to whoever waits (an RPC future, a simulated
client). Plain data and time as an input: no asyncio here.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass

from engine import Event
from net.config import Timing
from net.machine import Applied
from net.rpc.errors import ERR_BUSY, ERR_INVALID, ERR_NO_QUORUM, ERR_TIMEOUT, RpcError
from net.traders import TraderCommand, encode_trader_command

#: Makes the payload of one log entry from its requests (signs them with the trader's key).
Signer = Callable[[list], bytes]

ENTRY_COMMANDS = 256  # requests batched into one log entry, at most (~50 KiB)
MAX_PENDING = 50_000  # writes in flight before new ones are refused with ERR_BUSY
NO_LEADER = "no leader reachable: this side cannot commit"


@dataclass(slots=True)
class Pending:
    """A write waiting to be applied here."""

    item: list  # [origin, seq, command]: what the log carries
    deadline: float
    proposed_at: float = 0.0  # 0: waiting in the outbox


@dataclass(frozen=True, slots=True)
class Answer:
    """What became of write ``seq``: its log index and events, or an error."""

    seq: int
    index: int = 0
    events: list[Event] | None = None
    error: RpcError | None = None


class Writes:
    """The writes of one origin (this peer's consensus id) that are not answered yet."""

    def __init__(self, origin: int, first_seq: int, timing: Timing, sign: Signer) -> None:
        self.origin = origin
        self.timing = timing
        self.sign = sign
        self.pending: dict[int, Pending] = {}
        self._outbox: list[int] = []
        self._seq = first_seq

    def add(self, command: TraderCommand, now: float) -> int:
        """Queue ``command``; its request number. ERR_BUSY when too many are in flight."""
        if len(self.pending) >= MAX_PENDING:
            raise RpcError(ERR_BUSY, "too many writes in flight; retry later")
        self._seq += 1
        item = [self.origin, self._seq, encode_trader_command(command)]
        self.pending[self._seq] = Pending(item, now + self.timing.request_timeout)
        self._outbox.append(self._seq)
        return self._seq

    def has_outbox(self) -> bool:
        return bool(self._outbox)

    def take_entries(self, now: float) -> tuple[list[int], tuple[bytes, ...]]:
        """The outbox as log entry payloads (and the seqs in them), marked proposed."""
        seqs, items = [], []
        for seq in self._outbox:
            pending = self.pending.get(seq)
            if pending is not None:
                pending.proposed_at = now
                seqs.append(seq)
                items.append(pending.item)
        self._outbox.clear()
        payloads = tuple(
            self.sign(items[i : i + ENTRY_COMMANDS]) for i in range(0, len(items), ENTRY_COMMANDS)
        )
        return seqs, payloads

    def put_back(self, seqs: list[int]) -> None:
        """A proposal was dropped (no leader yet): these go out at the next turn."""
        for seq in seqs:
            pending = self.pending.get(seq)
            if pending is not None:
                pending.proposed_at = 0.0
                self._outbox.append(seq)

    def applied(self, applied: Applied) -> Answer | None:
        """The answer for a request of this origin that the machine applied, if any waits."""
        pending = self.pending.get(applied.seq)
        if pending is None or (applied.events is None and applied.error is None):
            return None  # not waited for here, or a duplicate of what already answered it
        del self.pending[applied.seq]
        if applied.error is not None:
            return Answer(applied.seq, applied.index, error=RpcError(ERR_INVALID, applied.error))
        return Answer(applied.seq, applied.index, applied.events)

    def check(self, now: float, no_quorum: bool) -> list[Answer]:
        """Fail late writes, and every write when leaderless; queue lost ones again."""
        failed = []
        for seq, pending in list(self.pending.items()):
            error = None
            if now >= pending.deadline:
                error = RpcError(
                    ERR_TIMEOUT, "not committed in time; retry with the same client_id"
                )
            elif no_quorum:
                error = RpcError(ERR_NO_QUORUM, NO_LEADER)
            if error is not None:
                del self.pending[seq]
                failed.append(Answer(seq, error=error))
            elif pending.proposed_at and now - pending.proposed_at > self.timing.retry_after:
                pending.proposed_at = 0.0
                self._outbox.append(seq)
        return failed

    def fail_all(self, error: RpcError) -> list[Answer]:
        """Every write still waiting fails with ``error`` (the peer is stopping)."""
        failed = [Answer(seq, error=error) for seq in self.pending]
        self.pending.clear()
        self._outbox.clear()
        return failed


def entry_payload(batch: list) -> bytes:
    """An unsigned log entry carrying the exchange's own requests ``[origin, seq, command]``
    (create_market, configure: the founding entry; net/machine.py reads it)."""
    return json.dumps({"c": batch}, separators=(",", ":")).encode()
