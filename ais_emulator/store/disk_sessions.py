"""The durable store's pending writes: append sessions and multipart uploads on disk.

Both survive a crash in the state the client last saw acknowledged:

* An append session is a file ``appends/<id>`` and a catalog row with its acknowledged
  length. An append writes at that length, ``fsync``s, then commits the new length; at
  start-up the file is cut back to the committed length (an unacknowledged tail goes), so
  the last handle a client received stays valid across a restart. ``flush`` hard-links
  the file into ``objects/``, commits the object and drops the session in one
  transaction; a crash before that commit leaves the session as it was.
* A multipart upload is a catalog row; each part is a blob (``store.blobs``) named by a
  part row, replaced atomically when a part number is uploaded again. Completion writes a
  new blob from the parts and, in one transaction, names the object and drops the upload,
  so an interrupted completion leaves the upload resumable.

    uploads = DiskUploads(catalog, files)
    uploads.put_part(bck, "big", upload_id, 1, blob)
    blobs = uploads.parts_for(bck, "big", upload_id, [1])     # validated, in order
"""

from __future__ import annotations

import os
import threading
import uuid as uuidlib

import xxhash

from ais_emulator.store.blobs import Blob, BlobFiles, chunks_of, fsync_dir, write_all
from ais_emulator.store.errors import InvalidAppendHandle, InvalidPart, UploadNotFound
from ais_emulator.store.multipart import Upload, completion_order

_HASH_CHUNK = 4 << 20


class AppendSession:
    __slots__ = ("id", "bucket", "name", "path", "length", "lock", "closed")

    def __init__(self, sid: str, bucket, name: str, path: str, length: int):
        self.id, self.bucket, self.name, self.path = sid, bucket, name, path
        self.length = length
        self.lock = threading.Lock()  # one writer at a time; held while data streams in
        self.closed = False

    @property
    def handle(self) -> str:
        return f"{self.id}.{self.length}"


