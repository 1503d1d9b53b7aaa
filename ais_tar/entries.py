"""The header chain in front of each tar entry: extended headers, limits, progress.

:func:`read_entry` reads the next entry's headers from any byte source that can ``read``
and ``skip`` and returns what its data is (name, size, type), leaving the data itself
up next for the caller to read or skip::

    entry = read_entry(src.read, src.skip, src.offset)
    if entry is not None and entry.regular:
        data = src.read(entry.size)          # then the padding: -entry.size % 512

Contract:

* ``read(n)`` returns ``n`` bytes (any bytes-like object), fewer only at the end of the
  stream; ``skip(n)`` skips ``n`` bytes and returns how many it skipped. ``offset`` is the
  absolute position of the source's next byte; every offset reported is absolute.
* Progress: every header consumes at least its 512-byte block, so a stream of ``N``
  bytes yields at most ``N / 512`` entries, and every size returned is between 0 and
  ``MAX_SIZE``: nothing moves a reader backwards.
* Bounded memory: an extended header's payload is at most ``MAX_EXTENDED`` bytes and
  only the records that readers use are kept (``path``, ``size``, sparse markers), so an
  entry costs at most a few MiB however many extended headers precede it.
* Errors: :class:`~ais_tar.TarError` (a rule broken: checksum, numeric field, PAX record,
  a limit, an end-of-archive block right after an extended header) or
  :class:`~ais_tar.TruncatedTarError` (the stream ends inside a header or a payload),
  with the offset of the header at fault.
* The end: ``None`` at an all-zero block or at a clean end of stream on a header
  boundary (what follows an all-zero block is the caller's to ignore or check).

Name precedence: a PAX ``path``, then a GNU long name, then the block's own name. Header-
only types (links, devices, directories, fifos, and an old-style regular entry whose
name ends in ``/``, which is a directory) have no data whatever their size field says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Optional

from ais_tar.header import (
    BLOCK,
    DIRECTORY,
    EXTENDED,
    GNU_LONGNAME,
    GNU_SPARSE,
    HEADER_ONLY,
    MAX_EXTENDED,
    PAX,
    REGULAR,
    ZERO_BLOCK,
    Buffer,
    PaxRecords,
    TarError,
    TruncatedTarError,
    block_name,
    checksum_ok,
    decode,
    parse_number,
)


class Entry(NamedTuple):
    """One tar entry, its headers read and its data up next."""

    name: str
    size: int  # bytes of data after the headers (0 for header-only types)
    typeflag: int  # the type byte of its last header, as an int
    offset: int  # offset of its first header (extended headers included)
    data_offset: int  # offset of its first data byte
    sparse: bool  # a GNU sparse file (old "S" type, or PAX GNU.sparse.* records)

    @property
    def regular(self) -> bool:
        """A regular file (types ``0``, ``7`` and NUL; NUL with a trailing ``/`` is a
        directory)."""
        return self.typeflag in REGULAR and not (self.typeflag == 0
                                                 and self.name.endswith("/"))

    @property
    def is_dir(self) -> bool:
        return self.typeflag == DIRECTORY or (self.typeflag == 0 and self.name.endswith("/"))


def read_entry(read: Callable[[int], Buffer], skip: Callable[[int], int],
               offset: int) -> Optional[Entry]:
    """The next entry of the stream whose next byte is at ``offset`` (module doc)."""
    long_name: Optional[str] = None
    pax: Optional[PaxRecords] = None
    first = -1
    pos = offset
    while True:
        start = pos
        block = read(BLOCK)
        if type(block) is not bytes:
            block = bytes(block)
        pos += len(block)
        if len(block) < BLOCK:
            if not block and first < 0:
                return None  # a clean end of stream on a header boundary
            what = "a tar header" if first < 0 else "the header after an extended header"
            raise TruncatedTarError(
                f"stream ends inside {what} ({len(block)} of {BLOCK} bytes)", start)
        if not block[0] and block == ZERO_BLOCK:
            if first >= 0:
                raise TarError("end-of-archive block after an extended header", start)
            return None
        if not checksum_ok(block):
            raise TarError("invalid tar header (checksum mismatch)", start)
        if first < 0:
            first = start
        try:
            size = parse_number(block[124:136])
        except ValueError as err:
            raise TarError(f"invalid size field in tar header: {err}", start) from None
        typeflag = block[156]
        what = EXTENDED.get(typeflag)
        if what is not None:
            if size > MAX_EXTENDED:
                raise TarError(f"{what} of {size} bytes is over the limit of "
                               f"{MAX_EXTENDED} bytes", start)
            padded = size + (-size % BLOCK)
            if typeflag == GNU_LONGNAME or typeflag == PAX:
                payload = read(padded)
                got = len(payload)
            else:  # long link names and global headers are not used: skipped
                payload, got = b"", skip(padded)
            pos += got
            if got < padded:
                inside = what if got < size else f"the padding of {what}"
                raise TruncatedTarError(
                    f"stream ends inside {inside} ({min(got, size)} of {size} bytes, "
                    f"stream ends at byte {pos})", start)
            if typeflag == GNU_LONGNAME:
                data = bytes(payload[:size])
                end = data.find(b"\x00")
                long_name = decode(data if end < 0 else data[:end])
            elif typeflag == PAX:
                if pax is None:
                    pax = PaxRecords()
                pax.add(bytes(payload[:size]), start)
            continue
        sparse = typeflag == GNU_SPARSE
        if pax is not None:
            sparse = sparse or pax.sparse
            if pax.size is not None:
                size = pax.size
            name = pax.path if pax.path is not None else long_name
        else:
            name = long_name
        if name is None:
            name = decode(block_name(block))
        if typeflag in HEADER_ONLY or (typeflag == 0 and name.endswith("/")):
            size = 0
        return Entry(name, size, typeflag, first, pos, sparse)
