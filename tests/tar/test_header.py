"""``ais_tar``: the rules for one header block and the chain in front of an entry."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile

import pytest

from ais_tar import (
    BLOCK,
    MAX_EXTENDED,
    MAX_SIZE,
    TarError,
    TruncatedTarError,
    checksum_ok,
    parse_number,
    plain_header,
    read_entry,
)

from ._craft import (
    END,
    archive,
    header,
    long_name,
    member,
    negative_loop,
    octal,
    pad,
    pax,
    pax_record,
)


class Source:
    """A bytes source with the ``read``/``skip`` contract of ``read_entry``."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def skip(self, n: int) -> int:
        start, self.pos = self.pos, min(self.pos + n, len(self.data))
        return self.pos - start

    def entries(self) -> list:
        out = []
        while (entry := read_entry(self.read, self.skip, self.pos)) is not None:
            out.append(entry)
            self.skip(entry.size + (-entry.size % BLOCK))
        return out


def entries(data: bytes) -> list:
    return Source(data).entries()


# ---------------------------------------------------------------------- numeric fields

@pytest.mark.parametrize("field, value", [
    (b"00000001274\x00", 700),
    (b"00000001274 ", 700),  # space-terminated
    (b"     1274  \x00", 700),  # spaces around the digits
    (b"000000000000", 0),  # twelve digits, no terminator
    (b"777777777777", 8**12 - 1),
    (b"\x00" * 12, 0),  # empty
    (b" " * 11 + b"\x00", 0),
    (b"0001274\x00junk", 0o1274),  # cut at the first NUL
    (b"\x80" + (1000).to_bytes(11, "big"), 1000),  # GNU base-256
    (b"\x80" + bytes(3) + MAX_SIZE.to_bytes(8, "big"), MAX_SIZE),
    (b"\x81" + bytes(11), 1 << 88),  # the marker byte's low bits count
])
def test_numbers_that_are_read(field, value):
    if value > MAX_SIZE:
        with pytest.raises(ValueError, match="over the limit"):
            parse_number(field)
    else:
        assert parse_number(field) == value


@pytest.mark.parametrize("field, why", [
    (b"-0000002000\x00", "not an octal"),  # int(x, 8) reads -1024
    (b"+0000002000\x00", "not an octal"),
    (b"0000000_001\x00", "not an octal"),  # int(x, 8) reads 1
    (b"0o000000017\x00", "not an octal"),  # int(x, 8) reads 15
    (b"00000000009\x00", "not an octal"),
    (b"000 0001274\x00", "not an octal"),
    (b"\t0000001274\x00", "not an octal"),
    (b"\xff" * 12, "negative"),  # base-256 -1
    (b"\xc0" + bytes(11), "negative"),
    (b"\x80" + b"\xff" * 11, "over the limit"),  # 2**88 - 1
    (b"\x80" + bytes(3) + (MAX_SIZE + 1).to_bytes(8, "big"), "over the limit"),
])
def test_numbers_that_are_refused(field, why):
    with pytest.raises(ValueError, match=why):
        parse_number(field)


def test_checksum_unsigned_signed_and_refused():
    blk = header("caf\u00e9.bin", 1)
    assert checksum_ok(blk)
    signed = header("caf\u00e9.bin", 1, checksum="signed")
    assert signed != blk and checksum_ok(signed)
    for field in (b"-0000001\x00", b"0000009\x00", b"        "):
        assert not checksum_ok(header("a", 1, checksum=field))
    flipped = bytearray(blk)
    flipped[3] ^= 1
    assert not checksum_ok(bytes(flipped))


# ---------------------------------------------------------------------- plain headers

def test_plain_header_takes_the_common_case_only():
    name = "p" * 90 + "/" + "q" * 60 + "/file.txt"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = 700
        tar.addfile(info, io.BytesIO(bytes(700)))
    assert plain_header(buf.getvalue(), 0) == (name, 700)  # the ustar prefix joined
    assert plain_header(header("a.txt", 5), 0) == ("a.txt", 5)
    assert plain_header(header("a.txt", b"       1274 "), 0) == ("a.txt", 0o1274)
    for odd in (header("a.txt", b"-0000002000\x00"), header("a.txt", b"     1274  \x00"),
                header("a.txt", b"\x80" + bytes(10) + b"\x05"), header("d/", 0, b"\x00"),
                header("l", 0, b"2"), header("caf\u00e9", 1, checksum="signed"),
                header("a.txt", 5)[:511]):
        assert plain_header(odd, 0) is None
    # what the full rules accept and read the same way is all plain_header may return
    for blk in (header("a.txt", 5), header("k.bin", b"00000000012 ")):
        head = plain_header(blk, 0)
        entry = entries(blk + bytes(BLOCK))[0]
        assert head is None or head == (entry.name, entry.size)


# ---------------------------------------------------------------------- the chain

def test_entries_types_and_names():
    data = archive(
        member("a.txt", b"hi"),
        header("dir/", 0, b"5"),
        header("old-dir/", 1024, b"\x00"),  # an old-style directory: no data at all
        header("link", 999, b"2"),  # header-only types have no data
        long_name("L" * 300 + ".bin"), member("short", b"long"),
        pax(pax_record("path", "pax/name.bin") + pax_record("size", "3")),
        member("ignored", b"abc"),
    )
    got = [(e.name, e.size, e.regular, e.is_dir) for e in entries(data)]
    assert got == [("a.txt", 2, True, False), ("dir/", 0, False, True),
                   ("old-dir/", 0, False, True), ("link", 0, False, False),
                   ("L" * 300 + ".bin", 4, True, False), ("pax/name.bin", 3, True, False)]