class DiskAppends:
    """Open append sessions of one data dir (see the module docstring)."""

    def __init__(self, catalog, files: BlobFiles, root: str):
        self._catalog = catalog
        self._files = files
        self.dir = os.path.join(root, "appends")
        os.makedirs(self.dir, exist_ok=True)
        self._lock = threading.Lock()
        self._by_id: dict[str, AppendSession] = {}

    def load(self, rows, buckets: dict) -> None:
        """Sessions from catalog rows ``(id, bucket uname, name, length)``; files cut back
        to the committed length; sessions without a whole file, and files without a
        session, are dropped."""
        for sid, uname, name, length in rows:
            path = os.path.join(self.dir, sid)
            bck = buckets.get(uname)
            try:
                ok = bck is not None and os.path.getsize(path) >= length
            except OSError:
                ok = False
            if not ok:
                self._catalog.drop_append(sid)
                continue
            os.truncate(path, length)
            self._by_id[sid] = AppendSession(sid, bck, name, path, length)
        for fname in os.listdir(self.dir):
            if fname not in self._by_id:
                os.unlink(os.path.join(self.dir, fname))

    def start(self, bck, name: str, base) -> AppendSession:
        """A new session holding ``base`` (a Blob, or None for empty), durable."""
        sid = uuidlib.uuid4().hex
        path = os.path.join(self.dir, sid)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        length = 0
        try:
            try:
                if base is not None:
                    for chunk in base.iter_range(0, base.size, _HASH_CHUNK):
                        length += write_all(fd, chunk)
                os.fsync(fd)
            finally:
                os.close(fd)
            fsync_dir(self.dir)
            self._catalog.add_append(sid, bck, name, length)
        except BaseException:
            _unlink(path)
            raise
        session = AppendSession(sid, bck, name, path, length)
        with self._lock:
            self._by_id[sid] = session
        return session

    def find(self, bck, name: str, handle: str) -> AppendSession:
        sid = handle.rpartition(".")[0]
        with self._lock:
            session = self._by_id.get(sid)
        if session is None or session.bucket != bck or session.name != name:
            raise InvalidAppendHandle(f"{bck}/{name}: invalid append handle {handle!r}")
        return session

    @staticmethod
    def check(session: AppendSession, handle: str) -> None:
        """The handle is the session's latest (call with ``session.lock`` held)."""
        where = f"{session.bucket}/{session.name}"
        if session.closed:
            raise InvalidAppendHandle(f"{where}: invalid append handle {handle!r}")
        if handle.rpartition(".")[2] != str(session.length):
            raise InvalidAppendHandle(
                f"{where}: stale append handle {handle!r} (offset is {session.length})")

    def write(self, session: AppendSession, data) -> int:
        """Append ``data`` durably (``session.lock`` held); the new length."""
        fd = os.open(session.path, os.O_WRONLY)
        length = session.length
        try:
            os.ftruncate(fd, length)  # drop what a failed append left
            os.lseek(fd, length, os.SEEK_SET)
            for chunk in chunks_of(data):
                length += write_all(fd, chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
        if length != session.length:
            self._catalog.set_append_length(session.id, length)
            session.length = length
        return length

    def seal(self, session: AppendSession) -> tuple[Blob, str]:
        """The session's content as a new blob (``session.lock`` held; the session stays
        until ``forget``)."""
        hasher = xxhash.xxh64()
        fd = os.open(session.path, os.O_RDONLY)
        try:
            off = 0
            while off < session.length:
                chunk = os.pread(fd, min(_HASH_CHUNK, session.length - off), off)
                if not chunk:
                    raise OSError(f"{session.path}: shorter than its {session.length} bytes")
                hasher.update(chunk)
                off += len(chunk)
        finally:
            os.close(fd)
        return self._files.link(Blob(session.path, session.length)), hasher.hexdigest()

    def forget(self, session: AppendSession, drop_row: bool = True) -> None:
        """End a session: its row (unless the caller dropped it), file and entry."""
        session.closed = True
        with self._lock:
            self._by_id.pop(session.id, None)
        if drop_row:
            self._catalog.drop_append(session.id)
        _unlink(session.path)

    def forget_rows(self, bck=None) -> None:
        """Forget every session (of ``bck``) whose rows the caller already dropped; an
        append or flush in progress finishes first (then fails: the bucket is gone)."""
        with self._lock:
            gone = [s for s in self._by_id.values() if bck is None or s.bucket == bck]
            for s in gone:
                del self._by_id[s.id]
        for s in gone:
            with s.lock:
                s.closed = True
                _unlink(s.path)


class DiskUploads:
    """Open multipart uploads of one data dir (``multipart.Uploads``'s rules)."""

    def __init__(self, catalog, files: BlobFiles):
        self._catalog = catalog
        self._files = files
        self._lock = threading.Lock()
        self._by_id: dict[str, Upload] = {}  # parts: number -> Blob

    def load(self, uploads, parts, buckets: dict, live: set) -> None:
        """Uploads and parts from catalog rows; parts whose blob is gone are dropped."""
        for upload_id, uname, name in uploads:
            bck = buckets.get(uname)
            if bck is None:
                self._catalog.drop_upload(upload_id)
                continue
            self._by_id[upload_id] = Upload(bck, name, upload_id)
        for upload_id, number, file_id, size in parts:
            up = self._by_id.get(upload_id)
            if up is not None and file_id in live:
                up.parts[number] = self._files.blob(file_id, size)

    def file_ids(self) -> set:
        with self._lock:
            return {b.file_id for up in self._by_id.values() for b in up.parts.values()}

    def create(self, bucket, name: str) -> str:
        upload_id = uuidlib.uuid4().hex
        with self._lock:
            self._catalog.add_upload(upload_id, bucket, name)
            self._by_id[upload_id] = Upload(bucket, name, upload_id)
        return upload_id

    def _get(self, bucket, name: str, upload_id: str) -> Upload:
        up = self._by_id.get(upload_id)
        if up is None or up.bucket != bucket or up.name != name:
            raise UploadNotFound(bucket, name, upload_id)
        return up

    def check(self, bucket, name: str, upload_id: str) -> None:
        with self._lock:
            self._get(bucket, name, upload_id)

    def put_part(self, bucket, name: str, upload_id: str, number: int, blob: Blob) -> None:
        """Name ``blob`` as part ``number`` (replacing any); the blob is discarded when
        the part is refused."""
        try:
            if not blob.size:
                raise InvalidPart(f"{bucket}/{name}: put-part invalid size (0)")
            with self._lock:
                up = self._get(bucket, name, upload_id)
                self._catalog.put_part(upload_id, number, blob.file_id, blob.size)
                old = up.parts.get(number)
                up.parts[number] = blob
        except BaseException:
            self._files.discard(blob)
            raise
        if old is not None:
            old.retire()

    def get(self, bucket, name: str, upload_id: str) -> Upload:
        """A snapshot of one open upload (its part blobs as they are now)."""
        with self._lock:
            up = self._get(bucket, name, upload_id)
            return Upload(up.bucket, up.name, up.id, dict(up.parts), up.created_ns)

    def list(self, bucket) -> list:
        """Snapshots of the bucket's open uploads, by object name then start time (the
        start time of an upload from before a restart is the time it was loaded)."""
        with self._lock:
            ups = [Upload(u.bucket, u.name, u.id, dict(u.parts), u.created_ns)
                   for u in self._by_id.values() if u.bucket == bucket]
        return sorted(ups, key=lambda u: (u.name, u.created_ns))

    def parts_for(self, bucket, name: str, upload_id: str, requested) -> list[Blob]:
        """Validate a completion list; the part blobs in order (the upload stays open)."""
        with self._lock:
            up = self._get(bucket, name, upload_id)
            return [up.parts[n] for n in completion_order(up, requested)]

    def close(self, bucket, name: str, upload_id: str, parts: list) -> None:
        """Drop the upload's rows, inside the caller's transaction; UploadNotFound if it
        was completed or aborted meanwhile, InvalidPart if its parts changed."""
        with self._lock:
            up = self._get(bucket, name, upload_id)
            if [up.parts.get(i + 1) for i in range(len(parts))] != parts or \
                    len(up.parts) != len(parts):
                raise InvalidPart(f"{bucket}/{name}: parts of upload {upload_id!r} changed "
                                  "during completion")
            self._catalog.drop_upload(upload_id)

    def forget(self, upload_id: str) -> None:
        """After ``close`` committed: release the parts."""
        with self._lock:
            up = self._by_id.pop(upload_id, None)
        for blob in (up.parts.values() if up else ()):
            blob.retire()

    def abort(self, bucket, name: str, upload_id: str) -> None:
        with self._lock:
            self._get(bucket, name, upload_id)
            self._catalog.drop_upload(upload_id)
        self.forget(upload_id)

    def drop_bucket(self, bucket) -> None:
        """Forget the bucket's uploads (the caller dropped their rows)."""
        with self._lock:
            ids = [k for k, u in self._by_id.items() if u.bucket == bucket]
        for upload_id in ids:
            self.forget(upload_id)

    def clear(self) -> None:
        with self._lock:
            ids = list(self._by_id)
        for upload_id in ids:
            self.forget(upload_id)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
