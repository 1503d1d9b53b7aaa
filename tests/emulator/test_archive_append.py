"""``store.archive_append``: one member appended to tar, tgz and zip shards, byte-exact
where AIS's in-place tar append fixes the layout, and refusals that leave input alone."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile

import pytest

from ais_emulator.store.archive_append import append_member
from ais_emulator.store.archives import ArchiveError, list_members, read_member

from ._tars import shard

BASE = [("a.txt", b"AAAA"), ("b/c.txt", b"CCC")]


def _zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


BUILD = {".tar": shard, ".tgz": lambda m: gzip.compress(shard(m), mtime=0), ".zip": _zip}


def _read_all(blob, fmt):
    return [(m.name, read_member(blob, fmt, m.name)) for m in list_members(blob, fmt)]


@pytest.mark.parametrize("fmt", [".tar", ".tgz", ".zip"])
def test_append_keeps_every_member_and_adds_one(fmt):
    out = append_member(BUILD[fmt](BASE), fmt, "new.txt", b"NEW!")
    assert _read_all(out, fmt) == BASE + [("new.txt", b"NEW!")]


@pytest.mark.parametrize("fmt", [".tar", ".tgz", ".zip"])
def test_a_new_shard(fmt):
    out = append_member(None, fmt, "only.txt", b"1")
    assert _read_all(out, fmt) == [("only.txt", b"1")]


def test_tar_append_replaces_the_end_blocks():
    """Python pads a tar to 10 KiB; the member goes where the zero blocks began and the
    output ends with exactly two zero blocks (AIS's layout and size)."""
    src = shard(BASE)
    assert len(src) == 10240
    out = append_member(src, ".tar", "new.txt", b"NEW!")
    assert len(out) == 4096 and out[:2048] == src[:2048] and out[-1024:] == bytes(1024)
    head = tarfile.TarInfo.frombuf(out[2048:2560], "utf-8", "strict")
    assert head.name == "new.txt" and head.size == 4 and head.mode == 0o644
    assert head.mtime > 1_600_000_000
    assert len(append_member(None, ".tar", "n", b"N")) == 2048


def test_long_and_unicode_names_use_pax():
    name = "d/" + "x" * 200 + "/\u00fcber.txt"
    out = append_member(shard(BASE), ".tar", name, b"data")
    assert _read_all(out, ".tar")[-1] == (name, b"data")


def test_duplicate_names_are_appended_again():
    out = append_member(_zip(BASE), ".zip", "a.txt", b"second")
    with zipfile.ZipFile(io.BytesIO(out)) as zf:
        assert [i.filename for i in zf.infolist()] == ["a.txt", "b/c.txt", "a.txt"]
    out = append_member(shard(BASE), ".tar", "a.txt", b"second")
    assert [m.name for m in list_members(out, ".tar")] == ["a.txt", "b/c.txt", "a.txt"]


def test_an_empty_tar_becomes_a_new_one():
    assert _read_all(append_member(bytes(1024), ".tar", "n", b"N"), ".tar") == [("n", b"N")]
    assert _read_all(append_member(b"", ".tgz", "n", b"N"), ".tgz") == [("n", b"N")]


def test_tgz_of_concatenated_gzip_members():
    tar = shard(BASE)
    blob = gzip.compress(tar[:1024], mtime=0) + gzip.compress(tar[1024:], mtime=0)
    out = append_member(blob, ".tgz", "new.txt", b"N")
    assert _read_all(out, ".tgz") == BASE + [("new.txt", b"N")]


def test_shards_from_the_test_kit():
    blob = shard([("x.jpg", b"x" * 700), ("y.cls", b"1")])
    out = append_member(blob, ".tar", "z.txt", b"zz")
    assert [m.name for m in list_members(out, ".tar")] == ["x.jpg", "y.cls", "z.txt"]


@pytest.mark.parametrize("fmt", [".tar", ".tgz", ".zip"])
@pytest.mark.parametrize("damage", ["junk", "truncated"])
def test_unreadable_shards_raise(fmt, damage):
    good = BUILD[fmt]([("a.txt", b"A" * 3000), ("b.txt", b"B" * 3000)])
    bad = b"not an archive " * 40 if damage == "junk" else good[: len(good) // 2]
    before = bytes(bad)
    with pytest.raises(ArchiveError):
        append_member(bad, fmt, "new.txt", b"N")
    assert bad == before


def test_unknown_format_raises():
    with pytest.raises(ArchiveError):
        append_member(None, ".rar", "x", b"x")
