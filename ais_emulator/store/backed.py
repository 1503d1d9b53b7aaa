"""A Store whose remote buckets are caches of a cloud backend (AIS's remote buckets).

With a ``RemoteBackend`` attached for a provider (``store.attach_backend(S3Backend())``),
every bucket of that provider (global namespace) follows AIS's rules for remote buckets:

* The bucket joins the cluster on first access when the backend has it (AIS adds it to
  its BMD "on the fly"); a bucket the backend lacks is BucketNotFound.
* A cold GET brings the object in: the bytes are cached with AIS's checksum, the
  backend's version (versioned buckets only) and custom metadata ``source``, ``ETag``,
  ``md5`` and ``LastModified``. Later GETs are served from the cache.
* HEAD answers the cached record, else the backend's attributes as a ``RemoteRecord``
  (``present`` False).
* Listing pages come from the backend (its page limit, its opaque continuation token);
  cached objects carry their local attributes, others the backend's. ``not_cached`` drops
  cached ones; ``cached_only`` and ``arch_dir`` list the cache alone (AIS forces the
  cached view for archive listings).
* PUT writes through (backend first, with AIS's checksum in the object's user metadata,
  then the cache); DELETE removes the object from both.
* ``evict_object``/``evict_bucket`` drop cached copies; ``fetch`` is a prefetch.

Without a backend for its provider a bucket behaves exactly as in ``Store`` (seeded remote
buckets included).

    store = BackedStore()
    store.attach_backend(backend)                   # e.g. ais_emulator.remote.S3Backend
    store.get_object(BucketId.parse("aws", "b"), "k")   # cold GET, then cached

Deviations from AIS: the backend is only asked on first access of a bucket (and on every
listing and uncached read), not HEADed again later; a not-cached object's listing
entry has no version (AIS lists versions of versioned buckets, slowly); objects deleted
from the backend out of band stay cached (and listed with ``cached_only``), as in AIS,
but a plain listing does not show them; a listing page that the ``not_cached`` filter left
empty is followed by the next one, so a page is never empty while a token remains;
``start_after`` is rejected for remote buckets, as in AIS.
"""

from __future__ import annotations

import threading
import time
from typing import Optional

from ais_emulator.store.backend import (
    CKSUM_TYPE_MD,
    CKSUM_VALUE_MD,
    NoSuchRemoteBucket,
    NoSuchRemoteObject,
    RemoteBackend,
    RemoteBackendError,
    RemoteObject,
    RemoteRecord,
    remote_custom,
)
from ais_emulator.store.buckets import BucketId, normalize_provider
from ais_emulator.store.errors import BucketNotFound, InvalidRequest, ObjectNotFound
from ais_emulator.store.listing import ListEntry, ListPage, ListQuery
from ais_emulator.store.objects import (
    CHECKSUM_TYPE,
    ObjectRecord,
    checksum,
    object_name,
)
from ais_emulator.store.store import Store

# custom keys that describe the backend's copy (replaced, never carried over)
_REMOTE_KEYS = frozenset({"source", "ETag", "md5", "LastModified", "version"})


