"""Streaming tar reading and WebDataset sample grouping.

This module owns the byte-level work on shards: it parses tar headers straight from a
stream of chunks (never holding a whole shard), reports every problem with its byte
offset, and groups consecutive members into samples by the WebDataset key rule::

    tar = TarStream(obj.get_reader().as_file(), shard="ais://b/shard-0.tar")
    for sample in iter_samples(tar):
        sample.key, sample.fields["jpg"]

Supported: POSIX ustar (with its ``prefix`` field), GNU long names (``L``) and long link
names (``K``), PAX extended headers (``x``: ``path`` and ``size``; global ``g`` headers are
read and ignored), base-256 sizes, gzip-compressed streams (:func:`gunzip_chunks`).
Only regular files (types ``0``, ``\\0``, ``7``) are members; directories, links,
devices and GNU sparse entries are skipped. Reading stops at the first all-zero block or
at a clean end of stream on a header boundary (``TarStream.terminated`` tells which: a
shard without its end-of-archive blocks may have lost members at its end). A stream that ends inside a header, a
member or its padding raises :class:`~ais_datasets.errors.TruncatedShardError`; a header
whose checksum does not match raises :class:`~ais_datasets.errors.ShardReadError`. Both
name the shard and the byte offset.

Cost: headers are parsed in place in the stream's chunks (no copy of the 512-byte
block on the common path) and a member's data is one slice of its chunk, so
the work per member is a few small operations plus the one ``bytes`` object it becomes.
Where the package was built with a C compiler, ``ais_datasets._tarscan`` takes the
common case: plain ustar headers, and in :func:`iter_samples` every whole member of a
chunk in one call (up to ``SCAN_BUDGET`` bytes of data at a time). It hands anything
else (extended headers, other entry types, odd fields, a member cut by the chunk's end,
every error) back to the Python parser, so results, offsets and errors are the same
with it and without it; ``AIS_DATASETS_PURE_PYTHON=1`` turns it off.
``python -m ais_datasets.tario_bench`` measures the parser alone.

Sample keys follow WebDataset: the key is the member path up to the first dot of its
last component (directory included) and the extension is everything after that dot, so
``a/x.jpg`` and ``b/x.jpg`` are two samples while ``x.seg.png`` and ``x.png`` are two
fields (``seg.png`` and ``png``) of sample ``x``. Members whose last component has no dot,
or starts with one, belong to no sample and are skipped. Extensions keep their case.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple, Optional, Union

from ais_datasets.errors import ShardReadError, TruncatedShardError

BLOCK = 512
READ_SIZE = 1 << 20
GUNZIP_OUT = 4 << 20  # at most this much decompressed output per step
SCAN_BUDGET = 256 << 10  # member bytes the compiled scan copies out per call (at least one)
_ZERO_BLOCK = bytes(BLOCK)
_POSIX_MAGIC = b"ustar\x0000"
_NUL = b"\x00"
# type flags (as ints, the way a bytes object indexes)
_REGULAR = (0x30, 0x00, 0x37)  # "0", NUL, "7"
_NO_DATA = (0x31, 0x32, 0x33, 0x34, 0x35, 0x36)  # links, devices, dirs, fifos: size unused
_GNU_LONGNAME, _GNU_LONGLINK, _PAX, _PAX_GLOBAL = 0x4C, 0x4B, 0x78, 0x67  # L K x g
_TERMINATORS = (0x00, 0x20)

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


class Sample(NamedTuple):
    """One WebDataset sample: consecutive members sharing a key."""

    key: str
    fields: dict[str, bytes]
    offset: int  # offset of the sample's first member header
    next_offset: int  # offset where the next sample (or the end of the archive) begins


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


def _nts(field: bytes) -> bytes:
    end = field.find(b"\x00")
    return field if end < 0 else field[:end]


def _number(field: bytes) -> int:
    """A numeric header field: octal text, or GNU base-256 when the high bit is set."""
    if field and field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        if field[0] == 0xFF:  # negative base-256
            value -= 1 << (8 * (len(field) - 1))
        return value
    text = _nts(field).strip(b" \x00")
    return int(text, 8) if text else 0


def _checksum_ok(buf: bytes, pos: int) -> bool:
    """Whether the header block ``buf[pos:pos + 512]`` carries a valid checksum.

    The byte sum is taken with ``zlib.adler32`` over two 256-byte halves: the low half of
    an Adler-32 is 1 + the byte sum modulo 65521, and 256 bytes sum to at most 65280.
    """
    field = buf[pos + 148:pos + 156]
    unsigned = ((zlib.adler32(buf[pos:pos + 256]) & 0xFFFF)
                + (zlib.adler32(buf[pos + 256:pos + 512]) & 0xFFFF) - 2
                - sum(field) + 8 * 32)
    try:
        stored = int(field[:6], 8) if field[6] == 0 else _number(field)
    except ValueError:
        try:
            stored = _number(field)
        except ValueError:
            return False
    if stored == unsigned:
        return True
    hdr = buf[pos:pos + BLOCK]
    signed = unsigned - 256 * sum(b > 127 for b in hdr)  # some old writers sign bytes
    return stored == signed


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _pax_records(data: bytes, offset: int) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:  # some writers pad the record block with NULs
            break
        space = data.find(b" ", pos)
        if space < 0:
            raise ShardReadError("malformed PAX record", offset=offset)
        try:
            length = int(data[pos:space])
        except ValueError:
            raise ShardReadError("malformed PAX record length", offset=offset) from None
        record = data[space + 1:pos + length]
        if length <= 0 or not record.endswith(b"\n") or b"=" not in record:
            raise ShardReadError("malformed PAX record", offset=offset)
        key, _, value = record[:-1].partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = _decode(value)
        pos += length
    return records


class TarStream:
    """Sequential access to the regular-file members of a tar stream.

    ``source`` is a file-like object (``read(n)``) or an iterable of byte chunks. A
    ``memoryview`` chunk is read in place and only until the next chunk is asked for
    (what the stream keeps across that request, it copies first), so a producer may
    receive every chunk into the same buffer; other non-``bytes`` chunks are copied.
    Member data is always ``bytes``. ``offset`` is the absolute offset of the stream's first byte in the shard (non-zero
    when a reader resumes mid-shard with a byte range); ``shard`` names the shard in
    errors. Use :meth:`next_member` then :meth:`read_data` or :meth:`skip_data`, or
    simply iterate for :class:`TarMember` tuples.
    """

    __slots__ = ("_chunks", "_buf", "_pos", "_base", "shard", "_pending", "_done",
                 "closer", "terminated")

    def __init__(self, source, *, offset: int = 0, shard: Optional[str] = None) -> None:
        self._chunks = iter(chunks_of(source))
        self._buf = b""  # the current chunk
        self._pos = 0  # read position in it
        self._base = offset  # absolute offset of _buf[0]
        self.shard = shard
        self._pending: Optional[MemberHeader] = None  # header whose data is unread
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

    def _read_blocks(self, size: int, what: str, start: int) -> bytes:
        """``size`` bytes of data and the padding after them (the data is returned)."""
        buf, pos = self._buf, self._pos
        end = pos + size
        padded = end + (-size % BLOCK)
        if padded <= len(buf):  # the common case: all in the current chunk
            self._pos = padded
            return buf[pos:end] if type(buf) is bytes else bytes(buf[pos:end])
        data = self._read_exact(size, what, start)
        self._skip_exact(-size % BLOCK, f"the padding of {what}", start)
        return data

    def _skip_blocks(self, size: int, what: str, start: int) -> None:
        self._skip_exact(size + (-size % BLOCK), what, start)

    # ------------------------------------------------------------------ headers

    def _header(self, _adler32=zlib.adler32, _regular=_REGULAR,
                _terminators=_TERMINATORS) -> Optional[tuple[str, int, int]]:
        """``(name, size, offset)`` of the next regular file, its data up next; or None."""
        buf, pos = self._buf, self._pos
        if _fast is not None:
            head = None if self._done else _fast.header(buf, pos)
            if head is None:
                return self._header_chain()
            self._pos = pos + BLOCK
            return head[0], head[1], self._base + pos
        # fast path: a plain regular-file header (no extended headers) in this chunk
        if pos + BLOCK <= len(buf) and type(buf) is bytes and buf[pos] \
                and buf[pos + 156] in _regular and not self._done:
            field = buf[pos + 148:pos + 156]
            if field[6] == 0 and buf[pos + 135] in _terminators and buf[pos + 124] < 0x80:
                try:
                    stored = int(field[:6], 8)
                    size = int(buf[pos + 124:pos + 135], 8)
                except ValueError:
                    pass
                else:
                    if stored == ((_adler32(buf[pos:pos + 256]) & 0xFFFF)
                                  + (_adler32(buf[pos + 256:pos + 512]) & 0xFFFF)
                                  + 254 - sum(field)):
                        self._pos = pos + BLOCK
                        end = buf.find(_NUL, pos, pos + 100)
                        raw = buf[pos:end if end >= 0 else pos + 100]
                        if buf[pos + 345] and buf[pos + 257:pos + 265] == _POSIX_MAGIC:
                            raw = _nts(buf[pos + 345:pos + 500]) + b"/" + raw
                        return raw.decode("utf-8", "surrogateescape"), size, self._base + pos
        return self._header_chain()

    def _header_chain(self) -> Optional[tuple[str, int, int]]:
        """:meth:`_header` for every case: extended headers, straddling blocks, errors."""
        if self._done:
            return None
        long_name: Optional[str] = None
        pax: Optional[dict[str, str]] = None
        first = -1
        while True:
            buf, pos = self._buf, self._pos
            start = self._base + pos
            if pos + BLOCK <= len(buf):
                self._pos = pos + BLOCK
                if type(buf) is not bytes:  # a view of a reused buffer: parse a copy
                    buf, pos = bytes(buf[pos:pos + BLOCK]), 0
            else:  # the block straddles chunks (or the stream ends): assemble it
                buf, pos = self._take(BLOCK), 0
                if len(buf) < BLOCK:
                    if not buf and first < 0:
                        self._done = True  # clean end of stream on a header boundary
                        return None
                    what = ("a tar header" if first < 0
                            else "the header after an extended header")
                    raise self._error(
                        TruncatedShardError,
                        f"stream ends inside {what} ({len(buf)} of {BLOCK} bytes)", start)
            if not buf[pos] and buf[pos:pos + BLOCK] == _ZERO_BLOCK:
                if first >= 0:
                    raise self._error(ShardReadError,
                                      "end-of-archive block after an extended header", start)
                self._done = True
                self.terminated = True
                return None
            if not _checksum_ok(buf, pos):
                raise self._error(ShardReadError, "invalid tar header (checksum mismatch)",
                                  start)
            if first < 0:
                first = start
            field = buf[pos + 124:pos + 136]
            try:
                if field[11] in _TERMINATORS and field[0] < 0x80:
                    try:
                        size = int(field[:11], 8)
                    except ValueError:
                        size = _number(field)
                else:
                    size = _number(field)
            except ValueError:
                raise self._error(ShardReadError, "invalid size field in tar header",
                                  start) from None
            typeflag = buf[pos + 156]
            if typeflag not in _REGULAR:
                if typeflag == _GNU_LONGNAME:
                    long_name = _decode(_nts(self._read_blocks(size, "a GNU long name",
                                                               start)))
                    continue
                if typeflag == _PAX:
                    records = _pax_records(self._read_blocks(size, "a PAX header", start),
                                           start)
                    pax = records if pax is None else {**pax, **records}
                    continue
                if typeflag in (_GNU_LONGLINK, _PAX_GLOBAL):
                    what = "a GNU long link name" if typeflag == _GNU_LONGLINK \
                        else "a PAX global header"
                    self._skip_blocks(size, what, start)
                    continue
                # directories, links, devices, fifos, GNU sparse/volume entries: no member
                if pax is not None and "size" in pax:
                    size = self._pax_size(pax, start)
                self._skip_blocks(0 if typeflag in _NO_DATA else size, "a non-file entry",
                                  start)
                long_name, pax, first = None, None, -1
                continue
            if pax is not None:
                if "size" in pax:
                    size = self._pax_size(pax, start)
                if "path" in pax:
                    return pax["path"], size, first
            if long_name is not None:
                return long_name, size, first
            end = buf.find(_NUL, pos, pos + 100)
            raw = buf[pos:end if end >= 0 else pos + 100]
            if buf[pos + 345] and buf[pos + 257:pos + 265] == _POSIX_MAGIC:
                prefix = _nts(buf[pos + 345:pos + 500])
                raw = prefix + b"/" + raw
            return raw.decode("utf-8", "surrogateescape"), size, first

    def _pax_size(self, pax: dict[str, str], start: int) -> int:
        try:
            return int(pax["size"])
        except ValueError:
            raise self._error(ShardReadError, "invalid PAX size", start) from None

    # ------------------------------------------------------------------ members

    def next_member(self) -> Optional[MemberHeader]:
        """The next regular file's header, or ``None`` at the end of the archive.

        Unread data of the previous member is skipped first.
        """
        if self._pending is not None:
            self.skip_data()
        head = self._header()
        if head is None:
            return None
        self._pending = MemberHeader(head[0], head[1], head[2], self.offset)
        return self._pending

    def read_data(self) -> bytes:
        """The data of the member last returned by :meth:`next_member`."""
        head = self._pending
        if head is None:
            raise RuntimeError("read_data() without a pending member")
        self._pending = None
        return self._read_blocks(head.size, f"member {head.name!r}", head.offset)

    def skip_data(self) -> None:
        """Skip the data of the member last returned by :meth:`next_member`."""
        head = self._pending
        if head is None:
            return
        self._pending = None
        self._skip_blocks(head.size, f"member {head.name!r}", head.offset)

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
        return name, self._read_blocks(size, f"member {name!r}", offset), offset

    def __iter__(self) -> Iterator[TarMember]:
        while True:
            entry = self.next_entry()
            if entry is None:
                return
            yield TarMember(*entry)


def split_key(name: str) -> tuple[Optional[str], str]:
    """``(key, extension)`` of a member name by the WebDataset rule (see module doc).

    Returns ``(None, "")`` for names that belong to no sample.
    """
    slash = name.rfind("/") + 1
    dot = name.find(".", slash)
    if dot <= slash:  # no dot in the last component, or it starts with one
        return None, ""
    return name[:dot], name[dot + 1:]


def _duplicate(tar: TarStream, name: str, key: str, offset: int) -> ShardReadError:
    return ShardReadError(f"duplicate member {name!r} in sample {key!r}", shard=tar.shard,
                          offset=offset)


def iter_samples(tar: TarStream, skip: int = 0,
                 status: Optional[dict[str, bool]] = None,
                 fields_type: type = dict) -> Iterator[Sample]:
    """Group consecutive members of ``tar`` into samples by key.

    The first ``skip`` samples are passed over reading headers only (their data is
    skipped, not held). A key repeated with the same extension inside one sample raises
    ``ShardReadError`` (the shard is inconsistent). When ``status`` is given,
    ``status["open"]`` says whether a sample has been started and not yet yielded, which
    tells a caller handling an error whether a sample was lost with it. ``fields_type``
    is the ``dict`` subclass a sample's fields are built in (made empty by its
    ``__new__``; its ``__init__`` is not called).
    """
    if status is None:
        status = {}
    status["open"] = False
    header = tar._header  # noqa: SLF001 - the module's own fast path
    read_blocks = tar._read_blocks  # noqa: SLF001
    skip_blocks = tar._skip_blocks  # noqa: SLF001
    new_sample = tuple.__new__
    new_fields = fields_type.__new__
    key: Optional[str] = None
    fields: dict[str, bytes] = {}
    offset = 0
    index = 0
    scan = _fast.scan if _fast is not None else None
    if tar._pending is not None:  # noqa: SLF001
        tar.skip_data()
    while True:
        if scan is not None and index >= skip and not tar._done:  # noqa: SLF001
            # every whole plain member left in the current chunk, parsed in one call
            base = tar._base  # noqa: SLF001
            tar._pos, members = scan(tar._buf, tar._pos, SCAN_BUDGET)  # noqa: SLF001
            for new_key, ext, data, at in members:
                if new_key == key:
                    if ext in fields:
                        raise _duplicate(tar, f"{key}.{ext}", key, base + at)
                    fields[ext] = data
                    continue
                if key is not None:
                    status["open"] = False
                    yield new_sample(Sample, (key, fields, offset, base + at))
                    index += 1
                key, offset = new_key, base + at
                fields = new_fields(fields_type)
                status["open"] = True
                fields[ext] = data
        head = header()
        if head is not None:
            name, size, head_offset = head
            slash = name.rfind("/") + 1
            dot = name.find(".", slash)
            if dot <= slash:  # belongs to no sample
                skip_blocks(size, f"member {name!r}", head_offset)
                continue
            new_key = name[:dot]
            if new_key == key:
                if index >= skip:
                    ext = name[dot + 1:]
                    if ext in fields:
                        raise _duplicate(tar, name, key, head_offset)
                    fields[ext] = read_blocks(size, f"member {name!r}", head_offset)
                else:
                    skip_blocks(size, f"member {name!r}", head_offset)
                continue
        if key is not None:
            if index >= skip:
                next_offset = head[2] if head is not None else tar.offset
                status["open"] = False
                yield new_sample(Sample, (key, fields, offset, next_offset))
            index += 1
        if head is None:
            return
        key, offset = new_key, head_offset
        fields = new_fields(fields_type)  # an empty dict of that type, no __init__
        if index >= skip:
            status["open"] = True
            fields[name[dot + 1:]] = read_blocks(size, f"member {name!r}", head_offset)
        else:
            status["open"] = False
            skip_blocks(size, f"member {name!r}", head_offset)
