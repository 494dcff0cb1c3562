"""The membership policy: who gets in, who votes, who is replaced, how a peer leaves.

Plain decisions over the Raft core's view and the time (no I/O), made by the shell
(``net/shell.py``) on every tick and join request, so the simulator runs the very rules the
peer ships with:

- **Joining.** A peer that is not in its cluster's configuration *wants in*: one with no log
  yet, one restarted after a clean leave. It asks a member every ``join_every`` (1 s) until
  it sees itself in the configuration it applied, so an admission lost to a leader change is
  simply asked for again. A member that has heard no leader for a while asks too: it may
  have been removed while it was away, which its own log cannot show (the leader lets it in
  again, or answers that it is a member already).
- **Admission** (leader). A join request from the right cluster adds the newcomer's
  directory record and a learner configuration change; the leader keeps a link to it and
  proposes the change again until it is in (Raft drops one while another is pending).
  Followers answer with the leader's address.
- **Promotion** (leader). A learner caught up to within one entry and heard from recently
  becomes a voter while there are fewer than ``max_voters``.
- **Replacement** (leader). A voter not heard from for ``remove_after`` is removed when the
  voters still reachable are a majority; a learner gone as long is removed too. One
  configuration change at a time; a removed peer that comes back wants in again.
- **Leaving.** A leader first hands leadership to its most caught-up voter, then the peer
  proposes its own removal until it is out. The last voter hands its vote to a caught-up
  learner first if it has one; alone, it just stops (its data dir keeps the cluster).
"""

import contextlib
import json
from dataclasses import dataclass

from net.config import Timing
from net.machine import Machine, Member
from net.raft.confchange import ConfChange, ConfChangeType
from net.raft.core import RaftCore
from net.raft.errors import ProposalDropped
from net.raft.state import Role
from net.transport.control import JoinReply, JoinRequest


def directory_record(node_id: int, name: str, addr: str) -> bytes:
    """The log payload that tells every peer who ``node_id`` is and where it listens."""
    return json.dumps({"m": [node_id, name[:64], addr]}).encode()


def is_member(core: RaftCore | None, node_id: int) -> bool:
    return core is not None and (node_id in core.conf.voters or node_id in core.conf.learners)


