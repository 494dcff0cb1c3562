"""Storage, the columnar log, flow-control windows and configuration changes."""

import pytest

from net.raft import (
    Compacted,
    ConfChange,
    ConfChangeType,
    ConfState,
    EntryRun,
    HardState,
    MemoryStorage,
    Unavailable,
    apply_conf_change,
)
from net.raft.progress import Inflights


def _run(first: int, terms: list[int]) -> EntryRun:
    payloads = tuple(b"e%d" % (first + n) for n in range(len(terms)))
    return EntryRun(first, tuple(terms), bytes(len(terms)), payloads)


def test_append_replaces_the_suffix_from_its_first_index() -> None:
    s = MemoryStorage()
    s.append(_run(1, [1, 1, 1, 1]))
    s.append(_run(3, [2]))
    assert s.last_index() == 3
    assert [s.term(i) for i in range(1, 4)] == [1, 1, 2]
    with pytest.raises(Unavailable):
        s.term(4)


def test_compaction_keeps_the_term_of_the_compacted_index() -> None:
    s = MemoryStorage()
    s.append(_run(1, [1, 1, 2, 2, 3]))
    s.create_snapshot(4, ConfState((1,)), b"state")
    s.compact(3)
    assert s.first_index() == 4
    assert s.term(3) == 2
    with pytest.raises(Compacted):
        s.term(2)
    with pytest.raises(Compacted):
        s.entries(3, 5, 100)
    assert s.entries(4, 6, 100).terms == (2, 3)


def test_entries_are_cut_at_max_bytes_but_never_empty() -> None:
    s = MemoryStorage()
    s.append(_run(1, [1, 1, 1]))
    assert len(s.entries(1, 4, 0)) == 1
    assert len(s.entries(1, 4, 5)) == 2  # payloads are two bytes each
    assert len(s.entries(1, 4, 1 << 20)) == 3


def test_applying_a_snapshot_replaces_the_log() -> None:
    s = MemoryStorage()
    s.append(_run(1, [1, 1]))
    s.save(HardState(3, 1, 2), None, None)
    leader = MemoryStorage()
    leader.append(_run(1, [1, 2, 2, 3]))
    snap = leader.create_snapshot(4, ConfState((1, 2, 3)), b"image")
    s.apply_snapshot(snap)
    assert (s.first_index(), s.last_index(), s.term(4)) == (5, 4, 3)
    assert s.initial_state() == (HardState(3, 1, 2), ConfState((1, 2, 3)))


def test_bootstrap_writes_the_configuration_as_committed_entries() -> None:
    s = MemoryStorage()
    s.bootstrap((1, 2, 3), (4,))
    hs, conf = s.initial_state()
    assert hs.commit == s.last_index() == 4 and conf == ConfState()


def test_entry_run_slices_and_iterates() -> None:
    run = _run(5, [1, 2, 3])
    assert run.last == 7 and run.term(6) == 2
    part = run.slice(6, 100)
    assert (part.first, part.terms, part.payloads) == (6, (2, 3), (b"e6", b"e7"))
    assert [i for i, *_ in run] == [5, 6, 7]


def test_inflights_window_is_bounded_in_count_and_bytes() -> None:
    w = Inflights(max_count=3, max_bytes=100)
    w.add(5, 60)
    assert not w.full()
    w.add(8, 50)
    assert w.full()  # by bytes
    w.free_le(5)
    assert not w.full()
    w.add(9, 1)
    w.add(10, 1)
    assert w.full()  # by count
    w.free_first()
    assert len(w) == 2 and not w.full()


def test_conf_change_rules() -> None:
    conf = ConfState((1, 2, 3), (), index=7)
    added = apply_conf_change(conf, ConfChange(ConfChangeType.ADD_LEARNER, 4, 7), 9)
    assert added == ConfState((1, 2, 3), (4,), 9)
    stale = apply_conf_change(added, ConfChange(ConfChangeType.REMOVE, 1, 7), 10)
    assert stale is added  # decided against configuration 7, applied to 9: a no-op
    promoted = apply_conf_change(added, ConfChange(ConfChangeType.ADD_VOTER, 4), 11)
    assert promoted.voters == (1, 2, 3, 4) and promoted.learners == ()
    only = ConfState((1,))
    assert apply_conf_change(only, ConfChange(ConfChangeType.REMOVE, 1), 3) is only
    cc = ConfChange(ConfChangeType.ADD_VOTER, 12345, 99)
    assert ConfChange.decode(cc.encode()) == cc
