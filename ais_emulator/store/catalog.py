"""The durable store's metadata: a data dir's layout, its lock, and an SQLite catalog.

A data dir holds ``LAYOUT`` (what this directory is and its layout version), ``lock``
(held with ``flock`` while a store has the directory open), ``catalog.db`` (SQLite in WAL
mode, ``synchronous=FULL``: a commit is on disk when it returns), ``objects/`` (blobs, see
``store.blobs``), ``appends/`` (open append sessions) and ``tmp/``.

The catalog names every bucket, object version, multipart upload and part, and append
session. Each change is one SQLite transaction, committed before the store acknowledges
the request, so after a crash the catalog is exactly the set of acknowledged writes.

    cat = Catalog.open("/srv/ais-data")        # DataDirError: not ours, newer, or in use
    with cat.transaction():
        cat.put_object(bck, record)

A directory with files but no ``LAYOUT`` is refused (it is not ours to write into), and
so is a layout newer than this code knows; neither is ever rewritten.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading

LAYOUT_FILE = "LAYOUT"
LAYOUT_VERSION = 1
LAYOUT_FORMAT = "ais-emulator data dir"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    uname TEXT PRIMARY KEY, provider TEXT NOT NULL, name TEXT NOT NULL,
    ns_uuid TEXT NOT NULL, ns_name TEXT NOT NULL, bid INTEGER NOT NULL,
    created_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL, name TEXT NOT NULL, file TEXT NOT NULL, size INTEGER NOT NULL,
    version TEXT NOT NULL, cksum_type TEXT NOT NULL, cksum_value TEXT NOT NULL,
    atime_ns INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, custom TEXT NOT NULL,
    chunks TEXT, PRIMARY KEY (bucket, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, bucket TEXT NOT NULL, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parts (
    upload TEXT NOT NULL, number INTEGER NOT NULL, file TEXT NOT NULL,
    size INTEGER NOT NULL, PRIMARY KEY (upload, number)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS appends (
    id TEXT PRIMARY KEY, bucket TEXT NOT NULL, name TEXT NOT NULL,
    length INTEGER NOT NULL);
"""


class DataDirError(Exception):
    """The data dir cannot be used: not an emulator data dir, a newer layout, or in use."""