@dataclass(slots=True)
class Membership:
    """One peer's side of the policy above: what it remembers between ticks."""

    id: int
    timing: Timing
    max_voters: int
    since: float  # when this peer began: voters never heard from count from here
    seen: dict[int, float]  # node id -> when a message last came from it
    admitting: dict[int, JoinRequest]  # newcomers this leader let in, not members yet
    leaving: bool = False
    left: bool = False
    leading_since: float = 0.0  # when this peer last became leader
    leader_hint: str = ""  # the leader's address, as a refusal named it
    _last_ask: float = float("-inf")
    _last_leave_step: float = float("-inf")

    @classmethod
    def new(cls, node_id: int, timing: Timing, max_voters: int, now: float) -> "Membership":
        return cls(node_id, timing, max_voters, now, {}, {})

    def heard(self, node_id: int, now: float) -> None:
        self.seen[node_id] = now

    def wants_in(self, core: RaftCore | None) -> bool:
        """Not in the configuration this peer applied, and not on its way out."""
        return not self.leaving and not is_member(core, self.id)

    # ---------------------------------------------------------------- the newcomer's side

    def ask_due(self, core: RaftCore | None, leaderless: float, now: float) -> bool:
        """Time to send a join request (the driver sends it to the targets it knows): this
        peer wants in, or it has heard no leader for ``leaderless`` seconds, longer than
        writes wait for one. A peer removed while it was away still holds a configuration
        that names it; only a leader's answer tells it that it is out (and lets it in)."""
        lost = core is not None and not self.leaving and leaderless > self.timing.no_leader_grace
        if not (self.wants_in(core) or lost) or now - self._last_ask < self.timing.join_every:
            return False
        self._last_ask = now
        return True

    def ask_now(self) -> None:
        """Let the next ``ask_due`` be due at once (a cluster just came into view)."""
        self._last_ask = float("-inf")

    def answered(self, reply: JoinReply, source: str, now: float) -> None:
        """A reply to this peer's join request, from the peer at ``source``."""
        if reply.ok:
            self.leader_hint = reply.leader_addr
        elif reply.leader_addr and reply.leader_addr != source:
            self.leader_hint = reply.leader_addr
            self._last_ask = float("-inf")  # ask the leader at once

    # ---------------------------------------------------------------- a member's side

    def answer(
        self,
        core: RaftCore | None,
        machine: Machine,
        cluster: str,
        addr: str,
        request: JoinRequest,
        now: float,
    ) -> JoinReply:
        """The reply to a join request; ok only from the leader at ``addr`` (which must then
        :meth:`admit` it). The request is a sign of life: a peer let in again is not removed
        at once as one long gone."""
        self.heard(request.node_id, now)
        here = machine.cluster_id

        def refuse(reason: str, leader: Member | None = None) -> JoinReply:
            return JoinReply(
                ok=False,
                leader_id=leader.node_id if leader else 0,
                leader_addr=leader.addr if leader else "",
                reason=reason,
                cluster_id=here,
            )

        if request.cluster != cluster:
            return refuse(f"this peer is in cluster {cluster!r}, not {request.cluster!r}")
        if core is None or not is_member(core, self.id) or not here:
            return refuse("this peer is not in a cluster yet")
        if request.cluster_id and request.cluster_id != here:
            return refuse(f"your log belongs to cluster {request.cluster_id}; this is {here}")
        if core.role != Role.LEADER:
            leader = machine.members.get(core.leader) if core.leader else None
            return refuse("not the leader" if leader else "no leader right now", leader)
        self.admitting[request.node_id] = request
        return JoinReply(ok=True, leader_id=self.id, leader_addr=addr, cluster_id=here)

    def admit(self, core: RaftCore, machine: Machine, request: JoinRequest) -> None:
        """The leader's proposals for a newcomer it answered ok (core idle)."""
        if core.role != Role.LEADER:
            return  # deposed meanwhile: the newcomer asks again
        known = machine.members.get(request.node_id)
        if known is None or (known.name, known.addr) != (request.name[:64], request.addr):
            _propose(core, directory_record(request.node_id, request.name, request.addr))
        if not is_member(core, request.node_id):
            _change(core, ConfChange(ConfChangeType.ADD_LEARNER, request.node_id, core.conf.index))

    def step(self, core: RaftCore, machine: Machine, now: float) -> None:
        """Once per tick: leave, or as the leader keep the configuration as it should be."""
        if self.leaving:
            self._leave_step(core, now)
        elif core.role == Role.LEADER:
            self._lead(core, machine, now)

    def became_leader(self, now: float) -> None:
        self.leading_since = now

    def _lead(self, core: RaftCore, machine: Machine, now: float) -> None:
        conf = core.conf
        members = {*conf.voters, *conf.learners}
        for node_id in [n for n in self.admitting if n in members]:
            del self.admitting[node_id]
        if core.pending_conf_index > core.applied_index:
            return  # one change at a time
        for request in self.admitting.values():  # let in, but a proposal was dropped: again
            self.admit(core, machine, request)
            return
        last = core.last_index()
        t = self.timing
        if len(conf.voters) < self.max_voters:
            for learner in conf.learners:
                pr = core.prs.get(learner)
                heard = now - self.seen.get(learner, float("-inf"))
                if pr is not None and pr.match >= last - 1 and heard < t.promote_heard:
                    _change(core, ConfChange(ConfChangeType.ADD_VOTER, learner, conf.index))
                    return
        alive = 1 + sum(
            1 for v in conf.voters if v != self.id and now - self.seen.get(v, 0.0) < t.alive_within
        )
        for node_id in (*conf.voters, *conf.learners):
            if node_id == self.id:
                continue
            gone = now - max(self.seen.get(node_id, self.since), self.leading_since)
            voter = node_id in conf.voters
            if gone > t.remove_after and (not voter or alive > len(conf.voters) // 2):
                _change(core, ConfChange(ConfChangeType.REMOVE, node_id, conf.index))
                return

    def _leave_step(self, core: RaftCore, now: float) -> None:
        conf = core.conf
        if not is_member(core, self.id):
            # out; but a leader that applied its own removal first hands leadership over
            self.left = core.role != Role.LEADER
            return
        others = [v for v in conf.voters if v != self.id]
        if now - self._last_leave_step < 10 * self.timing.tick:
            return
        self._last_leave_step = now
        if core.role == Role.LEADER:
            if others:
                best = max(others, key=lambda v: core.prs[v].match if v in core.prs else 0)
                core.transfer_leader(best)
                return
            last = core.last_index()
            for learner in conf.learners:  # the last voter: hand the vote over first
                pr = core.prs.get(learner)
                if pr is not None and pr.match >= last - 1:
                    _change(core, ConfChange(ConfChangeType.ADD_VOTER, learner, conf.index))
                    return
        if self.id in conf.voters and not others:
            self.left = True  # alone: nothing to hand over; the data dir keeps the cluster
            return
        _change(core, ConfChange(ConfChangeType.REMOVE, self.id))


def _propose(core: RaftCore, payload: bytes) -> None:
    with contextlib.suppress(ProposalDropped):  # no leader, or back-pressure: asked again
        core.propose(payload)


def _change(core: RaftCore, change: ConfChange) -> None:
    # dropped while one is pending, or before this term committed: the next tick tries again
    with contextlib.suppress(ProposalDropped):
        core.propose_conf_change(change)
