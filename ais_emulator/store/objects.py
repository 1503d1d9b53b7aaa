"""Object records: immutable bytes plus the metadata AIS keeps per object.

A record never changes after it is stored; an overwrite, PATCH or GET (atime) replaces it
with a new record sharing the same ``body``. Readers therefore stream ``memoryview``
slices of it without copying and without holding any lock.

The body is ``bytes`` in the in-memory store, or a file-backed blob in the durable store
(``store.blobs.Blob``: ``size``, ``view()``, ``iter_range()``). ``record.data`` is
bytes-like in both cases (a read-only ``memoryview`` of a mapped blob); the data path uses
``iter_data`` and ``head``, which read a blob in chunks and never map or hold it whole.

Checksums are what a default AIS bucket computes: type ``xxhash2``, which is the cespare
xxhash/v2 digest (XXH64, seed 0) written as 16 big-endian hex digits.

    rec = new_record("a.bin", b"payload", version="1")
    rec.cksum_value == xxhash.xxh64(b"payload").hexdigest()
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import time
from collections.abc import Iterator
from typing import Optional

import xxhash

from ais_emulator.limits import MAX_OBJECT_NAME
from ais_emulator.store.errors import InvalidObjectName

CHECKSUM_TYPE = "xxhash2"
CHUNK = 1 << 20  # 1 MiB slices when streaming


def object_name(name: str) -> str:
    """AIS's object-name rule, and the name the object is stored under.

    Rejected (Go ``cos.ValidateOname``): empty, a trailing ``/``, ``../`` or ``~/``
    anywhere, and NUL. An object is a file under the bucket's directory, so its path is
    cleaned: ``x//y`` and ``./x/y`` name ``x/y``, and a leading ``/`` is dropped.
    Deviation: a name longer than ``MAX_OBJECT_NAME`` UTF-8 bytes is refused (AIS takes
    names up to its 1 MiB header limit); names are echoed in reply headers.
    """
    if not name or name.endswith("/") or "../" in name or "~/" in name or "\x00" in name:
        raise InvalidObjectName(name)
    if len(name) > MAX_OBJECT_NAME // 4 and len(name.encode("utf-8", "surrogatepass")) > MAX_OBJECT_NAME:
        raise InvalidObjectName(name[:64] + "...", f"longer than {MAX_OBJECT_NAME} bytes")
    if "//" in name or "." in name or name[0] == "/":
        clean = posixpath.normpath("/" + name).lstrip("/")
        if not clean or clean == ".":
            raise InvalidObjectName(name)
        return clean
    return name


class TooLarge(Exception):
    """Raised by ``collect`` when data exceeds its limit (``size``: what was seen)."""

    def __init__(self, size):
        super().__init__(size)
        self.size = size


def collect(data, limit: int) -> bytes:
    """``data`` (bytes-like, or an iterable of bytes-like chunks) as one ``bytes`` object,
    held once: chunks are written into one growing buffer whose bytes become the result
    without a copy. A known length (``len()``, or a stream's ``length``) over ``limit``
    is refused before any chunk is read; otherwise reading stops past the limit."""
    if isinstance(data, bytes):
        if len(data) > limit:
            raise TooLarge(len(data))
        return data
    if isinstance(data, (bytearray, memoryview)):
        if len(data) > limit:
            raise TooLarge(len(data))
        return bytes(data)
    declared = getattr(data, "length", None)
    if declared is not None and declared > limit:
        raise TooLarge(declared)
    if declared and callable(getattr(data, "readinto", None)):
        return _read_exactly(data, declared)
    buf = io.BytesIO()
    for chunk in data:
        buf.write(chunk)
        if buf.tell() > limit:
            raise TooLarge(f"more than {buf.tell()}")
    return buf.getvalue()


def _read_exactly(stream, size: int) -> bytes:
    """``size`` bytes from ``stream.readinto`` straight into the buffer that becomes the
    result (``BytesIO.getvalue`` hands over its buffer when no view is left)."""
    buf = io.BytesIO()
    buf.seek(size - 1)
    buf.write(b"\0")
    got = 0
    with buf.getbuffer() as view:
        while got < size:
            with view[got:] as rest:
                n = stream.readinto(rest)
            if not n:  # a stream that ends early (the server's raise BodyReadError first)
                raise ValueError(f"object data ended after {got} of {size} bytes")
            got += n
    return buf.getvalue()


def checksum(data) -> str:
    """AIS xxhash2 of ``data`` (bytes-like): XXH64 with seed 0, big-endian hex."""
    return xxhash.xxh64(data).hexdigest()


def checksum_of(kind: str, data) -> str:
    """Hex digest of ``data`` for an AIS checksum type (``xxhash`` and ``xxhash2`` are
    both XXH64 seed 0 in Go); raises ValueError for an unknown type."""
    if kind in ("xxhash2", "xxhash"):
        return checksum(data)
    if kind == "md5":
        return hashlib.md5(data).hexdigest()
    if kind == "sha256":
        return hashlib.sha256(data).hexdigest()
    if kind == "sha512":
        return hashlib.sha512(data).hexdigest()
    if kind == "crc32c":
        raise ValueError("checksum type crc32c is not supported by the emulator")
    raise ValueError(f"invalid checksum type {kind!r}")


class ObjectRecord:
    """One stored object version. Treat every field as read-only."""

    __slots__ = ("name", "body", "version", "cksum_type", "cksum_value", "atime_ns",
                 "mtime_ns", "custom", "chunks", "_members")
    present = True  # the bytes are in the cluster (see store.backend.RemoteRecord)

    def __init__(self, name: str, data, version: str, cksum_value: str,
                 atime_ns: int, mtime_ns: int, custom: Optional[dict] = None,
                 chunks: Optional[tuple[int, int]] = None, cksum_type: str = CHECKSUM_TYPE):
        self.name = name
        self.body = data  # bytes, or a file-backed blob (see the module docstring)
        self.version = version
        self.cksum_type = cksum_type
        self.cksum_value = cksum_value
        self.atime_ns = atime_ns
        self.mtime_ns = mtime_ns
        self.custom = dict(custom or {})
        self.chunks = chunks  # (count, max chunk size) for multipart-completed objects
        self._members = None  # lazily listed archive members (cache, same data)

    @property
    def in_memory(self) -> bool:
        """True when the body is bytes (the in-memory store)."""
        return isinstance(self.body, (bytes, bytearray, memoryview))

    @property
    def data(self):
        """The whole content, bytes-like: the bytes, or a read-only map of the blob."""
        body = self.body
        return body if isinstance(body, (bytes, bytearray, memoryview)) else body.view()

    @property
    def size(self) -> int:
        body = self.body
        return len(body) if isinstance(body, (bytes, bytearray, memoryview)) else body.size

    def iter_data(self, start: int = 0, stop: Optional[int] = None,
                  chunk: int = CHUNK) -> Iterator:
        """``data[start:stop]`` as bytes-like chunks of at most ``chunk`` bytes (zero-copy
        slices in memory, reads of the open file for a blob)."""
        body = self.body
        if isinstance(body, (bytes, bytearray, memoryview)):
            return iter_slices(body, start, stop, chunk)
        return body.iter_range(start, body.size if stop is None else stop, chunk)

    def head(self, n: int = 512) -> bytes:
        """The first ``n`` bytes (format sniffing)."""
        body = self.body
        if isinstance(body, (bytes, bytearray, memoryview)):
            return bytes(body[:n])
        return body.read(0, n)

    def content(self):
        """What ``Store.put_object`` takes most cheaply to store a copy: the bytes
        themselves, or the blob's chunks."""
        return self.body if self.in_memory else self.iter_data()

    def evolve(self, **changes) -> ObjectRecord:
        """A copy with some fields replaced (same body, archive-member cache kept)."""
        fields = {k: getattr(self, k) for k in ("name", "version", "cksum_value",
                                                 "atime_ns", "mtime_ns", "custom", "chunks",
                                                 "cksum_type")}
        fields["data"] = self.body
        fields.update(changes)
        rec = ObjectRecord(**fields)
        if rec.body is self.body:
            rec._members = self._members
        return rec

    def __repr__(self) -> str:
        return f"ObjectRecord({self.name!r}, size={self.size}, version={self.version!r})"


def new_record(name: str, data, version: str, custom: Optional[dict] = None,
               cksum: Optional[str] = None, chunks=None) -> ObjectRecord:
    now = time.time_ns()
    return ObjectRecord(name, data, version, cksum if cksum is not None else checksum(data),
                        now, now, custom, chunks)


def next_version(previous: Optional[ObjectRecord]) -> str:
    """AIS versioning of ais buckets: "1" for a new object, then +1 per overwrite."""
    if previous is None:
        return "1"
    try:
        return str(int(previous.version) + 1)
    except ValueError:
        return "1"


def as_bytes(data) -> bytes:
    """``data`` as bytes: a bytes-like object, or an iterable of bytes-like chunks (a
    streamed request body) joined."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    return b"".join(data)


def iter_slices(data, start: int = 0, stop: Optional[int] = None,
                chunk: int = CHUNK) -> Iterator[memoryview]:
    """Zero-copy ``memoryview`` slices of ``data[start:stop]``, ``chunk`` bytes each."""
    view = memoryview(data)
    stop = len(view) if stop is None else stop
    for off in range(start, stop, chunk):
        yield view[off:min(off + chunk, stop)]
