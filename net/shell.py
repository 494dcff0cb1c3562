"""The shell: everything a peer decides around its Raft core, as a plain object (sans-I/O).

A peer is a Raft core (``net/raft``), the replicated state machine it drives
(``net/machine.py``), the writes waiting for consensus (``net/writes.py``) and the
membership policy (``net/membership.py``). The :class:`Shell` owns all four and the order in
which a Ready is handled; it is fed inputs (messages, ticks, writes, join requests and
replies, storage results) with the time, and hands back outputs (messages to send, writes
to make durable, answers for clients). Two drivers run it: the real peer
(``net/node.py``: asyncio, SQLite, websockets) and the simulator (``net/sim``: virtual time,
a fake disk and network). Neither has rules of its own about consensus or membership.

A turn, as a driver runs it::

    turn = shell.next_turn(now)      # proposes queued writes, takes a Ready, applies it
    send(turn.early)                 # what claims nothing about this peer's disk
    persist(turn.ready)              # snapshot, entries, hard state; fsync if must_sync
    send(turn.late)                  # acknowledgements, votes, vote requests
    shell.persisted(turn, now)       # advance()

``next_turn`` applies the Ready's committed entries (and restores its snapshot) before the
write: committed entries are durable on a majority already, and applying acknowledges
nothing (``docs/consensus.md``). Nothing leaves early in a Ready that changes term or vote:
a lone voter can win an election in the Ready that casts its vote, and its appends must not
reach anyone before that vote is on disk. From ``next_turn`` until ``persisted`` (and from
``snapshot_due`` until ``snapshot_saved``) the shell is *busy*: inputs that would touch the
core are queued and fed, in arrival order, once it is idle again; drivers need not care.
"""

import contextlib
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from engine import FOUNDING_MARKETS, Configure, Event, encode_command
from net.config import Timing
from net.machine import Applied, Machine, Member, split_stamp, stamp
from net.membership import Membership, directory_record, is_member
from net.raft.config import Config
from net.raft.core import RaftCore
from net.raft.entries import EntryKind, EntryRun
from net.raft.errors import ProposalDropped
from net.raft.messages import Msg
from net.raft.ordering import SEND_BEFORE_PERSIST
from net.raft.progress import ProgressState
from net.raft.state import ConfState, Ready, Role, Snapshot
from net.raft.storage import MemoryStorage
from net.rpc.errors import ERR_NO_QUORUM, RpcError
from net.traders import TraderCommand, TraderKey, signed_payload
from net.transport.control import JoinReply, JoinRequest
from net.writes import NO_LEADER, Answer, Writes, entry_payload

NOT_JOINED = "this peer is not in a cluster yet: it is still joining one"

EventsListener = Callable[[int, list[Event]], None]


def wall_ms() -> int:
    """The machine's clock in ms since the epoch: what a leading peer stamps entries with."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class Turn:
    """One Ready, split the way it must be handled."""

    ready: Ready
    early: list[Msg]  # send before the write is durable
    late: list[Msg]  # send once it is

    @property
    def writes(self) -> bool:
        rd = self.ready
        return rd.hard_state is not None or rd.entries is not None or rd.snapshot is not None


class Observer(Protocol):
    """What the simulator's checker watches; the real peer passes none."""

    def entry_applied(
        self, shell: "Shell", index: int, term: int, kind: int, payload: bytes,
        outcomes: list[Applied],
    ) -> None: ...  # fmt: skip

    def restored(self, shell: "Shell", snapshot: Snapshot) -> None: ...


