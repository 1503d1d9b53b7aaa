"""Zip members, read through ``zipfile`` over a read-only view of the stored archive.

Nothing is copied but the requested members. Damage anywhere (the central directory, a
member's data, an unsupported method) is an ``ArchiveError`` naming the offset of the
central directory or of the member's local header. Only regular files are listed;
names without the UTF-8 flag are taken as UTF-8 when they decode as such, else as CP437.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator

from ais_emulator.store.archive_formats import ArchiveError, byte_view

_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    ValueError,
    struct.error,
    NotImplementedError,
    RuntimeError,
    zlib.error,
)


class _ViewFile(io.RawIOBase):
    """A read-only, seekable file over a memoryview, for ``zipfile`` (no copy of the whole)."""

    def __init__(self, view: memoryview):
        super().__init__()
        self._view, self._pos = view, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = (0, self._pos, len(self._view))[whence]
        if base + offset < 0:
            raise OSError(22, "negative seek position")  # what a real file raises (EINVAL)
        self._pos = base + offset
        return self._pos

    def read(self, n: int = -1) -> bytes:
        end = len(self._view) if n is None or n < 0 else self._pos + n
        out = bytes(self._view[self._pos : end])
        self._pos += len(out)
        return out

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_zip(data: bytes | memoryview) -> zipfile.ZipFile:
    view = byte_view(data)
    try:
        return zipfile.ZipFile(_ViewFile(view))
    except _ZIP_ERRORS as e:
        eocd = bytes(view[-(65535 + 22) :]).rfind(b"PK\x05\x06")
        if eocd < 0:
            raise ArchiveError(
                "zip end-of-central-directory record not found (truncated or not a zip)",
                len(view),
            ) from None
        eocd += max(0, len(view) - (65535 + 22))
        where = struct.unpack_from("<I", view, eocd + 16)[0] if eocd + 20 <= len(view) else eocd
        raise ArchiveError(f"corrupt zip central directory ({e})", where) from None


def zip_files(zf: zipfile.ZipFile) -> Iterator[tuple[str, zipfile.ZipInfo]]:
    for info in zf.infolist():
        kind = (info.external_attr >> 16) & 0o170000
        if info.is_dir() or kind not in (0, 0o100000):
            continue
        name = info.filename
        if not info.flag_bits & 0x800:
            try:
                name = info.orig_filename.encode("cp437").decode("utf-8")
            except UnicodeError:
                pass
        yield name, info


def zip_read(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        with zf.open(info) as fh:
            return fh.read()
    except _ZIP_ERRORS as e:
        where = info.header_offset
        raise ArchiveError(f"corrupt zip member {info.filename!r} ({e})", where) from None


def iter_zip(data: bytes | memoryview, match: Callable[[str], bool]):
    with open_zip(data) as zf:
        for name, info in zip_files(zf):
            if match(name):
                yield name, zip_read(zf, info)
