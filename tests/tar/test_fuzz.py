"""Property tests: any bytes, through every tar reader, end in data or a clear error.

Archives are built from valid members (hand-made and ``tarfile``-written, in every
format), hostile headers (odd size fields, every type flag, extended headers with
broken or oversized payloads) and raw garbage, then mutated (fields rewritten with a
valid checksum, bytes flipped, cuts, inserted blocks) and cut into chunks of odd sizes.
:func:`._oracle.check` states what must hold for each. ``make test`` runs a fixed set of
examples (seeded); ``make fuzz`` runs many more from fresh seeds, and under an
AddressSanitizer build of the compiled scanner.
"""

from __future__ import annotations

import io
import os
import tarfile

from hypothesis import example, given
from hypothesis import strategies as st

from ais_datasets import tario
from ais_tar import BLOCK, read_entry
from ais_tar import plain_header as python_plain_header

from ._craft import (
    END,
    GNU_MAGIC,
    POSIX_MAGIC,
    header,
    long_name,
    member,
    negative_loop,
    octal,
    pad,
    pax,
    pax_record,
    set_field,
)
from ._oracle import COMPILED, FUZZ, check

NAMES = st.sampled_from(["a.txt", "a.jpg", "a", "b.cls", "d/k.seg.png", ".hidden", "x/",
                         "\u00fc/\u00e9.txt", "caf\udce9.bin", "n" * 99 + "x", "p.q/r",
                         "", "d.x/k"])
SIZE_FIELDS = st.one_of(
    st.integers(0, 3000).map(octal),
    st.sampled_from([
        b"-0000002000\x00", b"-0000000001\x00", b"+0000000001\x00", b"0000000_001\x00",
        b"0o000000017\x00", b"00000000009\x00", b" " * 11 + b"\x00", b"     1274  \x00",
        b"00000001274 ", b"000000001274", b"777777777777", b"\x00" * 12,
        b"\xff" * 12, b"\xc0" + bytes(11), b"\x80" + b"\xff" * 11,
        b"\x80" + (1000).to_bytes(11, "big"), b"\x81" + bytes(11),
        b"00004000001\x00",  # a little over 1 MiB: over the extended-header limit
    ]),
    st.binary(min_size=12, max_size=12),
)
TYPEFLAGS = st.one_of(st.sampled_from(list(b"0\x0012345677LKxgSVD")).map(lambda b: bytes([b])),
                      st.binary(min_size=1, max_size=1))
PAX_RECORDS = st.lists(st.one_of(
    st.tuples(st.just("path"), NAMES).map(lambda kv: pax_record(*kv)),
    st.integers(0, 2000).map(lambda n: pax_record("size", str(n))),
    st.sampled_from([pax_record("size", v) for v in ("-1024", "+5", " 5", "1_0", "", "9" * 25)]),
    st.just(pax_record("GNU.sparse.major", "1")),
    st.just(pax_record("comment", "c" * 700)),
    st.sampled_from([b"0 x\n", b"-9 path=x\n", b"7 path\n", b"99 path=short\n", b"\x00junk",
                     b"3 =\n", b"x" * 20]),
    st.binary(max_size=40),
), max_size=4).map(b"".join)
DATA = st.one_of(st.sampled_from([0, 1, 511, 512, 513]), st.integers(0, 3000)).map(
    lambda n: bytes((i * 7 + n) & 0xFF for i in range(n)))


@st.composite
def tarfile_member(draw) -> bytes:
    """A member written by ``tarfile`` (its own choice of extended headers)."""
    fmt = draw(st.sampled_from([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]))
    name = draw(st.one_of(NAMES, st.just("l" * 150 + ".bin"),
                          st.just("p" * 90 + "/" + "q" * 60 + "/f.txt")))
    buf = io.BytesIO()
    info = tarfile.TarInfo(name or "empty")
    data = draw(DATA)
    info.size = len(data)
    try:
        with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8",
                          errors="surrogateescape") as tar:
            tar.addfile(info, io.BytesIO(data))
    except ValueError:  # a name this format cannot hold
        return member("fallback.bin", data)
    return _strip_end(buf.getvalue())


def _strip_end(data: bytes) -> bytes:
    """A tarfile archive without its end-of-archive blocks (and record padding)."""
    while data.endswith(bytes(BLOCK)):
        data = data[:-BLOCK]
    return data


@st.composite
def hostile_part(draw) -> bytes:
    """One entry with a header any writer might produce, or no writer should."""
    kind = draw(st.integers(0, 5))
    if kind == 0:  # any type flag, any size field, maybe data after it
        blk = header(draw(NAMES), draw(SIZE_FIELDS), draw(TYPEFLAGS),
                     magic=draw(st.sampled_from([POSIX_MAGIC, GNU_MAGIC, bytes(8)])),
                     checksum=draw(st.sampled_from(["unsigned", "signed"])))
        return blk + pad(draw(DATA))
    if kind == 1:  # a GNU long name, its size declared right or wrong
        name = draw(st.one_of(NAMES, st.text(max_size=300)))
        size = draw(st.one_of(st.none(), st.integers(0, 2000),
                              st.sampled_from([1 << 20, (1 << 20) + 1, 1 << 40])))
        return long_name(name.encode("utf-8", "surrogateescape"), size) \
            + draw(st.sampled_from([b"", member(draw(NAMES), draw(DATA))]))
    if kind == 2:  # PAX headers with any records
        part = pax(draw(PAX_RECORDS), draw(st.sampled_from([b"x", b"g"])),
                   size=draw(st.one_of(st.none(), st.integers(0, 600),
                                       st.just((1 << 20) + 1))))
        return part + draw(st.sampled_from([b"", member(draw(NAMES), draw(DATA))]))
    if kind == 3:
        return bytes(BLOCK)  # an early end-of-archive block
    if kind == 4:
        return draw(st.binary(min_size=1, max_size=BLOCK + 10))  # garbage
    return negative_loop(draw(NAMES), draw(NAMES))[:-2 * BLOCK]


