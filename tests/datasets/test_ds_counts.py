"""Counts that hold: len() and resume agree with iteration for any member order.

A shard's sample count comes from its ARCH_DIR listing (member names, sorted by name);
iteration groups members in tar order. Keys are counted as distinct keys, and a shard
whose members interleave keys is rejected by iteration, naming the shard.
"""

from __future__ import annotations

import ais_ds_test_kit as kit
import pytest

from ais_datasets import AISShardReader, ShardReadError, tario
from ais_datasets.sources import count_samples
from ais_datasets.tario import TarStream, iter_samples

INTERLEAVED = [("a.jpg", b"A1"), ("b.jpg", b"B1"), ("a.cls", b"A2"), ("b.cls", b"B2")]
# grouped by key but not in name order, with a dotted directory between
UNSORTED = [("z.jpg", b"1"), ("z.cls", b"2"), ("a.d/k.jpg", b"3"), ("a.cls", b"4"),
            ("a.jpg", b"5"), ("m.txt", b"6"), ("README", b"not a sample")]


@pytest.fixture(params=["compiled", "python"])
def parser(request, monkeypatch):
    if request.param == "compiled":
        if tario._fast is None:
            pytest.skip("ais_datasets._tarscan is not built")
    else:
        monkeypatch.setattr(tario, "_fast", None)
    return request.param


def _samples(data: bytes, skip: int = 0):
    return [(s.key, dict(s.fields)) for s in
            iter_samples(TarStream(iter([data]), shard="ais://b/s.tar"), skip)]


def test_interleaved_keys_raise_naming_shard_member_and_offset(parser):
    data = kit.make_tar(INTERLEAVED)
    with pytest.raises(ShardReadError) as exc:
        _samples(data)
    err = exc.value
    assert err.shard == "ais://b/s.tar" and err.offset == 2 * 1024
    assert "'a.cls'" in str(err) and "'a'" in str(err) and "consecutive" in str(err)
    with pytest.raises(ShardReadError, match="consecutive"):
        _samples(data, skip=1)  # skipping by headers checks the keys too


def test_grouped_keys_in_any_order_are_samples(parser):
    got = _samples(kit.make_tar(UNSORTED))
    assert got == [("z", {"jpg": b"1", "cls": b"2"}), ("a.d/k", {"jpg": b"3"}),
                   ("a", {"cls": b"4", "jpg": b"5"}), ("m", {"txt": b"6"})]


def test_count_samples_counts_distinct_keys_in_any_order():
    names = [n for n, _ in UNSORTED]
    assert count_samples(names) == 4
    assert count_samples(sorted(names)) == 4  # sorted: "a.cls" "a.d/k.jpg" "a.jpg" ...
    assert count_samples(["x/", "noext", ".hidden", "k.a", "k.b"]) == 1


@pytest.fixture
def unsorted_shards(bucket):
    shards = {"shards/0.tar": UNSORTED,
              "shards/1.tar": [(f"q{i}.{e}", b"%d" % i) for i in (3, 1, 2) for e in "ba"]}
    kit.put(bucket, {name: kit.make_tar(m) for name, m in shards.items()})
    samples = [(n, d) for m in shards.values() for n, d in m if "." in n.rsplit("/", 1)[-1]]
    return kit.group(samples)


def _reader(bucket, **kw):
    return AISShardReader(bucket, prefix_map={bucket: "shards/"}, **kw)


def test_len_and_loader_level_resume_agree_with_iteration(bucket, unsorted_shards):
    ds = _reader(bucket)
    full = kit.keys(ds)
    assert full == kit.keys(unsorted_shards) and len(ds) == len(full) == 7
    for seen in range(len(full) + 1):
        again = _reader(bucket)
        again.load_state_dict({"epoch": 0, "samples_seen": seen})
        assert kit.keys(again) == full[seen:], f"seen={seen}"


def test_a_shard_with_interleaved_keys_raises_or_is_skipped(bucket):
    kit.put(bucket, {"shards/0.tar": kit.make_tar(kit.shard_members(0, 2)),
                     "shards/1.tar": kit.make_tar(INTERLEAVED)})
    with pytest.raises(ShardReadError, match="shards/1.tar"):
        list(_reader(bucket))
    ds = _reader(bucket, on_error="skip")
    assert kit.keys(ds) == ["s00-000", "s00-001", "a"]  # "b" never is: it was open
    assert ds.error_stats["shards_failed"] == ds.error_stats["samples_skipped"] == 1
    assert "consecutive" in ds.error_stats["last_error"]
