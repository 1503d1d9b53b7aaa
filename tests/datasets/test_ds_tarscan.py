"""The compiled tar scanner (``ais_datasets._tarscan``): its contract, and that the parser
gives the very same samples, offsets and errors with it as without it."""

from __future__ import annotations

import array
import io
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import tarfile

import ais_ds_test_kit as kit
import pytest

from ais_datasets import tario
from ais_datasets.errors import ShardReadError
from ais_datasets.tario import BLOCK, TarStream, iter_samples

fast = tario._fast
needs_fast = pytest.mark.skipif(fast is None, reason="ais_datasets._tarscan is not built")


def test_built_where_a_compiler_is():
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None or os.environ.get("AIS_DATASETS_PURE_PYTHON"):
        pytest.skip(f"no C compiler ({compiler}) or the compiled path is turned off")
    assert fast is not None, "setup.py builds ais_datasets._tarscan where a C compiler is"


@pytest.mark.parametrize("value, compiled", [("1", False), ("0", True)])
def test_pure_python_switch(value, compiled):
    if compiled and fast is None:
        pytest.skip("ais_datasets._tarscan is not built")
    code = "from ais_datasets import tario; print(tario._fast is not None)"
    env = {**os.environ, "AIS_DATASETS_PURE_PYTHON": value}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == str(compiled)


# ---------------------------------------------------------------------- the contract

def _rewrite(data: bytes, at: int, field: slice, value: bytes, signed: bool = False) -> bytes:
    """``data`` with header ``at``'s ``field`` replaced and its checksum made valid again."""
    out = bytearray(data)
    out[at + field.start:at + field.stop] = value
    out[at + 148:at + 156] = b" " * 8
    block = out[at:at + BLOCK]
    total = sum(b - 256 if signed and b > 127 else b for b in block)
    out[at + 148:at + 156] = b"%06o\x00 " % (total & 0o777777)
    return bytes(out)


@needs_fast
def test_header_reads_a_plain_header():
    data = kit.make_tar([("dir/k.jpg", b"x" * 700)])
    assert fast.header(data, 0) == ("dir/k.jpg", 700)
    assert fast.header(data, 2048) is None  # the end-of-archive block
    assert fast.header(data[:511], 0) is None  # not a whole block
    assert fast.header(data, len(data)) is None


@needs_fast
def test_header_joins_the_ustar_prefix():
    name = "p" * 90 + "/" + "q" * 60 + "/file.txt"
    data = kit.make_tar([(name, b"ok")], tarfile.USTAR_FORMAT)
    assert fast.header(data, 0) == (name, 2)


@needs_fast
@pytest.mark.parametrize("fmt, name", [
    (tarfile.GNU_FORMAT, "l" * 150 + ".bin"),  # a GNU long-name header comes first
    (tarfile.PAX_FORMAT, "\u00fc.bin"),  # a PAX header comes first
])
def test_header_leaves_extended_headers_to_python(fmt, name):
    data = kit.make_tar([(name, b"1")], fmt)
    assert fast.header(data, 0) is None
    assert [m.name for m in TarStream([data])] == [name]


@needs_fast
@pytest.mark.parametrize("field, value", [
    (slice(156, 157), b"5"),  # a directory
    (slice(156, 157), b"2"),  # a symlink
    (slice(124, 136), b"\x80" + bytes(10) + b"\x05"),  # base-256 size
    (slice(124, 136), b"0000000001x\x00"),  # not octal
    (slice(124, 136), b"00000000012\x01"),  # odd terminator
    (slice(124, 136), b"           \x00"),  # blank size
])
def test_header_leaves_other_fields_to_python(field, value):
    data = _rewrite(kit.make_tar([("k.bin", b"abcdefghij")]), 0, field, value)
    assert fast.header(data, 0) is None


@needs_fast
def test_header_accepts_leading_spaces_and_space_terminator():
    data = _rewrite(kit.make_tar([("k.bin", b"abcdefghij")]), 0, slice(124, 136),
                    b"         12 ")  # octal 12, as some old writers put it
    assert fast.header(data, 0) == ("k.bin", 10)
    assert [(m.name, m.data) for m in TarStream([data])] == [("k.bin", b"abcdefghij")]


@needs_fast
def test_header_rejects_bad_and_signed_only_checksums():
    data = kit.make_tar([("caf\u00e9.bin", b"z")])
    bad = bytearray(data)
    bad[5] ^= 1
    assert fast.header(bytes(bad), 0) is None
    with pytest.raises(ShardReadError, match="checksum"):
        list(TarStream([bytes(bad)]))
    signed = _rewrite(data, 0, slice(0, 1), data[:1], signed=True)
    assert signed[148:156] != data[148:156]  # the name has bytes > 127: the sums differ
    assert fast.header(signed, 0) is None  # left to Python, which accepts it
    assert [m.name for m in TarStream([signed])] == ["caf\u00e9.bin"]


