"""Streaming tar reading: members straight from a stream of chunks.

This module owns the byte-level work on shards: it reads tar members straight from a
stream of chunks (never holding a whole shard) and reports every problem with its byte
offset. Header rules are the shared decoder's (:mod:`ais_tar`, also used by the
emulator); grouping members into WebDataset samples is :mod:`ais_datasets.samples`
(``Sample``, ``iter_samples`` and ``split_key`` stay importable from here)::

    tar = TarStream(obj.get_reader().as_file(), shard="ais://b/shard-0.tar")
    for member in tar:                       # or entry by entry:
        member.name, member.data             # head = tar.next_member(); tar.read_data()

Supported: POSIX ustar (with its ``prefix`` field), GNU long names (``L``) and long link
names (``K``), PAX extended headers (``x``: ``path`` and ``size``; global ``g`` headers are
read and ignored), base-256 sizes, gzip-compressed streams (:func:`gunzip_chunks`).
Only regular files (types ``0``, ``\\0``, ``7``) are members; directories, links,
devices and GNU sparse entries are skipped. Reading stops at the first all-zero block or
at a clean end of stream on a header boundary (``TarStream.terminated`` tells which: a
shard without its end-of-archive blocks may have lost members at its end). A stream that
ends inside a header, a
member or its padding raises :class:`~ais_datasets.errors.TruncatedShardError`; a header
that breaks the rules (checksum, a negative, non-octal or overflowing size, an extended
header over 1 MiB, a malformed PAX record) raises
:class:`~ais_datasets.errors.ShardReadError`. Both name the shard and the byte offset.
Every header moves the stream forward, so a crafted shard cannot make a reader loop.

Cost: headers are parsed in place in the stream's chunks (no copy of the 512-byte
block on the common path) and a member's data is one slice of its chunk, so
the work per member is a few small operations plus the one ``bytes`` object it becomes.
Where the package was built with a C compiler, ``ais_datasets._tarscan`` takes the
common case: plain ustar headers, and in :meth:`TarStream.scan_keyed` every whole member
of a chunk in one call (up to ``SCAN_BUDGET`` bytes of data at a time; without it, the
same runs in Python). It hands anything else (extended headers, other entry types, odd fields, a member cut by the
chunk's end, every error) back to the Python parser, so results, offsets and errors are
the same with it and without it; ``AIS_DATASETS_PURE_PYTHON=1`` turns it off.
``python -m benchmarks.tario_bench`` (in the repository) measures the parser alone.

Size: over 450 lines because ``TarStream`` is one buffer (the chunk, the position in it,
the chunk's offset in the stream) that header decoding, data reads and the compiled scan
all advance on the per-member path; the grouping into samples is already apart
(``samples``).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple, Optional, Union

from ais_datasets.errors import ShardReadError, TruncatedShardError
from ais_datasets.samples import Sample, iter_samples, split_key
from ais_tar import BLOCK, TarError, TruncatedTarError, plain_header, read_entry

__all__ = ["BLOCK", "READ_SIZE", "SCAN_BUDGET", "Buffer", "MemberHeader", "Sample",
           "TarMember", "TarStream", "chunks_of", "gunzip_chunks", "iter_samples",
           "split_key"]

READ_SIZE = 1 << 20
GUNZIP_OUT = 4 << 20  # at most this much decompressed output per step
SCAN_BUDGET = 256 << 10  # member bytes a chunk scan copies out per call (at least one)

Chunks = Iterable[Union[bytes, bytearray, memoryview]]
Buffer = Union[bytes, memoryview]

# The compiled fast path (``_tarscan.c``): plain headers and whole members in a chunk.
# Built with the package where a C compiler is available; the parser is complete without
# it. AIS_DATASETS_PURE_PYTHON=1 turns it off.
try:
    if os.environ.get("AIS_DATASETS_PURE_PYTHON", "") not in ("", "0"):
        raise ImportError("turned off by AIS_DATASETS_PURE_PYTHON")
    from ais_datasets import _tarscan as _fast
except ImportError:
    _fast = None

_new = tuple.__new__


class MemberHeader(NamedTuple):
    """A regular file in a tar stream, before its data is read."""

    name: str
    size: int
    offset: int  # offset of the first header of this member (extended headers included)
    data_offset: int  # offset of its first data byte


class TarMember(NamedTuple):
    name: str
    data: bytes
    offset: int


def chunks_of(source) -> Iterator[bytes]:
    """Turn a file-like object (anything with ``read``) or an iterable into chunks."""
    read = getattr(source, "read", None)
    if read is None:
        return iter(source)
    return iter(lambda: read(READ_SIZE), b"")


def gunzip_chunks(chunks: Chunks) -> Iterator[bytes]:
    """Decompress a gzip stream chunk by chunk (concatenated members are supported).

    Output comes in pieces of at most ``GUNZIP_OUT`` bytes, whatever the compression
    ratio. Raises ``ShardReadError`` (offset in the compressed stream) for corrupt data
    and ``TruncatedShardError`` when the stream ends inside a gzip member.
    """
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    in_member = False
    consumed = 0
    for chunk in chunks:
        data = bytes(chunk)
        while data:
            if not in_member and data.strip(b"\x00") == b"":
                consumed += len(data)  # zero padding after the last member
                break
            in_member = True
            try:
                out = decomp.decompress(data, GUNZIP_OUT)
                if out:
                    yield out
                while decomp.unconsumed_tail:
                    out = decomp.decompress(decomp.unconsumed_tail, GUNZIP_OUT)
                    if out:
                        yield out
            except zlib.error as err:
                raise ShardReadError(f"corrupt gzip data: {err}", offset=consumed) from None
            if decomp.eof:
                rest = decomp.unused_data
                consumed += len(data) - len(rest)
                data = rest
                decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
                in_member = False
            else:
                consumed += len(data)
                data = b""
    if in_member:
        raise TruncatedShardError("stream ends inside a gzip member", offset=consumed)


class TarStream:
    """Sequential access to the regular-file members of a tar stream.

    ``source`` is a file-like object (``read(n)``) or an iterable of byte chunks. A
    ``memoryview`` chunk is read in place and only until the next chunk is asked for
    (what the stream keeps across that request, it copies first), so a producer may
    receive every chunk into the same buffer; other non-``bytes`` chunks are copied.
    Member data is ``bytes`` (:meth:`read_piece` hands out slices of chunks instead).
    ``offset`` is the absolute offset of the stream's first byte in the shard (non-zero
    when a reader resumes mid-shard with a byte range); ``shard`` names the shard in
    errors.

    Entry by entry: :meth:`next_member` gives the next regular file's header, then its
    data comes whole from :meth:`read_data`, in pieces from :meth:`read_piece`, or not
    at all (:meth:`skip_data`, or simply the next :meth:`next_member`). :meth:`next_entry`
    does both steps in one call; iterating gives :class:`TarMember` tuples.
    """

    __slots__ = ("_chunks", "_buf", "_pos", "_base", "shard", "_pending", "_left", "_done",
                 "closer", "terminated")

    def __init__(self, source, *, offset: int = 0, shard: Optional[str] = None) -> None:
        self._chunks = iter(chunks_of(source))
        self._buf = b""  # the current chunk
        self._pos = 0  # read position in it
        self._base = offset  # absolute offset of _buf[0]
        self.shard = shard
        self._pending: Optional[MemberHeader] = None  # header whose data is not all read
        self._left = 0  # bytes of the pending member's data not yet read
        self._done = False
        self.terminated = False  # an end-of-archive (all-zero) block was read
        self.closer: Optional[Callable[[], None]] = None

    def drain(self) -> int:
        """Read the rest of the stream without parsing it (the padding after the
        end-of-archive blocks), so that whatever checks the whole stream (a checksum at
        its end) runs; returns the number of bytes read."""
        n = len(self._buf) - self._pos
        self._base += len(self._buf)
        self._buf, self._pos = b"", 0
        for chunk in self._chunks:
            n += len(chunk)
            self._base += len(chunk)
        return n

    def close(self) -> None:
        """Release the underlying stream (calls ``closer`` once, when one is set)."""
        closer, self.closer = self.closer, None
        if closer is not None:
            closer()

    @property
    def offset(self) -> int:
        """Current absolute position in the stream."""
        return self._base + self._pos

    # ------------------------------------------------------------------ raw bytes

    def _error(self, cls, reason: str, offset: int) -> ShardReadError:
        return cls(reason, shard=self.shard, offset=offset)

    def _next_chunk(self) -> Optional[Buffer]:
        """The next non-empty chunk: ``bytes``, or a ``memoryview`` read in place (a
        producer's reused buffer, valid until the chunk after it is asked for)."""
        for chunk in self._chunks:
            if chunk:
                kind = type(chunk)
                return chunk if kind is bytes or kind is memoryview else bytes(chunk)
        return None

    def _take(self, n: int) -> bytes:
        """The next ``n`` bytes; fewer only at the end of the stream."""
        buf, pos = self._buf, self._pos
        end = pos + n
        if end <= len(buf):
            self._pos = end
            return buf[pos:end] if type(buf) is bytes else bytes(buf[pos:end])
        # copies of what is kept across the next chunk: a memoryview chunk may be reused
        parts: list = [bytes(buf[pos:])] if pos < len(buf) else []
        got = len(buf) - pos
        self._base += len(buf)
        self._buf, self._pos = b"", 0
        while got < n:
            chunk = self._next_chunk()
            if chunk is None:
                break
            need = n - got
            if len(chunk) > need:
                parts.append(memoryview(chunk)[:need])
                self._buf, self._pos = chunk, need
                got = n
                break
            parts.append(chunk if type(chunk) is bytes else bytes(chunk))
            got += len(chunk)
            self._base += len(chunk)
        if len(parts) == 1 and type(parts[0]) is bytes:
            return parts[0]
        return b"".join(parts)

    def _piece(self, n: int) -> Buffer:
        """Up to ``n`` (> 0) next bytes from one chunk, the next chunk once this one is
        used up; empty at the end of the stream. A slice of the chunk (a view of a
        ``memoryview`` chunk, so valid no longer than it)."""
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            self._base += len(buf)
            self._buf, self._pos = b"", 0
            chunk = self._next_chunk()
            if chunk is None:
                return b""
            self._buf = buf = chunk
            pos = 0
        end = min(len(buf), pos + n)
        self._pos = end
        return buf[pos:end]

    def _skip(self, n: int) -> int:
        """Skip ``n`` bytes; return how many were actually skipped."""
        avail = len(self._buf) - self._pos
        if n <= avail:
            self._pos += n
            return n
        skipped = avail
        self._base += len(self._buf)
        self._buf, self._pos = b"", 0
        while skipped < n:
            chunk = self._next_chunk()
            if chunk is None:
                break
            need = n - skipped
            if len(chunk) > need:
                self._buf, self._pos = chunk, need
                return n
            skipped += len(chunk)
            self._base += len(chunk)
        return skipped

    def _read_exact(self, n: int, what: str, start: int) -> bytes:
        data = self._take(n)
        if len(data) < n:
            raise self._error(
                TruncatedShardError,
                f"stream ends inside {what} ({len(data)} of {n} bytes, "
                f"stream ends at byte {self.offset})", start)
        return data

    def _skip_exact(self, n: int, what: str, start: int) -> None:
        if self._skip(n) < n:
            raise self._error(
                TruncatedShardError,
                f"stream ends inside {what} (stream ends at byte {self.offset})", start)

    # ------------------------------------------------------------------ headers

    def _header(self) -> Optional[tuple[str, int, int]]:
        """``(name, size, offset)`` of the next regular file, its data up next; or None."""
        buf, pos = self._buf, self._pos
        if not self._done:
            if _fast is not None:
                head = _fast.header(buf, pos)
            elif type(buf) is bytes:
                head = plain_header(buf, pos)
            elif pos + BLOCK <= len(buf):  # a view of a reused buffer: check a copy
                head = plain_header(bytes(buf[pos:pos + BLOCK]), 0)
            else:
                head = None
            if head is not None:
                self._pos = pos + BLOCK
                return head[0], head[1], self._base + pos
        return self._header_chain()

    def _header_chain(self) -> Optional[tuple[str, int, int]]:
        """:meth:`_header` for every case: extended headers, straddling blocks, other
        entry types (skipped), errors."""
        while not self._done:
            start = self._base + self._pos
            try:
                entry = read_entry(self._take, self._skip, start)
            except TarError as err:
                cls = TruncatedShardError if isinstance(err, TruncatedTarError) \
                    else ShardReadError
                raise self._error(cls, err.reason, err.offset) from None
            if entry is None:
                self._done = True
                # an all-zero block was read, or the stream simply ended on a boundary
                self.terminated = self._base + self._pos > start
                return None
            if entry.regular:
                return entry.name, entry.size, entry.offset
            # directories, links, devices, fifos, GNU sparse/volume entries: no member
            self._skip_exact(entry.size + (-entry.size % BLOCK), "a non-file entry",
                             entry.offset)
        return None

    # ------------------------------------------------------------------ members

    def next_member(self) -> Optional[MemberHeader]:
        """The next regular file's header, or ``None`` at the end of the archive.

        What is left of the previous member's data is skipped first.
        """
        if self._pending is not None:
            self.skip_data()
        head = self._header()
        if head is None:
            return None
        self._left = head[1]
        self._pending = head = _new(MemberHeader, (*head, self._base + self._pos))
        return head

    def read_data(self) -> bytes:
        """The data of the member last returned by :meth:`next_member` (what is left of
        it after :meth:`read_piece`); its padding is skipped."""
        head = self._pending
        if head is None:
            raise RuntimeError("read_data() without a pending member")
        self._pending = None
        size = self._left
        buf, pos = self._buf, self._pos
        end = pos + size
        padded = end + (-head[1] % BLOCK)
        if padded <= len(buf):  # the common case: all in the current chunk
            self._pos = padded
            return buf[pos:end] if type(buf) is bytes else bytes(buf[pos:end])
        data = self._read_exact(size, f"member {head[0]!r}", head[2])
        self._skip_exact(-head[1] % BLOCK, f"the padding of member {head[0]!r}", head[2])
        return data

    def read_piece(self, n: int = READ_SIZE) -> Buffer:
        """Up to ``n`` (> 0) next bytes of the pending member's data, from one chunk;
        empty once its data is all read (its padding is skipped by the next
        :meth:`skip_data` or :meth:`next_member`).

        A piece is a slice of its chunk: a view of a ``memoryview`` chunk is valid only
        until the stream reads on. Raises ``TruncatedShardError`` when the stream ends
        inside the data.
        """
        head = self._pending
        if head is None:
            raise RuntimeError("read_piece() without a pending member")
        left = self._left
        if left <= 0:
            return b""
        piece = self._piece(min(n, left))
        if not piece:
            raise self._error(
                TruncatedShardError,
                f"stream ends inside member {head[0]!r} ({head[1] - left} of {head[1]} "
                f"bytes, stream ends at byte {self.offset})", head[2])
        self._left = left - len(piece)
        return piece

    def skip_data(self) -> None:
        """Skip what is left of the pending member's data, and its padding."""
        head = self._pending
        if head is None:
            return
        self._pending = None
        self._skip_exact(self._left + (-head[1] % BLOCK), f"member {head[0]!r}", head[2])

    def next_entry(self) -> Optional[tuple[str, bytes, int]]:
        """``(name, data, offset)`` of the next regular file, or ``None`` at the end.

        The same as :meth:`next_member` followed by :meth:`read_data`, in one call.
        """
        if self._pending is not None:
            self.skip_data()
        head = self._header()
        if head is None:
            return None
        name, size, offset = head
        buf, pos = self._buf, self._pos
        end = pos + size
        padded = end + (-size % BLOCK)
        if padded <= len(buf):
            self._pos = padded
            return name, buf[pos:end] if type(buf) is bytes else bytes(buf[pos:end]), offset
        self._pending = _new(MemberHeader, (name, size, offset, self._base + pos))
        self._left = size
        return name, self.read_data(), offset

    def __iter__(self) -> Iterator[TarMember]:
        while True:
            entry = self.next_entry()
            if entry is None:
                return
            yield TarMember(*entry)

    # ------------------------------------------------------------------ whole-chunk scan

    @property
    def compiled(self) -> bool:
        """Whether the compiled scanner serves this stream (else the pure-Python twins)."""
        return _fast is not None

    def scan_keyed(self, budget: int = SCAN_BUDGET) -> tuple[int, list]:
        """The plain members lying wholly in the current chunk, read in one call.

        Returns ``(base, [(key, ext, data, pos), ...])``: each member's name split by the
        WebDataset rule (:func:`~ais_datasets.samples.split_key`; members without a key
        are stepped over, not listed), its data, and its header's offset ``base + pos``.
        Stops at anything left to the full parser (read on with :meth:`next_member`)
        and once the data listed reaches ``budget`` bytes (at least one member is listed
        when one is there). The compiled scanner does this where it is built; otherwise
        the same in Python over ``bytes`` chunks. A pending member's data is skipped
        first.
        """
        if self._pending is not None:
            self.skip_data()
        base, buf = self._base, self._buf
        if self._done:
            return base, []
        if _fast is not None:
            self._pos, members = _fast.scan(buf, self._pos, budget)
        elif type(buf) is bytes:
            self._pos, members = _scan_plain(buf, self._pos, budget)
        else:
            return base, []
        return base, members


def _scan_plain(buf: bytes, pos: int, budget: int, _plain=plain_header) -> tuple[int, list]:
    """The pure-Python twin of ``_tarscan.scan`` (see :meth:`TarStream.scan_keyed`)."""
    members: list = []
    taken, size_buf = 0, len(buf)
    while taken < budget:
        head = _plain(buf, pos)
        if head is None:
            break
        name, size = head
        start = pos + BLOCK
        end = start + size
        padded = end + (-size % BLOCK)
        if padded > size_buf:
            break
        slash = name.rfind("/") + 1
        dot = name.find(".", slash)
        if dot > slash:
            taken += size
            members.append((name[:dot], name[dot + 1:], buf[start:end], pos))
        pos = padded
    return pos, members
