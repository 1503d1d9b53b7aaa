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
at a clean end of stream on a header boundary. A stream that ends inside a header, a
member or its padding raises :class:`~ais_datasets.errors.TruncatedShardError`; a header
whose checksum does not match raises :class:`~ais_datasets.errors.ShardReadError`. Both
name the shard and the byte offset.

Sample keys follow WebDataset: the key is the member path up to the first dot of its
last component (directory included) and the extension is everything after that dot, so
``a/x.jpg`` and ``b/x.jpg`` are two samples while ``x.seg.png`` and ``x.png`` are two
fields (``seg.png`` and ``png``) of sample ``x``. Members whose last component has no dot,
or starts with one, belong to no sample and are skipped. Extensions keep their case.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple, Optional, Union

from ais_datasets.errors import ShardReadError, TruncatedShardError

BLOCK = 512
READ_SIZE = 1 << 20
_ZERO_BLOCK = bytes(BLOCK)
_REGULAR = (b"0", b"\x00", b"7")
_POSIX_MAGIC = b"ustar\x0000"

Chunks = Iterable[Union[bytes, bytearray, memoryview]]


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

    Raises ``ShardReadError`` (offset in the compressed stream) for corrupt data and
    ``TruncatedShardError`` when the stream ends inside a gzip member.
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
                out = decomp.decompress(data)
            except zlib.error as err:
                raise ShardReadError(f"corrupt gzip data: {err}", offset=consumed) from None
            if out:
                yield out
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


class _ByteReader:
    """Exact-size reads over a chunk iterator, tracking the absolute stream offset."""

    __slots__ = ("_chunks", "_buf", "_pos", "_base")

    def __init__(self, chunks: Iterator, offset: int = 0) -> None:
        self._chunks = chunks
        self._buf = b""
        self._pos = 0
        self._base = offset  # absolute offset of _buf[0]

    @property
    def offset(self) -> int:
        return self._base + self._pos

    def _next_chunk(self) -> Optional[bytes]:
        for chunk in self._chunks:
            if chunk:
                return chunk if isinstance(chunk, bytes) else bytes(chunk)
        return None

    def read(self, n: int) -> bytes:
        """Read ``n`` bytes; fewer only at the end of the stream."""
        buf, pos = self._buf, self._pos
        end = pos + n
        if end <= len(buf):
            self._pos = end
            return buf[pos:end]
        parts = [buf[pos:]] if pos < len(buf) else []
        got = len(buf) - pos
        self._base += len(buf)
        self._buf, self._pos = b"", 0
        while got < n:
            chunk = self._next_chunk()
            if chunk is None:
                break
            need = n - got
            if len(chunk) > need:
                parts.append(chunk[:need])
                self._buf, self._pos = chunk, need
                got = n
                break
            parts.append(chunk)
            got += len(chunk)
            self._base += len(chunk)
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    def skip(self, n: int) -> int:
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


