"""Store errors: one small class per AIS condition, raised as values by the store.

The store knows no HTTP. `ais_emulator.api.errors` is the one place that turns these into
AIS error bodies and status codes. Each class carries the structured facts the wording
needs (bucket, object name, ...), never a status code.

    try:
        store.get_object(bck, "missing")
    except ObjectNotFound as err:
        err.bucket, err.name
"""

from __future__ import annotations

from typing import Any


class StoreError(Exception):
    """Base of every error the emulator raises as an AIS condition."""

    def __init__(self, message: str = "", **facts: Any):
        super().__init__(message or self.__class__.__name__)
        self.message = message or self.__class__.__name__
        for key, value in facts.items():
            setattr(self, key, value)


class InvalidRequest(StoreError):
    """A malformed or contradictory request (AIS answers 400)."""


class InvalidBucketName(InvalidRequest):
    """The bucket name breaks AIS's naming rule; ``reason`` is worded as AIS words it."""

    def __init__(self, name: str, reason: str):
        super().__init__(reason, name=name, reason=reason)


class InvalidProvider(InvalidRequest):
    def __init__(self, provider: str):
        super().__init__(f"invalid bucket provider {provider!r}", provider=provider)


class InvalidObjectName(InvalidRequest):
    def __init__(self, name: str, reason: str = ""):
        msg = f'invalid object name "{name}"' + (f" ({reason})" if reason else "")
        super().__init__(msg, name=name, reason=reason)


class ObjectPathConflict(InvalidRequest):
    """Objects are files in AIS: "a" blocks "a/b", and "d/e" blocks "d"."""

    def __init__(self, bucket, name: str, reason: str):
        super().__init__(f"{bucket}/{name}: {reason}", bucket=bucket, name=name, reason=reason)


class BucketNotFound(StoreError):
    def __init__(self, bucket):
        super().__init__(f"bucket {bucket} does not exist", bucket=bucket)


class BucketAlreadyExists(StoreError):
    def __init__(self, bucket):
        super().__init__(f"bucket {bucket} already exists", bucket=bucket)


class ObjectNotFound(StoreError):
    def __init__(self, bucket, name: str):
        super().__init__(f"{bucket}/{name} does not exist", bucket=bucket, name=name)


class ObjectBusy(StoreError):
    """An object changed under a read-modify-write too many times in a row."""

    def __init__(self, bucket, name: str):
        super().__init__(f"{bucket}/{name} is busy: it kept changing during the update",
                         bucket=bucket, name=name)


class RangeNotSatisfiable(StoreError):
    """No requested byte range overlaps the data (``ranges``: each as the request spelled
    it); worded as Go's ``cos.ErrRangeNotSatisfiable``."""

    def __init__(self, size: int, ranges=()):
        ranges = tuple(ranges)
        plural = "s" if len(ranges) > 1 else ""
        msg = f"size={size}: not satisfiable range{plural} [{' '.join(ranges)}]"
        super().__init__(msg, size=size, ranges=ranges)


class ArchiveMemberNotFound(StoreError):
    """No member of a shard matches the archpath (or the archregx pattern)."""

    def __init__(self, bucket, name: str, archpath: str):
        super().__init__(f"{archpath} in {bucket}/{name} does not exist",
                         bucket=bucket, name=name, archpath=archpath)


class ArchiveUnreadable(StoreError):
    """The object is not an archive of a supported format (``fmt`` None), or is corrupt.
    ``query`` is what was asked of it: ``(archpath=x)`` or ``(archregx=x, archmode=m)``."""

    def __init__(self, bucket, name: str, reason: str, fmt=None, query: str = ""):
        super().__init__(f"{bucket}/{name}: {reason}", bucket=bucket, name=name, reason=reason,
                         fmt=fmt, query=query)


class UploadNotFound(StoreError):
    """Unknown multipart upload ID (never created, completed or aborted)."""

    def __init__(self, bucket, name: str, upload_id: str):
        super().__init__(f"upload {upload_id!r} of {bucket}/{name} does not exist",
                         bucket=bucket, name=name, upload_id=upload_id)


class InvalidPart(InvalidRequest):
    """Multipart part number or completion list rejected as AIS rejects it."""


class InvalidAppendHandle(InvalidRequest):
    """Append/flush with a handle this object does not know (or a stale one)."""


class ObjectTooLarge(StoreError):
    """An object's bytes exceed the store's ``max_object_size`` (objects live in memory)."""

    def __init__(self, bucket, name: str, size, limit: int):
        super().__init__(f"{bucket}/{name}: object too large: {size} bytes exceeds the "
                         f"emulator's max object size {limit} bytes (--max-object-size)",
                         bucket=bucket, name=name, size=size, limit=limit)
