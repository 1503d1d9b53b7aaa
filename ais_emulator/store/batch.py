"""GetBatch item resolution: every requested item to bytes, or a soft error, in order.

Everything is resolved before the caller streams a byte, so a hard failure (unknown
bucket, a bad range, or a missing item without continue-on-error) is raised up front.

Item rules (AIS ``apc.MossIn``): ``start``/``length`` select a byte range of the object,
or of the archived file when ``archpath`` is set; ``length == 0`` with ``start == 0`` is
the whole thing, ``length == -1`` reads to the end, and a range must lie inside the data.

    results = resolve_batch(store, [BatchItem(bck, "a.txt")], continue_on_error=True)
    results[0].size, b"".join(results[0].chunks())

An object's bytes (whole or a range) are not read here: the result keeps the record and
streams them in ``chunks()`` (from the file, with a data dir). Archived files are read
into memory when resolved.

Deviations: an unknown bucket is always a hard error, also with continue-on-error; AIS's
soft-error limit (``get_batch.max_soft_errs``) is not enforced.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Optional

from ais_emulator.store.errors import (
    ArchiveMemberNotFound,
    ArchiveUnreadable,
    InvalidRequest,
    ObjectNotFound,
    RangeNotSatisfiable,
)
from ais_emulator.store.objects import ObjectRecord, iter_slices
from ais_emulator.store.reading import read_archived


@dataclass
class BatchItem:
    bucket: object  # BucketId
    name: str
    archpath: str = ""
    start: int = 0
    length: int = 0
    opaque: Optional[str] = None


@dataclass
class BatchResult:
    item: BatchItem
    data: object = None  # an archived file's bytes, or the ObjectRecord; None when missing
    error: str = ""
    start: int = 0
    stop: int = 0

    @property
    def missing(self) -> bool:
        return self.data is None

    @property
    def size(self) -> int:
        return self.stop - self.start

    def chunks(self) -> Iterator:
        """The item's bytes, in chunks (a record's are read as they are consumed)."""
        if isinstance(self.data, ObjectRecord):
            return self.data.iter_data(self.start, self.stop)
        return iter_slices(self.data, self.start, self.stop)


def _span(size: int, item: BatchItem) -> tuple[int, int]:
    start, length = item.start or 0, item.length or 0
    if start < 0 or length < -1:
        raise InvalidRequest(f"invalid byte range: start={start}, length={length}")
    if start == 0 and length in (0, -1):
        return 0, size
    if length == 0:
        raise InvalidRequest(f"invalid byte range: start={start} requires a length")
    stop = size if length == -1 else start + length
    if start >= size or stop > size:
        raise RangeNotSatisfiable(size, [f"start={start},length={length}"])
    return start, stop


def resolve_item(store, item: BatchItem, continue_on_error: bool) -> BatchResult:
    store.bucket(item.bucket)  # unknown bucket: always hard
    try:
        rec = store.get_object(item.bucket, item.name)
        data = read_archived(item.bucket, rec, item.archpath) if item.archpath else rec
    except (ObjectNotFound, ArchiveMemberNotFound, ArchiveUnreadable) as e:
        if not continue_on_error:
            raise
        return BatchResult(item, None, e.message)
    size = rec.size if data is rec else len(data)
    return BatchResult(item, data, "", *_span(size, item))


def resolve_batch(store, items: list, continue_on_error: bool) -> list:
    return [resolve_item(store, item, continue_on_error) for item in items]
