"""Safety invariants, checked as the simulation runs (every hook is called at the moment the
corresponding thing happens, so a violation stops the run at the first bad step).

The canonical history is the sequence of entries applied, first come first recorded: every
later application at an index must match it, which gives "every node's applied sequence is a
prefix of one sequence" and "a committed entry is never changed". What each node's machine
did with an entry (how many requests it refused, whether the engine was handed a command)
is part of what must match.

A request is known by who vouches for it and its number, as the machine de-duplicates it:
the key that signed its batch, or ``#origin`` for the exchange's own unsigned commands.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from enum import Enum

from engine import (
    Accepted,
    AccountOpened,
    Cancelled,
    Done,
    Event,
    Exchange,
    Rejected,
    Trade,
    Transferred,
    Triggered,
)
from engine.events import REJECT_INSUFFICIENT_FUNDS
from net.machine import Applied, split_stamp
from net.raft import (
    MT,
    Compacted,
    ConfChange,
    ConfState,
    EntryKind,
    EntryRun,
    HardState,
    LogStore,
    Msg,
    RaftCore,
    Snapshot,
    Unavailable,
    apply_conf_change,
)


class Invariant(Enum):
    ONE_LEADER_PER_TERM = "at most one leader per term"
    ONE_VOTE_PER_TERM = "a voter grants at most one vote per term"
    DURABLE_STATE = "durable term never decreases, durable vote never changes within a term"
    LOG_MATCHING = "entries with equal index and term are identical, with identical prefixes"
    COMMITTED_KEPT = "a committed entry is never overwritten or truncated"
    LEADER_COMPLETENESS = "every leader holds every committed entry"
    STATE_MACHINE_SAFETY = "every node applies a prefix of the same sequence"
    DIGESTS_EQUAL = "state digests are equal at equal applied index"
    EXACTLY_ONCE = "every request is applied once; a client id places at most one order"
    ANSWERS = "what a client is told is what every peer applied"
    CONSERVATION = "after every entry, every asset's total is what was granted; none negative"
    FORGERY_REFUSED = (
        "a forged or replayed entry changes no trader's orders or balances, on any peer; "
        "an honest one is never refused, and acts only for the trader who signed it"
    )
    ACK_DURABLE = "acks and votes are sent or counted only for durable state, which is kept"
    LIVENESS = "after faults stop, a leader commits every pending command in bounded time"
    MEMBERSHIP = "after faults stop, every peer that wants in is a member in bounded time"
    CORE_ERROR = "the core raised an unexpected exception"


#: What a signed batch's payload starts with (``net/traders.py``): its key follows.
SIGNED_HEAD = b'{"t":["'
KEY_END = len(SIGNED_HEAD) + 64
#: Events that name the trader whose command made them (a trade names both sides), or
#: whose stop that command's trades triggered.
OWNED = (Accepted, Rejected, Cancelled, AccountOpened, Transferred)


def signer_of(payload: bytes) -> str | None:
    """The key (hex) a signed batch claims, as the shell and the forger spell it; None for
    any other payload."""
    if payload.startswith(SIGNED_HEAD) and payload[KEY_END : KEY_END + 1] == b'"':
        return payload[len(SIGNED_HEAD) : KEY_END].decode("ascii", "replace")
    return None


class Violation(Exception):
    def __init__(self, invariant: Invariant, detail: str) -> None:
        super().__init__(f"{invariant.name}: {detail}")
        self.invariant = invariant
        self.detail = detail


class Checker:
    def __init__(
        self,
        conf: ConfState,
        on_conf: Callable[[ConfState, ConfState], None],
        durable_logs: Callable[[], list[tuple[int, LogStore]]],
    ) -> None:
        self.conf = conf  # the configuration after the canonical history
        self._on_conf = on_conf
        self._durable_logs = durable_logs
        self._leaders: dict[int, int] = {}
        self._votes: dict[tuple[int, int], int] = {}
        self._acked: dict[int, tuple[int, int]] = {}  # node -> (term, highest index acked)
        self._entries: dict[tuple[int, int], tuple[bytes, int]] = {}
        self.h_terms: list[int] = [0]
        # the term of the peer that first applied each entry: the entry was committed in
        # that term or an earlier one
        self._h_known_in: list[int] = [0]
        self._h_payloads: list[bytes] = [b""]
        self._h_outcomes: list[list[Applied]] = [[]]
        self._h_effects: list[tuple[int, bool]] = [(0, False)]  # (refused, engine touched)
        self._digests: dict[int, str] = {}
        self.outcomes: dict[tuple[str, int], tuple[int, list[Event]]] = {}  # (who, seq) ->
        self.orders: Counter[tuple[str, str]] = Counter()  # (owner, client id) -> orders placed
        #: entries a lying member proposed: payload -> (kind, requests it must see refused)
        self.forged: dict[bytes, tuple[str, int]] = {}
        self.signed: dict[bytes, int] = {}  # each signed payload -> where it was first applied
        self.commands = 0
        self.joins = 0  # learners added, canonically
        self.forged_kinds: Counter[str] = Counter()  # entries the forger made, committed
        self.registered = self.accepted = self.no_funds = self.trades = 0
        self.expired = self.triggered = 0

    # -- elections --

    def on_new_leader(self, node: int, core: RaftCore, store: LogStore) -> None:
        """A node takes office (its first Ready as leader of the term; `store` is durable)."""
        term = core.term
        other = self._leaders.setdefault(term, node)
        if other != node:
            raise Violation(Invariant.ONE_LEADER_PER_TERM, f"n{other} and n{node} in term {term}")
        hs = store.initial_state()[0]
        if (hs.term, hs.vote) != (term, node):
            # it counted its own vote before that vote was durable: a crash now lets it vote
            # for another candidate in this term, and two leaders of one term can follow
            raise Violation(
                Invariant.ACK_DURABLE,
                f"n{node} leads term {term} on its own vote, which is not durable: {hs}",
            )
        self._check_completeness(node, core)

    def _check_completeness(self, node: int, core: RaftCore) -> None:
        """Raft's Leader Completeness: an entry committed in a term is in the log of every
        leader of a later term. (A leader of an earlier term may still take office late: a
        candidate that paused with its votes on the way wins a term long gone.)"""
        known_in = self._h_known_in
        for i in range(max(1, core.log.first_index() - 1), len(self.h_terms)):
            if known_in[i] >= core.term:
                continue
            try:
                t = core.term_at(i)
            except (Compacted, Unavailable):
                t = -1
            if t != self.h_terms[i]:
                raise Violation(
                    Invariant.LEADER_COMPLETENESS,
                    f"n{node} leads term {core.term} with term {t} at committed index {i} "
                    f"(committed term {self.h_terms[i]})",
                )

    def on_send(self, m: Msg, store: LogStore) -> None:
        """A message leaves a node whose durable state is `store`."""
        hs = store.initial_state()[0]
        if hs.term > m.term:
            return  # the node moved to a newer term: the acknowledgement no longer counts
        if m.type == MT.APP_RESP and not m.reject:
            if m.index > store.last_index():
                raise Violation(
                    Invariant.ACK_DURABLE,
                    f"n{m.frm} acks index {m.index} holding {store.last_index()} durably",
                )
            self._acked[m.frm] = max(self._acked.get(m.frm, (0, 0)), (m.term, m.index))
        if m.type == MT.VOTE_RESP and not m.reject:
            if (hs.term, hs.vote) != (m.term, m.to):
                raise Violation(
                    Invariant.ACK_DURABLE,
                    f"n{m.frm} votes for n{m.to} in term {m.term}; durable: {hs}",
                )
            other = self._votes.setdefault((m.frm, m.term), m.to)
            if other != m.to:
                raise Violation(
                    Invariant.ONE_VOTE_PER_TERM,
                    f"n{m.frm} voted for n{other} and n{m.to} in term {m.term}",
                )

    # -- durable state --

    def on_persist(
        self,
        node: int,
        store: LogStore,
        durable: HardState,
        hs: HardState | None,
        entries: EntryRun | None,
        snap: Snapshot | None,
    ) -> None:
        """Called with the Ready's writes just before they reach `store`."""
        if hs is not None and (
            hs.term < durable.term
            or (hs.term == durable.term and durable.vote and hs.vote != durable.vote)
        ):
            raise Violation(Invariant.DURABLE_STATE, f"n{node}: {durable} -> {hs}")
        if snap is not None:
            self._check_snapshot(node, snap.meta.index, snap.meta.term)
        elif entries is not None:
            self._check_overwrite(node, store, entries)
        if entries is not None:
            self._check_matching(node, store, entries, snap)
        if entries is not None or snap is not None:
            last = entries.last if entries is not None else snap.meta.index  # type: ignore[union-attr]
            term = (hs or durable).term
            acked_term, acked = self._acked.get(node, (0, 0))
            if acked_term == term and last < acked:
                raise Violation(
                    Invariant.ACK_DURABLE,
                    f"n{node} cuts its log to {last} after acking {acked} in term {term}",
                )

    def _check_snapshot(self, node: int, index: int, term: int) -> None:
        if index >= len(self.h_terms) or self.h_terms[index] != term:
            raise Violation(
                Invariant.STATE_MACHINE_SAFETY,
                f"n{node} got snapshot ({index}, t{term}) not in the applied history",
            )

    def _check_overwrite(self, node: int, store: LogStore, run: EntryRun) -> None:
        h = self.h_terms
        for j in range(
            max(run.first, store.first_index()), min(store.last_index(), len(h) - 1) + 1
        ):
            old = store.term(j)
            new = run.term(j) if j <= run.last else None
            if old != new and h[j] == old:
                raise Violation(
                    Invariant.COMMITTED_KEPT,
                    f"n{node} replaces committed ({j}, t{old}) with {new and f't{new}'}",
                )

    def _check_matching(
        self, node: int, store: LogStore, run: EntryRun, snap: Snapshot | None
    ) -> None:
        if snap is not None and run.first == snap.meta.index + 1:
            prev: int = snap.meta.term
        else:
            try:
                prev = store.term(run.first - 1)
            except (Compacted, Unavailable):
                prev = -1
        entries = self._entries
        for i, t, _, payload in run:
            seen = entries.setdefault((i, t), (payload, prev))
            if seen[0] != payload or (seen[1] != prev and -1 not in (prev, seen[1])):
                raise Violation(
                    Invariant.LOG_MATCHING,
                    f"n{node} stores ({i}, t{t}) with prev term {prev}; seen before with "
                    f"prev term {seen[1]}{'' if seen[0] == payload else ' and another payload'}",
                )
            prev = t

    # -- the state machine --

    def on_apply(
        self,
        node: int,
        index: int,
        term: int,
        kind: int,
        payload: bytes,
        outcomes: list[Applied],
        current_term: int,
        refused: int = 0,
        touched: bool = False,
        traders: dict[str, str] | None = None,
    ) -> None:
        """An entry applied, with what each request in it came to, by a peer now in
        ``current_term``: how many requests its machine refused unanswered for it, whether
        the engine was handed a command from it, and the traders (key -> name) it knows
        after it."""
        h = self.h_terms
        effects = (refused, touched)
        if index < len(h):
            if (h[index], self._h_payloads[index], self._h_outcomes[index]) != (
                term,
                payload,
                outcomes,
            ) or self._h_effects[index] != effects:
                raise Violation(
                    Invariant.STATE_MACHINE_SAFETY,
                    f"n{node} applies (t{term}) at {index} with other outcomes; history has "
                    f"t{h[index]}",
                )
            return
        h.append(term)
        self._h_known_in.append(current_term)
        self._h_payloads.append(payload)
        self._h_outcomes.append(outcomes)
        self._h_effects.append(effects)
        _, body = split_stamp(payload)  # (the leader's time; what was proposed follows)
        signer = signer_of(body)
        name = (traders or {}).get(signer or "")
        expiries = [a for a in outcomes if a.by_time]
        self._check_expiries(node, index, expiries)
        outcomes = outcomes[len(expiries) :]  # (they lead, see Machine.apply)
        for applied in outcomes:
            if applied.events is None and applied.error is None:
                continue  # a duplicate, skipped by the machine
            key = (signer or f"#{applied.origin}", applied.seq)
            if key in self.outcomes:
                raise Violation(Invariant.EXACTLY_ONCE, f"request {_short(key)} applied twice")
            self.outcomes[key] = (index, applied.events or [])
            self.commands += 1
            fired: set[int] = set()  # stops this command's trades triggered: their owners'
            for event in applied.events or ():
                if isinstance(event, Triggered):
                    fired.add(event.order_id)
                if (
                    signer is not None
                    and isinstance(event, OWNED)
                    and event.owner != name
                    and getattr(event, "order_id", None) not in fired  # (accounts have none)
                ):
                    raise Violation(
                        Invariant.FORGERY_REFUSED,
                        f"entry {index}, signed by {signer[:8]} ({name}), made {event!r}",
                    )
                if isinstance(event, Accepted):
                    self.accepted += 1
                    if event.client_id is not None:
                        order = (event.owner, event.client_id)
                        self.orders[order] += 1
                        if self.orders[order] > 1:
                            raise Violation(
                                Invariant.EXACTLY_ONCE, f"client id {order} placed twice"
                            )
                elif isinstance(event, Trade):
                    self.trades += 1
                elif isinstance(event, Triggered):
                    self.triggered += 1
                elif isinstance(event, Rejected) and event.code == REJECT_INSUFFICIENT_FUNDS:
                    self.no_funds += 1
                elif isinstance(event, AccountOpened):
                    self.registered += 1
        self._check_forged(node, index, body, signer, outcomes, refused, touched)
        if kind == EntryKind.CONF:
            conf = apply_conf_change(self.conf, ConfChange.decode(payload), index)
            if conf is not self.conf:
                old, self.conf = self.conf, conf
                self.joins += len(set(conf.learners) - set(old.learners) - set(old.voters))
                self._on_conf(old, conf)

    def _check_forged(
        self,
        node: int,
        index: int,
        payload: bytes,
        signer: str | None,
        outcomes: list[Applied],
        refused: int,
        touched: bool,
    ) -> None:
        """A forged entry was refused as it must be, and an honest one was not refused.

        A signed payload applied before is a copy (an honest retry re-signs the same batch
        into the same bytes; a lying member's replay): its requests must all be duplicates.
        """
        forged = self.forged.get(payload)
        if forged is not None:
            self.forged_kinds[forged[0]] += 1
        copy = signer is not None and self.signed.setdefault(payload, index) != index
        if copy and (forged is None or forged[0] not in ("unsigned", "bad_signature")):
            forged = ("replay", 0)  # a copy of what was taken: its requests are done
        if forged is None:
            if refused:
                raise Violation(
                    Invariant.FORGERY_REFUSED,
                    f"n{node} refused {refused} request(s) of an honest entry at {index}",
                )
            return
        kind, must_refuse = forged
        duplicates = all(a.events is None and a.error is None for a in outcomes)
        if kind in ("unsigned", "bad_signature"):  # refused whole: nothing answered
            ok = not outcomes and refused == must_refuse
        elif kind == "owner":  # the signer's own requests, each refused with a reason
            ok = bool(outcomes) and all(a.events is None and a.error for a in outcomes)
            ok = ok and not refused
        elif kind == "replay":  # every request a duplicate of what was applied already
            ok = duplicates and not refused
        elif kind == "respelled":  # refused whole (not laid out as signed), or all duplicates
            ok = (not outcomes and refused == 1) or (duplicates and not refused)
        else:  # "hijack": the signer's own requests, fine as such; ANSWERS judges the rest
            return
        if not ok or touched:
            seen = [(a.seq, "dup" if a.events is None and a.error is None else
                     a.error or f"{len(a.events or [])} events") for a in outcomes[:4]]  # fmt: skip
            raise Violation(
                Invariant.FORGERY_REFUSED,
                f"n{node}: the {kind} entry at {index}: outcomes {seen}, refused {refused}, "
                f"engine {'handed a command' if touched else 'untouched'}",
            )

    def _check_expiries(self, node: int, index: int, expiries: list[Applied]) -> None:
        """What an entry's time did by itself: orders leaving as expired, nothing else."""
        for applied in expiries:
            for event in applied.events or ():
                if not (
                    (isinstance(event, Cancelled) and event.reason == "expired")
                    or isinstance(event, Done)
                ):
                    raise Violation(
                        Invariant.STATE_MACHINE_SAFETY,
                        f"n{node}: the time of entry {index} made {event!r}",
                    )
                if isinstance(event, Cancelled):
                    self.expired += 1

    def check_money(self, node: int, index: int, exchange: Exchange) -> None:
        """Conservation: every asset's total (accounts and fees) is what was granted, and no
        available, held or fee balance is negative."""
        totals, granted = exchange.totals(), exchange.granted()
        if totals != granted:
            raise Violation(
                Invariant.CONSERVATION,
                f"n{node} at {index}: totals {totals}, granted {granted}",
            )
        if any(f < 0 for f in exchange.ledger.fees):
            raise Violation(
                Invariant.CONSERVATION, f"n{node} at {index}: fees {exchange.ledger.fees}"
            )
        for owner in exchange.owners:
            for asset, available, held in exchange.balances(owner):
                if available < 0 or held < 0:
                    raise Violation(
                        Invariant.CONSERVATION,
                        f"n{node} at {index}: {owner} holds {available} {asset} available, "
                        f"{held} held",
                    )

    def check_commit_survives_elections(self, index: int) -> None:
        """The Leader Completeness argument, checked when an entry is first applied: no voter
        lacking it may be able to collect a quorum of votes from durable logs (what survives
        crashes). Counting replicas of an old-term entry (Figure 8) fails this even when no
        later election happens to exploit it."""
        term = self.h_terms[index]
        position: dict[int, tuple[int, int]] = {}
        lacking: list[int] = []
        for node, store in self._durable_logs():
            last = store.last_index()
            position[node] = (store.term(last), last)
            try:
                has = store.term(index) == term
            except Compacted:
                has = True  # inside the node's snapshot, which holds only committed entries
            except Unavailable:
                has = False
            if not has:
                lacking.append(node)
        voters = self.conf.voters
        quorum = len(voters) // 2 + 1
        for c in lacking:
            if c not in voters:
                continue
            votes = [v for v in voters if v in position and position[v] <= position[c]]
            if len(votes) >= quorum:
                raise Violation(
                    Invariant.LEADER_COMPLETENESS,
                    f"n{c} lacks committed ({index}, t{term}) yet could win votes from {votes}",
                )

    def on_digest(self, node: int, index: int, digest: str) -> None:
        other = self._digests.setdefault(index, digest)
        if other != digest:
            raise Violation(Invariant.DIGESTS_EQUAL, f"n{node} at index {index}")

    def on_restore(self, node: int, index: int, term: int, digest: str) -> None:
        self._check_snapshot(node, index, term)
        self.on_digest(node, index, digest)

    def on_answer(self, origin: int, key: str, seq: int, index: int, events: list[Event]) -> None:
        """Peer ``origin`` tells a client that its request ``seq`` (signed by ``key``) was
        applied at ``index`` with ``events``: exactly what the canonical history holds for
        it."""
        held = self.outcomes.get((key, seq))
        if held != (index, events):
            raise Violation(
                Invariant.ANSWERS,
                f"n{origin} answered request {seq} with index {index} and {len(events)} events; "
                f"applied: {held and (held[0], len(held[1]))}",
            )


def _short(key: tuple[str, int]) -> str:
    who, seq = key
    return f"({who[:8]}, {seq})"
