"""Deliberately wrong behaviours, for tests only: each must make the simulator fail.

They live here, not in the code that ships: the core, the machine and the shell keep each
rule they break in a one-line method of its own, and the classes below override those
methods when a bug is switched on (etcd keeps such hooks in its tests too). The simulator
builds its peers from :func:`shell_class`.

Core (``net/raft/core.py``):
    commit_prev_term: a leader commits an earlier term's entry by counting replicas (Fig. 8).
    double_vote: a voter grants a second vote in a term it already voted in.
    forget_vote: the vote is left out of the persisted hard state.
    commit_own_last: followers commit the leader's commit index up to their own last index
        (heartbeats carry it unclamped), not up to what the message proved they share.
    no_up_to_date_check: votes are granted without comparing logs.
    truncate_short_append: a follower cuts its log after a shorter (stale) append.
    campaign_with_pending_snapshot: an election timeout starts a campaign while a received
        snapshot is not applied yet (the core then reads entries the snapshot replaced).
Machine (``net/machine.py``):
    no_dedupe: a request proposed twice (a retry after a leader change) is applied twice.
    no_signature_check: a signed batch is taken without verifying its signature.
    trust_owner: a signed command that names an owner is taken as that owner's.
Shell (``net/shell.py``, ``net/membership.py``, ``net/writes.py``):
    send_before_persist: all of a Ready's messages (acks and votes too) leave before its
        writes are durable.
    vote_request_early: VOTE / PRE_VOTE requests leave before the Ready's writes are
        durable, i.e. before the candidate's own vote is, and so does everything else that
        may leave early, whatever the Ready changes.
    early_with_new_vote: a Ready that changes term or vote sends its appends early: a lone
        voter that wins in the Ready casting its vote replicates before the vote is durable.
    join_once: a newcomer asks to join once and, told "ok", never again, even if the leader
        that said so lost office before the newcomer was in.
    answer_duplicates: a request whose copy was applied already (its first copy arrived in
        a snapshot) is answered as if it had done nothing.
Simulated peer (``net/sim/node.py``):
    keep_id_on_wipe: a peer whose consensus store was wiped comes back under its old
        consensus id (the one its data dir remembers) instead of as a new member.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from engine import Command, parse_command
from net.machine import Applied, Machine, Requests
from net.membership import Membership
from net.raft import MT, Config, Msg, RaftCore, Ready
from net.raft.core import Rng
from net.raft.progress import Progress
from net.raft.state import HardState
from net.raft.storage import LogStore
from net.shell import Shell
from net.traders import TRADER_OPS, Verifier, signed_payload
from net.transport.control import JoinReply
from net.writes import Answer, Writes


@dataclass(slots=True, frozen=True)
class Bugs:
    commit_prev_term: bool = False
    double_vote: bool = False
    forget_vote: bool = False
    commit_own_last: bool = False
    no_up_to_date_check: bool = False
    truncate_short_append: bool = False
    campaign_with_pending_snapshot: bool = False
    no_dedupe: bool = False
    no_signature_check: bool = False
    trust_owner: bool = False
    send_before_persist: bool = False
    vote_request_early: bool = False
    early_with_new_vote: bool = False
    join_once: bool = False
    answer_duplicates: bool = False
    keep_id_on_wipe: bool = False

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def only(cls, name: str) -> Bugs:
        if name not in cls.names():
            raise ValueError(f"unknown bug {name!r}; known: {', '.join(cls.names())}")
        return cls(**{name: True})

    def any(self) -> bool:
        return any(getattr(self, name) for name in self.names())


NO_BUGS = Bugs()


class BuggyCore(RaftCore):
    def __init__(
        self,
        cfg: Config,
        storage: LogStore,
        rng: Rng,
        bugs: Bugs,
        header: Callable[[], bytes] | None = None,
    ) -> None:
        self.bugs = bugs
        super().__init__(cfg, storage, rng, header)

    def _may_vote(self, m: Msg, pre: bool) -> bool:
        return super()._may_vote(m, pre) or (self.bugs.double_vote and not pre)

    def _log_allows_vote(self, m: Msg) -> bool:
        return self.bugs.no_up_to_date_check or super()._log_allows_vote(m)

    def _commit_term_ok(self, index: int) -> bool:
        return self.bugs.commit_prev_term or super()._commit_term_ok(index)

    def _heartbeat_commit(self, pr: Progress, commit: int) -> int:
        return commit if self.bugs.commit_own_last else super()._heartbeat_commit(pr, commit)

    def _follower_commit_bound(self, m: Msg, proven: int) -> int:
        if self.bugs.commit_own_last:
            return min(m.commit, self.log.last_index())
        return super()._follower_commit_bound(m, proven)

    def _after_matching_append(self, last_new: int) -> None:
        log = self.log
        if self.bugs.truncate_short_append and log.committed <= last_new < log.last_index():
            log.append(log.slice(last_new, last_new + 1))  # keep last_new, drop what follows

    def _snapshot_pending(self) -> bool:
        return not self.bugs.campaign_with_pending_snapshot and super()._snapshot_pending()

    def _hard_state(self) -> HardState:
        hs = super()._hard_state()
        return HardState(hs.term, 0, hs.commit) if self.bugs.forget_vote else hs


class AdmitAll(Requests):
    """The no_dedupe bug: every copy of a request is new."""

    def admit(self, origin: str, seq: int) -> bool:
        super().admit(origin, seq)
        return True


class BuggyMachine(Machine):
    requests_class = AdmitAll


class AcceptAnySignature(Verifier):
    """The no_signature_check bug."""

    def check(self, cluster_id: str, key_hex: str, signature: str, payload: bytes) -> str:
        return ""


def machine_class(bugs: Bugs) -> type[Machine]:
    """The machine the simulator's peers run: the real one, or one with machine bugs on."""
    if not (bugs.no_dedupe or bugs.no_signature_check or bugs.trust_owner):
        return Machine

    class Buggy(BuggyMachine if bugs.no_dedupe else Machine):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            if bugs.no_signature_check:
                self.verifier = AcceptAnySignature()

        def _trader_command(self, key: str, obj: dict) -> Command | None:
            op = obj.get("op")
            if bugs.trust_owner and "owner" in obj and op in TRADER_OPS and op != "register":
                return parse_command(obj)
            return super()._trader_command(key, obj)

    return Buggy


