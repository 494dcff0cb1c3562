"""The durable consensus store: hard state, log and snapshot in SQLite, in the data dir.

Raft's safety rests on one promise: nothing is acknowledged (a vote, an appended entry)
before it is on disk. :meth:`SqliteStorage.save` writes one Ready's snapshot, entries and
hard state in a single transaction, fsynced (WAL, ``synchronous=FULL``) when the Ready says
``must_sync``; the node sends that Ready's messages only after it returns. A kill -9 at any
moment therefore loses nothing acknowledged: either the transaction is in the WAL or it
never happened. The node calls ``save`` once per Ready, and a Ready gathers everything that
arrived meanwhile, so commits group themselves under load.

Reads are served from an in-memory mirror of the uncompacted log (``MemoryStorage``, the
same code the simulator runs), updated only after the write is durable. SQLite is opened
once at start; a file that is not SQLite, or not ours, is refused with a one-line reason.
"""

import json
import sqlite3
from pathlib import Path

from net.raft.entries import EntryRun
from net.raft.state import ConfState, HardState, SnapMeta, Snapshot
from net.raft.storage import MemoryStorage

FORMAT = "dex-raft/1"
FILE = "raft.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, kind INTEGER NOT NULL, payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1), idx INTEGER NOT NULL, term INTEGER NOT NULL,
    conf TEXT NOT NULL, data BLOB NOT NULL
);
"""


class StorageError(Exception):
    """The store cannot be opened or is not a dex consensus store; one-line message."""


class SqliteStorage(MemoryStorage):
    """LogStore backed by SQLite; the in-memory base class answers reads."""

    __slots__ = ("_db", "path")

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.path = directory / FILE
        fresh = not self.path.exists()
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            if not fresh:  # look before writing anything: a foreign file stays untouched
                self._check_format()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            if fresh:
                self._db.executescript(_SCHEMA)
                self._db.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))
            self._load()
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{self.path}: not a usable dex consensus store ({exc})") from None

    def _check_format(self) -> None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        except sqlite3.OperationalError:
            row = None
        if row is None or row[0] != FORMAT:
            self._db.close()
            raise StorageError(f"{self.path}: not a dex consensus store (format {FORMAT})")

    def close(self) -> None:
        self._db.close()

    # -- loading --

    def _load(self) -> None:
        meta = dict(self._db.execute("SELECT key, value FROM meta"))
        row = self._db.execute("SELECT idx, term, conf, data FROM snapshot").fetchone()
        if row is not None:
            index, term, conf, data = row
            super().apply_snapshot(Snapshot(SnapMeta(index, term, _conf(conf)), bytes(data)))
        rows = self._db.execute(
            "SELECT idx, term, kind, payload FROM entries WHERE idx > ? ORDER BY idx",
            (self.first_index() - 1,),
        ).fetchall()
        if rows:
            if rows[0][0] != self.first_index() or rows[-1][0] != rows[0][0] + len(rows) - 1:
                raise StorageError(f"{self.path}: the log has a gap; refusing to guess")
            super().append(
                EntryRun(
                    rows[0][0],
                    tuple(r[1] for r in rows),
                    bytes(r[2] for r in rows),
                    tuple(bytes(r[3]) for r in rows),
                )
            )
        if "hard_state" in meta:
            term, vote, commit = json.loads(meta["hard_state"])
            super().save(HardState(term, vote, commit), None, None)
        self.node_id = int(meta.get("node_id", 0))

    # -- writes: durable first, then the mirror --

    def save(
        self,
        hs: HardState | None,
        entries: EntryRun | None,
        snap: Snapshot | None,
        sync: bool = True,
    ) -> None:
        """Persist one Ready (snapshot, entries, hard state) atomically, then mirror it."""
        db = self._db
        db.execute("PRAGMA synchronous=" + ("FULL" if sync else "NORMAL"))
        db.execute("BEGIN IMMEDIATE")
        try:
            held = self.first_index() - 1  # entries at or below this are in the snapshot
            if snap is not None and snap.meta.index > self.snapshot().meta.index:
                self._write_snapshot(snap)
                db.execute("DELETE FROM entries")
                held = snap.meta.index
            if entries is not None and entries.last > held:  # as MemoryStorage.append does
                entries = entries.slice(held + 1, entries.last + 1)
                db.execute("DELETE FROM entries WHERE idx >= ?", (entries.first,))
                db.executemany(
                    "INSERT INTO entries VALUES (?, ?, ?, ?)",
                    zip(
                        range(entries.first, entries.last + 1),
                        entries.terms,
                        entries.kinds,
                        entries.payloads,
                        strict=True,
                    ),
                )
            if hs is not None:
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('hard_state', ?)",
                    (json.dumps([hs.term, hs.vote, hs.commit]),),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        super().save(hs, entries, snap)

    def claim_node_id(self, node_id: int) -> None:
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('node_id', ?)", (str(node_id),))
        super().claim_node_id(node_id)

    def create_snapshot(self, index: int, conf: ConfState, data: bytes) -> Snapshot:
        """Record the state machine's image at ``index`` (entries are kept until compact)."""
        snap = super().create_snapshot(index, conf, data)
        self._write_snapshot(snap)  # one statement: atomic on its own
        return snap

    def compact(self, index: int) -> None:
        """Drop entries before ``index`` (which must be covered by the snapshot)."""
        super().compact(index)
        self._db.execute("DELETE FROM entries WHERE idx < ?", (index,))

    def _write_snapshot(self, snap: Snapshot) -> None:
        conf = snap.meta.conf
        self._db.execute(
            "INSERT OR REPLACE INTO snapshot VALUES (1, ?, ?, ?, ?)",
            (
                snap.meta.index,
                snap.meta.term,
                json.dumps([conf.voters, conf.learners, conf.index]),
                snap.data,
            ),
        )


def _conf(text: str) -> ConfState:
    voters, learners, index = json.loads(text)
    return ConfState(tuple(voters), tuple(learners), index)
