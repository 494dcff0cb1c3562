"""A peer's data directory: where it lives, who it is, and that only one process uses it.

Layout of a data dir (the consensus log and snapshots join it with the peer's storage):

    identity.json   {"format": "dex-data/1", "name": ...}, written once
    trader.key      the trader's Ed25519 key (mode 0600; ``net/traders.py``): back it up
    lock            held (flock) by the running peer, so two processes never share a dir
    boots           the first request number of the last start (request numbers grow)
    cluster         the name of the cluster this peer belongs to (--cluster)
    previous/       consensus stores moved aside when the peer changed clusters, never deleted

The consensus id lives in the consensus store, not here (``net/shell.py``,
``consensus_id``): a wiped store makes a new member. Data dirs written before that hold a
``node_id`` in identity.json, which a store with a log but no id of its own adopts.

Without ``--name`` and ``--data-dir``, several ``dex-tui`` started on one machine must each
become a different peer, yet a restarted one should come back as itself. So the default is
the first existing peer directory under the user data dir that no running peer holds, or
else a new one with a generated name.
"""

import fcntl
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from net.traders import KEY_FILE

FORMAT = "dex-data/1"
IDENTITY = "identity.json"
LOCK = "lock"
BOOTS = "boots"
CLUSTER = "cluster"
PREVIOUS = "previous"
DEFAULT_CLUSTER = "dex"
CLUSTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
_WORDS = (
    "amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "heron", "iris", "juniper",
    "kestrel", "lumen", "maple", "nova", "onyx", "pine", "quartz", "raven", "sage", "tide",
)  # fmt: skip


class DataDirError(Exception):
    """The data dir cannot be used; the message names the problem in one line."""


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    legacy_node_id: int = 0  # the consensus id of a data dir from before it lived in the store


def new_node_id() -> int:
    """A fresh consensus id: random, never reused; 53 bits, as the id travels in JSON and
    JavaScript reads numbers as doubles."""
    return secrets.randbits(53) or 1


def check_cluster_name(name: str) -> str:
    """``name`` if it is a usable cluster name, else DataDirError saying why."""
    if not CLUSTER_NAME.fullmatch(name):
        raise DataDirError(
            f"--cluster: {name[:40]!r} is not a cluster name (1 to 40 letters, digits, '.', "
            "'_' or '-', starting with a letter or digit)"
        )
    return name


def user_data_root() -> Path:
    """``$XDG_DATA_HOME/dex`` or ``~/.local/share/dex``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dex"


def generate_name() -> str:
    return f"{secrets.choice(_WORDS)}-{secrets.token_hex(2)}"


class DataDir:
    """An opened, locked data dir. Close it (or use ``with``) to release the lock."""

    def __init__(self, path: Path, identity: Identity, lock: IO[bytes]) -> None:
        self.path = path
        self.identity = identity
        self._lock = lock

    def next_request_base(self) -> int:
        """The first request number of this start, durably above every earlier start's.

        Request numbers are de-duplicated per trader key in the log, so they must never
        repeat for a key: not across restarts of this data dir (each start is at least
        2**32 above the last), and not when the key is restored into a new data dir from a
        backup (the base is also at least the wall clock in ms << 16, above anything the
        key's earlier data dir used unless the clock went back)."""
        file = self.path / BOOTS
        try:
            last = int(file.read_text())
        except (FileNotFoundError, ValueError):
            last = 0
        base = max(last + 2**32, time.time_ns() // 1_000_000 << 16)
        _write_durably(file, f"{base}\n")
        return base

    def cluster_name(self) -> str | None:
        """The cluster name this peer was last started for, if it was ever recorded."""
        try:
            return check_cluster_name((self.path / CLUSTER).read_text().strip())
        except (FileNotFoundError, DataDirError):
            return None

    def remember_cluster(self, name: str) -> None:
        _write_durably(self.path / CLUSTER, name + "\n")

    def move_aside(self, files: list[str], label: str) -> Path | None:
        """Move ``files`` of this dir (those that exist) into ``previous/LABEL-TIME/``;
        where they went, or None when there was nothing to move. Nothing is deleted."""
        present = [f for f in files if (self.path / f).exists()]
        if not present:
            return None
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", label)[:60] or "cluster"
        base = self.path / PREVIOUS / f"{safe}-{time.strftime('%Y%m%d-%H%M%S')}"
        target, n = base, 1
        while target.exists():
            n += 1
            target = base.with_name(f"{base.name}-{n}")
        target.mkdir(parents=True)
        for name in present:
            os.replace(self.path / name, target / name)
        return target

    def close(self) -> None:
        self._lock.close()  # closing the file releases the flock

    def __enter__(self) -> "DataDir":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_data_dir(name: str | None, path: Path | None) -> DataDir:
    """Open (creating if new) the data dir chosen by ``--name`` / ``--data-dir``."""
    if path is not None:
        return _open(path, name)
    root = user_data_root()
    if name is not None:
        return _open(root / name, name)
    for candidate in sorted(root.glob("*/" + IDENTITY)) if root.is_dir() else []:
        try:
            return _open(candidate.parent, None)
        except DataDirError:
            continue  # held by a running peer, or unreadable: try the next one
    fresh = generate_name()
    return _open(root / fresh, fresh)


def _open(path: Path, name: str | None) -> DataDir:
    try:
        path.mkdir(parents=True, exist_ok=True)
        lock = open(path / LOCK, "ab")  # noqa: SIM115 - held for the life of the peer
    except OSError as exc:
        raise DataDirError(f"data dir {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise DataDirError(f"data dir {path} is in use by another running peer") from None
    try:
        identity = _read_or_create_identity(path, name)
    except DataDirError:
        lock.close()
        raise
    return DataDir(path, identity, lock)


def _read_or_create_identity(path: Path, name: str | None) -> Identity:
    file = path / IDENTITY
    if not file.exists():
        others = [p.name for p in path.iterdir() if p.name not in (LOCK, KEY_FILE)]
        if others:
            raise DataDirError(
                f"data dir {path} holds files that are not a dex peer's: {others[0]}"
            )
        identity = Identity(name or generate_name())
        _write_durably(file, json.dumps({"format": FORMAT, "name": identity.name}) + "\n")
        return identity
    try:
        record = json.loads(file.read_text())
        ok = (
            isinstance(record, dict)
            and record.get("format") == FORMAT
            and isinstance(record.get("name"), str)
            and isinstance(record.get("node_id", 0), int)
        )
    except (OSError, ValueError):
        ok = False
    if not ok:
        raise DataDirError(f"data dir {path}: {IDENTITY} is corrupt or from another program")
    if name is not None and record["name"] != name:
        raise DataDirError(f"data dir {path} belongs to peer {record['name']!r}, not {name!r}")
    return Identity(record["name"], record.get("node_id", 0))


def _write_durably(file: Path, text: str) -> None:
    """Replace ``file`` with ``text`` so that a crash leaves the old or the new content."""
    tmp = file.with_name(file.name + ".tmp")
    with open(tmp, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, file)
