"""Hand-made tar blocks: any field, any value, a valid checksum (or not).

``tarfile`` refuses to write what these tests need (negative or non-octal sizes, huge
extended headers), so headers are laid out by hand here::

    data = archive(header("a.txt", size=2), pad(b"hi"))     # + two end-of-archive blocks
"""

from __future__ import annotations

from typing import Optional, Union

BLOCK = 512
END = bytes(2 * BLOCK)
POSIX_MAGIC = b"ustar\x0000"
GNU_MAGIC = b"ustar  \x00"


def octal(value: int, width: int = 12) -> bytes:
    """``value`` as a NUL-terminated octal field of ``width`` bytes (as tarfile writes),
    or GNU base-256 when it does not fit."""
    if value >= 8 ** (width - 1):
        return b"\x80" + value.to_bytes(width - 1, "big")
    return b"%0*o\x00" % (width - 1, value)


def header(name: Union[str, bytes] = "a.txt", size: Union[int, bytes] = 0,
           typeflag: bytes = b"0", *, prefix: bytes = b"", magic: bytes = POSIX_MAGIC,
           checksum: Union[str, bytes] = "unsigned") -> bytes:
    """One header block. ``size`` is a number or the raw 12-byte field; ``checksum`` is
    ``"unsigned"``, ``"signed"`` (old writers' sum) or the raw 8-byte field."""
    raw_name = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name
    blk = bytearray(BLOCK)
    blk[0:len(raw_name[:100])] = raw_name[:100]
    blk[100:108] = b"0000644\x00"
    blk[108:116] = b"0000000\x00"
    blk[116:124] = b"0000000\x00"
    field = octal(size) if isinstance(size, int) else size
    assert len(field) == 12, field
    blk[124:136] = field
    blk[136:148] = b"00000000000\x00"
    blk[156:157] = typeflag[:1] or b"\x00"
    blk[257:265] = magic
    blk[345:345 + len(prefix[:155])] = prefix[:155]
    return with_checksum(bytes(blk), checksum)


def with_checksum(block: bytes, checksum: Union[str, bytes] = "unsigned") -> bytes:
    """``block`` with its checksum field set (see :func:`header`)."""
    blk = bytearray(block)
    if isinstance(checksum, bytes):
        blk[148:156] = checksum
        return bytes(blk)
    blk[148:156] = b" " * 8
    if checksum == "signed":
        total = sum(b - 256 if b > 127 else b for b in blk)
    else:
        total = sum(blk)
    blk[148:156] = b"%06o\x00 " % (total & 0o777777)
    return bytes(blk)


def set_field(data: bytes, at: int, start: int, value: bytes,
              checksum: Optional[str] = "unsigned") -> bytes:
    """``data`` with the header at ``at`` given ``value`` from byte ``start`` of the
    block on; its checksum recomputed unless ``checksum`` is None."""
    out = bytearray(data)
    end = min(at + start + len(value), at + BLOCK, len(out))
    out[at + start:end] = value[:end - at - start]
    if checksum is not None and at + BLOCK <= len(out):
        out[at:at + BLOCK] = with_checksum(bytes(out[at:at + BLOCK]), checksum)
    return bytes(out)


def pad(data: bytes) -> bytes:
    """Data and its padding to a whole block."""
    return data + bytes(-len(data) % BLOCK)


def member(name: str, data: bytes, **kw) -> bytes:
    """A plain regular file: its header and padded data."""
    return header(name, len(data), **kw) + pad(data)


def long_name(name: Union[str, bytes], size: Optional[int] = None) -> bytes:
    """A GNU long-name header (``L``) and its payload; ``size`` overrides the declared
    size (the payload stays the name)."""
    raw = (name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name)
    raw += b"\x00"
    return header("././@LongLink", len(raw) if size is None else size, b"L",
                  magic=GNU_MAGIC) + pad(raw)


def pax_record(key: str, value: Union[str, bytes]) -> bytes:
    """One PAX record with its correct length prefix."""
    body = b" " + key.encode() + b"=" + (value if isinstance(value, bytes)
                                        else value.encode("utf-8", "surrogateescape")) + b"\n"
    n = len(body)
    while len(str(n).encode()) + len(body) != n:
        n = len(str(n).encode()) + len(body)
    return str(n).encode() + body


def pax(payload: bytes, typeflag: bytes = b"x", size: Optional[int] = None) -> bytes:
    """A PAX header (``x``, or global ``g``) carrying ``payload``."""
    return header("PaxHeader/a", len(payload) if size is None else size, typeflag) \
        + pad(payload)


def archive(*parts: bytes) -> bytes:
    """The parts one after the other, then two end-of-archive blocks."""
    return b"".join(parts) + END


def negative_loop(first: str = "a.txt", second: str = "b.txt") -> bytes:
    """The issue's shard: ``first`` (empty), then ``second`` whose size, -1024 written as
    octal text with a sign, takes a reader that believes it back to ``first``'s header:
    2 KiB that old readers read forever (a, b, a, b, ...; or nothing at all when the
    names have no WebDataset key)."""
    return archive(header(first, 0), header(second, b"-0000002000\x00"))
