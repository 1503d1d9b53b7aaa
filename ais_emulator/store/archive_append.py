"""Append one file to a shard: the bytes behind ``ais archive put --append`` (a PUT with
``archpath``). Pure: shard bytes in, new shard bytes out.

    new = append_member(shard_bytes, ".tar", "new.txt", b"data")     # shard + member
    new = append_member(None, ".tgz", "new.txt", b"data")            # a new shard

The shard is read with the emulator's archive reader first (``list_members``), so a
corrupt or truncated shard raises ``ArchiveError`` and nothing is written. Then:

* tar: the member goes where the end-of-archive blocks began, followed by new ones
  (AIS's in-place tar append); the output is the old bytes up to there, the member and
  1 KiB of zeros;
* tgz: the tar stream is inflated and recompressed on the fly (memory stays bounded by
  the chunk sizes, not the shard) with the member appended the same way;
* zip: the member is added after the last entry and the central directory rewritten.

A name already in the shard is added again (as AIS does): readers see both members.
Members get mode 0644 and the current time; tar headers are ustar, or PAX for names
ustar cannot hold. An empty tar (no members) is replaced by a new one, as AIS does.

Deviations from AIS: tgz is recompressed at level 6 and zip members are stored
uncompressed (AIS copies the shard through its own writers).
"""

from __future__ import annotations

import io
import tarfile
import time
import warnings
import zipfile
import zlib
from typing import Optional

from ais_emulator.store.archives import ArchiveError, list_members

_BLOCK = 512
_TRAILER = bytes(2 * _BLOCK)
_CHUNK = 1 << 20


def append_member(shard: Optional[bytes], fmt: str, name: str, data: bytes,
                  mtime: Optional[float] = None) -> bytes:
    """``shard`` (None: a new shard) with ``name`` = ``data`` added as its last member."""
    if fmt not in (".tar", ".tgz", ".zip"):
        raise ArchiveError(f"cannot append to a {fmt} archive")
    mtime = time.time() if mtime is None else mtime
    if shard is not None and len(shard):
        members = list_members(shard, fmt)  # the whole shard must read cleanly first
        if not members and fmt != ".zip":
            shard = None  # an empty tar: a new one (AIS: ErrTarIsEmpty -> PUT)
    else:
        shard = None
    if fmt == ".zip":
        return _zip_append(shard, name, data, mtime)
    member = _tar_member(name, data, mtime)
    if fmt == ".tar":
        end = _tar_end(shard, "r:") if shard is not None else 0
        return b"".join((bytes(memoryview(shard)[:end]) if end else b"", member, _TRAILER))
    return _tgz_append(shard, member)


def _tar_member(name: str, data: bytes, mtime: float) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime, info.type = len(data), 0o644, int(mtime), tarfile.REGTYPE
    try:
        head = info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict")
    except ValueError:  # a name ustar cannot hold (too long, not ASCII)
        head = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")
    return head + data + bytes(-len(data) % _BLOCK)


def _tar_end(blob, mode: str) -> int:
    """Offset (in the tar stream) where the end-of-archive blocks begin; ``mode`` "r:" for
    a tar, "r|gz" for a tgz (inflated here: every gzip member, as the reader does)."""
    source = io.BytesIO(blob) if mode == "r:" else _Inflated(blob)
    try:
        with tarfile.open(fileobj=source, mode="r:" if mode == "r:" else "r|") as tf:
            for _ in tf:
                pass
            return tf.offset
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise ArchiveError(f"cannot find the end of the tar stream: {e}") from None


def _tgz_append(shard: Optional[bytes], member: bytes) -> bytes:
    out = []
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    if shard is not None:
        end = _tar_end(shard, "r|gz")
        for piece in _inflate(shard, end):
            out.append(comp.compress(piece))
    out.append(comp.compress(member))
    out.append(comp.compress(_TRAILER))
    out.append(comp.flush())
    return b"".join(out)


def _inflate(blob: bytes, limit: Optional[int]):
    """The first ``limit`` (None: all) inflated bytes of a gzip stream (members
    concatenated), in chunks of at most 1 MiB."""
    view = memoryview(blob)
    pos, left = 0, limit
    dec = zlib.decompressobj(31)
    while left is None or left > 0:
        if dec.eof:
            rest = dec.unused_data
            if not rest and pos >= len(view):
                if left is None:
                    return
                raise ArchiveError(f"gzip stream ends {left} bytes before the tar's end")
            if not rest:
                rest, pos = bytes(view[pos:pos + _CHUNK]), pos + _CHUNK
            dec, pending = zlib.decompressobj(31), rest
        elif dec.unconsumed_tail:
            pending = dec.unconsumed_tail
        else:
            if pos >= len(view):
                raise ArchiveError("truncated gzip stream")
            pending, pos = bytes(view[pos:pos + _CHUNK]), pos + _CHUNK
        piece = dec.decompress(pending, _CHUNK if left is None else min(left, _CHUNK))
        if left is not None:
            left -= len(piece)
        if piece:
            yield piece


class _Inflated(io.RawIOBase):
    """A readable stream of a gzip blob's inflated bytes (every member)."""

    def __init__(self, blob: bytes):
        super().__init__()
        self._pieces = _inflate(blob, None)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, out) -> int:
        while not self._buf:
            self._buf = next(self._pieces, b"")
            if not self._buf:
                return 0
        n = min(len(out), len(self._buf))
        out[:n], self._buf = self._buf[:n], self._buf[n:]
        return n


def _zip_append(shard: Optional[bytes], name: str, data: bytes, mtime: float) -> bytes:
    buf = io.BytesIO(shard if shard is not None else b"")
    stamp = time.localtime(max(mtime, 315532800))[:6]  # zip dates start in 1980
    info = zipfile.ZipInfo(name, date_time=stamp)
    info.external_attr = 0o100644 << 16
    info.compress_type = zipfile.ZIP_STORED
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Duplicate name", category=UserWarning)
            with zipfile.ZipFile(buf, mode="a" if shard is not None else "w") as zf:
                zf.writestr(info, data)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as e:
        raise ArchiveError(f"cannot append to the zip: {e}") from None
    return buf.getvalue()
