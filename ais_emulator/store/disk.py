"""The durable store: every bucket, object and pending write of ``Store`` kept in a data dir.

``DiskStore(data_dir)`` behaves exactly as the in-memory ``Store`` (same rules, same
errors, same in-memory index for lookups and listing snapshots) and, in addition, keeps
its state on disk so that it comes back when the store is opened again:

* Object bytes are immutable blobs (``store.blobs``): streamed to a temporary file,
  ``fsync``, atomic ``rename``, ``fsync`` of the directory. A PUT body is never held in
  memory, and a GET streams from the file (a range read seeks), so objects may be larger
  than memory. A copy (or bucket rename) hard-links the blob.
* Metadata (buckets, object versions, checksums, custom metadata, multipart uploads and
  parts, append sessions) is in the SQLite catalog (``store.catalog``). Every change is
  committed before the call returns, i.e. before a request is acknowledged. Writers are
  ordered by their own lock; the in-memory index is updated under the store lock after
  the commit, so no reader sees a write that is not yet durable, and no reader waits for
  an ``fsync``.
* Readers never see torn or mixed content: a record names one blob, blobs never change,
  and a replaced or deleted blob's file stays until the last reader lets go of it.
* At start-up the catalog is loaded, files no row names (left by a crash between a
  rename and its commit) are removed, and an append session's file is cut back to its
  acknowledged length. No manual repair is ever needed.

Deviations from AIS: one data dir stands for the target's mountpaths (no mirroring, no
erasure coding). Not durable: the access time a GET sets is written at ``close()`` (or
with the object's next change), so a crash loses the access times of reads since the last
clean stop; job records, ETL registrations, attached remote backends and the cluster's
identity (UUID, node IDs) are in memory and new at every start. Cached copies of remote
objects are kept like any other object.

    store = DiskStore("/srv/ais-data")
    store.create_bucket(BucketId.parse("ais", "b"))
    store.put_object(bck, "big.bin", chunks_from_socket)   # streamed to disk
    store.close()                                          # releases the data dir
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Optional

from ais_emulator.limits import MAX_OBJECT_SIZE
from ais_emulator.store.backed import BackedStore
from ais_emulator.store.blobs import Blob, BlobFiles
from ais_emulator.store.buckets import Bucket, BucketId
from ais_emulator.store.catalog import Catalog
from ais_emulator.store.disk_sessions import DiskAppends, DiskUploads
from ais_emulator.store.errors import BucketAlreadyExists, BucketNotFound
from ais_emulator.store.objects import ObjectRecord, new_record, next_version, object_name
from ais_emulator.store.store import Store

log = logging.getLogger("ais_emulator")


class DiskStore(Store):
    """``Store`` persisted under ``data_dir`` (see the module docstring)."""

    def __init__(self, data_dir: str, max_object_size: int = MAX_OBJECT_SIZE):
        super().__init__(max_object_size)
        self._wlock = threading.RLock()  # orders writers; taken before the store lock
        self.data_dir = os.path.abspath(data_dir)
        self._catalog = Catalog.open(self.data_dir)
        self._atimes: set = set()  # (BucketId, name) read since their atime was written
        try:
            self._files = BlobFiles(self.data_dir)
            self._files.prepare()
            self.uploads = DiskUploads(self._catalog, self._files)
            self._sessions = DiskAppends(self._catalog, self._files, self.data_dir)
            self._load()
        except BaseException:
            self._catalog.close()
            raise

    in_memory = False  # object bytes live on disk: no object-size cap is needed

    # -- start-up -------------------------------------------------------------------

    def _load(self) -> None:
        cat = self._catalog
        by_uname: dict[str, BucketId] = {}
        for uname, provider, name, ns_uuid, ns_name, bid, created_ns in cat.rows("buckets"):
            bck = BucketId(provider, name, ns_uuid, ns_name)
            by_uname[uname] = bck
            self._buckets[bck] = Bucket(bck, created_ns=created_ns, bid=bid)
            self._next_bid = max(self._next_bid, bid + 1)
        on_disk = set()
        for sub in os.listdir(self._files.objects):
            d = os.path.join(self._files.objects, sub)
            if os.path.isdir(d):
                on_disk.update(f"{sub}/{n}" for n in os.listdir(d))
        lost = []
        for (uname, name, file_id, size, version, ctype, cval, atime, mtime, custom,
             chunks) in cat.rows("objects"):
            bck = by_uname.get(uname)
            if bck is None or file_id not in on_disk:
                lost.append((uname, name))
                continue
            rec = ObjectRecord(name, self._files.blob(file_id, size), version, cval, atime,
                               mtime, _json(custom) or {},
                               tuple(_json(chunks)) if chunks else None, ctype)
            self._buckets[bck].objects[name] = rec
        for bucket in self._buckets.values():
            bucket.names = sorted(bucket.objects)
        for uname, name in lost:  # only possible when files were removed by hand
            log.warning("ais_emulator: %s: the file of %s%s is missing; dropping it",
                        self.data_dir, uname, name)
            with cat.transaction() as c:
                c.execute("DELETE FROM objects WHERE bucket=? AND name=?", (uname, name))
        with cat.transaction() as c:  # parts a concurrent bucket destroy left without upload
            c.execute("DELETE FROM parts WHERE upload NOT IN (SELECT id FROM uploads)")
        self.uploads.load(cat.rows("uploads"), cat.rows("parts"), by_uname, on_disk)
        self._sessions.load(cat.rows("appends"), by_uname)
        live = {r.body.file_id for b in self._buckets.values() for r in b.objects.values()}
        live |= self.uploads.file_ids()
        for path in self._files.orphans(live):
            os.unlink(path)

    def close(self) -> None:
        """Write pending access times and release the data dir (idempotent)."""
        with self._wlock, self._lock:
            if self._catalog.closed:
                return
            rows = []
            for bck, name in self._atimes:
                bucket = self._buckets.get(bck)
                rec = bucket.objects.get(name) if bucket else None
                if rec is not None:
                    rows.append((rec.atime_ns, bck.uname(), name))
            self._atimes.clear()
            if rows and os.getpid() == self._catalog._pid:
                self._catalog.set_atimes(rows)
            self._catalog.close()

    @property
    def closed(self) -> bool:
        return self._catalog.closed

    # -- storage hooks --------------------------------------------------------------

    def _ingest(self, bck: BucketId, name: str, data) -> tuple:
        return self._files.write(data)

    def _discard(self, body) -> None:
        if isinstance(body, Blob):
            self._files.discard(body)

    def _writing(self):
        return self._wlock

    def _persist(self, bucket: Bucket, rec: ObjectRecord, old: Optional[ObjectRecord]) -> None:
        self._catalog.put_object(bucket.id, rec)

    def _install(self, bucket: Bucket, rec: ObjectRecord, old: Optional[ObjectRecord]) -> None:
        bucket.insert(rec)
        self._atimes.discard((bucket.id, rec.name))
        if old is not None and old.body is not rec.body:
            old.body.retire()

    def _persist_drop(self, bucket: Bucket, rec: ObjectRecord) -> None:
        self._catalog.delete_object(bucket.id, rec.name)

    def _uninstall(self, bucket: Bucket, rec: ObjectRecord) -> None:
        bucket.remove(rec.name)
        rec.body.retire()

    def _drop_all(self, bucket: Bucket) -> None:
        with self._catalog.transaction() as c:
            c.execute("DELETE FROM objects WHERE bucket=?", (bucket.id.uname(),))
        self._retire_all(bucket)
        super()._drop_all(bucket)

    def _share(self, rec: ObjectRecord):
        if isinstance(rec.body, Blob):
            return self._files.link(rec.body)
        return self._files.write(rec.body)[0]

    # -- buckets --------------------------------------------------------------------

    def create_bucket(self, bck: BucketId) -> Bucket:
        with self._wlock, self._lock:
            if bck in self._buckets:
                raise BucketAlreadyExists(bck)
            bucket = Bucket(bck, bid=self._next_bid)
            self._catalog.add_bucket(bck, bucket.bid, bucket.created_ns)
            self._next_bid += 1
            self._buckets[bck] = bucket
            return bucket

    def destroy_bucket(self, bck: BucketId) -> None:
        with self._wlock, self._lock:
            if bck not in self._buckets:
                raise BucketNotFound(bck)
            self._catalog.drop_bucket(bck)
            bucket = self._buckets.pop(bck)
            self._retire_all(bucket)
        self.uploads.drop_bucket(bck)
        self._sessions.forget_rows(bck)

    def reset(self) -> None:
        """Drop every bucket, object and pending write, on disk too."""
        with self._wlock, self._lock:
            self._catalog.clear()
            for bucket in self._buckets.values():
                self._retire_all(bucket)
            self._buckets.clear()
            self._next_bid = 1
            self._atimes.clear()
        self.uploads.clear()
        self._sessions.forget_rows()

    @staticmethod
    def _retire_all(bucket: Bucket) -> None:
        for rec in bucket.objects.values():
            rec.body.retire()

    # -- objects --------------------------------------------------------------------

    def get_object(self, bck: BucketId, name: str) -> ObjectRecord:
        rec = super().get_object(bck, name)
        with self._lock:
            self._atimes.add((bck, rec.name))
        return rec

    # -- append / flush -------------------------------------------------------------

    def append(self, bck: BucketId, name: str, handle: str, data) -> str:
        name = object_name(name)
        self.bucket(bck)
        if not handle:
            with self._lock:
                base = self.bucket(bck).objects.get(name)
            session = self._sessions.start(bck, name, base.body if base else None)
            with session.lock:
                try:
                    self._sessions.write(session, data)
                except BaseException:
                    self._sessions.forget(session)
                    raise
                return session.handle
        session = self._sessions.find(bck, name, handle)
        with session.lock:
            self._sessions.check(session, handle)
            self._sessions.write(session, data)
            return session.handle

    def flush(self, bck: BucketId, name: str, handle: str, data=b"") -> ObjectRecord:
        name = object_name(name)
        self.bucket(bck)
        session = self._sessions.find(bck, name, handle)
        with session.lock:
            self._sessions.check(session, handle)
            self._sessions.write(session, data)
            blob, digest = self._sessions.seal(session)
            try:
                with self._wlock:
                    with self._lock:
                        bucket = self.bucket(bck)
                        bucket.check_path(name)
                        old = bucket.objects.get(name)
                        rec = new_record(name, blob, next_version(old), None, digest)
                    with self._catalog.transaction():
                        self._catalog.drop_append(session.id)
                        self._persist(bucket, rec, old)
                    with self._lock:
                        self._install(bucket, rec, old)
            except BaseException:
                self._files.discard(blob)
                self._sessions.forget(session)  # as in memory: a refused flush ends it
                raise
            self._sessions.forget(session, drop_row=False)
            return rec

    # -- multipart ------------------------------------------------------------------

    def mpt_put_part(self, bck: BucketId, name: str, upload_id: str, number: int, data) -> None:
        name = object_name(name)
        self.bucket(bck)
        self.uploads.check(bck, name, upload_id)  # before reading the data
        blob, _ = self._files.write(data)
        self.uploads.put_part(bck, name, upload_id, number, blob)

    def mpt_complete(self, bck: BucketId, name: str, upload_id: str, part_numbers,
                     custom: Optional[dict] = None) -> ObjectRecord:
        name = object_name(name)
        self.bucket(bck)
        parts = self.uploads.parts_for(bck, name, upload_id, part_numbers)
        body, digest = self._files.write(
            chunk for p in parts for chunk in p.iter_range(0, p.size))
        chunks = (len(parts), max(p.size for p in parts))
        try:
            with self._wlock:
                with self._lock:
                    bucket = self.bucket(bck)
                    bucket.check_path(name)
                    old = bucket.objects.get(name)
                    rec = new_record(name, body, next_version(old), custom, digest, chunks)
                with self._catalog.transaction():
                    self.uploads.close(bck, name, upload_id, parts)
                    self._persist(bucket, rec, old)
                with self._lock:
                    self._install(bucket, rec, old)
        except BaseException:
            self._files.discard(body)
            raise
        self.uploads.forget(upload_id)
        return rec

    def __repr__(self) -> str:
        return f"DiskStore({self.data_dir!r})"


class DurableStore(BackedStore, DiskStore):
    """The durable store with remote backends (``Emulator(data_dir=...)``'s store)."""


def _json(text):
    import json

    return json.loads(text) if text else None