def _checksum_ok(hdr: bytes) -> bool:
    try:
        stored = _number(hdr[148:156])
    except ValueError:
        return False
    unsigned = sum(hdr) - sum(hdr[148:156]) + 8 * 32
    if stored == unsigned:
        return True
    signed = unsigned - 2 * sum(b for b in hdr if b > 127)  # some old writers sign bytes
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

    ``source`` is a file-like object (``read(n)``) or an iterable of byte chunks.
    ``offset`` is the absolute offset of the stream's first byte in the shard (non-zero
    when a reader resumes mid-shard with a byte range); ``shard`` names the shard in
    errors. Use :meth:`next_member` then :meth:`read_data` or :meth:`skip_data`, or
    simply iterate for :class:`TarMember` tuples.
    """

    def __init__(self, source, *, offset: int = 0, shard: Optional[str] = None) -> None:
        self._reader = _ByteReader(chunks_of(source), offset)
        self.shard = shard
        self._pending: Optional[MemberHeader] = None  # header whose data is unread
        self._done = False
        self.closer: Optional[Callable[[], None]] = None

    def close(self) -> None:
        """Release the underlying stream (calls ``closer`` once, when one is set)."""
        closer, self.closer = self.closer, None
        if closer is not None:
            closer()

    @property
    def offset(self) -> int:
        """Current absolute position in the stream."""
        return self._reader.offset

    def _error(self, cls, reason: str, offset: int) -> ShardReadError:
        return cls(reason, shard=self.shard, offset=offset)

    def _read_exact(self, n: int, what: str, start: int) -> bytes:
        data = self._reader.read(n)
        if len(data) < n:
            raise self._error(
                TruncatedShardError,
                f"stream ends inside {what} ({len(data)} of {n} bytes, "
                f"stream ends at byte {self._reader.offset})", start)
        return data

    def _skip_exact(self, n: int, what: str, start: int) -> None:
        if self._reader.skip(n) < n:
            raise self._error(
                TruncatedShardError,
                f"stream ends inside {what} (stream ends at byte {self._reader.offset})",
                start)

    def _read_blocks(self, size: int, what: str, start: int) -> bytes:
        data = self._read_exact(size, what, start)
        self._skip_exact(-size % BLOCK, f"the padding of {what}", start)
        return data

    def _skip_blocks(self, size: int, what: str, start: int) -> None:
        self._skip_exact(size + (-size % BLOCK), what, start)

    def next_member(self) -> Optional[MemberHeader]:
        """The next regular file's header, or ``None`` at the end of the archive.

        Unread data of the previous member is skipped first.
        """
        if self._pending is not None:
            self.skip_data()
        if self._done:
            return None
        long_name: Optional[str] = None
        pax: dict[str, str] = {}
        first: Optional[int] = None
        while True:
            start = self._reader.offset
            hdr = self._reader.read(BLOCK)
            if not hdr and first is None:
                self._done = True  # clean end of stream on a header boundary
                return None
            if len(hdr) < BLOCK:
                what = "a tar header" if first is None else "the header after an extended header"
                raise self._error(
                    TruncatedShardError,
                    f"stream ends inside {what} ({len(hdr)} of {BLOCK} bytes)", start)
            if hdr == _ZERO_BLOCK:
                if first is not None:
                    raise self._error(ShardReadError,
                                      "end-of-archive block after an extended header", start)
                self._done = True
                return None
            if not _checksum_ok(hdr):
                raise self._error(ShardReadError, "invalid tar header (checksum mismatch)", start)
            if first is None:
                first = start
            try:
                size = _number(hdr[124:136])
            except ValueError:
                raise self._error(ShardReadError, "invalid size field in tar header",
                                  start) from None
            typeflag = hdr[156:157]
            if typeflag == b"L":
                long_name = _decode(_nts(self._read_blocks(size, "a GNU long name", start)))
                continue
            if typeflag == b"K":
                self._skip_blocks(size, "a GNU long link name", start)
                continue
            if typeflag == b"x":
                pax.update(_pax_records(self._read_blocks(size, "a PAX header", start), start))
                continue
            if typeflag == b"g":
                self._skip_blocks(size, "a PAX global header", start)
                continue
            if "size" in pax:
                try:
                    size = int(pax["size"])
                except ValueError:
                    raise self._error(ShardReadError, "invalid PAX size", start) from None
            if typeflag not in _REGULAR:
                # directories, links, devices, fifos, GNU sparse/volume entries: no member
                self._skip_blocks(size if typeflag not in (b"1", b"2", b"3", b"4", b"5", b"6")
                                  else 0, "a non-file entry", start)
                long_name, pax, first = None, {}, None
                continue
            if "path" in pax:
                name = pax["path"]
            elif long_name is not None:
                name = long_name
            else:
                raw = _nts(hdr[0:100])
                if hdr[257:265] == _POSIX_MAGIC:
                    prefix = _nts(hdr[345:500])
                    if prefix:
                        raw = prefix + b"/" + raw
                name = _decode(raw)
            self._pending = MemberHeader(name, size, first, self._reader.offset)
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

    def __iter__(self) -> Iterator[TarMember]:
        while True:
            head = self.next_member()
            if head is None:
                return
            yield TarMember(head.name, self.read_data(), head.offset)


def split_key(name: str) -> tuple[Optional[str], str]:
    """``(key, extension)`` of a member name by the WebDataset rule (see module doc).

    Returns ``(None, "")`` for names that belong to no sample.
    """
    slash = name.rfind("/") + 1
    dot = name.find(".", slash)
    if dot <= slash:  # no dot in the last component, or it starts with one
        return None, ""
    return name[:dot], name[dot + 1:]


def iter_samples(tar: TarStream, skip: int = 0,
                 status: Optional[dict[str, bool]] = None) -> Iterator[Sample]:
    """Group consecutive members of ``tar`` into samples by key.

    The first ``skip`` samples are passed over reading headers only (their data is
    skipped, not held). A key repeated with the same extension inside one sample raises
    ``ShardReadError`` (the shard is inconsistent). When ``status`` is given,
    ``status["open"]`` says whether a sample has been started and not yet yielded, which
    tells a caller handling an error whether a sample was lost with it.
    """
    if status is None:
        status = {}
    status["open"] = False
    key: Optional[str] = None
    fields: dict[str, bytes] = {}
    offset = 0
    index = 0
    while True:
        head = tar.next_member()
        if head is not None:
            new_key, ext = split_key(head.name)
            if new_key is None:
                continue
            if new_key == key:
                if index >= skip:
                    if ext in fields:
                        raise ShardReadError(
                            f"duplicate member {head.name!r} in sample {key!r}",
                            shard=tar.shard, offset=head.offset)
                    fields[ext] = tar.read_data()
                continue
        if key is not None:
            if index >= skip:
                next_offset = head.offset if head is not None else tar.offset
                status["open"] = False
                yield Sample(key, fields, offset, next_offset)
            index += 1
        if head is None:
            return
        key, offset = new_key, head.offset
        status["open"] = index >= skip
        fields = {ext: tar.read_data()} if index >= skip else {}
