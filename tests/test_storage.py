"""The durable consensus store: what is saved survives reopening, exactly."""

import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from net.raft.entries import EntryRun
from net.raft.errors import Compacted
from net.raft.state import ConfState, HardState
from net.raft.storage import MemoryStorage
from net.storage import FILE, SqliteStorage, StorageError


def run(first: int, terms: list[int], tag: str = "") -> EntryRun:
    return EntryRun(
        first,
        tuple(terms),
        bytes(len(terms)),
        tuple(f"{tag}{first + i}".encode() for i in range(len(terms))),
    )


def contents(store: SqliteStorage) -> tuple:
    first, last = store.first_index(), store.last_index()
    entries = store.entries(first, last + 1, 1 << 30) if last >= first else None
    return store.hard_state, first, last, entries, store.snapshot()


def test_saved_state_survives_reopening(tmp_path: Path) -> None:
    store = SqliteStorage(tmp_path)
    store.bootstrap((1, 2, 3))
    store.save(HardState(2, 1, 3), run(4, [2, 2, 2]), None)
    before = contents(store)
    store.close()
    again = SqliteStorage(tmp_path)
    assert contents(again) == before
    assert again.initial_state()[0] == HardState(2, 1, 3)
    assert again.last_index() == 6


def test_a_conflicting_append_replaces_the_tail_durably(tmp_path: Path) -> None:
    store = SqliteStorage(tmp_path)
    store.save(HardState(1, 0, 0), run(1, [1, 1, 1, 1], "old"), None)
    store.save(HardState(2, 0, 0), run(3, [2], "new"), None)
    store.close()
    again = SqliteStorage(tmp_path)
    assert again.last_index() == 3
    assert again.entries(1, 4, 1 << 20).payloads == (b"old1", b"old2", b"new3")
    assert again.term(3) == 2


def test_snapshot_and_compaction_survive_reopening(tmp_path: Path) -> None:
    store = SqliteStorage(tmp_path)
    store.save(HardState(1, 0, 5), run(1, [1] * 8), None)
    store.create_snapshot(5, ConfState((1, 2, 3)), b"image at 5")
    store.compact(5)
    store.close()
    again = SqliteStorage(tmp_path)
    assert again.snapshot().data == b"image at 5"
    assert again.snapshot().meta.conf == ConfState((1, 2, 3))
    assert again.initial_state()[1] == ConfState((1, 2, 3))
    assert (again.first_index(), again.last_index()) == (6, 8)
    with pytest.raises(Compacted):
        again.term(3)


def test_an_installed_snapshot_replaces_the_log(tmp_path: Path) -> None:
    for name in ("leader", "follower"):
        (tmp_path / name).mkdir()
    leader = SqliteStorage(tmp_path / "leader")
    leader.save(HardState(3, 0, 9), run(1, [3] * 9), None)
    image = leader.create_snapshot(9, ConfState((1, 2)), b"image at 9")
    follower = SqliteStorage(tmp_path / "follower")
    follower.save(HardState(1, 0, 0), run(1, [1, 1], "stale"), None)
    follower.save(HardState(3, 0, 9), None, image)
    follower.close()
    again = SqliteStorage(tmp_path / "follower")
    assert (again.first_index(), again.last_index()) == (10, 9)
    assert again.snapshot() == image


def test_founding_twice_is_refused(tmp_path: Path) -> None:
    store = SqliteStorage(tmp_path)
    store.bootstrap((1,))
    with pytest.raises(ValueError, match="holds a log already"):
        store.bootstrap((1,))


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    (tmp_path / FILE).write_bytes(b"definitely not a database" * 100)
    with pytest.raises(StorageError, match="not a usable"):
        SqliteStorage(tmp_path)
    assert (tmp_path / FILE).read_bytes() == b"definitely not a database" * 100


def test_another_programs_sqlite_file_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / FILE)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO meta VALUES ('format', 'something-else')")
    db.commit()
    db.close()
    before = (tmp_path / FILE).read_bytes()
    with pytest.raises(StorageError, match="not a dex consensus store"):
        SqliteStorage(tmp_path)
    assert (tmp_path / FILE).read_bytes() == before


@st.composite
def histories(draw: st.DrawFn) -> list:
    """Random Ready writes as a follower sees them: appends that may overwrite a tail,
    hard-state changes, and occasional snapshots with compaction."""
    steps, last, term = [], 0, 1
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["append", "append", "hs", "snapshot"]))
        if kind == "append":
            first = draw(st.integers(max(1, last - 3), last + 1))
            term += draw(st.integers(0, 1))
            count = draw(st.integers(1, 5))
            steps.append(("append", run(first, [term] * count, f"t{term}-")))
            last = first + count - 1
        elif kind == "hs":
            steps.append(("hs", HardState(term, draw(st.integers(0, 3)), 0)))
        elif last:
            steps.append(("snapshot", draw(st.integers(1, last))))
    return steps


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(histories())
def test_reopening_gives_back_exactly_what_memory_holds(tmp_path: Path, steps: list) -> None:
    directory = Path(tempfile.mkdtemp(dir=tmp_path))  # one per example
    durable, memory = SqliteStorage(directory), MemoryStorage()
    for kind, value in steps:
        for store in (durable, memory):
            if kind == "append" and value.first <= store.last_index() + 1:
                store.save(None, value, None)
            elif kind == "hs":
                store.save(value, None, None)
            elif kind == "snapshot" and store.first_index() <= value <= store.last_index():
                store.create_snapshot(value, ConfState((1,)), f"image {value}".encode())
                store.compact(value)
    durable.close()
    assert contents(SqliteStorage(directory)) == contents(memory)


def test_the_consensus_id_lives_in_the_store(tmp_path: Path) -> None:
    """A new (or wiped) store draws a new id; a store with a log from before ids lived in
    the store adopts the data dir's old one; a store keeps its id across restarts."""
    from net.shell import consensus_id

    draws = iter([101, 102])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    store = SqliteStorage(tmp_path / "a")
    assert consensus_id(store, legacy=7, draw=lambda: next(draws)) == 101  # no log: new
    store.close()
    again = SqliteStorage(tmp_path / "a")
    assert consensus_id(again, legacy=7, draw=lambda: next(draws)) == 101  # kept
    again.close()
    old = SqliteStorage(tmp_path / "b")
    old.save(HardState(term=3, vote=7, commit=0), None, None)  # a log, but no id of its own
    old._db.execute("DELETE FROM meta WHERE key = 'node_id'")
    old.node_id = 0
    assert consensus_id(old, legacy=7, draw=lambda: next(draws)) == 7
    old.close()
