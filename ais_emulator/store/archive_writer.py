"""Write archives as streams: the output side of ``archregx`` GETs and of GetBatch.

Entries are ``(name, size, chunks)``; output bytes come out as the chunks go in, so a
GetBatch of large objects never holds a whole entry. In a tar, an empty entry whose name
ends with ``/`` is a directory (mode 0755), as ``archregx`` replies carry them.

    body = b"".join(write_archive([("x.txt", 2, [b"hi"])], ".tar"))

Deviations from real AIS: tgz uses compression level 1 (Go: 6); entries get mode 0644 and
mtime 0 (zip: 1980-01-01); zip is stored-only without zip64 (entries and offsets < 4 GiB).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator

from ais_emulator.store.archive_formats import ArchiveError, normalize_format

_COALESCE = 64 * 1024  # writers merge headers and small chunks up to this size
_BLOCK = 512
_ZERO_BLOCK = bytes(_BLOCK)


def write_archive(entries: Iterable[tuple[str, int, Iterable[bytes]]], fmt: str) -> Iterator[bytes]:
    """Stream a new archive of ``entries`` = ``(name, size, chunks)``, in the given order.

    Output is produced as the chunks arrive; nothing larger than one chunk plus 64 KiB of
    headers is held. The chunks of an entry must add up to exactly ``size`` bytes, else
    ``ArchiveError`` is raised mid-stream (the output is then unusable). Tar uses ustar
    headers with a PAX record for names over 100 bytes, non-ASCII names and sizes of
    8 GiB and more; ``.tgz`` is that stream gzip-compressed; ``.zip`` stores entries
    uncompressed with data descriptors and raises ``ArchiveError`` before an entry that
    would need zip64. The format is checked at call time.
    """
    fmt = normalize_format(fmt)
    if fmt == ".zip":
        return _write_zip(entries)
    if fmt == ".tgz":
        return _gzip(_write_tar(entries))
    return _write_tar(entries)


def _chunks_of(name: str, size: int, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The entry's chunks as bytes, checked against the declared size."""
    total = 0
    for chunk in chunks:
        if not isinstance(chunk, bytes):
            chunk = bytes(chunk)
        total += len(chunk)
        if total > size:
            raise ArchiveError(f"entry {name!r}: data exceeds the declared {size} bytes")
        if chunk:
            yield chunk
    if total != size:
        raise ArchiveError(f"entry {name!r}: got {total} of the declared {size} bytes")


def _check_entry(name: str, size: int) -> bytes:
    if not isinstance(name, str) or not name:
        raise ValueError(f"archive entry name must be a non-empty str, got {name!r}")
    if not isinstance(size, int) or size < 0:
        raise ValueError(f"entry {name!r}: size must be a non-negative int, got {size!r}")
    return name.encode("utf-8")


def _tar_block(name: bytes, size: int, flag: bytes, mode: bytes = b"0000644\0") -> bytes:
    blk = bytearray(_BLOCK)
    blk[0 : len(name)] = name
    blk[100:108] = mode  # uid and gid stay 0 ...
    blk[108:124] = b"0000000\0" * 2  # ... written as octal zeros
    blk[124:136] = b"%011o\0" % size
    blk[136:148] = b"00000000000\0"
    blk[148:156] = b" " * 8
    blk[156:157] = flag
    blk[257:265] = b"ustar\x0000"
    blk[148:156] = b"%06o\0 " % sum(blk)
    return bytes(blk)


def _tar_header(raw: bytes, size: int) -> bytes:
    records = b""
    if len(raw) > 100 or not raw.isascii():
        records += _pax_record(b"path", raw)
        raw = raw[:100].decode("utf-8", "ignore").encode("utf-8")
    if size >= 8**11:
        records += _pax_record(b"size", b"%d" % size)
    if size == 0 and raw.endswith(b"/"):
        head = _tar_block(raw, 0, b"5", b"0000755\0")
    else:
        head = _tar_block(raw, min(size, 8**11 - 1), b"0")
    if not records:
        return head
    pax = _tar_block(b"././@PaxHeader", len(records), b"x")
    return pax + records + bytes(-len(records) % _BLOCK) + head


def _pax_record(key: bytes, value: bytes) -> bytes:
    body = b" %s=%s\n" % (key, value)
    n = len(body) + 1
    while len(str(n)) + len(body) != n:
        n = len(str(n)) + len(body)
    return b"%d" % n + body


def _coalesce(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """Merge small pieces (headers, small files) into ~64 KiB outputs; pass big ones through."""
    pending = bytearray()
    for piece in pieces:
        if len(pending) + len(piece) <= _COALESCE:
            pending += piece
            continue
        if pending:
            yield bytes(pending)
            pending.clear()
        if len(piece) >= _COALESCE:
            yield piece
        else:
            pending += piece
    if pending:
        yield bytes(pending)


def _write_tar(entries: Iterable[tuple[str, int, Iterable[bytes]]]) -> Iterator[bytes]:
    def pieces() -> Iterator[bytes]:
        for name, size, chunks in entries:
            yield _tar_header(_check_entry(name, size), size)
            yield from _chunks_of(name, size, chunks)
            if size % _BLOCK:
                yield bytes(-size % _BLOCK)
        yield bytes(2 * _BLOCK)

    return _coalesce(pieces())


def _gzip(stream: Iterator[bytes]) -> Iterator[bytes]:
    comp = zlib.compressobj(1, zlib.DEFLATED, 31)
    for piece in stream:
        out = comp.compress(piece)
        if out:
            yield out
    yield comp.flush()


_ZIP_LIMIT = 0xFFFFFFFF  # values at or above need zip64
_DOS_TIME, _DOS_DATE = 0, (0 << 9) | (1 << 5) | 1  # 1980-01-01 00:00:00


def _write_zip(entries: Iterable[tuple[str, int, Iterable[bytes]]]) -> Iterator[bytes]:
    def pieces() -> Iterator[bytes]:
        offset, central = 0, []
        for name, size, chunks in entries:
            raw = _check_entry(name, size)
            flags = 0x08 | (0 if raw.isascii() else 0x800)
            local = struct.pack(
                "<IHHHHHIIIHH", 0x04034B50, 20, flags, 0, _DOS_TIME, _DOS_DATE, 0, 0, 0, len(raw), 0
            ) + raw
            if offset + len(local) + size + 16 >= _ZIP_LIMIT or len(central) >= 0xFFFE:
                raise ArchiveError(
                    f"zip entry {name!r} ({size} bytes at offset {offset}) would need zip64, "
                    "which is not supported: zip output is limited to 4 GiB and 65534 entries"
                )
            yield local
            crc = 0
            for chunk in _chunks_of(name, size, chunks):
                crc = zlib.crc32(chunk, crc)
                yield chunk
            yield struct.pack("<IIII", 0x08074B50, crc, size, size)
            central.append(
                struct.pack(
                    "<IHHHHHHIIIHHHHHII", 0x02014B50, 0x0314, 20, flags, 0, _DOS_TIME, _DOS_DATE,
                    crc, size, size, len(raw), 0, 0, 0, 0, 0o100644 << 16, offset,
                ) + raw
            )
            offset += len(local) + size + 16
        directory = b"".join(central)
        yield directory
        yield struct.pack(
            "<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), len(directory), offset, 0
        )

    return _coalesce(pieces())
