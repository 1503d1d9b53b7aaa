"""The public shard builder (``ais_emulator.shards``), read back with the stdlib and the
emulator's own archive reader."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from ais_emulator import mock_ais
from ais_emulator.shards import make_samples, make_shard, make_shards, make_tar, members, put_shards
from ais_emulator.store.archives import ArchiveError, list_members


def _read(data: bytes) -> list[tuple[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
        return [(m.name, tf.extractfile(m).read()) for m in tf if m.isfile()]


def test_samples_are_seeded_and_shaped():
    a = make_samples(5, {"jpg": 100, "seg.png": 7, "cls": 1}, seed=3)
    assert a == make_samples(5, {"jpg": 100, "seg.png": 7, "cls": 1}, seed=3)
    assert a != make_samples(5, {"jpg": 100, "seg.png": 7, "cls": 1}, seed=4)
    assert list(a) == [f"sample-{i:06d}" for i in range(5)]
    assert {k: len(v) for k, v in a["sample-000004"].items()} == {"jpg": 100, "seg.png": 7,
                                                                  "cls": 1}
    assert list(make_samples(2, key="dir/{:03d}")) == ["dir/000", "dir/001"]


@pytest.mark.parametrize("fmt", ["ustar", "gnu", "pax"])
@pytest.mark.parametrize("compression", [None, "gz"])
def test_shard_roundtrip(fmt, compression):
    samples = {"a/x": {"jpg": b"J", "cls": "3"}, "a/y": {"seg.png": b"P" * 600}}
    data = make_shard(samples, compression=compression, format=fmt)
    assert data == make_shard(samples, compression=compression, format=fmt)  # deterministic
    if compression == "gz":
        assert data[:2] == b"\x1f\x8b"
    assert _read(data) == [("a/x.jpg", b"J"), ("a/x.cls", b"3"), ("a/y.seg.png", b"P" * 600)]
    assert members(list(samples.items())) == _read(data)


def test_truncated_shard_keeps_all_but_the_last_member():
    samples = make_samples(3, {"bin": 2000})
    data = make_shard(samples, corrupt="truncated")
    whole = make_shard(samples)
    assert len(data) < len(whole) and whole.startswith(data)
    with pytest.raises(ArchiveError, match="truncated data of tar member 'sample-000002.bin'"):
        list_members(data, ".tar")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        first = tf.next()
        assert first.name == "sample-000000.bin"
        assert tf.extractfile(first).read() == samples["sample-000000"]["bin"]
    gz = make_shard(samples, compression="gz", corrupt="truncated")
    assert gzip.decompress(gz) == data


def test_bad_checksum_is_on_the_last_member():
    samples = make_samples(3, {"bin": 10})
    data = make_shard(samples, corrupt="bad-checksum")
    assert len(data) == len(make_shard(samples))
    # the third member's header, after two members of one header and one data block each
    with pytest.raises(ArchiveError, match="checksum.*at offset 2048"):
        list_members(data, ".tar")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:  # stdlib: a quiet end
        assert [m.name for m in tf] == ["sample-000000.bin", "sample-000001.bin"]


def test_make_shards_deals_consecutive_samples():
    samples = make_samples(10)
    shards = make_shards(samples, 3, name="train-{:02d}.tgz", compression="gz",
                         corrupt={1: "truncated"})
    assert list(shards) == ["train-00.tgz", "train-01.tgz", "train-02.tgz"]
    got = _read(shards["train-00.tgz"]) + _read(shards["train-02.tgz"])
    assert [n.split(".")[0] for n, _ in got[::2]] == [f"sample-{i:06d}" for i in (0, 1, 2, 6,
                                                                                    7, 8, 9)]
    with pytest.raises(ValueError, match="no shard with index"):
        make_shards(samples, 2, corrupt={5: "truncated"})


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"format": "v7"}, "format"), ({"compression": "bz2"}, "compression"),
    ({"corrupt": "flipped"}, "corrupt")])
def test_bad_options_are_named(kwargs, error):
    with pytest.raises(ValueError, match=error):
        make_tar([("a.bin", b"x")], **kwargs)


def test_bad_samples_are_named():
    with pytest.raises(ValueError, match="extension '.jpg'"):
        make_shard({"k": {".jpg": b"x"}})
    with pytest.raises(TypeError, match="sample 'k' field 'jpg'"):
        make_shard({"k": {"jpg": 3}})


def test_put_shards_through_the_sdk_and_list_members():
    with mock_ais() as m:
        bucket = m.client().bucket("wds").create()
        names = put_shards(bucket, make_shards(make_samples(4), 2))
        assert names == ["shard-000000.tar", "shard-000001.tar"]
        assert _read(m.emulator.get_object("wds", names[1]))[0][0] == "sample-000002.bin"
