"""Client sessions: apply each (client, seq) command at most once (Ongaro's thesis, 6.3).

A client retries a command that timed out, perhaps through another node, so the log may hold
it twice; the replicated state machine must then skip the copy. The table is part of the
replicated state: it is decided at apply time from log order alone, and travels in snapshots.
Each client has at most one command outstanding and numbers them 1, 2, 3, ...
"""

from __future__ import annotations

import json

from net.raft.config import NO_BUGS, Bugs


class SessionTable:
    __slots__ = ("_bugs", "_last")

    def __init__(self, bugs: Bugs = NO_BUGS) -> None:
        self._last: dict[str, int] = {}
        self._bugs = bugs

    def admit(self, client: str, seq: int) -> bool:
        """True if (client, seq) is new and must be applied; records it."""
        if seq <= self._last.get(client, 0) and not self._bugs.no_dedupe:
            return False
        self._last[client] = max(seq, self._last.get(client, 0))
        return True

    def last_seq(self, client: str) -> int:
        return self._last.get(client, 0)

    def encode(self) -> bytes:
        return json.dumps(self._last, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes, bugs: Bugs = NO_BUGS) -> SessionTable:
        table = cls(bugs)
        table._last = {str(k): int(v) for k, v in json.loads(data).items()}
        return table
