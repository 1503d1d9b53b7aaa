"""Object bytes in files: immutable blobs, written crash-safely and read in chunks.

A blob is one object version (or one multipart part) in a file of its own under
``<data dir>/objects/<2 hex>/<32 hex>``, never modified after it is written:

* Writing (``BlobFiles.write``) streams the data into ``tmp/``, computing the checksum on
  the way, then ``fsync``, an atomic ``rename`` into ``objects/`` and an ``fsync`` of that
  directory. A crash leaves either no file or a whole one; a whole file that the catalog
  does not name is an orphan, removed at the next start.
* A copy is a hard link (``BlobFiles.link``): the file is immutable, so two names may share
  it.
* Reading never holds a lock: a ``Blob`` keeps its file alive for as long as any record
  that names it is referenced. When the store replaces or deletes a version it calls
  ``retire()``; the file is unlinked once the last reference to the blob is gone, so a
  reader that got the record before the delete still reads the bytes it asked for.

    files = BlobFiles("/srv/ais-data")
    blob, digest = files.write([b"hel", b"lo"])
    b"".join(blob.iter_range(0, blob.size)) == b"hello"
"""

from __future__ import annotations

import mmap
import os
import uuid as uuidlib
import weakref
from collections.abc import Iterator

import xxhash

READ_CHUNK = 1 << 20  # bytes per read when streaming a blob
_COPY_CHUNK = 4 << 20


def fsync_dir(path: str) -> None:
    """Make a rename or unlink inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data) -> int:
    """Write the whole bytes-like ``data`` to ``fd``; returns its length."""
    view = memoryview(data).cast("B")
    total = len(view)
    while len(view):
        n = os.write(fd, view)
        view = view[n:]
    return total


def chunks_of(data) -> Iterator:
    """Object data as bytes-like chunks: bytes-like data is one chunk, an iterable is
    passed through."""
    if isinstance(data, (bytes, bytearray, memoryview, mmap.mmap)):
        yield data
    else:
        yield from data


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class Blob:
    """One immutable file of object bytes (see the module docstring)."""

    __slots__ = ("path", "size", "_retired", "__weakref__")

    def __init__(self, path: str, size: int):
        self.path = path
        self.size = size
        self._retired = False

    @property
    def file_id(self) -> str:
        """The catalog's name for the file: ``<2 hex>/<32 hex>``."""
        head, tail = os.path.split(self.path)
        return f"{os.path.basename(head)}/{tail}"

    def retire(self) -> None:
        """The store no longer names this blob: unlink its file once unreferenced."""
        if not self._retired:
            self._retired = True
            weakref.finalize(self, _unlink, self.path)

    def view(self):
        """The whole content as a read-only ``memoryview`` of a memory map (``b""`` when
        empty). Pages are read on access; prefer ``iter_range`` to stream."""
        if not self.size:
            return b""
        with open(self.path, "rb") as f:
            return memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))

    def read(self, start: int, n: int) -> bytes:
        """Up to ``n`` bytes from ``start``."""
        n = max(0, min(n, self.size - start))
        if not n:
            return b""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            return os.pread(fd, n, start)
        finally:
            os.close(fd)

    def iter_range(self, start: int, stop: int, chunk: int = READ_CHUNK) -> Iterator[bytes]:
        """``[start, stop)`` in chunks. The file is opened on the first ``next()`` and
        closed at the end or when the iterator is closed; a file shorter than this blob's
        size (damaged outside the emulator) raises OSError rather than returning short."""
        stop = min(stop, self.size)
        if start >= stop:
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fd, start, stop - start, os.POSIX_FADV_SEQUENTIAL)
            off = start
            while off < stop:
                got = os.pread(fd, min(chunk, stop - off), off)
                if not got:
                    raise OSError(f"{self.path}: file ends at {off}, expected {self.size} bytes")
                off += len(got)
                yield got
        finally:
            os.close(fd)

    def __repr__(self) -> str:
        return f"Blob({self.file_id!r}, size={self.size})"


class BlobFiles:
    """The ``objects/`` and ``tmp/`` directories of a data dir."""

    def __init__(self, root: str):
        self.root = root
        self.objects = os.path.join(root, "objects")
        self.tmp = os.path.join(root, "tmp")

    def prepare(self) -> None:
        """Create the directories (idempotent) and empty ``tmp/``."""
        created = False
        for d in (self.objects, self.tmp):
            if not os.path.isdir(d):
                os.makedirs(d, exist_ok=True)
                created = True
        for i in range(256):
            sub = os.path.join(self.objects, f"{i:02x}")
            if not os.path.isdir(sub):
                os.mkdir(sub)
                created = True
        for name in os.listdir(self.tmp):
            _unlink(os.path.join(self.tmp, name))
        if created:
            fsync_dir(self.objects)
            fsync_dir(self.root)

    def blob(self, file_id: str, size: int) -> Blob:
        return Blob(os.path.join(self.objects, file_id), size)

    def _new_path(self) -> str:
        name = uuidlib.uuid4().hex
        return os.path.join(self.objects, name[:2], name)

    def tmp_path(self) -> str:
        return os.path.join(self.tmp, uuidlib.uuid4().hex)

    def write(self, data) -> tuple[Blob, str]:
        """Stream ``data`` (bytes-like or an iterable of chunks) into a new durable blob;
        ``(blob, xxhash2 hex)``. Nothing is left behind when ``data`` raises."""
        tmp = self.tmp_path()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        hasher, size = xxhash.xxh64(), 0
        try:
            try:
                for chunk in chunks_of(data):
                    if len(chunk):
                        hasher.update(chunk)
                        size += write_all(fd, chunk)
                os.fsync(fd)
            finally:
                os.close(fd)
            return self.adopt(tmp, size), hasher.hexdigest()
        except BaseException:
            _unlink(tmp)
            raise

    def adopt(self, tmp: str, size: int) -> Blob:
        """Move a complete, fsynced file into ``objects/`` durably; its Blob."""
        path = self._new_path()
        try:
            os.rename(tmp, path)
        except BaseException:
            _unlink(tmp)
            raise
        fsync_dir(os.path.dirname(path))
        return Blob(path, size)

    def link(self, blob: Blob) -> Blob:
        """A second durable name for ``blob``'s file (a copy that shares the bytes)."""
        path = self._new_path()
        try:
            os.link(blob.path, path)
        except OSError:  # no hard links here: copy the bytes
            return self.write(blob.iter_range(0, blob.size, _COPY_CHUNK))[0]
        fsync_dir(os.path.dirname(path))
        return Blob(path, blob.size)

    def discard(self, blob: Blob) -> None:
        """Unlink a blob that was never named by the catalog."""
        _unlink(blob.path)

    def orphans(self, live: set) -> list[str]:
        """Paths under ``objects/`` whose file id is not in ``live``."""
        found = []
        for sub in os.listdir(self.objects):
            d = os.path.join(self.objects, sub)
            if not os.path.isdir(d):
                continue
            for name in os.listdir(d):
                if f"{sub}/{name}" not in live:
                    found.append(os.path.join(d, name))
        return found
