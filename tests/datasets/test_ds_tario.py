"""The streaming tar parser and sample grouping, on locally built tar bytes."""

from __future__ import annotations

import gzip
import io
import tarfile

import ais_ds_test_kit as kit
import pytest

from ais_datasets import tario
from ais_datasets.errors import ShardReadError, TruncatedShardError
from ais_datasets.tario import TarStream, gunzip_chunks, iter_samples, split_key

LONG = "deep/" + "d" * 120 + "/" + "n" * 130 + ".jpg"
MEMBERS = [
    ("a/x.jpg", kit.payload("a/x.jpg", 700)),
    ("a/x.cls", b"7"),
    ("b/x.jpg", kit.payload("b/x.jpg", 512)),
    (LONG, b"long"),
    ("\u00fc/\u00e9.txt", b"unicode"),
    ("x.seg.png", b"seg"),
    ("x.png", b"png"),
    ("README", b"no extension"),
    ("empty.bin", b""),
]


@pytest.fixture(autouse=True, params=["compiled", "python"])
def parser(request, monkeypatch):
    """Every test here runs with the compiled fast path and with the pure-Python parser."""
    if request.param == "python":
        monkeypatch.setattr(tario, "_fast", None)
    elif tario._fast is None:  # test_ds_tarscan fails when a compiler was there
        pytest.skip("ais_datasets._tarscan is not built")
    return request.param


def chunked(data: bytes, size: int):
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
@pytest.mark.parametrize("chunk", [1, 100, 512, 1 << 20])
def test_members_roundtrip_long_names(fmt, chunk):
    data = kit.make_tar(MEMBERS, fmt)
    got = [(m.name, m.data) for m in TarStream(chunked(data, chunk))]
    assert got == MEMBERS


def test_ustar_prefix_field_joins_the_path():
    name = "p" * 90 + "/" + "q" * 60 + "/file.txt"  # > 100 chars: split into prefix + name
    data = kit.make_tar([(name, b"ok")], tarfile.USTAR_FORMAT)
    assert data[345:350] == b"ppppp"  # the writer used the prefix field
    assert [(m.name, m.data) for m in TarStream(io.BytesIO(data))] == [(name, b"ok")]


def test_pax_size_and_path_override_the_header():
    info = tarfile.TarInfo("short.bin")
    info.size = 3
    info.pax_headers = {"path": "pax/overridden.name.bin", "comment": "x" * 600}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(b"abc"))
    assert [(m.name, m.data) for m in TarStream(io.BytesIO(buf.getvalue()))] == \
        [("pax/overridden.name.bin", b"abc")]


def test_base256_size_is_read():
    data = bytearray(kit.make_tar([("big.bin", b"z" * 1000)], tarfile.GNU_FORMAT))
    field = bytes([0x80]) + (1000).to_bytes(11, "big")
    data[124:136] = field
    data[148:156] = b" " * 8
    data[148:156] = b"%06o\x00 " % (sum(data[:512]))
    assert [len(m.data) for m in TarStream(io.BytesIO(bytes(data)))] == [1000]


def test_directories_and_links_are_not_members():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        d = tarfile.TarInfo("dir")
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
        link = tarfile.TarInfo("dir/link.jpg")
        link.type = tarfile.SYMTYPE
        link.linkname = "x" * 200  # a GNU long link name ('K') too
        tar.addfile(link)
        f = tarfile.TarInfo("dir/file.jpg")
        f.size = 2
        tar.addfile(f, io.BytesIO(b"hi"))
    assert [(m.name, m.data) for m in TarStream(io.BytesIO(buf.getvalue()))] == \
        [("dir/file.jpg", b"hi")]


def test_clean_end_without_end_of_archive_blocks():
    data = kit.make_tar([("a.x", b"1" * 10), ("b.x", b"2")])
    cut = 512 + 512 + 512 + 512  # two headers, two padded data blocks
    assert [m.name for m in TarStream(io.BytesIO(data[:cut]))] == ["a.x", "b.x"]


