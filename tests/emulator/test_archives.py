"""ais_emulator.store.archives: listing, reading, matching and writing tar / tgz / zip.

Every archive is built here, deterministically, with the standard library.
"""

from __future__ import annotations

import gzip
import io
import random
import stat
import struct
import tarfile
import tracemalloc
import zipfile

import pytest

from ais_emulator.store import archives
from ais_emulator.store.archives import (
    ARCHIVE_EXTENSIONS,
    ArchiveError,
    Member,
    MemberNotFound,
    detect_format,
    iter_matching,
    list_members,
    read_member,
    write_archive,
)

LONG = "deep/" + "/".join(f"segment{i:02d}" for i in range(12)) + "/sample.with.dots.txt"
FILES = [
    ("imgs/train/0001.jpg", b"jpeg-1" * 100),
    ("imgs/train/0001.cls", b"7"),
    ("imgs/val/0002.jpg", bytes(range(256)) * 5),
    (LONG, b"long name body"),
    ("empty.txt", b""),
    ("données/ñandú-日本.txt", "corps ünïcode".encode()),
    ("./dotted/a.txt", b"dotted"),
    ("/abs/b.txt", b"absolute"),
]
NAMES = [name for name, _ in FILES]
BODIES = dict(FILES)
MTIME = 1_700_000_000


