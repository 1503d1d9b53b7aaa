"""AISMultiShardStream: one streamed GET per shard, zipped members, split, resume, errors."""

from __future__ import annotations

import itertools
import pickle

import ais_ds_test_kit as kit
import pytest

from ais_datasets import AISMultiShardStream, ShardReadError


def _corpus(bucket, shards=3, per_shard=4):
    """Sources "img/" and "lbl/": matching shards, one member per sample each."""
    rows = []
    for s in range(shards):
        img = [(f"s{s}-{j:02d}.jpg", kit.payload(f"img{s}-{j}")) for j in range(per_shard)]
        lbl = [(f"s{s}-{j:02d}.cls", kit.payload(f"lbl{s}-{j}")) for j in range(per_shard)]
        kit.put(bucket, {f"img/shard-{s}.tar": kit.make_tar(img),
                         f"lbl/shard-{s}.tar": kit.make_tar(lbl)})
        rows += [(a, b) for (_, a), (_, b) in zip(img, lbl, strict=True)]
    return rows


def _stream(endpoint, bucket, **kw):
    from aistore.sdk import DataShard

    sources = [DataShard(endpoint, bucket.name, prefix=p) for p in ("img/", "lbl/")]
    return AISMultiShardStream(sources, **kw)


def test_zips_members_with_one_get_per_shard(endpoint, bucket, calls):
    rows = _corpus(bucket)
    calls.clear()
    assert list(_stream(endpoint, bucket)) == rows
    gets = calls.gets()
    assert len(gets) == 6 and all(not q.get("archpath") for _, q, _ in gets)


def test_non_archives_under_the_prefix_are_ignored(endpoint, bucket):
    rows = _corpus(bucket, shards=1)
    kit.put(bucket, {"img/README.txt": b"not a shard", "lbl/index.json": b"{}"})
    assert list(_stream(endpoint, bucket)) == rows


@pytest.mark.parametrize("shuffle", [False, True])
def test_ranks_split_exactly_once(endpoint, bucket, shuffle):
    rows = _corpus(bucket, shards=5, per_shard=2)
    parts = [list(_stream(endpoint, bucket, shuffle=shuffle, rank=r, world_size=3,
                          even_ranks=None)) for r in range(3)]
    assert sorted(itertools.chain(*parts)) == sorted(rows)


def test_shuffle_seeded(endpoint, bucket):
    rows = _corpus(bucket, shards=4, per_shard=3)
    a = list(_stream(endpoint, bucket, shuffle=True, seed=5, shuffle_buffer=4))
    assert sorted(a) == sorted(rows) and a != rows
    assert list(_stream(endpoint, bucket, shuffle=True, seed=5, shuffle_buffer=4)) == a
    other = _stream(endpoint, bucket, shuffle=True, seed=5, shuffle_buffer=4)
    other.set_epoch(1)
    assert list(other) != a


@pytest.mark.parametrize("shuffle", [False, True])
def test_resume(endpoint, bucket, shuffle):
    rows = _corpus(bucket, shards=3, per_shard=3)
    full = list(_stream(endpoint, bucket, shuffle=shuffle, shuffle_buffer=4))
    assert sorted(full) == sorted(rows)
    for stop in range(len(full) + 1):
        ds = _stream(endpoint, bucket, shuffle=shuffle, shuffle_buffer=4)
        it = iter(ds)
        head = [next(it) for _ in range(stop)]
        it.close()
        state = pickle.loads(pickle.dumps(ds.state_dict()))
        again = _stream(endpoint, bucket, shuffle=shuffle, shuffle_buffer=4)
        again.load_state_dict(state)
        assert head + list(again) == full, f"stop={stop}"
        loader_level = _stream(endpoint, bucket, shuffle=shuffle, shuffle_buffer=4)
        loader_level.load_state_dict({"epoch": 0, "samples_seen": stop})
        assert list(loader_level) == full[stop:]


def test_mismatched_pairs_raise_or_are_counted(endpoint, bucket):
    rows = _corpus(bucket, shards=2, per_shard=3)
    kit.put(bucket, {"lbl/shard-1.tar": kit.make_tar([("s1-00.cls", b"only one")])})
    with pytest.raises(ShardReadError, match="different numbers of members") as exc:
        list(_stream(endpoint, bucket))
    assert exc.value.shard == "ais://ds/lbl/shard-1.tar"
    ds = _stream(endpoint, bucket, on_error="skip")
    got = list(ds)
    assert got == rows[:3] + [(rows[3][0], b"only one")]
    assert ds.error_stats["shards_failed"] == 1 and ds.error_stats["samples_skipped"] == 1


def test_different_shard_counts(endpoint, bucket):
    rows = _corpus(bucket, shards=2, per_shard=2)
    kit.put(bucket, {"img/shard-9.tar": kit.make_tar([("z.jpg", b"z")])})
    with pytest.raises(ShardReadError, match="different numbers of shards"):
        list(_stream(endpoint, bucket))
    ds = _stream(endpoint, bucket, on_error="skip")
    assert list(ds) == rows
    assert ds.error_stats["shards_failed"] == 1


def test_corrupt_shard_names_the_shard(endpoint, bucket):
    _corpus(bucket, shards=2, per_shard=2)
    data = bytearray(kit.make_tar([("s0-00.cls", b"a"), ("s0-01.cls", b"b")]))
    data[1024 + 20] ^= 0xFF
    kit.put(bucket, {"lbl/shard-0.tar": bytes(data)})
    with pytest.raises(ShardReadError) as exc:
        list(_stream(endpoint, bucket))
    assert exc.value.shard == "ais://ds/lbl/shard-0.tar" and exc.value.offset == 1024


def test_zip_shards_fall_back_to_member_gets(endpoint, bucket, calls):
    import io
    import zipfile

    def make_zip(members):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in members:
                zf.writestr(name, data)
        return buf.getvalue()

    img = [("a.jpg", b"A"), ("b.jpg", b"B")]
    lbl = [("a.cls", b"0"), ("b.cls", b"1")]
    kit.put(bucket, {"img/s.zip": make_zip(img), "lbl/s.tar": kit.make_tar(lbl)})
    assert list(_stream(endpoint, bucket)) == [(b"A", b"0"), (b"B", b"1")]
    assert sum(1 for _, q, _ in calls.gets() if q.get("archpath")) == 2
