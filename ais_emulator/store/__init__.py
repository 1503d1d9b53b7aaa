"""In-memory AIS store (no HTTP): buckets, objects, listing, archives, GetBatch items."""

from ais_emulator.store.buckets import BucketId, parse_uname, validate_bucket_name
from ais_emulator.store.errors import (
    ArchiveMemberNotFound,
    ArchiveUnreadable,
    BucketAlreadyExists,
    BucketNotFound,
    InvalidAppendHandle,
    InvalidBucketName,
    InvalidObjectName,
    InvalidPart,
    InvalidProvider,
    InvalidRequest,
    ObjectBusy,
    ObjectNotFound,
    ObjectPathConflict,
    ObjectTooLarge,
    RangeNotSatisfiable,
    StoreError,
    UploadNotFound,
)
from ais_emulator.store.listing import ListEntry, ListPage, ListQuery
from ais_emulator.store.objects import ObjectRecord
from ais_emulator.store.store import Store

__all__ = [
    "ArchiveMemberNotFound", "ArchiveUnreadable", "BucketAlreadyExists", "BucketId",
    "BucketNotFound", "InvalidAppendHandle", "InvalidBucketName", "InvalidObjectName",
    "InvalidPart", "InvalidProvider", "InvalidRequest", "ListEntry", "ListPage", "ListQuery",
    "ObjectBusy", "ObjectNotFound", "ObjectPathConflict", "ObjectRecord", "ObjectTooLarge",
    "RangeNotSatisfiable", "Store", "StoreError",
    "UploadNotFound", "parse_uname", "validate_bucket_name",
]
