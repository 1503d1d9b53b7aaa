"""Tar bytes to read from: a stored archive's own bytes, or a gzip stream inflated on demand.

Both sources have the interface the shared decoder (``ais_tar.read_entry``) reads
through: ``read(n)``, ``skip(n)`` (never past the end), ``pos`` (the offset in the tar
stream) and ``finish()`` (called at the end-of-archive marker). ``ViewSource`` slices a
``memoryview`` and copies nothing. ``GzipSource`` inflates incrementally, so memory stays
bounded by what the caller reads plus a small window, accepts multi-member streams and
zero padding after a member, and checks every member's CRC when it is finished; damage
is an ``ArchiveError`` at the compressed offset.
"""

from __future__ import annotations

import sys
import zlib

from ais_emulator.store.archive_formats import ArchiveError, byte_view

_IN_CHUNK = 64 * 1024  # compressed bytes fed to zlib per step
_OUT_CHUNK = 256 * 1024  # most inflated bytes produced per step


class ViewSource:
    """Tar bytes straight from the archive: reads are slices, nothing is copied."""

    def __init__(self, data: bytes | memoryview):
        self._view = byte_view(data)
        self.pos = 0

    def read(self, n: int) -> memoryview:
        out = self._view[self.pos : self.pos + n]
        self.pos += len(out)
        return out

    def skip(self, n: int) -> int:
        start = self.pos
        self.pos = min(self.pos + n, len(self._view))
        return self.pos - start

    def finish(self) -> None:
        """Bytes after the end-of-archive marker are ignored, as in Go."""


class GzipSource:
    """Tar bytes inflated on demand from a (possibly multi-member) gzip stream."""

    def __init__(self, data: bytes | memoryview):
        self._in = byte_view(data)
        self._in_pos = 0
        self._z = zlib.decompressobj(31)
        self._buf = bytearray()
        self._bpos = 0
        self.pos = 0  # offset in the inflated stream

    def read(self, n: int) -> bytes:
        while len(self._buf) - self._bpos < n and self._inflate():
            pass
        out = bytes(self._buf[self._bpos : self._bpos + n])
        self._bpos += len(out)
        self.pos += len(out)
        return out

    def skip(self, n: int) -> int:
        start = self.pos
        while n > 0 and (len(self._buf) > self._bpos or self._inflate()):
            step = min(n, len(self._buf) - self._bpos)
            self._bpos += step
            self.pos += step
            n -= step
        return self.pos - start

    def finish(self) -> None:
        """Inflate the rest, so that every gzip trailer (CRC-32, length) gets verified."""
        self.skip(sys.maxsize)

    def _inflate(self) -> bool:
        """Append more inflated bytes to the buffer; False once the gzip input is exhausted."""
        if self._bpos == len(self._buf):
            self._buf.clear()
            self._bpos = 0
        elif self._bpos > _OUT_CHUNK:
            del self._buf[: self._bpos]
            self._bpos = 0
        while True:
            if self._z.eof and not self._next_member():
                return False
            chunk = self._in[self._in_pos : self._in_pos + _IN_CHUNK]
            try:
                out = self._z.decompress(chunk, _OUT_CHUNK)
            except zlib.error as e:
                raise ArchiveError(f"corrupt gzip stream ({e})", self._in_pos) from None
            self._in_pos += len(chunk) - len(self._z.unconsumed_tail) - len(self._z.unused_data)
            if out:
                self._buf += out
                return True
            if not chunk and not self._z.eof:
                raise ArchiveError("truncated gzip stream", self._in_pos)

    def _next_member(self) -> bool:
        pos = self._in_pos
        while pos < len(self._in):  # zero padding after a member is allowed
            window = bytes(self._in[pos : pos + _IN_CHUNK])
            rest = window.lstrip(b"\0")
            pos += len(window) - len(rest)
            if rest:
                break
        if pos >= len(self._in):
            return False
        if self._in[pos : pos + 2] != b"\x1f\x8b":
            raise ArchiveError("unexpected bytes after the gzip stream", pos)
        self._in_pos = pos
        self._z = zlib.decompressobj(31)
        return True


def tar_source(data: bytes | memoryview, fmt: str) -> ViewSource | GzipSource:
    """The tar bytes of a ``.tar`` or ``.tgz`` archive, to read front to back."""
    return GzipSource(data) if fmt == ".tgz" else ViewSource(data)