class BackedStore(Store):
    """``Store`` plus remote backends per provider (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._backends: dict[str, RemoteBackend] = {}
        self._blk = threading.Lock()

    # -- backends -------------------------------------------------------------------

    def attach_backend(self, backend: RemoteBackend) -> None:
        """Serve the buckets of ``backend.provider`` from ``backend`` (replacing any)."""
        provider = normalize_provider(backend.provider)
        if provider == "ais":
            raise ValueError("ais buckets have no remote backend")
        with self._blk:
            self._backends[provider] = backend

    def detach_backend(self, provider: str) -> Optional[RemoteBackend]:
        """Stop consulting the backend of ``provider``; cached copies stay."""
        with self._blk:
            return self._backends.pop(normalize_provider(provider), None)

    @property
    def backends(self) -> dict:
        """Provider -> attached backend (a copy)."""
        with self._blk:
            return dict(self._backends)

    def backend(self, bck: BucketId) -> Optional[RemoteBackend]:
        """The backend behind ``bck``, or None (ais buckets, namespaced buckets)."""
        if bck.provider == "ais" or bck.has_namespace:
            return None
        return self._backends.get(bck.provider)

    def _call(self, bck: BucketId, fn, *args, name: str = ""):
        try:
            return fn(*args)
        except NoSuchRemoteBucket:
            raise BucketNotFound(bck) from None
        except NoSuchRemoteObject:
            raise ObjectNotFound(bck, name) from None
        except RemoteBackendError as e:
            e.bucket = bck
            raise

    def _ensure(self, bck: BucketId) -> Optional[RemoteBackend]:
        """The bucket's backend, after adding the bucket to the cluster if the backend has
        it (BucketNotFound if not); None when no backend serves the bucket."""
        be = self.backend(bck)
        if be is None or bck in self._buckets:
            return be
        if not self._call(bck, be.bucket_exists, bck.name):
            raise BucketNotFound(bck)
        with self._writing(), self._lock:
            if bck not in self._buckets:
                super().create_bucket(bck)
        return be

    # -- buckets --------------------------------------------------------------------

    def bucket(self, bck: BucketId):
        found = self._buckets.get(bck)
        if found is None and self.backend(bck) is not None:
            self._ensure(bck)
        return super().bucket(bck)

    def create_bucket(self, bck: BucketId):
        """Seeding: with a backend, the remote bucket is created too when it is missing."""
        be = self.backend(bck)
        if be is not None and not self._call(bck, be.bucket_exists, bck.name):
            self._call(bck, be.create_bucket, bck.name)
        return super().create_bucket(bck)

    def list_buckets(self, provider: Optional[str] = None, namespace=None,
                     remote: bool = False) -> list[BucketId]:
        """The cluster's buckets; with ``remote``, also every bucket of the attached
        backends (of ``provider``, or all) that has not joined the cluster yet."""
        found = super().list_buckets(provider, namespace)
        if not remote or (namespace is not None and tuple(namespace) != ("", "")):
            return found
        extra = set()
        for prov, be in self.backends.items():
            if provider in (None, prov):
                bck = BucketId(prov, "")
                extra.update(BucketId(prov, name) for name in
                             self._call(bck, be.list_buckets))
        if not extra:
            return found
        return sorted(set(found) | extra, key=lambda b: (b.provider, b.namespace_str, b.name))

    def evict_bucket(self, bck: BucketId, keep_md: bool = False) -> tuple[int, int]:
        """Drop every cached object (and, unless ``keep_md``, the bucket's membership in
        the cluster); returns (objects, bytes) evicted."""
        with self._writing(), self._lock:
            bucket = self._buckets.get(bck)
            if bucket is None:
                if self.backend(bck) is None:
                    raise BucketNotFound(bck)
                gone = (0, 0)
            else:
                gone = (len(bucket.objects), sum(r.size for r in bucket.objects.values()))
                self._drop_all(bucket)
        if bucket is None:
            self._ensure(bck)  # BucketNotFound when the backend lacks it too
            if keep_md:
                return gone
        if not keep_md:
            self.destroy_bucket(bck)
        return gone

    def object_names(self, bck: BucketId, prefix: str = "") -> list[str]:
        """Sorted names under ``prefix``: for a backed bucket, remote and cached ones."""
        be = self._ensure(bck)
        cached = super().object_names(bck, prefix)
        if be is None:
            return cached
        names, token = set(cached), ""
        while True:
            page = self._call(bck, be.list_page, bck.name, prefix, token, be.max_page_size)
            names.update(o.name for o in page.objects)
            token = page.token
            if not token:
                return sorted(names)

    def list_objects(self, bck: BucketId, query: ListQuery) -> ListPage:
        be = self._ensure(bck)
        if be is None or query.cached_only or query.arch_dir:
            return super().list_objects(bck, query)
        if query.start_after:
            raise InvalidRequest(f"list-objects option --start_after ({query.start_after}) "
                                 f"not yet supported for remote buckets ({bck})")
        limit = be.max_page_size
        size = query.page_size if 0 < query.page_size <= limit else limit
        delimiter = "/" if query.no_recursion else ""
        token = query.token
        while True:
            page = self._call(bck, be.list_page, bck.name, query.prefix, token, size, delimiter)
            entries = self._merge(bck, be, page, query)
            if entries or not page.token:
                return ListPage(entries, page.token)
            token = page.token

    def _merge(self, bck: BucketId, be: RemoteBackend, page, query: ListQuery) -> list:
        with self._lock:
            cached = self.bucket(bck).objects
            pairs = [(obj, cached.get(obj.name)) for obj in page.objects]
        out = []
        for obj, rec in pairs:
            if rec is None:
                out.append(ListEntry(obj.name, obj.size, RemoteRecord.from_listing(be.provider, obj)))
            elif not query.not_cached:
                out.append(ListEntry(obj.name, rec.size, rec))
        if not query.no_dirs:
            out.extend(ListEntry(d, is_dir=True) for d in page.dirs)
        out.sort(key=lambda e: e.name)
        return out

    # -- objects --------------------------------------------------------------------

    def _cache(self, bck: BucketId, name: str, data: bytes, provider: str, obj: RemoteObject,
               digest: str = "", custom: Optional[dict] = None, chunks=None) -> ObjectRecord:
        now = time.time_ns()
        own = {k: v for k, v in (custom or {}).items() if k not in _REMOTE_KEYS}
        md = {**own, **remote_custom(provider, obj)}
        body, computed = self._ingest(bck, name, data)
        try:
            with self._writing(), self._lock:
                bucket = self.bucket(bck)
                bucket.check_path(name)
                rec = ObjectRecord(name, body, obj.version, digest or computed, now,
                                   obj.mtime_ns or now, md, chunks)
                self._commit(bucket, rec, bucket.objects.get(name))
                return rec
        except BaseException:
            self._discard(body)
            raise

    def _cached(self, bck: BucketId, name: str) -> Optional[ObjectRecord]:
        with self._lock:
            return self.bucket(bck).objects.get(name)

    def fetch(self, bck: BucketId, name: str, latest: bool = False) -> tuple[ObjectRecord, bool]:
        """Prefetch one object: (record, whether it was read from the backend). With
        ``latest`` a cached copy whose ETag or version differs from the backend's is
        read again."""
        be = self._ensure(bck)
        name = object_name(name)
        rec = self._cached(bck, name)
        if be is None:
            if rec is None:
                raise ObjectNotFound(bck, name)
            return rec, False
        if rec is not None and latest:
            obj = self._call(bck, be.head, bck.name, name, name=name)
            if (obj.etag, obj.version) != (rec.custom.get("ETag", ""), rec.version):
                rec = None
        if rec is not None:
            return rec, False
        obj, data = self._call(bck, be.get, bck.name, name, name=name)
        return self._cache(bck, name, data, be.provider, obj), True

    def evict_object(self, bck: BucketId, name: str) -> Optional[int]:
        """Drop the cached copy of ``name``; its size, or None when it was not cached."""
        name = object_name(name)
        with self._writing(), self._lock:
            bucket = self.bucket(bck)
            rec = bucket.objects.get(name)
            if rec is None:
                return None
            self._drop(bucket, rec)
            return rec.size

    def remote_bytes(self, bck: BucketId, name: str) -> bytes:
        """The object's bytes as the backend has them (nothing is cached)."""
        be = self._ensure(bck)
        if be is None:
            return super().head_object(bck, name).data
        return self._call(bck, be.get, bck.name, object_name(name), name=name)[1]

    def get_object(self, bck: BucketId, name: str) -> ObjectRecord:
        be = self._ensure(bck)
        if be is not None and self._cached(bck, object_name(name)) is None:
            self.fetch(bck, name)
        return super().get_object(bck, name)

    def head_object(self, bck: BucketId, name: str) -> ObjectRecord:
        be = self._ensure(bck)
        if be is None:
            return super().head_object(bck, name)
        name = object_name(name)
        rec = self._cached(bck, name)
        if rec is not None:
            return rec
        obj = self._call(bck, be.head, bck.name, name, name=name)
        return RemoteRecord.from_head(be.provider, obj)

    def put_object(self, bck: BucketId, name: str, data, custom: Optional[dict] = None,
                   chunks=None) -> ObjectRecord:
        be = self._ensure(bck)
        if be is None:
            return super().put_object(bck, name, data, custom=custom, chunks=chunks)
        name = object_name(name)
        data = self._collect(bck, name, data)  # the backend takes bytes
        digest = checksum(data)
        with self._lock:
            self.bucket(bck).check_path(name)  # refuse before writing through
        md = {CKSUM_TYPE_MD: CHECKSUM_TYPE, CKSUM_VALUE_MD: digest}
        obj = self._call(bck, be.put, bck.name, name, data, md, name=name)
        return self._cache(bck, name, data, be.provider, obj, digest, custom, chunks)

    def delete_object(self, bck: BucketId, name: str) -> None:
        be = self._ensure(bck)
        if be is None:
            return super().delete_object(bck, name)
        name = object_name(name)
        if self._cached(bck, name) is None:
            self._call(bck, be.head, bck.name, name, name=name)  # ObjectNotFound if missing
        self._call(bck, be.delete, bck.name, name, name=name)
        self.evict_object(bck, name)

    def set_custom(self, bck: BucketId, name: str, md: dict, replace: bool = False) -> ObjectRecord:
        self._ensure(bck)
        return super().set_custom(bck, name, md, replace)

    def copy_object(self, src: BucketId, name: str, dst: BucketId, dst_name: str,
                    transform=None) -> ObjectRecord:
        """A remote source is cold-read first; a remote destination is written through."""
        if self.backend(src) is not None:
            self.fetch(src, name)
        if self._ensure(dst) is None:
            return super().copy_object(src, name, dst, dst_name, transform)
        rec = super().head_object(src, name)
        data = rec.data if transform is None else bytes(transform(rec))
        return self.put_object(dst, dst_name, data, custom=rec.custom)

    def rename_object(self, bck: BucketId, name: str, new_name: str) -> ObjectRecord:
        """Deviation: objects of a bucket served from a backend cannot be renamed."""
        if self._ensure(bck) is not None:
            raise InvalidRequest(f"cannot rename {bck}/{name}: renaming objects of a remote "
                                 "bucket is not supported by the emulator")
        return super().rename_object(bck, name, new_name)

    def update_object(self, bck: BucketId, name: str, build, attempts: int = 16) -> ObjectRecord:
        """A backed remote bucket: the object is read (cold if need be), rebuilt and
        written through; there the update is not atomic against concurrent writers."""
        if self._ensure(bck) is None:
            return super().update_object(bck, name, build, attempts)
        try:
            current = self.get_object(bck, name)
        except ObjectNotFound:
            current = None
        return self.put_object(bck, name, build(current))
