"""The object store: buckets, objects, versions, custom metadata, appends and copies.

Thread-safe: one lock guards the bucket table and every bucket's object table; critical
sections are dictionary operations only (checksums are computed before the lock is
taken, and nothing streams under it). Records are immutable, so a reader that got a
record keeps a consistent view while writers replace it.

    store = Store()
    bck = BucketId.parse("ais", "data")
    store.create_bucket(bck)
    store.put_object(bck, "a.txt", b"hello")
    store.get_object(bck, "a.txt").data == b"hello"

Object names follow AIS's file semantics (``objects.object_name``): paths are cleaned
(``x//y`` is ``x/y``), and an object can neither sit under another object (``a`` blocks
``a/b``) nor replace a virtual directory (``d/e`` blocks ``d``).

Object data (``put_object``, ``append``, ``flush``, ``mpt_put_part``) is bytes-like or an
iterable of bytes-like chunks of any total length (a streamed request body).

Where the bytes and metadata live is behind a few hooks: ``_ingest`` (data to a body and
its checksum, outside any lock), ``_discard`` (a body that was not stored), ``_persist`` /
``_persist_drop`` (make a change durable) and ``_install`` / ``_uninstall`` (show it). A
write runs under ``_writing()``, the lock that orders writers: it checks the change under
the store lock, persists it without the store lock, then installs it under the store lock
again, so readers never wait for a write to become durable and never see one that is not.
This class keeps everything in memory: ``_writing()`` is the store lock itself and
persisting does nothing. ``store.disk.DiskStore`` persists through the same hooks.

Deviations from AIS: one target, no mirroring/EC, every object is "present"; atime is
updated on GET and on PUT only.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterable
from typing import Optional

from ais_emulator.limits import MAX_OBJECT_SIZE
from ais_emulator.store.appends import MemoryAppends
from ais_emulator.store.buckets import Bucket, BucketId
from ais_emulator.store.errors import (
    BucketAlreadyExists,
    BucketNotFound,
    ObjectBusy,
    ObjectNotFound,
    ObjectTooLarge,
)
from ais_emulator.store.listing import (
    ListPage,
    ListQuery,
    NeedMembers,
    archive_members,
    list_page,
)
from ais_emulator.store.multipart import Uploads
from ais_emulator.store.objects import (
    ObjectRecord,
    TooLarge,
    checksum,
    collect,
    new_record,
    next_version,
    object_name,
)


def validate_object_name(name: str) -> str:
    """The canonical name of an object (see ``objects.object_name``)."""
    return object_name(name)


def _same_version(a: Optional[ObjectRecord], b: Optional[ObjectRecord]) -> bool:
    """Whether two records are the same stored version (a GET's access-time update
    makes a new record of the same version)."""
    if a is None or b is None:
        return a is b
    return a.version == b.version and a.body is b.body


class Store:
    """All buckets and objects of one emulated cluster."""

    in_memory = True  # object bytes are held in memory (see store.disk for the other kind)

    def __init__(self, max_object_size: int = MAX_OBJECT_SIZE):
        self.max_object_size = max_object_size  # objects live in memory: 413 past it
        self._lock = threading.RLock()
        self._buckets: dict[BucketId, Bucket] = {}
        self._appends = MemoryAppends()
        self._next_bid = 1
        self.uploads = Uploads()

    # -- buckets --------------------------------------------------------------------

    def create_bucket(self, bck: BucketId) -> Bucket:
        with self._lock:
            if bck in self._buckets:
                raise BucketAlreadyExists(bck)
            bucket = Bucket(bck, bid=self._next_bid)
            self._next_bid += 1
            self._buckets[bck] = bucket
            return bucket

    def destroy_bucket(self, bck: BucketId) -> None:
        with self._lock:
            if self._buckets.pop(bck, None) is None:
                raise BucketNotFound(bck)
            self._appends.drop_bucket(bck)
        self.uploads.drop_bucket(bck)

    def bucket(self, bck: BucketId) -> Bucket:
        """The bucket, or BucketNotFound (callers must not mutate it unlocked)."""
        bucket = self._buckets.get(bck)
        if bucket is None:
            raise BucketNotFound(bck)
        return bucket

    def has_bucket(self, bck: BucketId) -> bool:
        return bck in self._buckets

    def list_buckets(self, provider: Optional[str] = None, namespace=None) -> list[BucketId]:
        """Buckets sorted by (provider, namespace, name); filters apply when given."""
        with self._lock:
            ids = list(self._buckets)
        if provider:
            ids = [b for b in ids if b.provider == provider]
        if namespace is not None:
            ids = [b for b in ids if (b.ns_uuid, b.ns_name) == tuple(namespace)]
        return sorted(ids, key=lambda b: (b.provider, b.namespace_str, b.name))

    def object_names(self, bck: BucketId, prefix: str = "") -> list[str]:
        """Sorted names of the bucket's objects that start with ``prefix`` (a copy)."""
        with self._lock:
            names = self.bucket(bck).names
            lo = bisect.bisect_left(names, prefix)
            hi = bisect.bisect_left(names, prefix + "\U0010ffff") if prefix else len(names)
            return names[lo:hi]

    def list_objects(self, bck: BucketId, query: ListQuery) -> ListPage:
        """One page of the bucket's listing (see ``listing``), computed under the lock;
        shards are read (once per version) outside it."""
        while True:
            with self._lock:
                bucket = self.bucket(bck)
                try:
                    return list_page(bucket.names, bucket.objects, query, parse=False)
                except NeedMembers as need:
                    record = need.record
            archive_members(record)  # caches the member list on the immutable record

    # -- storage hooks (in memory here; store.disk persists) --------------------------

    def _ingest(self, bck: BucketId, name: str, data) -> tuple:
        """``(body, xxhash2 hex)`` of the data of object ``name`` (bytes-like or an iterable
        of chunks)."""
        data = self._collect(bck, name, data)
        return data, checksum(data)

    def _discard(self, body) -> None:
        """Forget a body ``_ingest`` made that was not stored after all."""

    def _writing(self):
        """The lock that orders writers (see the module docstring); re-entrant."""
        return self._lock

    def _persist(self, bucket: Bucket, rec: ObjectRecord, old: Optional[ObjectRecord]) -> None:
        """Make ``rec`` (replacing ``old``, the current record or None) durable; under
        ``_writing()``."""

    def _install(self, bucket: Bucket, rec: ObjectRecord, old: Optional[ObjectRecord]) -> None:
        """Show ``rec`` in place of ``old``; under ``_writing()`` and the store lock."""
        bucket.insert(rec)

    def _persist_drop(self, bucket: Bucket, rec: ObjectRecord) -> None:
        """Make the removal of the current record ``rec`` durable; under ``_writing()``."""

    def _uninstall(self, bucket: Bucket, rec: ObjectRecord) -> None:
        """Stop showing ``rec``; under ``_writing()`` and the store lock."""
        bucket.remove(rec.name)

    def _commit(self, bucket: Bucket, rec: ObjectRecord, old: Optional[ObjectRecord]) -> None:
        """Persist and install (for a caller holding ``_writing()`` and the store lock)."""
        self._persist(bucket, rec, old)
        self._install(bucket, rec, old)

    def _drop(self, bucket: Bucket, rec: ObjectRecord) -> None:
        """Persist and show a removal (``_writing()`` and the store lock held)."""
        self._persist_drop(bucket, rec)
        self._uninstall(bucket, rec)

    def _drop_all(self, bucket: Bucket) -> None:
        """Remove every object of ``bucket``, which stays (both locks held)."""
        bucket.objects.clear()
        bucket.names.clear()

    def _store(self, bck: BucketId, name: str, body, digest: str,
               custom: Optional[dict] = None, chunks=None) -> ObjectRecord:
        """A new version of ``name`` from an ingested body (discarded on failure)."""
        try:
            with self._writing():
                with self._lock:
                    bucket = self.bucket(bck)
                    bucket.check_path(name)
                    old = bucket.objects.get(name)
                    rec = new_record(name, body, next_version(old), custom, digest, chunks)
                self._persist(bucket, rec, old)
                with self._lock:
                    self._install(bucket, rec, old)
                return rec
        except BaseException:
            self._discard(body)
            raise

    # -- objects --------------------------------------------------------------------

    def receive(self, bck: BucketId, name: str, data) -> bytes:
        """Object data (bytes-like or an iterable of chunks) as bytes, read once within
        ``max_object_size`` (ObjectTooLarge past it): for callers that must see all the
        bytes before storing them (checksum checks)."""
        return self._collect(bck, object_name(name), data)

    def _collect(self, bck: BucketId, name: str, data, already: int = 0) -> bytes:
        """``data`` (bytes-like or an iterable of chunks) as bytes, within the size limit."""
        try:
            return collect(data, self.max_object_size - already)
        except TooLarge as e:
            size = e.size + already if isinstance(e.size, int) else e.size
            raise ObjectTooLarge(bck, name, size, self.max_object_size) from None

    def put_object(self, bck: BucketId, name: str, data, custom: Optional[dict] = None,
                   chunks=None) -> ObjectRecord:
        """Store ``data``: bytes-like, or an iterable of bytes-like chunks (read once)."""
        name = object_name(name)
        self.bucket(bck)  # before reading the data
        body, digest = self._ingest(bck, name, data)
        return self._store(bck, name, body, digest, custom, chunks)

    def head_object(self, bck: BucketId, name: str) -> ObjectRecord:
        name = object_name(name)
        with self._lock:
            rec = self.bucket(bck).objects.get(name)
        if rec is None:
            raise ObjectNotFound(bck, name)
        return rec

    def get_object(self, bck: BucketId, name: str) -> ObjectRecord:
        """The record, with its access time updated (as an AIS GET does)."""
        name = object_name(name)
        with self._lock:
            bucket = self.bucket(bck)
            rec = bucket.objects.get(name)
            if rec is None:
                raise ObjectNotFound(bck, name)
            rec = rec.evolve(atime_ns=time.time_ns())
            bucket.objects[name] = rec
            return rec

    def delete_object(self, bck: BucketId, name: str) -> None:
        name = object_name(name)
        with self._writing():
            with self._lock:
                bucket = self.bucket(bck)
                rec = bucket.objects.get(name)
                if rec is None:
                    raise ObjectNotFound(bck, name)
            self._persist_drop(bucket, rec)
            with self._lock:
                self._uninstall(bucket, rec)

    def set_custom(self, bck: BucketId, name: str, md: dict, replace: bool = False) -> ObjectRecord:
        """Merge ``md`` into the custom metadata, or replace it wholesale."""
        name = object_name(name)
        with self._writing():
            with self._lock:
                bucket = self.bucket(bck)
                rec = bucket.objects.get(name)
                if rec is None:
                    raise ObjectNotFound(bck, name)
                custom = dict(md) if replace else {**rec.custom, **md}
                new = rec.evolve(custom=custom)
            self._persist(bucket, new, rec)
            with self._lock:
                self._install(bucket, new, bucket.objects.get(name))
            return new

    def copy_object(self, src: BucketId, name: str, dst: BucketId, dst_name: str,
                    transform=None) -> ObjectRecord:
        """Copy one object (optionally through ``transform(record) -> bytes``)."""
        dst_name = object_name(dst_name)
        rec = self.head_object(src, name)
        self.bucket(dst)
        if transform is None:
            body, digest = self._share(rec), rec.cksum_value
        else:
            body, digest = self._ingest(dst, dst_name, transform(rec))
        return self._store(dst, dst_name, body, digest, rec.custom)

    def _share(self, rec: ObjectRecord):
        """A body with ``rec``'s content for a copy (the same immutable bytes here)."""
        return rec.body

    def rename_object(self, bck: BucketId, name: str, new_name: str) -> ObjectRecord:
        """Move an object to ``new_name`` in the same bucket: same bytes, version,
        checksum and metadata; an object already at ``new_name`` is replaced. The
        destination must not conflict with another path (ObjectPathConflict). The new
        name is made durable before the old one is dropped (a crash in between leaves
        both, never neither)."""
        name, new_name = object_name(name), object_name(new_name)
        with self._writing():
            with self._lock:
                bucket = self.bucket(bck)
                rec = bucket.objects.get(name)
                if rec is None:
                    raise ObjectNotFound(bck, name)
                if new_name == name:
                    return rec
                bucket.remove(name)  # the source does not block its own destination
                try:
                    bucket.check_path(new_name)
                finally:
                    bucket.insert(rec)
                old = bucket.objects.get(new_name)
            new = rec.evolve(name=new_name, data=self._share(rec))
            try:
                self._persist(bucket, new, old)
            except BaseException:
                self._discard(new.body)
                raise
            self._persist_drop(bucket, rec)
            with self._lock:
                self._install(bucket, new, old)
                self._uninstall(bucket, rec)
            return new

    def update_object(self, bck: BucketId, name: str, build, attempts: int = 16) -> ObjectRecord:
        """Replace an object with ``build(current record or None) -> data`` as a new
        version (custom metadata kept), atomically: ``build`` runs outside the locks, and
        if the object changed meanwhile (another version) it runs again on the new one
        (ObjectBusy after ``attempts``)."""
        name = object_name(name)
        for _ in range(attempts):
            with self._lock:
                current = self.bucket(bck).objects.get(name)
            body, digest = self._ingest(bck, name, build(current))
            try:
                with self._writing():
                    with self._lock:
                        bucket = self.bucket(bck)
                        now = bucket.objects.get(name)
                        if not _same_version(now, current):
                            self._discard(body)
                            continue
                        bucket.check_path(name)
                        custom = current.custom if current is not None else None
                        rec = new_record(name, body, next_version(current), custom, digest)
                    self._persist(bucket, rec, now)
                    with self._lock:
                        self._install(bucket, rec, now)
                    return rec
            except BaseException:
                self._discard(body)
                raise
        raise ObjectBusy(bck, name)

    # -- append / flush (sessions: store.appends) -------------------------------------

    def append(self, bck: BucketId, name: str, handle: str, data) -> str:
        """Append ``data`` to a pending object; "" starts a session; returns the new handle.

        A new session starts from the object's current content (if any). The object is
        replaced only on ``flush``.
        """
        name = object_name(name)
        self.bucket(bck)
        if handle:
            with self._lock:
                already = self._appends.length(self._appends.find(bck, name, handle))
        else:
            base = self.bucket(bck).objects.get(name)
            already = base.size if base is not None else 0
        data = self._collect(bck, name, data, already)
        with self._lock:
            bucket = self.bucket(bck)
            if not handle:
                base = bucket.objects.get(name)
                sid = self._appends.start(bck, name, base.data if base is not None else b"")
            else:
                sid = self._appends.find(bck, name, handle)
            return self._appends.extend(sid, data)

    def flush(self, bck: BucketId, name: str, handle: str, data=b"") -> ObjectRecord:
        """Finalise an append session (any ``data`` is appended first)."""
        name = object_name(name)
        with self._lock:
            self.bucket(bck)
            already = self._appends.length(self._appends.find(bck, name, handle))
        data = self._collect(bck, name, data, already)
        with self._lock:
            self.bucket(bck)
            sid = self._appends.find(bck, name, handle)
            self._appends.extend(sid, data)
            content = self._appends.take(sid)
        return self.put_object(bck, name, content)

    # -- multipart --------------------------------------------------------------------

    def mpt_create(self, bck: BucketId, name: str) -> str:
        name = object_name(name)
        self.bucket(bck)
        return self.uploads.create(bck, name)

    def mpt_put_part(self, bck: BucketId, name: str, upload_id: str, number: int, data) -> None:
        name = object_name(name)
        self.bucket(bck)
        self.uploads.put_part(bck, name, upload_id, number, self._collect(bck, name, data))

    def mpt_complete(self, bck: BucketId, name: str, upload_id: str,
                     part_numbers: Iterable[int], custom: Optional[dict] = None) -> ObjectRecord:
        name = object_name(name)
        self.bucket(bck)
        parts = self.uploads.take(bck, name, upload_id, part_numbers)
        total = sum(len(p) for p in parts)
        if total > self.max_object_size:
            raise ObjectTooLarge(bck, name, total, self.max_object_size)
        chunks = (len(parts), max(len(p) for p in parts))
        return self.put_object(bck, name, b"".join(parts), custom=custom, chunks=chunks)

    def mpt_abort(self, bck: BucketId, name: str, upload_id: str) -> None:
        name = object_name(name)
        self.bucket(bck)
        self.uploads.abort(bck, name, upload_id)

    # -- whole store ----------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self._appends.clear()
            self._next_bid = 1
        self.uploads.clear()
