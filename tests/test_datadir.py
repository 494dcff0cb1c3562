"""The data dir: identity kept across restarts, one process per dir, clear refusals."""

import json
import shutil
from pathlib import Path

import pytest

from net.datadir import IDENTITY, DataDirError, Identity, check_cluster_name, open_data_dir
from net.traders import KEY_FILE, KeyFileError, TraderKey


@pytest.fixture(autouse=True)
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "dex"


def test_a_named_peer_keeps_its_identity_across_restarts(data_home: Path) -> None:
    with open_data_dir("alice", None) as first:
        assert first.path == data_home / "alice"
        first.remember_cluster("desk-7")
    with open_data_dir("alice", None) as again:
        assert again.identity.name == "alice"
        assert again.cluster_name() == "desk-7"


def test_a_data_dir_from_before_keeps_its_node_id_as_a_legacy(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / IDENTITY).write_text(
        json.dumps({"format": "dex-data/1", "name": "old", "node_id": 77})
    )
    with open_data_dir(None, tmp_path / "p") as old:
        assert old.identity == Identity("old", 77)
    with open_data_dir("new", tmp_path / "n") as new:
        assert new.identity == Identity("new", 0)  # ids live in the consensus store now


def test_moving_aside_keeps_every_file(tmp_path: Path) -> None:
    with open_data_dir("a", tmp_path / "a") as data:
        (data.path / "raft.sqlite3").write_text("log")
        first = data.move_aside(["raft.sqlite3", "raft.sqlite3-wal"], "dex-1/x")
        assert first is not None and (first / "raft.sqlite3").read_text() == "log"
        assert first.parent == data.path / "previous" and "/" not in first.name[4:]
        assert data.move_aside(["raft.sqlite3"], "dex-1") is None  # nothing left to move
        (data.path / "raft.sqlite3").write_text("again")
        second = data.move_aside(["raft.sqlite3"], "dex-1/x")
        assert second is not None and second != first
        assert (first / "raft.sqlite3").read_text() == "log"


@pytest.mark.parametrize("name", ["", "-x", "a b", "x" * 41, "über"])
def test_bad_cluster_names_are_refused(name: str) -> None:
    with pytest.raises(DataDirError, match="--cluster"):
        check_cluster_name(name)


def test_a_dir_in_use_is_refused(tmp_path: Path) -> None:
    with open_data_dir(None, tmp_path / "p"), pytest.raises(DataDirError, match="in use"):
        open_data_dir(None, tmp_path / "p")
    open_data_dir(None, tmp_path / "p").close()  # released once the first one closes


def test_without_arguments_peers_reuse_free_dirs_then_make_new_ones(data_home: Path) -> None:
    first = open_data_dir(None, None)
    second = open_data_dir(None, None)
    assert first.identity.name != second.identity.name
    name = second.identity.name
    second.close()
    third = open_data_dir(None, None)  # second's dir is free again: come back as that peer
    assert third.identity.name == name
    first.close()
    third.close()
    assert len(list(data_home.iterdir())) == 2


def test_a_generated_name_is_kept_in_an_explicit_dir(tmp_path: Path) -> None:
    with open_data_dir(None, tmp_path / "d") as first:
        name = first.identity.name
    with open_data_dir(None, tmp_path / "d") as again:
        assert again.identity.name == name


@pytest.mark.parametrize(
    "content", ["not json", "[]", json.dumps({"format": "other", "name": "x", "node_id": 1})]
)
def test_a_corrupt_identity_is_refused_and_left_alone(tmp_path: Path, content: str) -> None:
    (tmp_path / IDENTITY).write_text(content)
    with pytest.raises(DataDirError, match="corrupt"):
        open_data_dir(None, tmp_path)
    assert (tmp_path / IDENTITY).read_text() == content


def test_a_foreign_dir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "photos.jpg").write_bytes(b"\xff")
    with pytest.raises(DataDirError, match="not a dex peer"):
        open_data_dir(None, tmp_path)
    assert not (tmp_path / IDENTITY).exists()


def test_a_dir_of_another_peer_is_refused(tmp_path: Path) -> None:
    open_data_dir("alice", tmp_path).close()
    with pytest.raises(DataDirError, match="belongs to peer 'alice'"):
        open_data_dir("bob", tmp_path)


def test_request_bases_grow_across_starts_and_a_restored_key(tmp_path: Path) -> None:
    """A key's request numbers never repeat: each start is above the last, and a key
    restored into a new data dir starts above what its old one used (the wall clock)."""
    with open_data_dir("alice", tmp_path / "a") as first:
        bases = [first.next_request_base() for _ in range(3)]
    assert bases == sorted(set(bases)) and bases[1] - bases[0] >= 2**32
    key = TraderKey.load_or_create(tmp_path / "a")
    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copy(tmp_path / "a" / KEY_FILE, restored / KEY_FILE)  # a backup of the key alone
    with open_data_dir("alice", restored) as again:
        assert again.next_request_base() >= bases[0]  # (a clock, not the old dir's count)
        assert TraderKey.load_or_create(restored).hex == key.hex


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    TraderKey.load_or_create(tmp_path)
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    (tmp_path / KEY_FILE).chmod(0o644)
    with pytest.raises(KeyFileError, match="readable by others"):
        TraderKey.load_or_create(tmp_path)
    (tmp_path / KEY_FILE).chmod(0o600)
    (tmp_path / KEY_FILE).write_text("not hex\n")
    with pytest.raises(KeyFileError, match="not a dex trader key"):
        TraderKey.load_or_create(tmp_path)