class Shell:
    """One peer's consensus, state machine, writes and membership; see the module doc."""

    EARLY = SEND_BEFORE_PERSIST

    def __init__(
        self,
        node_id: int,
        name: str,
        addr: str,
        storage: MemoryStorage,
        *,
        cluster: str,
        timing: Timing,
        raft: Config,
        rng: random.Random,
        first_seq: int,
        now: float,
        key: TraderKey,
        money: Configure,
        wall: Callable[[], int] = wall_ms,
        max_voters: int = 5,
        on_events: EventsListener | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.id = node_id
        self.name = name
        self.addr = addr
        self.cluster = cluster  # the name (--cluster); the id is the machine's
        self.key = key  # this peer's trader: it signs every write
        self.money = money  # what a cluster this peer founds grants and charges
        self.storage = storage
        self.timing = timing
        self.on_events = on_events
        self.observer = observer
        self._raft = raft
        self._rng = rng
        self.wall = wall  # this peer's clock (ms since the epoch): the time it stamps, leading
        self._stamped = 0  # the last time this peer stamped (stamps never decrease)
        self._tick_index = 0  # the time tick proposed and not yet applied (0: none)
        snapshot = storage.snapshot()
        self.machine = (
            self._restore_machine(snapshot.data) if snapshot.data else self._new_machine()
        )
        self.core: RaftCore | None = None
        self.writes = self._new_writes(first_seq)
        self.membership = self._new_membership(max_voters, now)
        self.answers: list[Answer] = []
        self.version = 0  # changes whenever the peers to link to may have changed
        self._turn: Turn | None = None
        self._snapshotting = False
        self._deferred: list[Callable[[], None]] = []
        self._unreachable: set[int] = set()
        self._leaderless_since: float | None = None
        self._led_term = 0
        self._founding = False  # founded a cluster and not yet its leader
        if storage.last_index() or storage.hard_state.term or snapshot.data:
            self.start_core()  # a restart: the member this peer was, or one that wants in

    # ------------------------------------------------------------------ parts (the
    # simulator's injected bugs override these; see net/sim/bugs.py)

    def _new_core(self, cfg: Config) -> RaftCore:
        return RaftCore(cfg, self.storage, self._rng, self._time_header)

    def _new_machine(self) -> Machine:
        return Machine()

    def _restore_machine(self, data: bytes) -> Machine:
        return Machine.restore(data)

    def _new_writes(self, first_seq: int) -> Writes:
        def sign(items: list) -> bytes:
            return signed_payload(self.key, self.machine.cluster_id, items)

        return Writes(self.id, first_seq, self.timing, sign)

    def _new_membership(self, max_voters: int, now: float) -> Membership:
        return Membership.new(self.id, self.timing, max_voters, now)

    def _split(self, rd: Ready) -> tuple[list[Msg], list[Msg]]:
        """(early, late): see the module doc."""
        durable = self.storage.hard_state
        hs = rd.hard_state
        if hs is not None and (hs.term, hs.vote) != (durable.term, durable.vote):
            return [], rd.messages
        early = [m for m in rd.messages if m.type in self.EARLY]
        if len(early) == len(rd.messages):
            return early, []
        return early, [m for m in rd.messages if m.type not in self.EARLY]

    # ------------------------------------------------------------------ becoming a member

    def start_core(self) -> None:
        """Run the core from storage (a restart, a founder's bootstrap, a newcomer's empty log)."""
        if self.core is not None:
            return
        cfg = replace(self._raft, id=self.id, applied=self.storage.snapshot().meta.index)
        self.core = self._new_core(cfg)
        self.version += 1

    def found(self, cluster_id: str, founders: Sequence[Member] = ()) -> None:
        """Become the only voter of a new cluster (or, given ``founders``, one of its first
        voters: each of them must be given the same list; the simulator starts clusters so).

        The founding entries (the cluster id, the founders' directory records, the starting
        markets and the money: grant and fees) are written with the configuration,
        committed, in one write: a founder that crashes at any moment comes back as the
        cluster, whole, or as a peer with no log."""
        members = sorted(founders or [Member(self.id, self.name, self.addr)])
        first = members[0].node_id
        commands = (*FOUNDING_MARKETS, self.money)
        markets = [[first, n, encode_command(c)] for n, c in enumerate(commands, 1)]
        founding = (
            json.dumps({"cluster": cluster_id}).encode(),
            *(directory_record(m.node_id, m.name, m.addr) for m in members),
            entry_payload(markets),
        )
        self.storage.bootstrap(tuple(m.node_id for m in members), payloads=founding)
        self._founding = len(members) == 1  # alone: campaign at once
        self.start_core()

    # ------------------------------------------------------------------ inputs

    def step(self, message: Msg, now: float) -> None:
        """A Raft message from another peer."""
        self.membership.heard(message.frm, now)
        if self.core is None:
            return  # not part of any cluster yet: nothing to feed
        if self._busy():
            self._deferred.append(lambda: self._step(message))
        else:
            self._step(message)

    def _step(self, message: Msg) -> None:
        assert self.core is not None
        self.core.step(message)

    def tick(self, now: float) -> None:
        """One Raft tick (``timing.tick`` seconds) and the checks that run with it."""
        if self._busy():
            self._deferred.append(lambda: self._tick(now))
        else:
            self._tick(now)

    def _tick(self, now: float) -> None:
        core = self.core
        if core is not None:
            core.tick()
            self._note_leader(now)
        self.answers += self.writes.check(now, self.no_quorum(now))
        if core is None:
            return
        if self._founding:
            self._found_step(core)
        self.membership.step(core, self.machine, now)
        self._time_tick(core)

    def submit(self, command: TraderCommand, now: float) -> int:
        """Queue a write; its request number (its :class:`Answer` comes later).

        RpcError at once when it cannot be taken: ERR_NO_QUORUM (not in a cluster, or no
        leader for a while), ERR_BUSY.
        """
        if not self.member:
            raise RpcError(ERR_NO_QUORUM, NOT_JOINED)
        if self.no_quorum(now):
            raise RpcError(ERR_NO_QUORUM, NO_LEADER)
        return self.writes.add(command, now)

    def join_request(self, request: JoinRequest, now: float) -> JoinReply:
        """Another peer asks to be let in; the reply (the admission follows, if ok)."""
        m = self.membership
        reply = m.answer(self.core, self.machine, self.cluster, self.addr, request, now)
        if reply.ok:
            self.version += 1  # a link to the newcomer
            self._when_idle(lambda: m.admit(self.core, self.machine, request))  # type: ignore[arg-type]
        return reply

    def join_reply(self, reply: JoinReply, source: str, now: float) -> None:
        """The answer to this peer's join request, from the peer at ``source``."""
        self.membership.answered(reply, source, now)
        if reply.ok and self.core is None:
            self.start_core()  # it will be sent the log (or a snapshot)

    def unreachable(self, node_id: int) -> None:
        """A message for ``node_id`` could not be queued: the core probes instead."""
        if self._busy() or self.core is None:
            self._unreachable.add(node_id)
        else:
            self.core.report_unreachable(node_id)

    def leave(self) -> None:
        """Begin a clean leave (see net/membership.py); ``left`` tells when it is done."""
        self.membership.leaving = True

    def transfer_leader(self, to: int) -> None:
        """Ask the leader to hand leadership to voter ``to`` (ignored without a leader)."""

        def transfer() -> None:
            assert self.core is not None
            with contextlib.suppress(ProposalDropped):
                self.core.transfer_leader(to)

        self._when_idle(transfer)

    # ------------------------------------------------------------------ turns

    def next_turn(self, now: float) -> Turn | None:
        """The next Ready to handle, its committed entries applied; None when idle."""
        core = self.core
        if core is None or self._busy():
            return None
        if self.writes.has_outbox():
            self._propose_writes(core, now)
        if not core.has_ready():
            return None
        rd = core.ready()
        if rd.role == Role.LEADER and self._led_term != rd.term:
            self._led_term = rd.term
            self.membership.became_leader(now)
        early, late = self._split(rd)
        turn = self._turn = Turn(rd, early, late)
        if rd.snapshot is not None:
            self.machine = self._restore_machine(rd.snapshot.data)
            self.version += 1
            if self.observer is not None:
                self.observer.restored(self, rd.snapshot)
        if rd.committed is not None:
            self._apply(rd.committed)
        return turn

    def persisted(self, turn: Turn, now: float) -> None:
        """The turn's writes are durable and its messages sent: advance the core."""
        core = self.core
        assert core is not None and turn is self._turn
        conf = core.conf
        core.advance()
        self._turn = None
        for node_id in self._unreachable:
            core.report_unreachable(node_id)
        self._unreachable.clear()
        if core.conf != conf:
            self.version += 1
        self._note_leader(now)
        self._run_deferred()

    def snapshot_due(self, now: float) -> tuple[int, ConfState, bytes, int] | None:
        """(index, configuration, image, compact to) when a snapshot should be stored and
        the log compacted up to that last index; the shell stays busy until
        :meth:`snapshot_saved`.

        The log keeps ``keep_entries`` behind the snapshot, and a leader keeps more for a
        follower it heard from lately: one that is catching up (up to ``snapshot_every``
        more), and one that is installing a snapshot (what follows that snapshot, however
        long the transfer takes). Compacting what such a follower needs next would send it
        another snapshot, and a transfer slower than the log grows would then repeat for ever
        (CockroachDB holds its log truncation for followers the same way)."""
        core = self.core
        applied = self.machine.applied_index
        if core is None or self._busy():
            return None
        if applied - self.storage.snapshot().meta.index < self.timing.snapshot_every:
            return None
        self._snapshotting = True
        return applied, core.conf, self.machine.snapshot(), self._compact_to(core, applied, now)

    def _compact_to(self, core: RaftCore, applied: int, now: float) -> int:
        t = self.timing
        compact = applied - t.keep_entries
        if core.role == Role.LEADER:
            floor = compact - t.snapshot_every
            for node_id, pr in core.prs.items():
                heard = self.membership.seen.get(node_id, float("-inf"))
                if node_id == self.id or now - heard >= t.alive_within:
                    continue
                if pr.state == ProgressState.SNAPSHOT:  # held for as long as it installs
                    compact = min(compact, pr.pending_snapshot)
                elif pr.match >= floor:
                    compact = min(compact, pr.match)
        return max(compact, self.storage.first_index())

    def snapshot_saved(self) -> None:
        self._snapshotting = False
        self._run_deferred()

    def take_answers(self) -> list[Answer]:
        answers, self.answers = self.answers, []
        return answers

    # ------------------------------------------------------------------ views

    @property
    def member(self) -> bool:
        """In the configuration this peer applied (a voter or a learner)."""
        return is_member(self.core, self.id)

    @property
    def left(self) -> bool:
        return self.membership.left

    def wants_in(self) -> bool:
        return self.membership.wants_in(self.core)

    def ask_due(self, now: float) -> bool:
        """Time to (re)send a join request: this peer wants in (see net/membership.py)."""
        return self.membership.ask_due(self.core, self.no_quorum_for(now), now)

    def join_request_for(self) -> JoinRequest:
        """This peer's join request (the driver sends it to :meth:`join_targets` and more)."""
        return JoinRequest(self.id, self.name, self.addr, self.cluster, self.machine.cluster_id)

    def join_targets(self) -> list[str]:
        """Addresses to ask: the leader a refusal named, then the members this log knows."""
        targets = [self.membership.leader_hint] if self.membership.leader_hint else []
        conf = self.core.conf if self.core is not None else ConfState()
        for node_id in (*conf.voters, *conf.learners):
            member = self.machine.members.get(node_id)
            if node_id != self.id and member is not None and member.addr not in targets:
                targets.append(member.addr)
        return targets

    def links(self) -> dict[int, str]:
        """Peers to keep a link to: the members whose address is known, and newcomers this
        leader is letting in."""
        wanted = {n: request.addr for n, request in self.membership.admitting.items()}
        if self.core is not None:
            conf = self.core.conf
            for node_id in (*conf.voters, *conf.learners):
                member = self.machine.members.get(node_id)
                if member is not None:
                    wanted[node_id] = member.addr
        wanted.pop(self.id, None)
        return wanted

    def no_quorum(self, now: float) -> bool:
        """No leader known for longer than ``no_leader_grace``: writes cannot commit."""
        since = self._leaderless_since
        return since is not None and now - since > self.timing.no_leader_grace

    def no_quorum_for(self, now: float) -> float:
        """Seconds without a leader (0 while there is one)."""
        since = self._leaderless_since
        return 0.0 if since is None else now - since

    def state(self, now: float) -> str:
        """``joining``, ``trading`` or ``no_quorum`` (the status op's ``state``)."""
        if not self.member or not self.machine.exchange.markets:
            return "joining"
        return "no_quorum" if self.no_quorum(now) else "trading"

    # ------------------------------------------------------------------ internals

    def _busy(self) -> bool:
        return self._turn is not None or self._snapshotting

    def _when_idle(self, action: Callable[[], None]) -> None:
        if self._busy():
            self._deferred.append(action)
        elif self.core is not None:
            action()

    def _run_deferred(self) -> None:
        """Feed what waited, in arrival order (none of it makes the shell busy again)."""
        deferred, self._deferred = self._deferred, []
        for action in deferred:
            action()

    def _note_leader(self, now: float) -> None:
        """Track how long this peer has been without a leader it hears from: a follower
        whose leader went silent (a learner never campaigns, so it keeps naming the leader
        it last heard) is as cut off as one that knows of none."""
        core = self.core
        leader = core.leader if core is not None else 0
        heard = self.membership.seen.get(leader, now)
        if leader and (leader == self.id or now - heard < self.timing.no_leader_grace):
            self._leaderless_since = None
        elif self._leaderless_since is None:
            self._leaderless_since = now

    def _time_header(self) -> bytes:
        """What this peer, leading, puts before each entry: its clock, never lower than what
        it stamped before or than the time it has applied (see net/machine.py)."""
        self._stamped = max(self.wall(), self._stamped, self.machine.exchange.time)
        return stamp(self._stamped)

    def _time_tick(self, core: RaftCore) -> None:
        """Leading, propose a bare stamp once an order's expiry is due, so that it expires
        (within a tick or two of its time) even when nothing else is written; one at a time."""
        if core.role != Role.LEADER or self._tick_index > core.applied_index:
            return
        due = self.machine.exchange.next_expiry()
        if due is None or due > self.wall():
            return
        with contextlib.suppress(ProposalDropped):
            core.propose(b"")
            self._tick_index = core.log.last_index()

    def _propose_writes(self, core: RaftCore, now: float) -> None:
        seqs, payloads = self.writes.take_entries(now)
        try:
            core.propose_many(payloads)
        except ProposalDropped:
            self.writes.put_back(seqs)  # no leader yet: again at the next turn

    def _apply(self, run: EntryRun) -> None:
        machine, writes, me, mine = self.machine, self.writes, self.id, self.key.hex
        on_events, observer = self.on_events, self.observer
        for index, term, kind, payload in run:
            if kind == EntryKind.NORMAL:
                outcomes = machine.apply(index, payload)
                if split_stamp(payload)[1].startswith(b'{"m"'):
                    self.version += 1  # a member's address
            else:
                outcomes = []
                machine.applied_index = index
            for applied in outcomes:
                if applied.events and on_events is not None:
                    on_events(index, applied.events)
                if applied.origin == me and applied.signer == mine:  # (see Applied.signer)
                    answer = writes.applied(applied)
                    if answer is not None:
                        self.answers.append(answer)
            if observer is not None:
                observer.entry_applied(self, index, term, kind, payload, outcomes)

    def _found_step(self, core: RaftCore) -> None:
        """A founder campaigns at once (not after an election timeout) once the founding
        configuration is applied."""
        if core.role == Role.LEADER:
            self._founding = False
        elif core.role == Role.FOLLOWER and core.applied_index >= self.storage.last_index():
            core.campaign()


def consensus_id(storage: MemoryStorage, legacy: int, draw: Callable[[], int]) -> int:
    """The id this peer speaks as in consensus: the one its consensus store was made for.

    A store that holds no id yet gets one, durably, before anything else: the ``legacy`` id
    of a data dir from before ids lived in the store when the store holds a log, else a
    fresh one (``draw``). So a store that is new (or was wiped while the data dir's identity
    was kept) is always a new member, admitted as such, and never the voter it replaced:
    that voter's votes and acknowledgements are gone with its log.
    """
    if not storage.node_id:
        holds_log = bool(storage.last_index() or storage.hard_state.term or storage.snapshot().data)
        storage.claim_node_id(legacy if holds_log and legacy else draw())
    return storage.node_id
