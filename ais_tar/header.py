"""The rules for one tar header block: numeric fields, checksum, names, PAX records.

Everything here is a pure function of bytes; the chain of headers in front of an entry is
:mod:`ais_tar.entries`. The rules (shared by every reader in this distribution, and by
the compiled scanner ``ais_datasets/_tarscan.c``, which accepts a strict subset of them):

* A numeric field is octal ASCII digits, cut at its first NUL, with spaces around them
  (empty is 0), or GNU base-256 when its first byte has the high bit set. Anything else
  is an error: a sign, an underscore, a ``0o`` prefix, ``8``/``9`` (all of which Python's
  ``int(text, 8)`` would take), a negative base-256 number, or a value over
  ``MAX_SIZE`` (2**63 - 1, Go's limit).
* The checksum is the unsigned byte sum of the block with the checksum field taken as
  eight spaces; the signed sum some old writers used is accepted too.
* A name is the ``name`` field up to its first NUL, joined under the ``prefix`` field
  when the block has the POSIX magic ``ustar\\0`` and version ``00``.
* PAX records are ``"<length> <key>=<value>\\n"`` with a decimal length that covers the
  whole record; NUL padding may follow the last one. ``size`` must be decimal digits.
* GNU long names and PAX payloads (and the long link names and global headers that are
  skipped) are at most ``MAX_EXTENDED`` bytes (1 MiB, Go's limit).

    plain_header(chunk, pos)     # ("a/b.jpg", 700) for a plain regular-file header
    parse_number(b"00000001274\\0")  # 700
"""

from __future__ import annotations

import zlib
from typing import Optional, Union

BLOCK = 512
MAX_SIZE = (1 << 63) - 1  # the largest entry size (Go's int64)
MAX_EXTENDED = 1 << 20  # the largest GNU long name / PAX payload (Go's limit)

# type flags, as ints (the way a bytes object indexes)
REGULAR = (0x30, 0x00, 0x37)  # "0", NUL, "7"
HEADER_ONLY = (0x31, 0x32, 0x33, 0x34, 0x35, 0x36)  # links, devices, dirs, fifos: no data
DIRECTORY = 0x35  # "5"
GNU_LONGNAME, GNU_LONGLINK, PAX, PAX_GLOBAL = 0x4C, 0x4B, 0x78, 0x67  # L K x g
GNU_SPARSE = 0x53  # "S"
EXTENDED = {GNU_LONGNAME: "a GNU long name", GNU_LONGLINK: "a GNU long link name",
            PAX: "a PAX header", PAX_GLOBAL: "a PAX global header"}

ZERO_BLOCK = bytes(BLOCK)
POSIX_MAGIC = b"ustar\x0000"
_OCTAL = b"01234567"
_HIGH = bytes(range(128, 256))
_TERMINATORS = (0x00, 0x20)
_NUL = b"\x00"

Buffer = Union[bytes, bytearray, memoryview]


class TarError(ValueError):
    """A header that breaks the rules. ``offset`` is the byte offset of its block (of the
    first header of the entry for limits that concern the whole entry); ``reason`` says
    what is wrong, without the location. Readers turn it into their own error type."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"{reason} (at byte offset {offset})")
        self.reason = reason
        self.offset = offset


class TruncatedTarError(TarError):
    """The stream ended inside a header block or an extended header's payload."""


def parse_number(field: Buffer) -> int:
    """The value of a numeric header field (see the module doc); ``ValueError`` if bad."""
    field = bytes(field)
    if field and field[0] & 0x80:  # GNU base-256: big-endian, the top bit marks it
        if field[0] & 0x40:
            raise ValueError("negative base-256 number")
        value = int.from_bytes(field, "big") ^ (0x80 << (8 * (len(field) - 1)))
    else:
        text = field.split(_NUL, 1)[0].strip(b" ")
        if not text:
            return 0
        if text.translate(None, _OCTAL):
            raise ValueError(f"{text!r} is not an octal number")
        value = int(text, 8)
    if value > MAX_SIZE:
        raise ValueError(f"{value} is over the limit of {MAX_SIZE}")
    return value


def checksum_ok(block: bytes, pos: int = 0) -> bool:
    """Whether the header block ``block[pos:pos + 512]`` carries a valid checksum.

    The byte sum is taken with ``zlib.adler32`` over two 256-byte halves: the low half of
    an Adler-32 is 1 + the byte sum modulo 65521, and 256 bytes sum to at most 65280.
    """
    field = block[pos + 148:pos + 156]
    try:
        stored = parse_number(field)
    except ValueError:
        return False
    unsigned = ((zlib.adler32(block[pos:pos + 256]) & 0xFFFF)
                + (zlib.adler32(block[pos + 256:pos + 512]) & 0xFFFF) - 2
                - sum(field) + 8 * 32)
    if stored == unsigned:
        return True
    rest = block[pos:pos + 148] + block[pos + 156:pos + BLOCK]
    high = len(rest) - len(rest.translate(None, _HIGH))  # bytes over 127
    return stored == unsigned - 256 * high  # some old writers summed signed chars


