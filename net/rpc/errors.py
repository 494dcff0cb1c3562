"""The RPC's error codes and the one exception that carries them.

A failed operation travels as the string ``"CODE: message"`` in the error slot of a Grenache
reply (``[rid, "ERR_NOT_FOUND: order_id: no open order 7", null]``). Clients switch on the
code, people read the message, so :class:`RpcError` keeps them apart until it is rendered.
"""

from engine import InvalidInput

# The codes of spec/rpc.md.
ERR_INVALID = "ERR_INVALID"  # bad input: the message names the field and says why
ERR_UNKNOWN_OP = "ERR_UNKNOWN_OP"
ERR_NOT_FOUND = "ERR_NOT_FOUND"
ERR_FORBIDDEN = "ERR_FORBIDDEN"  # not the caller's order
ERR_NO_QUORUM = "ERR_NO_QUORUM"  # this side of a partition cannot commit
ERR_TIMEOUT = "ERR_TIMEOUT"
ERR_BUSY = "ERR_BUSY"  # back-pressure: retry later
# Extensions: a server fault (a bug, logged on the peer), and what the Python client reports
# when it gets no usable reply at all (these two never come from a peer).
ERR_INTERNAL = "ERR_INTERNAL"
ERR_UNREACHABLE = "ERR_UNREACHABLE"
ERR_BAD_REPLY = "ERR_BAD_REPLY"


class RpcError(Exception):
    """An operation that failed with an RPC error ``code`` and a ``message`` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message

    @classmethod
    def invalid(cls, field: str, reason: str) -> "RpcError":
        """``ERR_INVALID`` naming the field first, the form every input error takes."""
        return cls(ERR_INVALID, f"{field}: {reason}")

    @classmethod
    def from_input(cls, error: InvalidInput) -> "RpcError":
        return cls.invalid(error.field, error.reason)

    @classmethod
    def parse(cls, text: str) -> "RpcError":
        """Read an error string off the wire; a bare ``"ERR_SOMETHING"`` has no message."""
        code, _, message = text.partition(": ")
        return cls(code, message)