class AnswerDuplicates(Writes):
    def applied(self, applied: Applied) -> Answer | None:
        if applied.events is None and applied.error is None and applied.seq in self.pending:
            del self.pending[applied.seq]
            return Answer(applied.seq, applied.index, [])
        return super().applied(applied)


class JoinOnce(Membership):
    told_ok = False

    def answered(self, reply: JoinReply, source: str, now: float) -> None:
        super().answered(reply, source, now)
        self.told_ok = self.told_ok or reply.ok

    def ask_due(self, core: RaftCore | None, leaderless: float, now: float) -> bool:
        return not self.told_ok and super().ask_due(core, leaderless, now)


EARLY_WITH_VOTE_REQUESTS = Shell.EARLY | {MT.VOTE, MT.PRE_VOTE}


def shell_class(bugs: Bugs) -> type[Shell]:
    """The shell the simulator runs: the real one, or one with ``bugs`` switched on."""
    if not bugs.any():
        return Shell
    machine = machine_class(bugs)

    class BuggyShell(Shell):
        def _new_core(self, cfg: Config) -> RaftCore:
            return BuggyCore(cfg, self.storage, self._rng, bugs, self._time_header)

        def _new_machine(self) -> Machine:
            return machine()

        def _restore_machine(self, data: bytes) -> Machine:
            return machine.restore(data)

        def _new_writes(self, first_seq: int) -> Writes:
            if bugs.answer_duplicates:

                def sign(items: list) -> bytes:
                    return signed_payload(self.key, self.machine.cluster_id, items)

                return AnswerDuplicates(self.id, first_seq, self.timing, sign)
            return super()._new_writes(first_seq)

        def _new_membership(self, max_voters: int, now: float) -> Membership:
            if bugs.join_once:
                return JoinOnce(self.id, self.timing, max_voters, now, {}, {})
            return super()._new_membership(max_voters, now)

        def _split(self, rd: Ready) -> tuple[list[Msg], list[Msg]]:
            if bugs.send_before_persist:
                return rd.messages, []
            if bugs.vote_request_early:
                early = [m for m in rd.messages if m.type in EARLY_WITH_VOTE_REQUESTS]
                return early, [m for m in rd.messages if m.type not in EARLY_WITH_VOTE_REQUESTS]
            if bugs.early_with_new_vote:
                early = [m for m in rd.messages if m.type in self.EARLY]
                return early, [m for m in rd.messages if m.type not in self.EARLY]
            return super()._split(rd)

    return BuggyShell