def build_tar(files=FILES, fmt=tarfile.PAX_FORMAT, specials=True) -> bytes:
    """A tar with a directory, a symlink and a hard link mixed in between the files."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:

        def special(name, kind, link=""):
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mtime = kind, link, MTIME
            tf.addfile(info)

        if specials:
            special("imgs/", tarfile.DIRTYPE)
        for i, (name, body) in enumerate(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(body), MTIME
            tf.addfile(info, io.BytesIO(body))
            if specials and i == 1:
                special("link.jpg", tarfile.SYMTYPE, "imgs/train/0001.jpg")
                special("hard.jpg", tarfile.LNKTYPE, "imgs/train/0001.jpg")
    return buf.getvalue()


def build_zip(files=FILES, compression=zipfile.ZIP_DEFLATED, specials=True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        if specials:
            zf.writestr(zipfile.ZipInfo("imgs/", (2020, 1, 1, 0, 0, 0)), b"")
            link = zipfile.ZipInfo("link.jpg", (2020, 1, 1, 0, 0, 0))
            link.create_system = 3
            link.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(link, b"imgs/train/0001.jpg")
        for name, body in files:
            zf.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), body)
    return buf.getvalue()


def tgz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


SHARDS = {
    ".tar": lambda: build_tar(),
    ".tgz": lambda: tgz(build_tar()),
    ".zip": lambda: build_zip(),
}


@pytest.fixture(params=sorted(SHARDS))
def shard(request):
    return request.param, SHARDS[request.param]()


def _tar_infos(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return tf.getmembers()


# --------------------------------------------------------------------- detect_format


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a/shard.tar", ".tar"),
        ("shard.tgz", ".tgz"),
        ("shard.tar.gz", ".tgz"),
        ("x.zip", ".zip"),
        ("shard.tar.lz4", None),
        ("shard.TAR", None),
        ("shard.tar.idx", None),
        ("plain.bin", None),
    ],
)
def test_detect_format_by_extension(name, expected):
    assert detect_format(name) == expected
    assert detect_format(name, b"") == expected


def test_archive_extensions_are_the_four_the_sdk_knows():
    assert set(ARCHIVE_EXTENSIONS) == {".tar", ".tgz", ".tar.gz", ".zip"}
    assert all(detect_format("o" + ext) for ext in ARCHIVE_EXTENSIONS)


def test_detect_format_by_magic_when_the_extension_is_unknown():
    assert detect_format("noext", build_tar()[:512]) == ".tar"
    assert detect_format("noext", tgz(build_tar())[:512]) == ".tgz"
    assert detect_format("noext", build_zip()[:512]) == ".zip"
    assert detect_format("noext", b"just some text, not an archive") is None
    # the extension wins over the bytes
    assert detect_format("a.zip", build_tar()[:512]) == ".zip"


# --------------------------------------------------------------------- listing


def test_list_members_regular_files_in_archive_order(shard):
    fmt, data = shard
    members = list_members(data, fmt)
    assert members == [Member(name, len(body)) for name, body in FILES]


@pytest.mark.parametrize(
    "tar_format", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT]
)
def test_list_tar_formats_agree(tar_format):
    data = build_tar(fmt=tar_format)
    assert [m.name for m in list_members(data, ".tar")] == NAMES
    assert list_members(memoryview(data), ".tar") == list_members(data, ".tar")
    assert list_members(tgz(data), ".tar.gz") == list_members(data, ".tar")


def test_list_empty_archives():
    assert list_members(build_tar(files=[], specials=False), ".tar") == []
    assert list_members(tgz(build_tar(files=[], specials=False)), ".tgz") == []
    assert list_members(build_zip(files=[], specials=False), ".zip") == []


def test_tar_without_end_of_archive_blocks_is_accepted():
    data = build_tar(files=FILES[:2], specials=False)
    second = _tar_infos(data)[1]
    end = second.offset_data + 512  # second body is one byte: data plus padding is one block
    assert list_members(data[:end], ".tar") == [Member(n, len(b)) for n, b in FILES[:2]]


def test_gnu_base256_size_field_is_parsed():
    data = bytearray(build_tar(files=[("big.bin", b"12345")], specials=False))
    data[124:136] = b"\x80" + (5).to_bytes(11, "big")
    data[148:156] = b" " * 8
    data[148:156] = b"%06o\0 " % sum(data[:512])
    assert list_members(bytes(data), ".tar") == [Member("big.bin", 5)]
    assert read_member(bytes(data), ".tar", "big.bin") == b"12345"


def test_multi_member_gzip_and_zero_padding():
    data = build_tar()
    cut = len(data) // 3
    joined = tgz(data[:cut]) + tgz(data[cut:]) + bytes(100)
    assert list_members(joined, ".tgz") == list_members(data, ".tar")
    assert read_member(joined, ".tgz", LONG) == b"long name body"


def test_zip_utf8_name_without_the_utf8_flag_is_decoded_as_utf8():
    data = bytearray(b"".join(write_archive([("ñ/日本.txt", 2, [b"ok"])], ".zip")))
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        at = data.find(sig) + (6 if sig == b"PK\x03\x04" else 8)
        flags = struct.unpack_from("<H", data, at)[0]
        struct.pack_into("<H", data, at, flags & ~0x800)
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        assert zf.namelist() != ["ñ/日本.txt"]  # zipfile alone falls back to CP437
    assert list_members(bytes(data), ".zip") == [Member("ñ/日本.txt", 2)]
    assert read_member(bytes(data), ".zip", "ñ/日本.txt") == b"ok"


# --------------------------------------------------------------------- read_member


def test_read_every_member(shard):
    fmt, data = shard
    for name, body in FILES:
        got = read_member(data, fmt, name)
        assert got == body and type(got) is bytes


def test_read_member_name_leniency(shard):
    fmt, data = shard
    assert read_member(data, fmt, "/imgs/train/0001.jpg") == BODIES["imgs/train/0001.jpg"]
    assert read_member(data, fmt, "abs/b.txt") == b"absolute"  # stored with a leading "/"
    # Go's rule: exact, or equal after a leading "/"; a stored "./" is not dropped
    assert read_member(data, fmt, "./dotted/a.txt") == b"dotted"
    with pytest.raises(MemberNotFound):
        read_member(data, fmt, "dotted/a.txt")


@pytest.mark.parametrize("missing", ["nope.jpg", "imgs/", "imgs", "link.jpg", "hard.jpg", "0001"])
def test_read_member_not_found(shard, missing):
    fmt, data = shard
    with pytest.raises(MemberNotFound, match="does not exist") as info:
        read_member(data, fmt, missing)
    assert isinstance(info.value, KeyError)
    assert missing in str(info.value)


def test_read_member_first_duplicate_wins():
    data = build_tar(files=[("a", b"first"), ("a", b"second")], specials=False)
    assert read_member(data, ".tar", "a") == b"first"
    assert list_members(data, ".tar") == [Member("a", 5), Member("a", 6)]


def test_read_large_member_from_tgz():
    rng = random.Random(7)
    big = rng.randbytes(3 * 1024 * 1024 + 17)
    files = [("pre.bin", rng.randbytes(700_000)), ("big.bin", big), ("post.txt", b"tail")]
    data = tgz(build_tar(files=files, specials=False))
    assert read_member(data, ".tgz", "big.bin") == big
    assert read_member(data, ".tgz", "post.txt") == b"tail"
    assert list_members(data, ".tgz")[1] == Member("big.bin", len(big))


def test_tgz_reading_memory_is_bounded_by_the_member_not_the_archive():
    huge = 48 * 1024 * 1024
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as tf:
        info = tarfile.TarInfo("zeros.bin")
        info.size = huge
        tf.addfile(info, io.BytesIO(bytes(huge)))
        info = tarfile.TarInfo("last.txt")
        info.size = 4
        tf.addfile(info, io.BytesIO(b"last"))
    data = tgz(tar.getvalue())
    del tar
    tracemalloc.start()
    try:
        assert list_members(data, ".tgz") == [Member("zeros.bin", huge), Member("last.txt", 4)]
        assert read_member(data, ".tgz", "last.txt") == b"last"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024


# --------------------------------------------------------------------- iter_matching

MATCH_CASES = [
    ("regexp", r"\d+\.jpg$", ["imgs/train/0001.jpg", "imgs/val/0002.jpg"]),
    ("regexp", "train", ["imgs/train/0001.jpg", "imgs/train/0001.cls"]),  # search, not match
    ("prefix", "imgs/train/", ["imgs/train/0001.jpg", "imgs/train/0001.cls"]),
    ("prefix", "train", []),
    ("suffix", ".txt", [LONG, "empty.txt", NAMES[5], "./dotted/a.txt", "/abs/b.txt"]),
    ("suffix", "a.txt", ["./dotted/a.txt"]),
    ("substr", "ñandú", ["données/ñandú-日本.txt"]),
    ("wdskey", "imgs/train/0001", ["imgs/train/0001.jpg", "imgs/train/0001.cls"]),
    ("wdskey", LONG.rsplit(".", 1)[0], [LONG]),  # only the last extension goes
    ("wdskey", "abs/b", ["/abs/b.txt"]),  # leading "/" dropped from the member name
    ("wdskey", "0001", []),
    ("wdskey", "empty.txt", []),
    ("regexp", "", NAMES),
    ("", "anything", NAMES),
    ("*", "anything", NAMES),
]


@pytest.mark.parametrize(("mode", "pattern", "expected"), MATCH_CASES)
def test_iter_matching(shard, mode, pattern, expected):
    fmt, data = shard
    got = list(iter_matching(data, fmt, pattern, mode))
    assert [name for name, _ in got] == expected
    assert all(body == BODIES[name] for name, body in got)


def test_iter_matching_directories_of_tars_only():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        info = tarfile.TarInfo("d")  # a directory stored without its trailing "/"
        info.type = tarfile.DIRTYPE
        tf.addfile(info)
        info = tarfile.TarInfo("d/x")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    tar = buf.getvalue()
    assert list(iter_matching(tar, ".tar", "d", "prefix")) == [("d/x", b"x")]
    assert list(iter_matching(tar, ".tar", "d", "prefix", dirs=True)) == [("d/", None),
                                                                         ("d/x", b"x")]
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        zf.writestr("d/", b"")
        zf.writestr("d/x", b"x")
    assert list(iter_matching(zbuf.getvalue(), ".zip", "d", "prefix", dirs=True)) == [
        ("d/x", b"x")]
    out = b"".join(write_archive([("d/", 0, ()), ("d/x", 1, [b"x"])], ".tar"))
    with tarfile.open(fileobj=io.BytesIO(out)) as tf:
        assert [(m.name, m.isdir(), m.mode) for m in tf] == [("d", True, 0o755),
                                                             ("d/x", False, 0o644)]


def test_iter_matching_rejects_unknown_mode_before_reading():
    with pytest.raises(ValueError, match="'fuzzy'"):
        iter_matching(b"not an archive at all", ".tar", "x", "fuzzy")
    with pytest.raises(ValueError, match="regexp"):
        iter_matching(b"", ".tar", "(unclosed", "regexp")


def test_iter_matching_is_lazy():
    data = build_tar(files=FILES[:3], specials=False)
    damaged = data[: _tar_infos(data)[2].offset + 100]
    it = iter_matching(damaged, ".tar", "", "")
    assert next(it) == FILES[0]
    assert next(it) == FILES[1]
    with pytest.raises(ArchiveError):
        next(it)


# --------------------------------------------------------------------- damage




def test_truncated_tar_names_the_offset():
    data = build_tar(files=FILES[:3], specials=False)
    infos = _tar_infos(data)
    cases = [
        (300, 0),  # inside the first header
        (infos[2].offset + 100, infos[2].offset),  # inside a later header
        (infos[2].offset_data + 10, infos[2].offset_data),  # inside member data
        (infos[0].offset_data + len(FILES[0][1]) + 1, None),  # inside the padding
    ]
    for cut, offset in cases:
        with pytest.raises(ArchiveError, match="truncated") as info:
            list_members(data[:cut], ".tar")
        assert info.value.offset == (cut if offset is None else offset)
        assert f"offset {info.value.offset}" in str(info.value)


def test_truncated_member_read():
    data = build_tar(files=FILES[:3], specials=False)
    third = _tar_infos(data)[2]
    cut = data[: third.offset_data + 10]
    assert read_member(cut, ".tar", FILES[0][0]) == FILES[0][1]  # found before the damage
    with pytest.raises(ArchiveError, match="truncated") as info:
        read_member(cut, ".tar", FILES[2][0])
    assert info.value.offset == third.offset_data


def test_corrupt_tar_header_names_the_offset():
    data = bytearray(build_tar(files=FILES[:3], specials=False))
    second = _tar_infos(bytes(data))[1]
    data[second.offset + 3] ^= 0x40
    with pytest.raises(ArchiveError, match="checksum") as info:
        list_members(bytes(data), ".tar")
    assert info.value.offset == second.offset


def test_not_a_tar():
    with pytest.raises(ArchiveError) as info:
        list_members(random.Random(1).randbytes(4096), ".tar")
    assert info.value.offset == 0


def test_truncated_tgz_names_the_offset():
    data = tgz(build_tar())
    for cut in (len(data) // 2, len(data) - 8, len(data) - 1):
        with pytest.raises(ArchiveError, match="truncated gzip") as info:
            list_members(data[:cut], ".tgz")
        assert info.value.offset == cut
    with pytest.raises(ArchiveError):
        list(iter_matching(data[: len(data) // 2], ".tgz", "", ""))


def test_corrupt_tgz_is_detected_even_inside_member_data():
    rng = random.Random(3)
    data = bytearray(tgz(build_tar(files=[("r.bin", rng.randbytes(50_000))], specials=False)))
    data[len(data) // 2] ^= 0xFF  # inside the stored (incompressible) member data
    with pytest.raises(ArchiveError) as info:
        list_members(bytes(data), ".tgz")
    assert isinstance(info.value.offset, int)


def test_tgz_with_a_corrupt_tar_header_names_the_inflated_offset():
    tar = bytearray(build_tar(files=FILES[:3], specials=False))
    second = _tar_infos(bytes(tar))[1]
    tar[second.offset] ^= 0x01
    with pytest.raises(ArchiveError, match="checksum") as info:
        list_members(tgz(bytes(tar)), ".tgz")
    assert info.value.offset == second.offset


def test_garbage_after_gzip_stream():
    with pytest.raises(ArchiveError, match="after the gzip") as info:
        list_members(tgz(build_tar()) + b"garbage", ".tgz")
    assert info.value.offset == len(tgz(build_tar()))


def test_truncated_zip_names_the_offset():
    data = build_zip()
    cut = data[: len(data) - 30]
    with pytest.raises(ArchiveError, match="end-of-central-directory") as info:
        list_members(cut, ".zip")
    assert info.value.offset == len(cut)


def test_corrupt_zip_central_directory_names_its_offset():
    padding = ("pad.bin", random.Random(2).randbytes(100_000))  # more than the EOCD search window
    data = bytearray(build_zip(files=[padding, *FILES], compression=zipfile.ZIP_STORED))
    cd_offset = data.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack_from("<I", data, cd_offset + 16)[0]
    data[cd_offset : cd_offset + 4] = b"XXXX"
    with pytest.raises(ArchiveError, match="central directory") as info:
        list_members(bytes(data), ".zip")
    assert info.value.offset == cd_offset


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_corrupt_zip_member_names_its_offset(compression):
    body = bytes(range(256)) * 40
    data = bytearray(build_zip(files=[("a.txt", b"aaa"), ("b.bin", body)], compression=compression,
                               specials=False))
    header = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("b.bin").header_offset
    data[header + 30 + len("b.bin") + 20] ^= 0xFF
    assert list_members(bytes(data), ".zip") == [Member("a.txt", 3), Member("b.bin", len(body))]
    assert read_member(bytes(data), ".zip", "a.txt") == b"aaa"
    with pytest.raises(ArchiveError, match="b.bin") as info:
        read_member(bytes(data), ".zip", "b.bin")
    assert info.value.offset == header


def test_unsupported_format():
    with pytest.raises(ArchiveError, match="lz4"):
        list_members(b"", ".tar.lz4")
    with pytest.raises(ArchiveError, match="lz4"):
        write_archive([], ".tar.lz4")


# --------------------------------------------------------------------- write_archive

WRITE_FORMATS = [".tar", ".tgz", ".tar.gz", ".zip"]


def _entries():
    rng = random.Random(11)
    big = rng.randbytes(2 * 1024 * 1024 + 123)
    # a one-byte chunk, then chunks of other bytes-like types and sizes
    mixed = [big[:1], bytearray(big[1:70_000]), memoryview(big)[70_000:1_000_000], big[1_000_000:]]
    entries = [
        ("bck/big.bin", len(big), mixed),
        ("bck/empty", 0, []),
        ("bck/empty-chunks", 0, [b"", b""]),
        ("bck/" + "n" * 150 + "/x.txt", 5, [b"hel", b"lo"]),
        ("bck/données/日本.txt", 3, [b"abc"]),
        ("__404__/bck/missing.jpg", 0, iter(())),
        ("bck/block", 512, [bytes(512)]),
    ]
    expected = [(name, b"".join(bytes(c) for c in chunks)) for name, _, chunks in entries]
    return entries, expected


def _read_back(out: bytes, fmt: str):
    if fmt == ".zip":
        with zipfile.ZipFile(io.BytesIO(out)) as zf:
            assert zf.testzip() is None
            return [(i.filename, zf.read(i)) for i in zf.infolist()]
    with tarfile.open(fileobj=io.BytesIO(out), mode="r|*") as tf:
        return [(m.name, tf.extractfile(m).read()) for m in tf if m.isfile()]


@pytest.mark.parametrize("fmt", WRITE_FORMATS)
def test_write_archive_round_trips_through_stdlib(fmt):
    entries, expected = _entries()
    out = b"".join(write_archive(entries, fmt))
    assert _read_back(out, fmt) == expected
    assert list_members(out, fmt) == [Member(n, len(b)) for n, b in expected]
    assert list(iter_matching(out, fmt, "", "")) == expected
    assert detect_format("x", out[:512]) == (".tgz" if fmt == ".tar.gz" else fmt)


@pytest.mark.parametrize("fmt", WRITE_FORMATS)
def test_write_archive_is_read_by_the_sdk_getbatch_extractor(fmt):
    from aistore.sdk.batch.extractor.extractor_registry import get_extractor
    from aistore.sdk.batch.types import MossIn, MossReq

    class _Response:
        closed = False

        def close(self):
            self.closed = True

    names = ["bck/a.txt", "__404__/bck/missing", "bck/c.bin"]
    bodies = [b"alpha", b"", bytes(range(256)) * 300]
    out = b"".join(write_archive([(n, len(b), [b]) for n, b in zip(names, bodies, strict=True)], fmt))
    req = MossReq(
        moss_in=[MossIn(obj_name=n.rsplit("/", 1)[1], bck="bck", provider="ais") for n in names],
        output_format=fmt,
        cont_on_err=True,
    )
    response = _Response()
    got = list(get_extractor(fmt).extract(response, io.BytesIO(out), req, None))
    assert [body for _, body in got] == bodies
    assert [out.obj_name for out, _ in got] == ["a.txt", "missing", "c.bin"]
    assert [out.err_msg for out, _ in got] == [None, "Batch entry failed on the server", None]
    assert response.closed


def test_write_empty_archives():
    for fmt in WRITE_FORMATS:
        out = b"".join(write_archive([], fmt))
        assert _read_back(out, fmt) == []
        assert list_members(out, fmt) == []


def test_write_tar_layout():
    out = b"".join(write_archive([("a.txt", 3, [b"abc"])], ".tar"))
    assert len(out) == 512 + 512 + 1024  # header, padded data, two zero blocks
    assert out[257:263] == b"ustar\0"
    assert out[-1024:] == bytes(1024)
    long = b"".join(write_archive([("d/" * 60 + "f", 1, [b"z"])], ".tar"))
    assert long[156:157] == b"x"  # a PAX header carries the long path
    assert [info.name for info in _tar_infos(long)] == ["d/" * 60 + "f"]


def test_write_zip_uses_data_descriptors_and_stores():
    out = b"".join(write_archive([("a.txt", 3, [b"abc"])], ".zip"))
    info = zipfile.ZipFile(io.BytesIO(out)).getinfo("a.txt")
    assert info.flag_bits & 0x08
    assert info.compress_type == zipfile.ZIP_STORED
    assert out[30 + 5 : 30 + 5 + 3] == b"abc"  # data right after the local header
    assert out[38 : 38 + 4] == b"PK\x07\x08"  # then the data descriptor


@pytest.mark.parametrize("fmt", [".tar", ".tgz", ".zip"])
def test_write_archive_streams(fmt):
    """Output flows while an entry's chunks are still being produced; none is held whole."""
    chunk = random.Random(5).randbytes(256 * 1024)
    pulled = []

    def chunks(tag, n):
        for i in range(n):
            pulled.append((tag, i))
            yield chunk

    entries = [
        ("first", 16 * len(chunk), chunks("first", 16)),
        ("second", len(chunk), chunks("second", 1)),
    ]
    stream = write_archive(entries, fmt)
    assert pulled == []  # nothing is read before output is asked for
    outputs, pulled_at_output = [], []
    for piece in stream:
        outputs.append(piece)
        pulled_at_output.append(len(pulled))
        assert len(piece) <= len(chunk) + 64 * 1024
    assert pulled_at_output[0] < 16  # the first entry is still being read
    assert len([n for n in pulled_at_output if n < 16]) >= 4
    assert _read_back(b"".join(outputs), fmt) == [("first", chunk * 16), ("second", chunk)]