PARTS = st.lists(st.one_of(NAMES.flatmap(lambda n: DATA.map(lambda d: member(n, d))),
                           tarfile_member(), hostile_part()), max_size=6)
FIELDS = st.sampled_from([(124, 12), (148, 8), (156, 1), (0, 100), (257, 8), (345, 155)])


@st.composite
def archives(draw) -> bytes:
    data = b"".join(draw(PARTS)) + draw(st.sampled_from([END, b"", bytes(BLOCK)]))
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.integers(0, 4))
        if op == 0 and len(data) >= BLOCK:  # rewrite a field of a block, checksum redone
            at = draw(st.integers(0, len(data) // BLOCK - 1)) * BLOCK
            start, width = draw(FIELDS)
            value = draw(st.one_of(SIZE_FIELDS, TYPEFLAGS, st.binary(max_size=width)))
            data = set_field(data, at, start, value[:width],
                             draw(st.sampled_from(["unsigned", "signed", None])))
        elif op == 1 and data:  # flip bits of a byte
            out = bytearray(data)
            out[draw(st.integers(0, len(out) - 1))] ^= draw(st.integers(1, 255))
            data = bytes(out)
        elif op == 2 and data:  # cut anywhere
            data = data[:draw(st.integers(0, len(data)))]
        elif op == 3:  # insert a hostile part at a block boundary
            at = draw(st.integers(0, len(data) // BLOCK)) * BLOCK
            data = data[:at] + draw(hostile_part()) + data[at:]
    return data


CHUNKS = st.lists(st.sampled_from([1, 7, 100, 511, 512, 513, 4096, 1 << 20]), min_size=1,
                  max_size=4)


@FUZZ
@given(data=archives(), sizes=CHUNKS, skip=st.integers(0, 3), tgz=st.booleans())
@example(data=negative_loop(), sizes=[1 << 20], skip=0, tgz=True)
@example(data=negative_loop("a", "b"), sizes=[100], skip=1, tgz=False)
def test_every_reader_ends_in_data_or_a_clear_error(data, sizes, skip, tgz):
    check(data, sizes, skip, tgz)


@FUZZ
@given(prefix=PARTS, garbage=st.binary(max_size=3 * BLOCK), sizes=CHUNKS)
def test_garbage_after_valid_members(prefix, garbage, sizes):
    check(b"".join(prefix) + garbage, sizes)


@FUZZ
@given(name=st.binary(min_size=1, max_size=100), size=SIZE_FIELDS, typeflag=TYPEFLAGS,
       magic=st.sampled_from([POSIX_MAGIC, GNU_MAGIC, b"ustar\x00xx", bytes(8)]),
       prefix=st.binary(max_size=155), checksum=st.sampled_from(["unsigned", "signed"]))
def test_fast_paths_return_only_what_the_rules_read(name, size, typeflag, magic, prefix,
                                                    checksum):
    """The compiled ``header``/``scan`` and ``plain_header`` may decline any block, but
    what they return must be what :func:`ais_tar.read_entry` reads from it."""
    blk = header(name, size, typeflag, prefix=prefix, magic=magic, checksum=checksum)
    stream = blk + bytes(4 * 1024) + END
    pos = 0

    def read(n):
        nonlocal pos
        pos += n
        return stream[pos - n:pos]

    def skip(n):
        return len(read(n))

    try:
        entry = read_entry(read, skip, 0)
    except ValueError:
        entry = None
    ruled = (entry.name, entry.size) if entry is not None and entry.regular else None
    found = python_plain_header(blk, 0)
    assert found is None or found == ruled
    if COMPILED is not None:
        assert COMPILED.header(blk, 0) == found  # twins: the very same blocks
        end, items = COMPILED.scan(stream, 0)
        assert tario._scan_plain(stream, 0, 1 << 62) == (end, items)
        whole = found is not None and BLOCK + ruled[1] <= len(stream)
        if whole:
            assert end == BLOCK + ruled[1] + (-ruled[1] % BLOCK)
        else:
            assert (end, items) == (0, [])


def test_the_scanner_under_test_is_the_one_asked_for():
    """``make fuzz`` names its sanitizer build in AIS_TARSCAN_SO: it must be the one used."""
    path = os.environ.get("AIS_TARSCAN_SO")
    if path:
        assert COMPILED is not None and os.path.samefile(COMPILED.__file__, path)
    else:
        assert COMPILED is tario._fast
