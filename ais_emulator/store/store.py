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

Deviations from AIS: one target, no mirroring/EC, every object is "present"; atime is
updated on GET and on PUT only.
"""

from __future__ import annotations

import bisect
import threading
import time
import uuid as uuidlib
from collections.abc import Iterable
from typing import Optional

from ais_emulator.store.buckets import Bucket, BucketId
from ais_emulator.store.errors import (
    BucketAlreadyExists,
    BucketNotFound,
    InvalidAppendHandle,
    ObjectBusy,
    ObjectNotFound,
    ObjectPathConflict,
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
    checksum,
    new_record,
    next_version,
    object_name,
)


def validate_object_name(name: str) -> str:
    """The canonical name of an object (see ``objects.object_name``)."""
    return object_name(name)


_NOT_DIR = "destination contains an object in its path"
_IS_DIR = "destination exists and is a virtual directory"


def _check_path(bucket: Bucket, name: str) -> None:
    """Objects are files: no object may be a directory of another (call under the lock)."""
    if name not in bucket.objects:
        for i, ch in enumerate(name):
            if ch == "/" and name[:i] in bucket.objects:
                raise ObjectPathConflict(bucket.id, name, _NOT_DIR)
        under = name + "/"
        i = bisect.bisect_left(bucket.names, under)
        if i < len(bucket.names) and bucket.names[i].startswith(under):
            raise ObjectPathConflict(bucket.id, name, _IS_DIR)


class Store:
    """All buckets and objects of one emulated cluster."""

    def __init__(self):
        self._lock = threading.RLock()
        self._buckets: dict[BucketId, Bucket] = {}
        self._appends: dict[str, dict] = {}
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
            for handle in [h for h, s in self._appends.items() if s["bucket"] == bck]:
                del self._appends[handle]
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

    # -- objects --------------------------------------------------------------------

    def put_object(self, bck: BucketId, name: str, data, custom: Optional[dict] = None,
                   chunks=None) -> ObjectRecord:
        name = object_name(name)
        data = bytes(data) if not isinstance(data, bytes) else data
        digest = checksum(data)
        with self._lock:
            bucket = self.bucket(bck)
            _check_path(bucket, name)
            rec = new_record(name, data, next_version(bucket.objects.get(name)), custom,
                             digest, chunks)
            bucket.insert(rec)
            return rec

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
        with self._lock:
            bucket = self.bucket(bck)
            if name not in bucket.objects:
                raise ObjectNotFound(bck, name)
            bucket.remove(name)

    def set_custom(self, bck: BucketId, name: str, md: dict, replace: bool = False) -> ObjectRecord:
        """Merge ``md`` into the custom metadata, or replace it wholesale."""
        name = object_name(name)
        with self._lock:
            bucket = self.bucket(bck)
            rec = bucket.objects.get(name)
            if rec is None:
                raise ObjectNotFound(bck, name)
            custom = dict(md) if replace else {**rec.custom, **md}
            rec = rec.evolve(custom=custom)
            bucket.objects[name] = rec
            return rec

    def copy_object(self, src: BucketId, name: str, dst: BucketId, dst_name: str,
                    transform=None) -> ObjectRecord:
        """Copy one object (optionally through ``transform(record) -> bytes``)."""
        dst_name = object_name(dst_name)
        rec = self.head_object(src, name)
        self.bucket(dst)
        if transform is None:
            data, digest = rec.data, rec.cksum_value
        else:
            data = bytes(transform(rec))
            digest = checksum(data)
        with self._lock:
            bucket = self.bucket(dst)
            _check_path(bucket, dst_name)
            new = new_record(dst_name, data, next_version(bucket.objects.get(dst_name)),
                             rec.custom, digest)
            bucket.insert(new)
            return new

    def rename_object(self, bck: BucketId, name: str, new_name: str) -> ObjectRecord:
        """Move an object to ``new_name`` in the same bucket, atomically: same bytes,
        version, checksum and metadata; an object already at ``new_name`` is replaced.
        The destination must not conflict with another path (ObjectPathConflict)."""
        name, new_name = object_name(name), object_name(new_name)
        with self._lock:
            bucket = self.bucket(bck)
            rec = bucket.objects.get(name)
            if rec is None:
                raise ObjectNotFound(bck, name)
            if new_name == name:
                return rec
            bucket.remove(name)
            try:
                _check_path(bucket, new_name)
            except ObjectPathConflict:
                bucket.insert(rec)
                raise
            new = rec.evolve(name=new_name)
            bucket.insert(new)
            return new

    def update_object(self, bck: BucketId, name: str, build, attempts: int = 16) -> ObjectRecord:
        """Replace an object with ``build(current record or None) -> bytes`` as a new
        version (custom metadata kept), atomically: ``build`` runs outside the lock, and
        if the object changed meanwhile it runs again on the new version (ObjectBusy
        after ``attempts``)."""
        name = object_name(name)
        for _ in range(attempts):
            with self._lock:
                current = self.bucket(bck).objects.get(name)
            data = build(current)
            data = bytes(data) if not isinstance(data, bytes) else data
            digest = checksum(data)
            with self._lock:
                bucket = self.bucket(bck)
                if bucket.objects.get(name) is not current:
                    continue
                _check_path(bucket, name)
                custom = current.custom if current is not None else None
                rec = new_record(name, data, next_version(current), custom, digest)
                bucket.insert(rec)
                return rec
        raise ObjectBusy(bck, name)

    # -- append / flush -------------------------------------------------------------

    @staticmethod
    def _handle(sid: str, offset: int) -> str:
        return f"{sid}.{offset}"

    def append(self, bck: BucketId, name: str, handle: str, data) -> str:
        """Append ``data`` to a pending object; "" starts a session; returns the new handle.

        A new session starts from the object's current content (if any). The object is
        replaced only on ``flush``.
        """
        name = object_name(name)
        with self._lock:
            bucket = self.bucket(bck)
            if not handle:
                sid = uuidlib.uuid4().hex
                base = bucket.objects.get(name)
                session = {"bucket": bck, "name": name,
                           "buf": bytearray(base.data if base is not None else b"")}
                self._appends[sid] = session
            else:
                sid, session = self._session(bck, name, handle)
            session["buf"] += data
            return self._handle(sid, len(session["buf"]))

    def flush(self, bck: BucketId, name: str, handle: str, data=b"") -> ObjectRecord:
        """Finalise an append session (any ``data`` is appended first)."""
        name = object_name(name)
        with self._lock:
            self.bucket(bck)
            sid, session = self._session(bck, name, handle)
            if data:
                session["buf"] += data
            del self._appends[sid]
        return self.put_object(bck, name, bytes(session["buf"]))

    def _session(self, bck: BucketId, name: str, handle: str) -> tuple[str, dict]:
        sid, _, offset = handle.rpartition(".")
        session = self._appends.get(sid)
        if session is None or session["bucket"] != bck or session["name"] != name:
            raise InvalidAppendHandle(f"{bck}/{name}: invalid append handle {handle!r}")
        if offset != str(len(session["buf"])):
            raise InvalidAppendHandle(
                f"{bck}/{name}: stale append handle {handle!r} (offset is {len(session['buf'])})"
            )
        return sid, session

    # -- multipart --------------------------------------------------------------------

    def mpt_create(self, bck: BucketId, name: str) -> str:
        name = object_name(name)
        self.bucket(bck)
        return self.uploads.create(bck, name)

    def mpt_put_part(self, bck: BucketId, name: str, upload_id: str, number: int, data) -> None:
        name = object_name(name)
        self.bucket(bck)
        self.uploads.put_part(bck, name, upload_id, number, bytes(data))

    def mpt_complete(self, bck: BucketId, name: str, upload_id: str,
                     part_numbers: Iterable[int], custom: Optional[dict] = None) -> ObjectRecord:
        name = object_name(name)
        self.bucket(bck)
        parts = self.uploads.take(bck, name, upload_id, part_numbers)
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