def _write_layout(root: str) -> None:
    tmp = os.path.join(root, LAYOUT_FILE + ".tmp")
    with open(tmp, "w") as f:
        json.dump({"format": LAYOUT_FORMAT, "layout": LAYOUT_VERSION}, f)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, os.path.join(root, LAYOUT_FILE))
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_layout(root: str) -> None:
    """Create the layout of a new (missing or empty) data dir, or check an existing one."""
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, LAYOUT_FILE)
    if not os.path.exists(path):
        if [n for n in os.listdir(root) if n != LAYOUT_FILE + ".tmp"]:
            raise DataDirError(f"{root} is not empty and has no {LAYOUT_FILE} file: not an "
                               "ais-emulator data dir (refusing to write into it)")
        _write_layout(root)
        return
    try:
        with open(path) as f:
            doc = json.load(f)
        fmt, version = doc["format"], doc["layout"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataDirError(f"{path}: unreadable layout file ({e})") from None
    if fmt != LAYOUT_FORMAT or not isinstance(version, int):
        raise DataDirError(f"{path}: not an ais-emulator data dir layout ({doc!r})")
    if version > LAYOUT_VERSION:
        raise DataDirError(f"{root} has data dir layout {version}, newer than this "
                           f"ais-emulator supports ({LAYOUT_VERSION}); upgrade ais-emulator "
                           "(the directory was left untouched)")
    if version < 1:
        raise DataDirError(f"{path}: invalid layout version {version}")


def lock_dir(root: str) -> int:
    """Hold the data dir's lock (an open fd; closing it releases the lock)."""
    fd = os.open(os.path.join(root, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise DataDirError(f"{root} is in use by another ais-emulator store "
                           "(its lock is held)") from None
    return fd


class Catalog:
    """The SQLite catalog of one data dir; thread-safe (one connection, one lock)."""

    def __init__(self, conn: sqlite3.Connection, root: str, lock_fd: int):
        self._conn = conn
        self.root = root
        self._lock_fd = lock_fd
        self._lock = threading.RLock()
        self._depth = 0
        self._pid = os.getpid()

    @classmethod
    def open(cls, root: str) -> Catalog:
        root = os.path.abspath(root)
        check_layout(root)
        lock_fd = lock_dir(root)
        try:
            conn = sqlite3.connect(os.path.join(root, "catalog.db"), isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > LAYOUT_VERSION:
                conn.close()
                raise DataDirError(f"{root}/catalog.db has schema {version}, newer than this "
                                   f"ais-emulator supports ({LAYOUT_VERSION})")
            conn.executescript(_SCHEMA)
            if version == 0:
                conn.execute(f"PRAGMA user_version={LAYOUT_VERSION}")
        except sqlite3.DatabaseError as e:
            os.close(lock_fd)
            raise DataDirError(f"{root}/catalog.db: {e}") from None
        except BaseException:
            os.close(lock_fd)
            raise
        return cls(conn, root, lock_fd)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
                os.close(self._lock_fd)

    @property
    def closed(self) -> bool:
        return self._conn is None

    @contextlib.contextmanager
    def transaction(self):
        """One atomic, durable change (nestable: the outermost commits)."""
        with self._lock:
            if self._conn is None:
                raise RuntimeError(f"the catalog of {self.root} is closed")
            if os.getpid() != self._pid:
                raise RuntimeError(f"the durable store of {self.root} belongs to process "
                                   f"{self._pid}; use the HTTP server across processes")
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self._conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def _exec(self, sql: str, args=()) -> None:
        with self.transaction() as c:
            c.execute(sql, args)

    # -- reading (at start-up) ------------------------------------------------------

    def rows(self, table: str) -> list[tuple]:
        with self._lock:
            return self._conn.execute(f"SELECT * FROM {table}").fetchall()

    # -- buckets --------------------------------------------------------------------

    def add_bucket(self, bck, bid: int, created_ns: int) -> None:
        self._exec("INSERT INTO buckets VALUES (?,?,?,?,?,?,?)",
                   (bck.uname(), bck.provider, bck.name, bck.ns_uuid, bck.ns_name, bid,
                    created_ns))

    def drop_bucket(self, bck) -> None:
        key = bck.uname()
        with self.transaction() as c:
            c.execute("DELETE FROM objects WHERE bucket=?", (key,))
            c.execute("DELETE FROM parts WHERE upload IN (SELECT id FROM uploads "
                      "WHERE bucket=?)", (key,))
            c.execute("DELETE FROM uploads WHERE bucket=?", (key,))
            c.execute("DELETE FROM appends WHERE bucket=?", (key,))
            c.execute("DELETE FROM buckets WHERE uname=?", (key,))

    def clear(self) -> None:
        with self.transaction() as c:
            for table in ("objects", "parts", "uploads", "appends", "buckets"):
                c.execute(f"DELETE FROM {table}")

    # -- objects --------------------------------------------------------------------

    def put_object(self, bck, rec) -> None:
        self._exec(
            "INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (bck.uname(), rec.name, rec.body.file_id, rec.size, rec.version, rec.cksum_type,
             rec.cksum_value, rec.atime_ns, rec.mtime_ns, json.dumps(rec.custom),
             json.dumps(list(rec.chunks)) if rec.chunks else None))

    def delete_object(self, bck, name: str) -> None:
        self._exec("DELETE FROM objects WHERE bucket=? AND name=?", (bck.uname(), name))

    def set_atimes(self, rows: list) -> None:
        """``(atime_ns, bucket uname, name)`` rows."""
        with self.transaction() as c:
            c.executemany("UPDATE objects SET atime_ns=? WHERE bucket=? AND name=?", rows)

    # -- multipart uploads ----------------------------------------------------------

    def add_upload(self, upload_id: str, bck, name: str) -> None:
        self._exec("INSERT INTO uploads VALUES (?,?,?)", (upload_id, bck.uname(), name))

    def put_part(self, upload_id: str, number: int, file_id: str, size: int) -> None:
        self._exec("INSERT OR REPLACE INTO parts VALUES (?,?,?,?)",
                   (upload_id, number, file_id, size))

    def drop_upload(self, upload_id: str) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM parts WHERE upload=?", (upload_id,))
            c.execute("DELETE FROM uploads WHERE id=?", (upload_id,))

    # -- append sessions ------------------------------------------------------------

    def add_append(self, sid: str, bck, name: str, length: int) -> None:
        self._exec("INSERT INTO appends VALUES (?,?,?,?)", (sid, bck.uname(), name, length))

    def set_append_length(self, sid: str, length: int) -> None:
        self._exec("UPDATE appends SET length=? WHERE id=?", (length, sid))

    def drop_append(self, sid: str) -> None:
        self._exec("DELETE FROM appends WHERE id=?", (sid,))