@pytest.mark.parametrize("fmt", [".tar", ".tgz", ".zip"])
@pytest.mark.parametrize(("declared", "chunks"), [(5, [b"abc"]), (2, [b"abc"]), (0, [b"x"])])
def test_write_archive_rejects_size_mismatch(fmt, declared, chunks):
    with pytest.raises(ArchiveError, match="declared"):
        b"".join(write_archive([("bad", declared, chunks)], fmt))


def test_write_zip_refuses_entries_needing_zip64_before_reading_them():
    def never():
        raise AssertionError("chunks of an oversized entry must not be read")
        yield b""  # pragma: no cover

    with pytest.raises(ArchiveError, match="zip64"):
        b"".join(write_archive([("huge", 5 * 1024**3, never())], ".zip"))


def test_write_tar_accepts_sizes_beyond_the_octal_field():
    # header only: the entry is never completed, but its header must carry a PAX size
    stream = write_archive([("huge", 9 * 1024**3, iter([bytes(128 * 1024)]))], ".tar")
    head = next(stream)
    assert head[156:157] == b"x" and b" size=9663676416\n" in head[:1024]
    with pytest.raises(ArchiveError, match="declared"):
        list(stream)


@pytest.mark.parametrize(("name", "size"), [("", 0), (None, 0), ("a", -1)])
def test_write_archive_rejects_bad_entries(name, size):
    with pytest.raises(ValueError):
        b"".join(write_archive([(name, size, [])], ".tar"))


def test_errors_are_exported_with_the_expected_bases():
    assert issubclass(archives.MemberNotFound, KeyError)
    assert issubclass(archives.ArchiveError, Exception)
    assert ArchiveError("boom", 12).offset == 12
    assert str(ArchiveError("boom", 12)) == "boom at offset 12"
    assert ArchiveError("boom").offset is None