@needs_fast
def test_scan_lists_whole_members_and_stops_at_the_chunk_end():
    members = [("a/x.jpg", b"1" * 700), ("a/x.cls", b"7"), ("README", b"keyless"),
               ("b/y.seg.png", b"s"), (".hidden", b"h"), ("b/y.png", b"p" * 512)]
    data = kit.make_tar(members)
    end, items = fast.scan(data, 0)
    # header offsets: each member is a header block plus its data padded to blocks
    assert items == [("a/x", "jpg", b"1" * 700, 0), ("a/x", "cls", b"7", 1536),
                     ("b/y", "seg.png", b"s", 3584), ("b/y", "png", b"p" * 512, 5632)]
    assert end == 6656 and data[end:] == bytes(len(data) - end)  # stopped at the zero blocks
    cut = data[:5632 + 512 + 511]  # the last member's data is not all there
    assert fast.scan(cut, 0) == (5632, items[:3])
    assert fast.scan(data, 1536) == (6656, items[1:])


@needs_fast
def test_scan_budget_bounds_the_bytes_copied_per_call():
    data = kit.make_tar([(f"k{i}.bin", b"x" * 1000) for i in range(6)])
    end, items = fast.scan(data, 0, 2500)
    assert [key for key, *_ in items] == ["k0", "k1", "k2"]  # stops once 2500 are taken
    assert end == 3 * 1536
    end, items = fast.scan(data, 0, 1)
    assert len(items) == 1  # always at least one member


@needs_fast
def test_scan_splits_names_like_python():
    names = ["d.x/k.tar.gz", "a/b.c/d.jpg", "a/b.c/d", "\u00fc/\u00e9.txt",
             "caf\udce9.b\udcffn", "a/.b", "a/b.", "x/y/z"]
    data = kit.make_tar([(n, b"-") for n in names], tarfile.GNU_FORMAT)
    _, items = fast.scan(data, 0)
    expected = [tario.split_key(n) for n in names]
    assert [(k, e) for k, e, *_ in items] == [ke for ke in expected if ke[0] is not None]


@needs_fast
def test_scan_and_header_read_any_bytes_buffer_in_place():
    data = kit.make_tar([("k.bin", b"abc"), ("k.cls", b"1")])
    expected = fast.scan(data, 0)
    for buf in (bytearray(data), memoryview(data), memoryview(bytearray(data))):
        assert fast.scan(buf, 0) == expected
        assert fast.header(buf, 0) == ("k.bin", 3)
    view = memoryview(b"junk" + data)[4:]  # a view that starts inside its buffer
    assert fast.scan(view, 0) == expected


@needs_fast
def test_scan_and_header_check_their_arguments():
    with pytest.raises(TypeError):
        fast.scan("not bytes", 0)
    with pytest.raises(TypeError, match="buffer of bytes"):
        fast.header(memoryview(array.array("i", [0] * 256)), 0)
    with pytest.raises(BufferError):
        fast.header(memoryview(bytes(2048))[::2], 0)  # not contiguous
    with pytest.raises(ValueError, match="negative"):
        fast.scan(bytes(1024), -1)
    with pytest.raises(TypeError):
        fast.header(bytes(1024))
    assert fast.scan(bytes(1024), 4096) == (4096, [])  # past the end: nothing
    assert fast.header(bytes(1024), 4096) is None


# ---------------------------------------------------------------------- differential

EXTS = ["jpg", "cls", "seg.png", "txt", ""]
KEYS = ["a", "a/k", "d.x/k", "a/b.c/d", "\u00fc/\u00e9", "caf\udce9", "n" * 120,
        "p" * 60 + "/" + "q" * 60]


