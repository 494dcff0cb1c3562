"""What a peer says about itself: the ``status`` op of spec/rpc.md, which the screen shows.

Beyond the spec's fields: ``cluster`` (the name), ``other_clusters`` (clusters of that
name that discovery shows besides this one: their id, whether they are pristine, their
peers' names; the screen offers to switch), ``joining`` (while the state is ``joining``:
what the peer is doing to get in, or what keeps it out, in a sentence; else null),
``no_quorum_s`` (seconds without a leader) and ``quorum`` (false while writes cannot
commit).
"""

import time
from importlib.metadata import version
from typing import TYPE_CHECKING

from net.raft.state import Role

if TYPE_CHECKING:
    from net.node import Node

ROLE_NAMES = {Role.LEADER: "leader", Role.FOLLOWER: "follower", Role.CANDIDATE: "candidate",
              Role.PRE_CANDIDATE: "candidate"}  # fmt: skip


def peer_status(node: "Node", digest: bool = True) -> dict:
    shell = node.shell
    core = shell.core
    conf = core.conf if core is not None else None
    members = shell.machine.members
    seen = shell.membership.seen
    now = time.monotonic()
    connected = node.links.connected()

    def named(node_id: int) -> str:
        member = members.get(node_id)
        return member.name if member else str(node_id)

    peers = []
    if conf is not None:
        for node_id in sorted({*conf.voters, *conf.learners} - {shell.id}):
            member = members.get(node_id)
            heard = seen.get(node_id)
            peers.append({
                "name": named(node_id),
                "addr": member.addr if member else "",
                "state": ("voter" if node_id in conf.voters else "learner")
                + ("" if node_id in connected else ", unreachable"),
                "last_seen_ms": int((now - heard) * 1000) if heard else None,
            })  # fmt: skip
    role = "joining"
    if core is not None and shell.member:
        role = "learner" if shell.id in conf.learners else ROLE_NAMES[core.role]  # type: ignore[union-attr]
    state = shell.state(now)
    return {
        "name": node.name,
        "node_id": shell.id,
        "cluster": shell.cluster,
        "cluster_id": shell.machine.cluster_id,
        "state": state,
        "role": role,
        "term": core.term if core is not None else 0,
        "leader": named(core.leader) if core is not None and core.leader else None,
        "commit_index": core.commit_index if core is not None else 0,
        "applied_index": shell.machine.applied_index,
        "time": shell.machine.exchange.time,  # consensus ms at applied_index
        "digest": shell.machine.digest() if digest else None,
        "refused": shell.machine.refused,  # entries no trader signed (net/machine.py)
        "voters": [named(v) for v in conf.voters] if conf is not None else [],
        "learners": [named(v) for v in conf.learners] if conf is not None else [],
        "peers": peers,
        "quorum": state == "trading",
        "no_quorum_s": round(shell.no_quorum_for(now), 1),
        "joining": (node.joiner.note or "looking for a cluster") if state == "joining" else None,
        "other_clusters": [
            {"cluster_id": v.cluster_id, "pristine": v.pristine, "peers": list(v.peers)}
            for v in node.joiner.others
        ],
        "version": version("dex"),
    }
