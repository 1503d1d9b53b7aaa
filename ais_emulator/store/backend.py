"""The remote-backend protocol: what the store asks of a cloud provider (no HTTP here).

A remote bucket (provider ``aws``, ...) in AIS is a cache of a bucket that lives in a cloud
backend. The store calls a ``RemoteBackend`` for those buckets; adapters implement it
(``ais_emulator.remote.S3Backend`` over boto3). The protocol speaks plain names and
values, and raises ``NoSuchRemoteBucket`` / ``NoSuchRemoteObject`` / ``RemoteBackendError``.

    class Backend:                       # duck-typed; see RemoteBackend
        provider, max_page_size = "aws", 1000
        def bucket_exists(self, bucket): ...
        ...
    store.attach_backend(Backend())

This module also builds what the store keeps or reports for remote objects: the custom
metadata of a cold-GET (``remote_custom``) and ``RemoteRecord``, the attributes of an object
that exists remotely but is not cached (``present`` is False, no bytes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from ais_emulator.store.errors import StoreError
from ais_emulator.store.objects import ObjectRecord

# S3 user-metadata keys under which AIS stores its own checksum when it writes through
CKSUM_TYPE_MD = "ais-cksum-type"
CKSUM_VALUE_MD = "ais-cksum-val"


@dataclass(frozen=True)
class RemoteObject:
    """One object as the backend reports it. ``etag`` is unquoted; ``version`` is the
    backend's version ID ("" when the bucket is not versioned); ``mtime_ns`` is 0 when
    unknown; ``metadata`` is the backend's user metadata (HEAD and GET only)."""

    name: str
    size: int
    etag: str = ""
    mtime_ns: int = 0
    version: str = ""
    content_type: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass
class RemotePage:
    """One listing page: objects in name order, "directories" (common prefixes, each
    ending in ``/``) when a delimiter was asked for, and the opaque next-page token
    ("" on the last page)."""

    objects: list = field(default_factory=list)
    dirs: list = field(default_factory=list)
    token: str = ""


class NoSuchRemoteBucket(Exception):
    """The bucket does not exist in the backend."""


class NoSuchRemoteObject(Exception):
    """The object does not exist in the backend."""


class RemoteBackendError(StoreError):
    """The backend failed (or refused) a call. ``code`` is the backend's error code,
    ``remote_status`` the status the backend itself answered with (0 when none)."""

    def __init__(self, bucket, message: str, code: str = "", remote_status: int = 0):
        super().__init__(message, bucket=bucket, code=code, remote_status=remote_status)


class RemoteBackend(Protocol):
    """What the store calls for the buckets of ``provider``."""

    provider: str        # normalised AIS provider: "aws", "gcp", ...
    max_page_size: int   # the provider's listing page limit (aws: 1000)

    def list_buckets(self) -> list[str]: ...

    def bucket_exists(self, bucket: str) -> bool: ...

    def create_bucket(self, bucket: str) -> None: ...

    def list_page(self, bucket: str, prefix: str, token: str, page_size: int,
                  delimiter: str = "") -> RemotePage: ...

    def head(self, bucket: str, name: str) -> RemoteObject: ...

    def get(self, bucket: str, name: str) -> tuple[RemoteObject, bytes]: ...

    def put(self, bucket: str, name: str, data: bytes, metadata: dict) -> RemoteObject: ...

    def delete(self, bucket: str, name: str) -> None: ...


def is_multipart_etag(etag: str) -> bool:
    """S3 multipart ETags (``<md5>-<parts>``) are not an MD5 of the content."""
    return "-" in etag


def rfc3339(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns / 1e9))


def remote_custom(provider: str, obj: RemoteObject) -> dict:
    """The custom metadata AIS keeps for an object that came from (or went to) a backend:
    ``source``, ``ETag``, ``md5`` (single-part ETags only), ``LastModified`` (RFC 3339) and
    ``version`` (versioned buckets only)."""
    md = {"source": provider}
    if obj.etag:
        md["ETag"] = obj.etag
        if not is_multipart_etag(obj.etag):
            md["md5"] = obj.etag
    if obj.mtime_ns:
        md["LastModified"] = rfc3339(obj.mtime_ns)
    if obj.version:
        md["version"] = obj.version
    return md


class RemoteRecord(ObjectRecord):
    """Attributes of a remote object that is not in the cluster: size, version and
    LastModified from the backend, no bytes, no access time, ``present`` False. The
    checksum is the MD5 from a single-part ETag (a listing), or the AIS checksum the
    object was written through with (a HEAD), as AIS reports them."""

    __slots__ = ("_size",)
    present = False

    def __init__(self, name: str, size: int, version: str, cksum_type: str, cksum_value: str,
                 mtime_ns: int, custom: dict):
        super().__init__(name, b"", version, cksum_value, 0, mtime_ns, custom,
                         cksum_type=cksum_type)
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    @classmethod
    def from_listing(cls, provider: str, obj: RemoteObject) -> RemoteRecord:
        md5 = obj.etag if obj.etag and not is_multipart_etag(obj.etag) else ""
        custom = {k: v for k, v in remote_custom(provider, obj).items()
                  if k in ("ETag", "LastModified")}
        return cls(obj.name, obj.size, obj.version, "md5" if md5 else "", md5,
                   obj.mtime_ns, custom)

    @classmethod
    def from_head(cls, provider: str, obj: RemoteObject) -> RemoteRecord:
        ctype, cval = obj.metadata.get(CKSUM_TYPE_MD, ""), obj.metadata.get(CKSUM_VALUE_MD, "")
        if not (ctype and cval):
            ctype = cval = ""
        custom = remote_custom(provider, obj)
        if obj.content_type:
            custom["Content-Type"] = obj.content_type
        return cls(obj.name, obj.size, obj.version, ctype, cval, obj.mtime_ns, custom)