def test_offsets_are_absolute_and_point_at_the_first_header():
    data = archive(member("a.txt", b"x" * 600), long_name("n" * 200), member("b", b"1"))
    src = Source(data[1536:])
    first = read_entry(src.read, src.skip, 1536)
    assert (first.offset, first.data_offset, first.name) == (1536, 1536 + 3 * BLOCK,
                                                             "n" * 200)


@pytest.mark.parametrize("data, reason, offset", [
    (negative_loop(), "invalid size field in tar header: b'-0000002000' is not an octal",
     BLOCK),
    (archive(header("a", b"\xff" * 12)), "negative base-256", 0),
    (archive(header("a", b"0000000_001\x00")), "not an octal", 0),
    (archive(long_name("x", size=MAX_EXTENDED + 1)), "a GNU long name of 1048577 bytes "
     "is over the limit of 1048576 bytes", 0),
    (archive(pax(b"", size=2 * MAX_EXTENDED)), "a PAX header of 2097152 bytes", 0),
    (archive(pax(b"", b"g", size=MAX_EXTENDED + 1)), "a PAX global header of", 0),
    (archive(header("././@LongLink", MAX_EXTENDED + 1, b"K")), "a GNU long link name of",
     0),
    (archive(pax(pax_record("size", "-5")), member("a", b"")), "invalid PAX size b'-5'", 0),
    (archive(pax(pax_record("size", "+5")), member("a", b"")), "invalid PAX size", 0),
    (archive(pax(pax_record("size", " 5")), member("a", b"")), "invalid PAX size", 0),
    (archive(pax(pax_record("size", "5" * 30)), member("a", b"")), "invalid PAX size", 0),
    (archive(pax(b"0 x\n"), member("a", b"")), "malformed PAX record", 0),
    (archive(pax(b"-9 path=x\n"), member("a", b"")), "malformed PAX record length", 0),
    (archive(pax(b"4 x\n" + b"junk"), member("a", b"")), "malformed PAX record", 0),
    (archive(pax(b"7 path\n"), member("a", b"")), "no key=value", 0),
    (archive(pax(pax_record("path", "a") + b"\x00junk"), member("a", b"")), "a NUL byte",
     0),
    (archive(header("a", 0, checksum=b"-0000001")), "checksum", 0),
    (pax(pax_record("path", "x")) + END, "end-of-archive block after an extended header",
     2 * BLOCK),
])
def test_rule_breakers_raise_with_the_offset(data, reason, offset):
    with pytest.raises(TarError) as exc:
        entries(data)
    assert not isinstance(exc.value, TruncatedTarError)
    assert reason in exc.value.reason and exc.value.offset == offset
    assert f"at byte offset {offset}" in str(exc.value)


@pytest.mark.parametrize("cut, inside, offset", [
    (100, "inside a tar header (100 of 512 bytes)", 0),
    (BLOCK + 10, "inside a GNU long name (10 of 301 bytes, stream ends at byte 522)", 0),
    (BLOCK + 310, "inside the padding of a GNU long name", 0),
    (2 * BLOCK + 7, "inside the header after an extended header (7 of 512", 2 * BLOCK),
])
def test_truncation_inside_the_chain(cut, inside, offset):
    data = archive(long_name("n" * 300), member("a", b""))
    with pytest.raises(TruncatedTarError) as exc:
        entries(data[:cut])
    assert inside in exc.value.reason and exc.value.offset == offset


def test_the_end_and_what_is_accepted_around_it():
    assert entries(b"") == []
    assert entries(member("a", b"1")) == entries(archive(member("a", b"1")))  # no end blocks
    nul_padded = pax(pax_record("path", "p.bin") + bytes(40)) + member("a", b"1")
    assert [e.name for e in entries(archive(nul_padded))] == ["p.bin"]
    records = pax_record("size", "2") + pax_record("path", "first")
    later = pax(records) + pax(pax_record("path", "second")) + member("a", b"12")
    assert [(e.name, e.size) for e in entries(archive(later))] == [("second", 2)]


def test_sparse_entries_are_marked():
    old = header("s.bin", 0, b"S")
    pax_form = pax(pax_record("GNU.sparse.major", "1")) + member("s.bin", b"")
    assert [e.sparse for e in entries(archive(old, pax_form, member("a", b"")))] == \
        [True, True, False]


def test_extended_headers_cost_bounded_memory():
    """Thousands of PAX headers before one entry: only the records readers use are kept."""
    one = pax(b"".join(pax_record(f"k{i}", "v" * 50) for i in range(200)))
    data = archive(one * 50, member("a.txt", b"ok"))
    (entry,) = entries(data)
    assert (entry.name, entry.size, entry.offset) == ("a.txt", 2, 0)


def test_every_entry_moves_forward():
    data = archive(*(header(f"f{i}", 0) for i in range(100)))
    got = entries(data)
    assert [e.offset for e in got] == [BLOCK * i for i in range(100)]
    assert all(e.data_offset > e.offset for e in got)


def test_octal_helper_matches_tarfile():
    assert octal(700) == tarfile.itn(700, 12, tarfile.USTAR_FORMAT)
    assert pad(b"x") == b"x" + bytes(511)


def test_imports_neither_package_nor_torch():
    code = ("import sys, ais_tar; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'ais_datasets', 'ais_emulator', 'aistore', 'requests')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