def block_name(block: bytes, pos: int = 0) -> bytes:
    """The raw name of the header at ``pos``: ``prefix/name`` for POSIX ustar blocks."""
    end = block.find(_NUL, pos, pos + 100)
    raw = block[pos:end if end >= 0 else pos + 100]
    if block[pos + 345] and block[pos + 257:pos + 265] == POSIX_MAGIC:
        end = block.find(_NUL, pos + 345, pos + 500)
        raw = block[pos + 345:end if end >= 0 else pos + 500] + b"/" + raw
    return raw


def decode(raw: bytes) -> str:
    """A name or value from a header: UTF-8, undecodable bytes kept as surrogates."""
    return raw.decode("utf-8", "surrogateescape")


def plain_header(buf: bytes, pos: int, _adler32=zlib.adler32, _regular=REGULAR,
                 _terminators=_TERMINATORS, _magic=POSIX_MAGIC,
                 _nul=_NUL) -> Optional[tuple[str, int]]:
    """``(name, size)`` of the header at ``buf[pos:pos + 512]`` when it is a plain
    regular-file header that the full rules read the same way; otherwise ``None``.

    The common case, decided in a few operations: a ``bytes`` chunk, a regular-file
    type, octal digits (after leading spaces) in the size and checksum fields, terminated
    as tarfile writes them, the unsigned checksum. ``None`` says nothing about validity:
    the caller then reads the block with :func:`ais_tar.read_entry`.
    ``ais_datasets._tarscan.header`` is its compiled twin and accepts exactly the same
    blocks.
    """
    if pos + BLOCK > len(buf) or not buf[pos] or buf[pos + 156] not in _regular:
        return None
    field = buf[pos + 148:pos + 154]
    size_field = buf[pos + 124:pos + 135]
    if buf[pos + 154] or buf[pos + 135] not in _terminators:
        return None
    if not (field.isdigit() or field.lstrip(b" ").isdigit()) \
            or not (size_field.isdigit() or size_field.lstrip(b" ").isdigit()):
        return None  # octal digits only, after leading spaces
    try:
        stored = int(field, 8)
        size = int(size_field, 8)
    except ValueError:  # an 8 or a 9
        return None
    if stored != ((_adler32(buf[pos:pos + 256]) & 0xFFFF)
                  + (_adler32(buf[pos + 256:pos + 512]) & 0xFFFF)
                  + 254 - sum(buf[pos + 148:pos + 156])):
        return None
    end = buf.find(_nul, pos, pos + 100)  # block_name(), inline: this is the hot path
    raw = buf[pos:end if end >= 0 else pos + 100]
    if not buf[pos + 156] and raw[-1] == 0x2F:
        return None  # an old-style directory (a "/" at the end of the name)
    if buf[pos + 345] and buf[pos + 257:pos + 265] == _magic:
        end = buf.find(_nul, pos + 345, pos + 500)
        raw = buf[pos + 345:end if end >= 0 else pos + 500] + b"/" + raw
    return raw.decode("utf-8", "surrogateescape"), size


class PaxRecords:
    """The records of the PAX headers in front of one entry that the readers use."""

    __slots__ = ("path", "size", "sparse")

    def __init__(self) -> None:
        self.path: Optional[str] = None
        self.size: Optional[int] = None
        self.sparse = False  # a GNU.sparse.* record: a sparse file in PAX form

    def add(self, payload: bytes, offset: int) -> None:
        """Parse one PAX header's payload (records of later headers win)."""
        pos, end_all = 0, len(payload)
        while pos < end_all:
            if not payload[pos]:  # NUL padding after the last record, up to the end
                if payload[pos:].strip(_NUL):
                    raise TarError("malformed PAX record (a NUL byte)", offset)
                return
            space = payload.find(b" ", pos, pos + 20)
            digits = payload[pos:space] if space > pos else b""
            if not digits.isdigit():
                raise TarError("malformed PAX record length", offset)
            end = pos + int(digits)
            # the record covers its length, a space, "key=value" and a newline
            if end > end_all or end <= space + 1 or payload[end - 1] != 0x0A:
                raise TarError("malformed PAX record", offset)
            key, eq, value = payload[space + 1:end - 1].partition(b"=")
            if not eq or not key:
                raise TarError("malformed PAX record (no key=value)", offset)
            if key == b"path":
                self.path = decode(value)
            elif key == b"size":
                if not value.isdigit() or len(value) > 19 or int(value) > MAX_SIZE:
                    raise TarError(f"invalid PAX size {value[:40]!r}", offset)
                self.size = int(value)
            elif key.startswith(b"GNU.sparse."):
                self.sparse = True
            pos = end