@pytest.mark.parametrize("cut, what, offset", [
    (100, "inside a tar header", 0),
    (512 + 300, "inside member 'a.x'", 0),
    (512 + 1000 + 10, "inside the padding of member 'a.x'", 0),
    (1536 + 200, "inside a tar header", 1536),
    (1536 + 512 + 5, "inside member 'b.y'", 1536),
])
def test_truncation_names_shard_and_offset(cut, what, offset):
    data = kit.make_tar([("a.x", b"1" * 1000), ("b.y", b"2" * 600)])
    with pytest.raises(TruncatedShardError) as exc:
        list(TarStream(chunked(data[:cut], 128), shard="ais://bkt/s.tar"))
    err = exc.value
    assert isinstance(err, ShardReadError) and isinstance(err, ValueError)
    assert err.shard == "ais://bkt/s.tar" and err.offset == offset
    assert what in str(err) and "ais://bkt/s.tar" in str(err)
    assert f"byte offset {offset}" in str(err)


def test_truncation_inside_an_extended_header_chain():
    data = kit.make_tar([(LONG, b"v")], tarfile.GNU_FORMAT)
    with pytest.raises(TruncatedShardError) as exc:
        list(TarStream(io.BytesIO(data[:1024 + 100]), shard="s"))  # L header, name, cut
    assert exc.value.offset == 1024  # the header that is cut short


def test_corrupt_header_raises_with_offset():
    data = bytearray(kit.make_tar([("a.x", b"1" * 10), ("b.x", b"2")]))
    data[1024 + 3] ^= 0x5A  # second header (after 512 header + 512 data)
    stream = TarStream(io.BytesIO(bytes(data)), shard="ais://b/s.tar")
    assert stream.next_member().name == "a.x"
    with pytest.raises(ShardReadError) as exc:
        stream.next_member()
    assert not isinstance(exc.value, TruncatedShardError)
    assert exc.value.offset == 1024 and "checksum" in str(exc.value)


def test_signed_byte_checksum_is_accepted():
    """Some old writers summed the header's bytes as signed chars."""
    data = bytearray(kit.make_tar([("caf\u00e9.bin", b"z")]))
    data[148:156] = b" " * 8
    signed = sum(b - 256 if b > 127 else b for b in data[:512])
    data[148:156] = b"%06o\x00 " % signed
    assert [(m.name, m.data) for m in TarStream([bytes(data)])] == [("caf\u00e9.bin", b"z")]
    data[148:154] = b"%06o" % (signed + 1)
    with pytest.raises(ShardReadError, match="checksum"):
        list(TarStream([bytes(data)]))


def test_garbage_is_not_a_tar():
    with pytest.raises(ShardReadError) as exc:
        list(TarStream(io.BytesIO(b"this is not a tar archive" * 40), shard="s"))
    assert exc.value.offset == 0


def test_error_pickles_with_its_fields():
    import pickle

    err = TruncatedShardError("stream ends", shard="ais://b/o.tar", offset=1536)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is TruncatedShardError
    assert (back.shard, back.offset, str(back)) == (err.shard, err.offset, str(err))


def test_gzip_stream_and_truncated_gzip():
    data = kit.make_tar(MEMBERS[:3])
    gz = gzip.compress(data)
    got = [m.name for m in TarStream(gunzip_chunks(chunked(gz, 7)))]
    assert got == [n for n, _ in MEMBERS[:3]]
    with pytest.raises(TruncatedShardError):
        list(gunzip_chunks([gz[:-30]]))
    with pytest.raises(ShardReadError):
        list(gunzip_chunks([b"\x1f\x8b" + b"\x00" * 40]))


@pytest.mark.parametrize("name, expected", [
    ("a/x.jpg", ("a/x", "jpg")),
    ("b/x.jpg", ("b/x", "jpg")),
    ("x.seg.png", ("x", "seg.png")),
    ("dir.v2/img.JPG", ("dir.v2/img", "JPG")),
    ("noext", (None, "")),
    ("dir/.hidden", (None, "")),
    ("trailing.", ("trailing", "")),
])
def test_split_key_follows_webdataset(name, expected):
    assert split_key(name) == expected


