"""AISShardReader: WebDataset keys, streaming, shuffle, splitting, resume, error policy."""

from __future__ import annotations

import itertools
import pickle
import tracemalloc
import warnings

import ais_ds_test_kit as kit
import pytest

from ais_datasets import AISShardReader, ShardReadError, ShardReadWarning, TruncatedShardError


def reader(bucket, **kw):
    return AISShardReader(bucket, prefix_map={bucket: "shards/"}, **kw)


def test_samples_len_and_zero_dict(bucket):
    _, expected = kit.shard_corpus(bucket, shards=3, per_shard=5)
    ds = reader(bucket)
    got = list(ds)
    assert kit.plain(got) == expected
    assert all(isinstance(f, AISShardReader.ZeroDict) for _, f in got)
    assert len(ds) == 15


def test_zero_dict_fills_extensions_seen_so_far(bucket):
    kit.put(bucket, {"shards/a.tar": kit.make_tar([("k0.jpg", b"0"), ("k1.jpg", b"1"),
                                                   ("k1.seg.png", b"s"), ("k2.jpg", b"2")])})
    got = list(reader(bucket))
    assert got == [("k0", {"jpg": b"0"}), ("k1", {"jpg": b"1", "seg.png": b"s"}),
                   ("k2", {"jpg": b"2", "seg.png": b""})]


def test_webdataset_keys_keep_directories_and_first_dot(bucket):
    members = [("a/x.jpg", b"ax"), ("a/x.cls", b"1"), ("b/x.jpg", b"bx"),
               ("x.seg.png", b"seg"), ("x.png", b"png"), ("noext", b"n")]
    kit.put(bucket, {"shards/w.tar": kit.make_tar(members)})
    got = kit.plain(reader(bucket))
    assert got == [("a/x", {"jpg": b"ax", "cls": b"1"}), ("b/x", {"jpg": b"bx"}),
                   ("x", {"seg.png": b"seg", "png": b"png"})]


def test_one_streamed_get_per_shard_without_getbatch(bucket, calls):
    names, expected = kit.shard_corpus(bucket, shards=4, per_shard=3)
    calls.clear()
    assert kit.plain(reader(bucket, use_batch=False)) == expected
    gets = calls.gets()
    assert sorted(p.split("/", 2)[2] for p, _, _ in gets) == names
    assert all("archpath" not in q for _, q, _ in gets)
    assert calls.batch_requests() == 0


def test_shards_come_sixteen_to_a_getbatch_request(bucket, calls):
    names, expected = kit.shard_corpus(bucket, shards=20, per_shard=3)
    calls.clear()
    assert kit.plain(reader(bucket)) == expected
    assert calls.batch_requests() == 2  # 16 + 4
    assert calls.gets() == []


def test_memory_does_not_grow_with_shard_size(bucket):
    big = [(f"k{i:04d}.bin", bytes([i % 251]) * (256 * 1024)) for i in range(64)]  # 16 MiB
    kit.put(bucket, {"shards/big.tar": kit.make_tar(big)})
    tracemalloc.start()
    try:
        count = 0
        for _key, fields in reader(bucket):
            count += len(fields["bin"]) == 256 * 1024
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 64
    assert peak < 6 * 1024 * 1024, f"peak {peak} bytes while streaming a 16 MiB shard"


def test_gzip_shards(bucket):
    members = kit.shard_members(0, 4)
    kit.put(bucket, {"shards/a.tgz": kit.make_tgz(members),
                     "shards/b.tar.gz": kit.make_tgz(kit.shard_members(1, 2))})
    assert kit.plain(reader(bucket)) == kit.group(members) + kit.group(kit.shard_members(1, 2))


def test_shuffle_is_seeded_bounded_and_complete(bucket):
    _, expected = kit.shard_corpus(bucket, shards=5, per_shard=4)
    ref = sorted(kit.keys(expected))
    ds = reader(bucket, shuffle=True, seed=11, shuffle_buffer=6)
    first = kit.keys(ds)
    assert sorted(first) == ref and first != kit.keys(expected)
    assert kit.keys(reader(bucket, shuffle=True, seed=11, shuffle_buffer=6)) == first
    ds.set_epoch(1)
    assert kit.keys(ds) != first
    # block shuffle: the i-th block of 6 holds samples of consecutive shards only
    shard_of = {k: k[1:3] for k in ref}
    for block in (first[i:i + 6] for i in range(0, len(first), 6)):
        assert len({shard_of[k] for k in block}) <= 3
    with pytest.raises(ValueError):
        reader(bucket, shuffle_buffer=0)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("world", [2, 3])
def test_ranks_get_disjoint_whole_shards(bucket, shuffle, world):
    _, expected = kit.shard_corpus(bucket, shards=5, per_shard=3)
    parts = [kit.keys(reader(bucket, shuffle=shuffle, rank=r, world_size=world,
                             even_ranks=None))
             for r in range(world)]
    assert sorted(itertools.chain(*parts)) == sorted(kit.keys(expected))
    for part in parts:  # whole shards: every shard's 3 samples land in one part
        assert len(part) % 3 == 0


def test_ranks_from_environment(bucket, monkeypatch):
    _, expected = kit.shard_corpus(bucket, shards=4, per_shard=2)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert kit.keys(reader(bucket, ranks_from_env=True)) == \
        kit.keys(expected[2:4] + expected[6:8])
    assert kit.keys(reader(bucket)) == kit.keys(expected)  # not without the opt-in


