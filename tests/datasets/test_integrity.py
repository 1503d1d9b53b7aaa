"""End-to-end integrity: bytes against the cluster's checksum, re-reads, the switch, and
what a streamed shard does with a mismatch found at its end."""

from __future__ import annotations

import pytest

from ais_datasets import (
    AISIterDataset,
    AISMapDataset,
    AISMultiShardStream,
    AISParallelMapDataset,
    AISShardReader,
    ChecksumError,
    RetryPolicy,
    ShardReadWarning,
)
from ais_datasets import retry as retry_mod
from ais_datasets.checksums import Digest, checksum_of
from ais_datasets.reading import ObjectStream


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    monkeypatch.setattr(retry_mod.time, "sleep", lambda s: None)


def test_digest_types():
    data = b"hello world" * 100
    for kind in ("xxhash", "xxhash2", "xxhash3", "md5", "sha256", "sha512"):
        digest = Digest.of(kind, checksum_of(kind, data).upper())
        digest.update(data[:10])
        digest.update(memoryview(data)[10:])
        assert digest.matches(), kind
    assert Digest.of("crc32c", "abc") is None and Digest.of("xxhash2", "") is None
    assert Digest.expecting({"Ais-Checksum-Type": "none", "Ais-Checksum-Value": "x"}) is None


def test_a_flipped_byte_is_read_again(ais_mock, bucket):
    data = bytes(range(256)) * 40
    ais_mock.emulator.put_object("ds", "a.bin", data)
    ds = AISMapDataset(bucket)
    rule = ais_mock.emulator.faults.add("corrupt", first=2, seed=5)
    assert ds[0] == ("a.bin", data)
    assert rule.fired == 2


def test_a_persistent_mismatch_raises_naming_the_object(ais_mock, bucket):
    ais_mock.emulator.put_object("ds", "a.bin", b"q" * 5000)
    ds = AISMapDataset(bucket, retry=RetryPolicy(attempts=3))
    rule = ais_mock.emulator.faults.add("corrupt")
    with pytest.raises(ChecksumError, match="ais://ds/a.bin: xxhash2 checksum mismatch") as info:
        ds[0]
    assert rule.fired == 3 and info.value.expected != info.value.actual


def test_the_switch_turns_the_check_off(ais_mock, bucket):
    data = b"q" * 5000
    ais_mock.emulator.put_object("ds", "a.bin", data)
    ais_mock.emulator.faults.add("corrupt", at=7, op="get")
    name, got = AISMapDataset(bucket, verify_checksum=False)[0]
    assert got != data and got[7] == data[7] ^ 0xFF
    assert list(AISIterDataset(bucket, use_batch=False, verify_checksum=False))[0][1] == got


def test_iter_dataset_plain_gets_are_checked(ais_mock, bucket, kit):
    objects = kit.object_corpus(bucket, n=10)
    ais_mock.emulator.faults.add("corrupt", op="get", probability=0.3, seed=2)
    assert list(AISIterDataset(bucket, use_batch=False)) == objects


def test_parallel_map_rereads_a_corrupt_buffer(ais_mock, bucket):
    data = bytes(range(256)) * 1000
    ais_mock.emulator.put_object("ds", "big.bin", data)
    rule = ais_mock.emulator.faults.add("corrupt", op="get", first=1)
    ds = AISParallelMapDataset(bucket, num_workers=2, chunk_size=64 << 10)
    name, buf = ds[0]
    with buf:
        assert buf.tobytes() == data
    assert rule.fired == 1


def test_an_object_that_changes_mid_read_is_not_spliced(ais_mock, bucket):
    emu = ais_mock.emulator
    emu.put_object("ds", "a.bin", b"1" * 200_000)
    stream = ObjectStream(bucket.object("a.bin"), chunk=50_000)
    emu.faults.add("reset", after=60_000, first=1)
    chunks = stream.chunks()
    first = next(chunks)
    emu.put_object("ds", "a.bin", b"2" * 200_000)  # a new version while reading
    with pytest.raises(ChecksumError, match="changed while it was being read"):
        for _ in chunks:
            pass
    assert first == b"1" * 50_000


def test_a_corrupt_shard_fails_after_its_samples(ais_mock, bucket, kit):
    use_batch = False  # a shard from a GetBatch reply has no checksum to check
    names, samples = kit.shard_corpus(bucket, shards=3, per_shard=4)
    # a flipped byte inside a member's data of shard 1, on every read of it
    ais_mock.emulator.faults.add("corrupt", object=names[1], at=600, op="get")
    reader = AISShardReader(bucket, prefix_map={bucket: "shards/"}, use_batch=use_batch,
                            on_error="warn")
    with pytest.warns(ShardReadWarning, match="checksum mismatch"):
        got = list(reader)
    assert len(got) == len(samples)  # its samples were yielded before the check
    stats = reader.error_stats
    assert stats["shards_failed"] == 1 and stats["samples_skipped"] == 0
    assert names[1] in stats["last_error"]
    with pytest.raises(ChecksumError):
        list(AISShardReader(bucket, prefix_map={bucket: "shards/"}, use_batch=use_batch))
    # off: nothing is checked, the flipped byte reaches the sample
    off = AISShardReader(bucket, prefix_map={bucket: "shards/"}, use_batch=use_batch,
                         verify_checksum=False)
    assert len(list(off)) == len(samples) and off.error_stats["shards_failed"] == 0


def test_multishard_checks_each_shard(ais_mock, bucket, kit):
    emu = ais_mock.emulator
    for s in range(2):
        emu.put_object("ds", f"a/{s}.tar", kit.make_tar([(f"{i}.x", b"A%d" % i) for i in range(3)]))
        emu.put_object("ds", f"b/{s}.tar", kit.make_tar([(f"{i}.y", b"B%d" % i) for i in range(3)]))
    emu.faults.add("corrupt", object="b/1.tar", at=512, op="get")
    from aistore.sdk import DataShard

    stream = AISMultiShardStream([DataShard(ais_mock.endpoint, "ds", prefix="a/"),
                                  DataShard(ais_mock.endpoint, "ds", prefix="b/")])
    with pytest.raises(ChecksumError, match="b/1.tar"):
        list(stream)


def test_a_shard_without_end_of_archive_is_reported(ais_mock, bucket, kit):
    whole = kit.make_tar([("k.x", b"1" * 100), ("k.y", b"2" * 100)])
    cut = whole[:512 + 512]  # the first member only, no end-of-archive blocks
    ais_mock.emulator.put_object("ds", "s/cut.tar", cut)
    ais_mock.emulator.put_object("ds", "s/ok.tar", whole)
    reader = AISShardReader(bucket, prefix_map={bucket: "s/"}, use_batch=False)
    with pytest.warns(ShardReadWarning, match="cut.tar: the shard ends at byte 1024"):
        got = list(reader)
    assert [k for k, _ in got] == ["k", "k"]
    assert reader.error_stats["shards_unterminated"] == 1
    skip = AISShardReader(bucket, prefix_map={bucket: "s/"}, on_error="skip")
    assert len(list(skip)) == 2 and skip.error_stats["shards_unterminated"] == 1