def test_samples_group_consecutive_members_by_key():
    data = kit.make_tar(MEMBERS, tarfile.GNU_FORMAT)
    samples = list(iter_samples(TarStream(io.BytesIO(data))))
    assert [s.key for s in samples] == ["a/x", "b/x", LONG[:-4], "\u00fc/\u00e9", "x", "empty"]
    assert samples[0].fields == {"jpg": MEMBERS[0][1], "cls": b"7"}
    assert samples[4].fields == {"seg.png": b"seg", "png": b"png"}
    assert samples[5].fields == {"bin": b""}
    # offsets chain: each sample starts where the previous one said the next begins
    for prev, nxt in zip(samples, samples[1:], strict=False):
        assert prev.next_offset == nxt.offset


def test_skip_reads_headers_only_and_resumes_at_offsets():
    data = kit.make_tar(MEMBERS, tarfile.GNU_FORMAT)
    full = list(iter_samples(TarStream(io.BytesIO(data))))
    for k in range(len(full) + 1):
        assert list(iter_samples(TarStream(io.BytesIO(data)), skip=k)) == full[k:]
    # restarting the stream at a sample's offset gives the rest
    third = full[2]
    rest = list(iter_samples(TarStream(io.BytesIO(data[third.offset:]), offset=third.offset)))
    assert rest == full[2:]


def test_duplicate_extension_in_a_sample_is_an_error():
    data = kit.make_tar([("k.jpg", b"1"), ("k.jpg", b"2")])
    with pytest.raises(ShardReadError) as exc:
        list(iter_samples(TarStream(io.BytesIO(data), shard="ais://b/d.tar")))
    assert exc.value.offset == 1024 and "duplicate" in str(exc.value)


def test_parser_matches_tarfile_on_a_bigger_archive():
    members = kit.shard_members(0, 200, ("bin", "cls", "txt"))
    data = kit.make_tar(members, tarfile.PAX_FORMAT)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        ref = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]
    assert [(m.name, m.data) for m in TarStream(chunked(data, 4096))] == ref


def test_entry_by_entry_api():
    data = kit.make_tar([("a.bin", b"a" * 1500), ("b.bin", b"b" * 700), ("c.bin", b"c")])
    tar = TarStream(chunked(data, 600), shard="ais://b/s.tar")
    head = tar.next_member()
    assert head == tario.MemberHeader("a.bin", 1500, 0, 512)
    pieces = []
    while piece := tar.read_piece(400):
        assert 0 < len(piece) <= 400
        pieces.append(bytes(piece))
    assert b"".join(pieces) == b"a" * 1500
    head = tar.next_member()  # padding of a.bin skipped
    assert (head.name, head.offset, head.data_offset) == ("b.bin", 2048, 2560)
    assert bytes(tar.read_piece(100)) == b"b" * 100
    assert tar.read_data() == b"b" * 600  # the rest
    head = tar.next_member()
    assert head.name == "c.bin"
    tar.skip_data()
    tar.skip_data()  # nothing pending: nothing to do
    assert tar.next_member() is None
    with pytest.raises(RuntimeError):
        tar.read_piece(1)
    with pytest.raises(RuntimeError):
        tar.read_data()


def test_skip_data_after_some_pieces_and_a_cut_member():
    data = kit.make_tar([("a.bin", b"a" * 1500), ("b.bin", b"b")])
    tar = TarStream(chunked(data, 512))
    tar.next_member()
    tar.read_piece(10)
    tar.skip_data()
    assert tar.next_member().name == "b.bin"
    cut = TarStream([data[:512 + 1000]], shard="ais://b/cut.tar")
    cut.next_member()
    assert len(cut.read_piece(5000)) == 1000
    with pytest.raises(TruncatedShardError) as exc:
        cut.read_piece(5000)
    assert exc.value.offset == 0 and "inside member 'a.bin' (1000 of 1500" in str(exc.value)