def _archive(rng: random.Random) -> bytes:
    fmt = rng.choice([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8",
                      errors="surrogateescape") as tar:
        for _ in range(rng.randint(0, 14)):
            key, ext = rng.choice(KEYS), rng.choice(EXTS)
            info = tarfile.TarInfo(key + ("." + ext if ext else ""))
            if rng.random() < 0.1:
                info.type = rng.choice([tarfile.DIRTYPE, tarfile.SYMTYPE])
                info.linkname = "target"
            else:
                info.size = rng.choice([0, 1, 511, 512, 513, rng.randint(0, 3000)])
            try:
                tar.addfile(info, io.BytesIO(rng.randbytes(info.size)))
            except ValueError:  # a name ustar cannot hold (nothing was written)
                continue
    return buf.getvalue()


def _mutate(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(0, max(len(data) - BLOCK, 0) + 1, BLOCK)  # a block, maybe a header
    kind = rng.randrange(7)
    if kind == 0 or not data:
        return data
    if kind == 1:  # truncate anywhere
        return data[:rng.randrange(len(data) + 1)]
    if kind == 2:  # flip one byte anywhere
        out = bytearray(data)
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        return bytes(out)
    if kind == 3:  # a checksum only the signed sum matches (where the block has high bytes)
        return _rewrite(data, at, slice(0, 1), data[at:at + 1], signed=True)
    if kind == 4:  # size written with leading spaces and a space terminator
        size = data[at + 124:at + 135].lstrip(b"0") or b"0"
        return _rewrite(data, at, slice(124, 136), size.rjust(11, b" ") + b" ")
    if kind == 5:  # no end-of-archive blocks: a clean end of stream
        while data.endswith(bytes(BLOCK)):
            data = data[:-BLOCK]
        return data
    return data[:at] + bytes(BLOCK) + data[at:]  # an early end-of-archive block


def _chunks(rng: random.Random, data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        n = rng.choice([1, 7, 512, 600, 2048, 1 << 20])
        out.append(data[pos:pos + n])
        pos += n
    return out


def _reused(chunks: list[bytes]):
    """The chunks as views of one buffer, scribbled over before each refill: what a
    reader receiving into a reused buffer hands over (valid until the next request)."""
    buf = bytearray(max(map(len, chunks), default=0))
    for chunk in chunks:
        buf[:] = b"\xaa" * len(buf)
        buf[:len(chunk)] = chunk
        yield memoryview(buf)[:len(chunk)]
    buf[:] = b"\xaa" * len(buf)


def _outcome(chunks: list[bytes], skip: int, compiled: bool, reused: bool = False):
    saved = tario._fast
    tario._fast = fast if compiled else None
    source = _reused if reused else iter
    got: list = []
    try:
        for s in iter_samples(TarStream(source(chunks), shard="s"), skip=skip):
            assert all(type(v) is bytes for v in s.fields.values())
            got.append((s.key, dict(s.fields), s.offset, s.next_offset))
        members = [tuple(m) for m in TarStream(source(chunks), shard="s")]
        assert all(type(data) is bytes for _, data, _ in members)
        got.append(("members", members))
    except ShardReadError as err:
        got.append((type(err).__name__, str(err), err.offset))
    finally:
        tario._fast = saved
    return got


@needs_fast
@pytest.mark.parametrize("seed", range(40))
def test_compiled_and_python_parsers_agree(seed):
    rng = random.Random(seed)
    for _ in range(25):
        data = _mutate(rng, _archive(rng))
        chunks = _chunks(rng, data)
        skip = rng.choice([0, 0, 1, 3])
        assert _outcome(chunks, skip, True) == _outcome(chunks, skip, False), \
            f"seed {seed}: {len(data)} bytes in chunks {[len(c) for c in chunks][:8]}"


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("seed", range(20))
def test_views_of_a_reused_buffer_read_as_bytes_chunks(seed, compiled):
    if compiled and fast is None:
        pytest.skip("ais_datasets._tarscan is not built")
    rng = random.Random(1000 + seed)
    for _ in range(25):
        data = _mutate(rng, _archive(rng))
        chunks = _chunks(rng, data)
        skip = rng.choice([0, 0, 1, 3])
        assert _outcome(chunks, skip, compiled, reused=True) == \
            _outcome(chunks, skip, compiled), f"seed {seed}"


def test_pieces_are_views_of_view_chunks():
    data = kit.make_tar([("k.bin", b"x" * 3000)])
    tar = TarStream(_reused([data[:1000], data[1000:]]))
    assert tar.next_member().size == 3000
    first = tar.read_piece(88)
    assert type(first) is memoryview and bytes(first) == data[512:600]
    assert bytes(tar.read_piece(10_000)) == data[600:1000]  # the rest of that chunk only
    assert bytes(tar.read_piece(10_000)) == data[1000:3512]  # no more than the member
    assert tar.read_piece(1) == b"" and tar.offset == 3512
    assert tar.next_member() is None and tar.offset == 4096  # its padding was skipped
    whole = TarStream([data])
    whole.next_member()
    piece = whole.read_piece(3000)
    assert type(piece) is bytes and piece == b"x" * 3000  # a bytes chunk: one slice


@needs_fast
@pytest.mark.parametrize("seed", range(10))
def test_python_scan_is_the_compiled_scan(seed):
    """Without the compiled scanner, the same whole-chunk scan runs in Python."""
    rng = random.Random(2000 + seed)
    for _ in range(25):
        data = _mutate(rng, _archive(rng))
        pos = rng.randrange(0, len(data) + 1, BLOCK) if data else 0
        budget = rng.choice([1, 700, 1 << 20])
        assert tario._scan_plain(data, pos, budget) == fast.scan(data, pos, budget)
