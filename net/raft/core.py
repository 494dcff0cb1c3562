"""RaftCore: the sans-I/O Raft state machine (after etcd's raft.go and rawnode.go).

It owns no socket, task, clock or global randomness. The shell feeds it tick(), step(msg),
propose*(), transfer_leader(); then takes ready(), handles it (persist, send, apply, in that
order; see Ready) and calls advance(). Nothing may be fed to the core between ready() and
advance(): inputs that arrive meanwhile are queued by the shell, which batches them for free.

A few one-line rules are methods of their own (``_may_vote``, ``_log_allows_vote``,
``_commit_term_ok``, ``_heartbeat_commit``, ``_follower_commit_bound``,
``_after_matching_append``, ``_snapshot_pending``, ``_hard_state``): the simulator's injected
bugs (``net/sim/bugs.py``) override them in a subclass, so no test switch lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from net.raft.confchange import ConfChange, apply_conf_change
from net.raft.config import Config
from net.raft.entries import EntryKind, EntryRun, single_term_run
from net.raft.errors import Compacted, ProposalDropped, SnapshotNotReady
from net.raft.log import RaftLog
from net.raft.messages import MT, TRANSFER_CTX, Msg
from net.raft.progress import Inflights, Progress, ProgressState
from net.raft.state import ConfState, HardState, Ready, Role, SnapMeta, Snapshot
from net.raft.storage import LogStore

_NORMAL = bytes([EntryKind.NORMAL])
_CONF = bytes([EntryKind.CONF])


class Rng(Protocol):
    """The only randomness the core uses (randomized election timeouts); injected."""

    def randrange(self, start: int, stop: int, /) -> int: ...


class _Tally(IntEnum):
    PENDING = 0
    WON = 1
    LOST = 2


@dataclass(slots=True)
class _IncomingSnapshot:
    """Chunks of an InstallSnapshot received so far (volatile: a crash restarts the transfer)."""

    meta: SnapMeta
    data: bytearray


class RaftCore:
    """One Raft peer's decisions. Restart it from durable storage only (Config.applied tells
    where the state machine's snapshot left off); fields are readable views, not inputs."""

    def __init__(
        self, cfg: Config, storage: LogStore, rng: Rng, header: Callable[[], bytes] | None = None
    ) -> None:
        self.cfg = cfg
        self.id = cfg.id
        self._rng = rng
        # What a leader writes before each normal payload it appends (its own proposals,
        # forwarded ones and its no-op alike): the application's stamp, e.g. the leader's
        # clock (net/machine.py), computed once per append. The core never reads it back.
        self._header = header
        self.log = RaftLog(storage)
        hs, conf = storage.initial_state()
        self.conf: ConfState = conf
        self.term = hs.term
        self.vote = hs.vote
        # what the state machine applied is committed, even if the lazily persisted
        # commit index lags behind it
        self.log.commit_to(max(hs.commit, cfg.applied))
        self.log.applied = max(self.log.applied, cfg.applied)
        self._persisted = hs
        self.msgs: list[Msg] = []
        self.prs: dict[int, Progress] = {}
        self.votes: dict[int, bool] = {}
        self.role = Role.FOLLOWER
        self.leader = 0
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self._timeout = cfg.election_tick
        self.lead_transferee = 0
        self.pending_conf_index = 0
        self.uncommitted_bytes = 0
        self._dirty = False  # leader: appends or commit progress not yet sent
        self._incoming: _IncomingSnapshot | None = None
        self._outstanding: Ready | None = None
        self._was_member = self.id in (*self.conf.voters, *self.conf.learners)
        self._soft = (self.role, self.leader)
        self._become_follower(self.term, 0)

    # ------------------------------------------------------------------ inputs

    def tick(self) -> None:
        """One unit of logical time; the shell decides how long a tick is."""
        self._check_idle()
        if self.role == Role.LEADER:
            self._tick_leader()
        else:
            self.election_elapsed += 1
            if self.election_elapsed >= self._timeout and self._promotable():
                self.election_elapsed = 0
                self._hup(transfer=False)

    def step(self, m: Msg) -> None:
        """Feed one message from another core."""
        self._check_idle()
        if m.type == MT.PROP:
            self._step_forwarded_proposal(m)
            return
        if m.term > self.term:
            if m.type in (MT.VOTE, MT.PRE_VOTE):
                in_lease = (
                    self.cfg.check_quorum
                    and self.leader != 0
                    and self.election_elapsed < self.cfg.election_tick
                )
                if in_lease and m.ctx != TRANSFER_CTX:
                    return  # a healthy leader exists: a rejoining node must not disrupt it
            if m.type == MT.PRE_VOTE or (m.type == MT.PRE_VOTE_RESP and not m.reject):
                pass  # pre-votes never change terms
            elif m.type in (MT.APP, MT.HB, MT.SNAP):
                self._become_follower(m.term, m.frm)
            else:
                self._become_follower(m.term, 0)
        elif m.term < self.term:
            if (self.cfg.check_quorum or self.cfg.pre_vote) and m.type in (MT.APP, MT.HB):
                # tell a stale leader (or a node cut off by pre-vote) the current term
                self._send(Msg(MT.APP_RESP, self.id, m.frm, self.term))
            elif m.type == MT.PRE_VOTE:
                self._send(Msg(MT.PRE_VOTE_RESP, self.id, m.frm, self.term, reject=True))
            return
        if m.type in (MT.VOTE, MT.PRE_VOTE):
            self._handle_vote(m)
        elif self.role == Role.LEADER:
            self._step_leader(m)
        elif self.role == Role.FOLLOWER:
            self._step_follower(m)
        else:
            self._step_candidate(m)

    def propose(self, payload: bytes) -> None:
        """Propose an application command; raises ProposalDropped if it cannot be taken now."""
        self._propose(_NORMAL, (payload,))

    def propose_many(self, payloads: tuple[bytes, ...]) -> None:
        """Propose several commands as consecutive entries (one append, one message)."""
        self._propose(_NORMAL * len(payloads), payloads)

    def propose_conf_change(self, cc: ConfChange) -> None:
        self._propose(_CONF, (cc.encode(),))

    def campaign(self) -> None:
        """Start an election now (with pre-vote if configured), as an election timeout would."""
        self._check_idle()
        self._hup(transfer=False)

    def transfer_leader(self, to: int) -> None:
        """Ask the leader (this node, or forwarded) to hand leadership to voter `to`."""
        self._check_idle()
        if self.role == Role.LEADER:
            self._transfer(to)
        elif self.leader:
            self._send(Msg(MT.TRANSFER, self.id, self.leader, self.term, index=to))
        else:
            raise ProposalDropped("no leader")

    def report_unreachable(self, to: int) -> None:
        """The shell failed to deliver to `to`: stop pipelining to it and probe."""
        self._check_idle()
        pr = self.prs.get(to)
        if self.role == Role.LEADER and pr is not None and pr.state == ProgressState.REPLICATE:
            pr.become_probe()

    # ------------------------------------------------------------------ outputs

    def has_ready(self) -> bool:
        if self._outstanding is not None:
            return False
        self._flush()
        log = self.log
        return bool(
            self.msgs
            or log.unstable_entries() is not None
            or log.unstable_snapshot() is not None
            or log.committed > log.applied
            or self._hard_state() != self._persisted
            or (self.role, self.leader) != self._soft
        )

    def ready(self) -> Ready:
        """The next batch of work; call advance() once it is persisted, sent and applied."""
        self._check_idle()
        self._flush()
        hs = self._hard_state()
        p = self._persisted
        entries = self.log.unstable_entries()
        snap = self.log.unstable_snapshot()
        rd = Ready(
            role=self.role,
            leader=self.leader,
            term=self.term,
            hard_state=hs if hs != p else None,
            entries=entries,
            snapshot=snap,
            committed=self.log.next_committed(self.cfg.max_committed_bytes_per_ready),
            messages=self.msgs,
            must_sync=entries is not None
            or snap is not None
            or hs.term != p.term
            or hs.vote != p.vote,
        )
        self.msgs = []
        self._soft = (self.role, self.leader)
        self._outstanding = rd
        return rd

    def advance(self) -> None:
        """The outstanding Ready was handled: its writes are durable, its entries applied."""
        rd = self._outstanding
        if rd is None:
            raise RuntimeError("advance() without an outstanding Ready")
        self._outstanding = None
        log = self.log
        if rd.hard_state is not None:
            told = self._commit_to_tell()
            self._persisted = rd.hard_state
            if self.role == Role.LEADER and self._commit_to_tell() != told:
                self._dirty = True  # a withheld commit may now be told
        if rd.snapshot is not None:
            log.stable_snap_to(rd.snapshot.meta.index)
            log.applied = max(log.applied, rd.snapshot.meta.index)
        if rd.entries is not None:
            log.stable_to(rd.entries.last, rd.entries.last_term)
            own = self.prs.get(self.id)
            # the leader counts itself only for entries now durable (etcd issue 14370)
            if self.role == Role.LEADER and own is not None and own.maybe_update(rd.entries.last):
                self._dirty |= self._maybe_commit()
        run = rd.committed
        if run is not None:
            log.applied = run.last
            if self.role == Role.LEADER:
                self.uncommitted_bytes = max(0, self.uncommitted_bytes - run.nbytes())
            if EntryKind.CONF in run.kinds:
                for index, _, kind, payload in run:
                    if kind == EntryKind.CONF:
                        self._apply_conf_change(ConfChange.decode(payload), index)

    # ------------------------------------------------------------------ views

    def last_index(self) -> int:
        return self.log.last_index()

    def term_at(self, index: int) -> int:
        return self.log.term(index)

    @property
    def commit_index(self) -> int:
        return self.log.committed

    @property
    def applied_index(self) -> int:
        return self.log.applied

    # ------------------------------------------------------------------ roles

    def _reset(self, term: int) -> None:
        if term != self.term:
            self.term = term
            self.vote = 0
        self.leader = 0
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self._timeout = self.cfg.election_tick + self._rng.randrange(0, self.cfg.election_tick)
        self.lead_transferee = 0
        self.votes = {}
        self.prs = {}
        self.pending_conf_index = 0
        self.uncommitted_bytes = 0
        self._dirty = False

    def _become_follower(self, term: int, leader: int) -> None:
        self._reset(term)
        self.leader = leader
        self.role = Role.FOLLOWER

    def _become_leader(self) -> None:
        self._reset(self.term)
        self.leader = self.id
        self.role = Role.LEADER
        for node in self.conf.voters + self.conf.learners:
            self.prs[node] = self._new_progress()
        last = self.log.last_index()
        # refuse configuration changes until everything inherited is applied
        self.pending_conf_index = last
        # the no-op: only an entry of the leader's own term can commit what it inherited
        self.log.append(
            single_term_run(last + 1, self.term, _NORMAL, self._stamped(_NORMAL, (b"",)))
        )
        self._dirty = True
        if self._removed():
            self._hand_over()  # elected to pass the log on (see _promotable)

    def _new_progress(self) -> Progress:
        inflights = Inflights(self.cfg.max_inflight_msgs, self.cfg.max_inflight_bytes)
        return Progress(self.log.last_index() + 1, inflights)

    def _promotable(self) -> bool:
        """A voter may campaign; so may a node removed from the configuration it applied
        (not a learner, not a newcomer that was never in one): it counts only the voters'
        votes, and once elected it hands leadership over (see ``_removed``). A removed node
        can hold the longest log, which the remaining voters need, while they, not knowing
        the removal committed, wait for its vote (its longer log refuses theirs): without
        this the cluster could wait for ever (Raft thesis 4.2.2: a server not in its own
        configuration may still be elected and manage the cluster without counting itself).
        """
        conf = self.conf
        return self.id in conf.voters or (
            self._was_member and bool(conf.voters) and self.id not in conf.learners
        )

    def _removed(self) -> bool:
        """A leader outside its own configuration: it takes no proposals and hands over."""
        return self.role == Role.LEADER and self.id not in self.conf.voters

    def _hand_over(self) -> None:
        """A removed leader transfers leadership to its most caught-up voter."""
        voters = self.conf.voters
        if voters:
            self._transfer(max(voters, key=lambda v: self.prs[v].match if v in self.prs else 0))

    def _hup(self, transfer: bool) -> None:
        if self.role == Role.LEADER or not self._promotable():
            return
        log = self.log
        if self._snapshot_pending():
            return  # its configuration is not applied yet, and its entries are gone (etcd too)
        if log.committed > log.applied and log.has_conf_between(log.applied + 1, log.committed + 1):
            return  # a node must not campaign under a configuration it has not applied
        if transfer or not self.cfg.pre_vote:
            self._campaign(pre=False, transfer=transfer)
        else:
            self._campaign(pre=True, transfer=False)

    def _campaign(self, pre: bool, transfer: bool) -> None:
        if pre:
            self.role = Role.PRE_CANDIDATE
            self.leader = 0
            self.votes = {}
            term, mt = self.term + 1, MT.PRE_VOTE
        else:
            self._reset(self.term + 1)
            self.vote = self.id
            self.role = Role.CANDIDATE
            term, mt = self.term, MT.VOTE
        self.votes[self.id] = True
        if self._tally() == _Tally.WON:  # a single voter
            self._won(pre)
            return
        last = self.log.last_index()
        last_term = self.log.last_term()
        ctx = TRANSFER_CTX if transfer else b""
        for v in self.conf.voters:
            if v != self.id:
                self._send(Msg(mt, self.id, v, term, index=last, log_term=last_term, ctx=ctx))

    def _won(self, pre: bool) -> None:
        if pre:
            self._campaign(pre=False, transfer=False)
        else:
            self._become_leader()

    def _tally(self) -> _Tally:
        voters = self.conf.voters
        granted = sum(1 for v in voters if self.votes.get(v) is True)
        rejected = sum(1 for v in voters if self.votes.get(v) is False)
        quorum = len(voters) // 2 + 1
        if granted >= quorum:
            return _Tally.WON
        if rejected > len(voters) - quorum:
            return _Tally.LOST
        return _Tally.PENDING

    def _handle_vote(self, m: Msg) -> None:
        pre = m.type == MT.PRE_VOTE
        resp = MT.PRE_VOTE_RESP if pre else MT.VOTE_RESP
        if self._may_vote(m, pre) and self._log_allows_vote(m):
            # the reply carries the request's term, so a pre-candidate can count it
            self._send(Msg(resp, self.id, m.frm, m.term))
            if not pre:
                self.election_elapsed = 0
                self.vote = m.frm
        else:
            self._send(Msg(resp, self.id, m.frm, self.term, reject=True))

    # ------------------------------------------------------------------ per-role steps

    def _step_candidate(self, m: Msg) -> None:
        if m.type in (MT.APP, MT.HB, MT.SNAP):
            self._become_follower(m.term, m.frm)
            self._step_follower(m)
            return
        pre = self.role == Role.PRE_CANDIDATE
        if m.type != (MT.PRE_VOTE_RESP if pre else MT.VOTE_RESP):
            return
        self.votes.setdefault(m.frm, not m.reject)
        result = self._tally()
        if result == _Tally.WON:
            self._won(pre)
        elif result == _Tally.LOST:
            self._become_follower(self.term, 0)

    def _step_follower(self, m: Msg) -> None:
        if m.type in (MT.APP, MT.HB, MT.SNAP):
            self.election_elapsed = 0
            self.leader = m.frm
            if m.type == MT.APP:
                self._handle_append(m)
            elif m.type == MT.HB:
                self.log.commit_to(self._follower_commit_bound(m, m.commit))
                self._send(Msg(MT.HB_RESP, self.id, m.frm, self.term))
            else:
                self._handle_snapshot_chunk(m)
        elif m.type == MT.TRANSFER and self.leader:
            self._send(Msg(MT.TRANSFER, self.id, self.leader, self.term, index=m.index))
        elif m.type == MT.TIMEOUT_NOW:
            self._hup(transfer=True)

    def _step_leader(self, m: Msg) -> None:
        if m.type == MT.TRANSFER:
            self._transfer(m.index)
            return
        pr = self.prs.get(m.frm)
        if pr is None:
            return
        if m.type == MT.APP_RESP:
            pr.recent_active = True
            self._handle_append_response(m, pr)
        elif m.type == MT.HB_RESP:
            pr.recent_active = True
            pr.probe_sent = False
            if pr.state == ProgressState.SNAPSHOT:
                self._send_chunk(m.frm, pr)  # a lost chunk is resent once per heartbeat
                return
            if pr.state == ProgressState.REPLICATE and pr.inflights.full():
                pr.inflights.free_first()
            # a follower still behind may have lost appends: an append (empty if need be)
            # provokes the rejection that resumes its replication
            self._send_append(m.frm, pr, probe=pr.match < self.log.last_index())
        elif m.type == MT.SNAP_RESP:
            pr.recent_active = True
            self._handle_chunk_response(m, pr)

    # ------------------------------------------------------------------ proposals

    def _propose(self, kinds: bytes, payloads: tuple[bytes, ...]) -> None:
        self._check_idle()
        if self.role == Role.LEADER:
            self._leader_append(kinds, payloads)
        elif self.leader == 0:
            raise ProposalDropped("no leader")
        elif not self.cfg.forward_proposals:
            raise ProposalDropped("not the leader", self.leader)
        else:
            run = EntryRun(0, (0,) * len(payloads), kinds, payloads)
            self._send(Msg(MT.PROP, self.id, self.leader, 0, ents=run))

    def _step_forwarded_proposal(self, m: Msg) -> None:
        if self.role != Role.LEADER or m.ents is None:
            return  # forwarded once only; the client retries elsewhere
        try:
            self._leader_append(m.ents.kinds, m.ents.payloads)
        except ProposalDropped:
            return

    def _leader_append(self, kinds: bytes, payloads: tuple[bytes, ...]) -> None:
        if self.lead_transferee:
            raise ProposalDropped("leadership transfer in progress", self.id)
        if self._removed():
            raise ProposalDropped("this leader is not in the configuration; it hands over")
        size = sum(map(len, payloads))
        if (
            self.uncommitted_bytes
            and self.uncommitted_bytes + size > self.cfg.max_uncommitted_bytes
        ):
            raise ProposalDropped("too many uncommitted bytes", self.id)
        if EntryKind.CONF in kinds:
            self._check_conf_proposal(kinds)
        first = self.log.last_index() + 1
        self.log.append(single_term_run(first, self.term, kinds, self._stamped(kinds, payloads)))
        if EntryKind.CONF in kinds:
            self.pending_conf_index = first + kinds.index(EntryKind.CONF)
        self.uncommitted_bytes += size
        self._dirty = True

    def _stamped(self, kinds: bytes, payloads: tuple[bytes, ...]) -> tuple[bytes, ...]:
        """The payloads as this leader appends them: the header before each normal one."""
        if self._header is None:
            return payloads
        header = self._header()
        if EntryKind.CONF not in kinds:
            return tuple([header + p for p in payloads])
        return tuple(
            [
                header + p if k == EntryKind.NORMAL else p
                for k, p in zip(kinds, payloads, strict=True)
            ]
        )

    def _check_conf_proposal(self, kinds: bytes) -> None:
        """One change at a time, and only once this leader's own term has committed an entry
        (the fix for the 2015 single-server change bug)."""
        if kinds.count(EntryKind.CONF) > 1:
            raise ProposalDropped("one configuration change at a time", self.id)
        if self.pending_conf_index > self.log.applied:
            raise ProposalDropped("a configuration change is pending", self.id)
        if self.log.term(self.log.committed) != self.term:
            raise ProposalDropped("no entry of this term committed yet", self.id)

    # ------------------------------------------------------------------ replication (leader)

    def _flush(self) -> None:
        """Send what proposals, acks and commit progress made sendable: one batch per Ready."""
        if not self._dirty or self.role != Role.LEADER:
            return
        self._dirty = False
        for node, pr in self.prs.items():
            if node != self.id:
                self._send_append(node, pr)

    def _send_append(self, to: int, pr: Progress, probe: bool = False) -> None:
        """Send what the follower lacks, pipelined up to the window; with nothing new, an
        empty append only to carry a new commit index, or to probe when asked."""
        log = self.log
        last = log.last_index()
        commit = self._commit_to_tell()
        while not pr.is_paused():
            if pr.next > last and pr.sent_commit >= commit and not probe:
                return
            prev = pr.next - 1
            try:
                prev_term = log.term(prev)
                run = (
                    log.slice(pr.next, last + 1, self.cfg.max_size_per_msg)
                    if pr.next <= last
                    else None
                )
            except Compacted:
                self._start_snapshot(to, pr)
                return
            self._send(Msg(MT.APP, self.id, to, self.term, prev, prev_term, commit, run))
            pr.sent_commit = commit
            if run is None:
                if pr.state == ProgressState.PROBE:
                    pr.probe_sent = True
                return
            pr.sent_entries(run.last, run.nbytes())

    def _handle_append_response(self, m: Msg, pr: Progress) -> None:
        if m.reject:
            hint = m.hint_index
            if m.hint_term > 0:
                hint, _ = self.log.find_conflict_by_term(m.hint_index, m.hint_term)
            if pr.maybe_decr_to(m.index, hint):
                if pr.state == ProgressState.REPLICATE:
                    pr.become_probe()
                self._dirty = True
            return
        confirmed = pr.match == m.index and pr.state == ProgressState.PROBE
        updated = pr.maybe_update(m.index)
        if pr.state == ProgressState.SNAPSHOT:
            if pr.match >= pr.pending_snapshot:  # the snapshot (or a newer log) landed
                pr.become_probe()
                if pr.match + 1 >= self.log.first_index():
                    pr.become_replicate()
                self._dirty = True
        elif pr.state == ProgressState.PROBE and (updated or confirmed):
            pr.become_replicate()
            self._dirty = True
        elif pr.state == ProgressState.REPLICATE:
            pr.inflights.free_le(m.index)
        if updated:
            self._maybe_commit()
            self._dirty = True
        if m.frm == self.lead_transferee and pr.match == self.log.last_index():
            self._send(Msg(MT.TIMEOUT_NOW, self.id, m.frm, self.term))

    def _commit_to_tell(self) -> int:
        """The commit index a leader puts in its messages: its own, except that a
        configuration change is announced as committed only once this leader's record of
        that commit is durable (its messages leave before its Ready's write).

        Otherwise a voter that learns its own removal committed may stop, and a leader that
        crashes before writing that commit restarts under the old configuration, needing the
        departed voter's vote, which a longer log there can refuse for ever. Told one Ready
        later, the departed voter can only have stopped once the leader knows, durably, that
        it is out."""
        committed = self.log.committed
        durable = self._persisted.commit
        if durable < self.pending_conf_index <= committed:
            return durable
        return committed

    def _maybe_commit(self) -> bool:
        """Commit the highest index a quorum holds, if it is of this term (Raft 5.4.2)."""
        voters = self.conf.voters
        matches = sorted((self.prs[v].match if v in self.prs else 0 for v in voters), reverse=True)
        mci = matches[len(voters) // 2]
        if mci <= self.log.committed:
            return False
        if not self._commit_term_ok(mci):
            return False
        self.log.commit_to(mci)
        return True

    def _tick_leader(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.cfg.election_tick:
            self.election_elapsed = 0
            if self.cfg.check_quorum and not self._quorum_active():
                self._become_follower(self.term, 0)  # a minority leader steps down
                return
            for node, pr in self.prs.items():
                if node == self.id:
                    continue
                if pr.state == ProgressState.SNAPSHOT and not pr.recent_active:
                    pr.become_probe()  # abandon a transfer to a silent follower
                pr.recent_active = False
            self.lead_transferee = 0  # a transfer not done within an election timeout aborts
            if self._removed():
                self._hand_over()  # again
        if self.heartbeat_elapsed >= self.cfg.heartbeat_tick:
            self.heartbeat_elapsed = 0
            commit = self._commit_to_tell()
            for node, pr in self.prs.items():
                if node != self.id:
                    c = self._heartbeat_commit(pr, commit)
                    self._send(Msg(MT.HB, self.id, node, self.term, commit=c))

    def _quorum_active(self) -> bool:
        voters = self.conf.voters
        active = sum(
            1 for v in voters if v == self.id or (v in self.prs and self.prs[v].recent_active)
        )
        return active >= len(voters) // 2 + 1

    def _transfer(self, to: int) -> None:
        if to == self.id or to not in self.conf.voters or to == self.lead_transferee:
            return
        self.lead_transferee = to
        self.election_elapsed = 0
        if self.prs[to].match == self.log.last_index():
            self._send(Msg(MT.TIMEOUT_NOW, self.id, to, self.term))
        else:
            self._dirty = True

    # ------------------------------------------------------------------ snapshots (leader)

    def _start_snapshot(self, to: int, pr: Progress) -> None:
        if not pr.recent_active:
            return  # never stream a snapshot to a follower that is not answering
        try:
            snap = self.log.snapshot()
        except SnapshotNotReady:
            return
        pr.become_snapshot(snap)
        self._send_chunk(to, pr)

    def _send_chunk(self, to: int, pr: Progress) -> None:
        snap = pr.snap
        assert snap is not None
        off = pr.snap_offset
        data = snap.data[off : off + self.cfg.snapshot_chunk_bytes]
        meta = snap.meta
        done = off + len(data) >= len(snap.data)
        self._send(
            Msg(
                MT.SNAP,
                self.id,
                to,
                self.term,
                meta.index,
                meta.term,
                snap=meta,
                offset=off,
                data=data,
                done=done,
            )
        )

    def _handle_chunk_response(self, m: Msg, pr: Progress) -> None:
        snap = pr.snap
        if pr.state != ProgressState.SNAPSHOT or snap is None or m.index != snap.meta.index:
            return
        if m.reject:
            if m.offset == pr.snap_offset:
                return  # a duplicate chunk was refused; the one at this offset is on its way
        elif m.offset <= pr.snap_offset or m.offset >= len(snap.data):
            return  # stale ack, or the last chunk: the install is acknowledged by APP_RESP
        pr.snap_offset = m.offset
        self._send_chunk(m.frm, pr)

    # ------------------------------------------------------------------ follower side

    def _handle_append(self, m: Msg) -> None:
        log = self.log
        if m.index < log.committed:
            self._send(Msg(MT.APP_RESP, self.id, m.frm, self.term, index=log.committed))
            return
        if not log.match_term(m.index, m.log_term):
            hint_index, hint_term = log.find_conflict_by_term(
                min(m.index, log.last_index()), m.log_term
            )
            self._send(
                Msg(
                    MT.APP_RESP,
                    self.id,
                    m.frm,
                    self.term,
                    index=m.index,
                    reject=True,
                    hint_index=hint_index,
                    hint_term=hint_term,
                )
            )
            return
        run = m.ents
        last_new = m.index + (len(run) if run is not None else 0)
        conflict = log.find_conflict(run) if run is not None else 0
        if run is not None and conflict:
            if conflict <= log.committed:
                raise AssertionError(f"entry {conflict} conflicts with committed {log.committed}")
            log.append(run.slice(conflict, run.last + 1))
        else:
            self._after_matching_append(last_new)
        log.commit_to(self._follower_commit_bound(m, last_new))
        self._send(Msg(MT.APP_RESP, self.id, m.frm, self.term, index=last_new))

    def _handle_snapshot_chunk(self, m: Msg) -> None:
        log = self.log
        if m.index <= log.committed:
            self._incoming = None
            self._send(Msg(MT.APP_RESP, self.id, m.frm, self.term, index=log.committed))
            return
        inc = self._incoming
        if m.offset == 0 and m.snap is not None:
            inc = self._incoming = _IncomingSnapshot(m.snap, bytearray())
        same = inc is not None and inc.meta.index == m.index and inc.meta.term == m.log_term
        if inc is None or not same or m.offset != len(inc.data):
            held = len(inc.data) if inc is not None and same else 0
            self._send(
                Msg(MT.SNAP_RESP, self.id, m.frm, self.term, m.index, reject=True, offset=held)
            )
            return
        inc.data += m.data
        if not m.done:
            self._send(Msg(MT.SNAP_RESP, self.id, m.frm, self.term, m.index, offset=len(inc.data)))
            return
        self._incoming = None
        restored = self._restore(Snapshot(inc.meta, bytes(inc.data)))
        # after a restore our log ends at the snapshot; when we held its last entry already,
        # our suffix past it may be an old term's that the leader never had: acknowledge only
        # the commit index, which is known to match (etcd's handleSnapshot)
        acked = log.last_index() if restored else log.committed
        self._send(Msg(MT.APP_RESP, self.id, m.frm, self.term, index=acked))

    def _restore(self, snap: Snapshot) -> bool:
        """Install a snapshot; False when we hold its last entry already (etcd's restore)."""
        meta = snap.meta
        if self.log.match_term(meta.index, meta.term):
            self.log.commit_to(meta.index)  # we hold it already: keep the suffix
            return False
        self.log.restore(snap)  # our log may conflict beyond it: discard all of it
        self.conf = meta.conf
        return True

    # ------------------------------------------------------------------ configuration

    def _apply_conf_change(self, cc: ConfChange, index: int) -> None:
        new = apply_conf_change(self.conf, cc, index)
        if new is self.conf:
            return
        self.conf = new
        self._was_member = self._was_member or self.id in (*new.voters, *new.learners)
        if self.role != Role.LEADER:
            return
        members = new.voters + new.learners
        for node in members:
            if node not in self.prs:
                self.prs[node] = self._new_progress()
        for node in [n for n in self.prs if n not in members]:
            del self.prs[node]
        if self.lead_transferee not in new.voters:
            self.lead_transferee = 0
        self._maybe_commit()
        self._dirty = True
        if self._removed():
            # Not stepping down at once: the voters left must first be told that the
            # change is committed (this leader's heartbeats go on) and one of them must take
            # over, or they would wait for this node's vote (see _promotable).
            self._hand_over()

    # ------------------------------------------------------------------ helpers

    def _hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self.log.committed)

    # ------------------------------------------------------------------ rules (see the docstring)

    def _may_vote(self, m: Msg, pre: bool) -> bool:
        """One vote per term: only for the candidate already voted for, or when free."""
        return (
            self.vote == m.frm
            or (self.vote == 0 and self.leader == 0)
            or (pre and m.term > self.term)
        )

    def _log_allows_vote(self, m: Msg) -> bool:
        return self.log.is_up_to_date(m.index, m.log_term)

    def _commit_term_ok(self, index: int) -> bool:
        """Raft 5.4.2: a leader commits by counting replicas only entries of its own term."""
        return self.log.term(index) == self.term

    def _heartbeat_commit(self, pr: Progress, commit: int) -> int:
        """Never tell a follower to commit beyond what it is known to share."""
        return min(pr.match, commit)

    def _follower_commit_bound(self, m: Msg, proven: int) -> int:
        """What a follower may commit on ``m``: the leader's commit, up to ``proven``, the
        last index the message proved it shares with the leader."""
        return min(m.commit, proven)

    def _after_matching_append(self, last_new: int) -> None:
        """An append that held nothing new: the log past it stays (it may be newer)."""

    def _snapshot_pending(self) -> bool:
        """A received snapshot is not applied yet."""
        return self.log.unstable_snapshot() is not None

    def _send(self, m: Msg) -> None:
        self.msgs.append(m)

    def _check_idle(self) -> None:
        if self._outstanding is not None:
            raise RuntimeError("advance() the outstanding Ready before feeding the core")