@pytest.mark.parametrize("shuffle", [False, True])
def test_resume_after_every_sample(bucket, calls, shuffle):
    _, expected = kit.shard_corpus(bucket, shards=3, per_shard=4)
    ds = reader(bucket, shuffle=shuffle, shuffle_buffer=5, seed=2)
    ds.set_epoch(3)
    full = list(ds)
    assert len(full) == 12
    for stop in range(13):
        it = iter(ds)
        head = [next(it) for _ in range(stop)]
        state = pickle.loads(pickle.dumps(ds.state_dict()))
        it.close()
        calls.clear()
        again = reader(bucket, shuffle=shuffle, shuffle_buffer=5, seed=2)
        again.load_state_dict(state)
        rest = list(again)
        assert kit.plain(head + rest) == kit.plain(full), f"stop={stop}"
        if not shuffle and 0 < stop < 12 and stop % 4:
            # mid-shard resume restarts the shard with a byte range, not from byte 0
            first_get = calls.gets()[0]
            assert first_get[2].get("Range", "").startswith("bytes=")


@pytest.mark.parametrize("shuffle", [False, True])
def test_loader_level_state_without_workers(bucket, shuffle):
    _, expected = kit.shard_corpus(bucket, shards=3, per_shard=4)
    full = kit.keys(reader(bucket, shuffle=shuffle, shuffle_buffer=5))
    for seen in (0, 3, 5, 11, 12):
        ds = reader(bucket, shuffle=shuffle, shuffle_buffer=5)
        ds.load_state_dict({"epoch": 0, "samples_seen": seen})
        assert kit.keys(ds) == full[seen:]


def _corpus_with_bad_shard(bucket, damage):
    names, expected = kit.shard_corpus(bucket, shards=3, per_shard=4)
    data = kit.make_tar(kit.shard_members(1, 4))
    if damage == "corrupt":
        bad = bytearray(data)
        offset = 2 * 1024  # header of the second member (each member: header + 1 block)
        bad[offset + 10] ^= 0xFF
        data = bytes(bad)
    else:
        offset = 3 * 1024
        data = data[:offset + 600]  # cut inside the 4th member's data
    kit.put(bucket, {names[1]: data})
    return names, expected, offset


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_on_error_raise_names_shard_and_offset(bucket, damage):
    names, expected, offset = _corpus_with_bad_shard(bucket, damage)
    ds = reader(bucket)
    got = []
    with pytest.raises(ShardReadError) as exc:
        for sample in ds:
            got.append(sample)
    err = exc.value
    assert err.shard == f"ais://ds/{names[1]}" and err.offset == offset
    assert f"ais://ds/{names[1]}" in str(err) and str(offset) in str(err)
    assert isinstance(err, TruncatedShardError) == (damage == "truncated")
    # streaming: the samples before the damage were already delivered; a sample is
    # complete only once the next header is read, so the one before a bad header is lost
    n_ok = 0 if damage == "corrupt" else 1
    assert kit.plain(got) == expected[:4 + n_ok]


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
@pytest.mark.parametrize("policy", ["warn", "skip"])
def test_on_error_warn_and_skip_continue_and_count(bucket, damage, policy):
    names, expected, offset = _corpus_with_bad_shard(bucket, damage)
    ds = reader(bucket, on_error=policy)
    if policy == "warn":
        with pytest.warns(ShardReadWarning, match=names[1]):
            got = list(ds)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = list(ds)
    n_ok = 0 if damage == "corrupt" else 1
    assert kit.plain(got) == expected[:4 + n_ok] + expected[8:]
    stats = ds.error_stats
    assert stats["shards_failed"] == 1
    assert stats["samples_skipped"] == 1  # the sample being read when the shard broke
    assert names[1] in stats["last_error"] and str(offset) in stats["last_error"]


def test_missing_shard_keeps_its_sdk_error_under_raise(client, bucket):
    from aistore.sdk.errors import ErrObjNotFound

    kit.shard_corpus(bucket, shards=2, per_shard=2)
    group = bucket.objects(obj_names=["shards/shard-00.tar", "shards/gone.tar"])
    with pytest.raises(ErrObjNotFound):
        list(AISShardReader(group))
    ds = AISShardReader(group, on_error="skip")
    assert len(list(ds)) == 2
    assert ds.error_stats["shards_failed"] == 1
    assert "gone.tar" in ds.error_stats["last_error"]
    with pytest.raises(ValueError):
        AISShardReader(group, on_error="ignore")


def test_len_is_one_listing(bucket, calls):
    kit.shard_corpus(bucket, shards=4, per_shard=3)
    calls.clear()
    assert len(reader(bucket)) == 12
    listings = [c for c in calls.calls if c[1].startswith("buckets/")]
    assert len(listings) == 2  # the shard listing and one ARCH_DIR listing


def test_pickles_with_its_listing(bucket):
    _, expected = kit.shard_corpus(bucket, shards=2, per_shard=2)
    ds = reader(bucket, shuffle=True)
    list(ds)
    clone = pickle.loads(pickle.dumps(ds))
    assert kit.plain(clone) == kit.plain(ds)
