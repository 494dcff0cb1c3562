"""The few non-raft messages peers exchange: joining a cluster and telling who is where.

They are rare (a join, an address change), so the codec encodes them field by field from
their type hints rather than with hand-tuned layouts; every field is an ``int`` (u64), a
``bool`` or a ``str`` (at most :data:`~net.transport.wire.MAX_TEXT` bytes of UTF-8).
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """A peer asking a member to add it to the cluster (as a learner, the node decides).

    ``cluster`` is the cluster *name* the peer was started for (``--cluster``): a member of
    another name refuses. ``cluster_id`` is the cluster the peer's log belongs to, "" for a
    peer with no log yet: a member of another cluster refuses, so a log never meets another
    cluster's.
    """

    node_id: int
    name: str
    addr: str  # "host:port" where the new peer accepts links
    cluster: str = ""
    cluster_id: str = ""


@dataclass(frozen=True, slots=True)
class JoinReply:
    """The answer to a :class:`JoinRequest`; a refusal may point at the leader to ask instead."""

    ok: bool
    leader_id: int = 0
    leader_addr: str = ""
    reason: str = ""
    cluster_id: str = ""  # the answering member's cluster


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """Who a peer is and where it listens: sent on connecting, and gossiped about others."""

    node_id: int
    name: str
    addr: str
    cluster_id: str
