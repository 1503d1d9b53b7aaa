"""AIS-native multipart uploads: sessions, parts and AIS's completion rules.

Mirrors the target's rules (ais/tgtmpt.go): a part number must parse as a positive
integer; an empty part is rejected; re-uploading a part number replaces it; completion
must name every uploaded part exactly once and the uploaded numbers must be exactly
1..N (any order in the request). The object appears only at completion.

    up = uploads.create(bck, "big.bin")
    uploads.put_part(bck, "big.bin", up, 1, b"...")
    parts = uploads.take(bck, "big.bin", up, [1])   # validated, in part order

As in AIS (v1.5.0, checked): completing an upload with no parts is a 400 ``no chunks``.

Deviation: part numbers 0, negative or above 9999 are a 400 (AIS's chunk manifest
rejects them with a 500, which the SDK would retry for about 90 s).
"""

from __future__ import annotations

import threading
import time
import uuid as uuidlib
from dataclasses import dataclass, field

from ais_emulator.store.errors import InvalidPart, UploadNotFound

MAX_PART_NUMBER = 9999  # core.MaxChunkCount


def parse_part_number(text) -> int:
    """AIS's parsePartNum (a base-10 integer >= 1), capped at AIS's 9999 chunks."""
    try:
        n = int(str(text), 10)
    except ValueError:
        raise InvalidPart(f"invalid part number {str(text)!r}") from None
    if n < 1:
        raise InvalidPart(f"part number must be a positive integer, got: {n}")
    if n > MAX_PART_NUMBER:
        raise InvalidPart(f"part number ({n}) exceeds the maximum allowed ({MAX_PART_NUMBER})")
    return n


def completion_order(up, requested) -> list[int]:
    """AIS's completion rules for ``requested`` part numbers against the upload's parts;
    the part numbers in order (InvalidPart naming the first rule broken)."""
    count = len(up.parts)
    if count == 0:
        raise InvalidPart("no chunks")  # AIS's wording (the SDK's tests match it)
    if requested is None:
        raise InvalidPart("nil parts list")
    if len(requested) != count:
        raise InvalidPart(
            f"partial completion is not allowed: requested {len(requested)} parts, "
            f"have {count}"
        )
    ordered = sorted(requested)
    for i, got in enumerate(ordered):
        if got != i + 1:
            raise InvalidPart(f"parts must be exactly 1..{count}: got {got} at position {i}")
    missing = [n for n in ordered if n not in up.parts]
    if missing:
        raise InvalidPart(f"part {missing[0]} was never uploaded")
    return ordered


@dataclass
class Upload:
    bucket: object
    name: str
    id: str
    parts: dict = field(default_factory=dict)  # part number -> bytes
    created_ns: int = field(default_factory=time.time_ns)


class Uploads:
    """All open multipart uploads of one store (own lock; short critical sections)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_id: dict[str, Upload] = {}

    def create(self, bucket, name: str) -> str:
        upload_id = uuidlib.uuid4().hex
        with self._lock:
            self._by_id[upload_id] = Upload(bucket, name, upload_id)
        return upload_id

    def _get(self, bucket, name: str, upload_id: str) -> Upload:
        up = self._by_id.get(upload_id)
        if up is None or up.bucket != bucket or up.name != name:
            raise UploadNotFound(bucket, name, upload_id)
        return up

    def put_part(self, bucket, name: str, upload_id: str, number: int, data: bytes) -> None:
        if not data:
            raise InvalidPart(f"{bucket}/{name}: put-part invalid size (0)")
        with self._lock:
            self._get(bucket, name, upload_id).parts[number] = data

    def take(self, bucket, name: str, upload_id: str, requested) -> list[bytes]:
        """Validate a completion list and close the upload; returns parts in order."""
        with self._lock:
            up = self._get(bucket, name, upload_id)
            ordered = completion_order(up, requested)
            del self._by_id[upload_id]
            return [up.parts[n] for n in ordered]

    def get(self, bucket, name: str, upload_id: str) -> Upload:
        """A snapshot of one open upload (its parts as they are now)."""
        with self._lock:
            up = self._get(bucket, name, upload_id)
            return Upload(up.bucket, up.name, up.id, dict(up.parts), up.created_ns)

    def list(self, bucket) -> list:
        """Snapshots of the bucket's open uploads, by object name then start time."""
        with self._lock:
            ups = [Upload(u.bucket, u.name, u.id, dict(u.parts), u.created_ns)
                   for u in self._by_id.values() if u.bucket == bucket]
        return sorted(ups, key=lambda u: (u.name, u.created_ns))

    def abort(self, bucket, name: str, upload_id: str) -> None:
        with self._lock:
            self._get(bucket, name, upload_id)
            del self._by_id[upload_id]

    def drop_bucket(self, bucket) -> None:
        with self._lock:
            for key in [k for k, u in self._by_id.items() if u.bucket == bucket]:
                del self._by_id[key]

    def clear(self) -> None:
        with self._lock:
            self._by_id.clear()
