"""The replicated state machine a simulated node runs: client sessions + the real engine.

Log payloads are `{"c": client, "s": seq, "cmd": engine command}` as JSON bytes; the core
never looks inside them.
"""

from __future__ import annotations

import hashlib
import json
import struct

from engine import Exchange, parse_command
from net.raft import NO_BUGS, Bugs, SessionTable

_LEN = struct.Struct(">I")


def encode_payload(client: str, seq: int, cmd: dict) -> bytes:
    return json.dumps({"c": client, "s": seq, "cmd": cmd}, separators=(",", ":")).encode()


def decode_payload(payload: bytes) -> tuple[str, int, dict]:
    obj = json.loads(payload)
    return obj["c"], obj["s"], obj["cmd"]


class Replica:
    __slots__ = ("exchange", "sessions")

    def __init__(self, sessions: SessionTable, exchange: Exchange) -> None:
        self.sessions = sessions
        self.exchange = exchange

    @classmethod
    def empty(cls, bugs: Bugs = NO_BUGS) -> Replica:
        return cls(SessionTable(bugs), Exchange())

    @classmethod
    def restore(cls, data: bytes, bugs: Bugs = NO_BUGS) -> Replica:
        (n,) = _LEN.unpack_from(data)
        sessions = SessionTable.decode(data[_LEN.size : _LEN.size + n], bugs)
        return cls(sessions, Exchange.restore(data[_LEN.size + n :]))

    def apply(self, index: int, payload: bytes) -> tuple[str, int, bool]:
        """Apply one client command; returns (client, seq, admitted), admitted False for a
        duplicate that the session table skipped."""
        client, seq, cmd = decode_payload(payload)
        admitted = self.sessions.admit(client, seq)
        if admitted:
            self.exchange.apply(parse_command(cmd), index)
        return client, seq, admitted

    def snapshot(self) -> bytes:
        sessions = self.sessions.encode()
        return _LEN.pack(len(sessions)) + sessions + self.exchange.snapshot()

    def digest(self) -> str:
        h = hashlib.sha256(self.sessions.encode())
        h.update(self.exchange.digest().encode())
        return h.hexdigest()
