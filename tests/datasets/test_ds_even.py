"""Equal work per rank in every iterable class: counts, len(), pad/drop, resume, make-up.

Ranks are given explicitly here (one process plays each rank in turn); DataLoader
workers are played by pretending to be worker ``w`` of ``W`` (the topology's one source
of worker info). The multi-process DDP run is in ``test_ds_ddp.py``.
"""

from __future__ import annotations

import itertools
import warnings
from collections import Counter
from types import SimpleNamespace

import ais_ds_test_kit as kit
import pytest

from ais_datasets import (
    AISBatchIterDataset,
    AISIterDataset,
    AISMapDataset,
    AISMultiShardStream,
    AISShardReader,
    DynamicBatchSampler,
    ShardReadWarning,
    topology,
)
from ais_datasets.shares import rank_total

SIZES = [5, 3, 4, 6, 2, 5, 3]  # samples per shard: 7 shards of different sizes


def _uneven_shards(bucket, sizes=SIZES):
    samples = []
    for s, n in enumerate(sizes):
        members = kit.shard_members(s, n)
        kit.put(bucket, {f"shards/shard-{s:02d}.tar": kit.make_tar(members)})
        samples += kit.group(members)
    return kit.keys(samples)


def _pairs(bucket, sizes=SIZES):
    rows = []
    for s, n in enumerate(sizes):
        img = [(f"{s}-{j}.jpg", b"i%d-%d" % (s, j)) for j in range(n)]
        lbl = [(f"{s}-{j}.cls", b"l%d-%d" % (s, j)) for j in range(n)]
        kit.put(bucket, {f"img/{s}.tar": kit.make_tar(img), f"lbl/{s}.tar": kit.make_tar(lbl)})
        rows += [(a, b) for (_, a), (_, b) in zip(img, lbl, strict=True)]
    return rows


def _make(kind, client, endpoint, bucket, **kw):
    from aistore.sdk import DataShard

    if kind == "iter":
        return AISIterDataset(bucket, prefix_map={bucket: "objs/"}, **kw)
    if kind == "batch":
        return AISBatchIterDataset(bucket, client, prefix_map={bucket: "objs/"},
                                   max_batch_size=3, **kw)
    if kind == "shards":
        return AISShardReader(bucket, prefix_map={bucket: "shards/"}, shuffle_buffer=4, **kw)
    return AISMultiShardStream([DataShard(endpoint, bucket.name, prefix="img/"),
                                DataShard(endpoint, bucket.name, prefix="lbl/")],
                               shuffle_buffer=4, **kw)


def _ident(kind, sample):
    if kind in ("iter", "batch"):
        return sample[0]
    if kind == "shards":
        return sample[0]
    return sample


def _corpus(kind, bucket):
    if kind in ("iter", "batch"):
        return [n for n, _ in kit.object_corpus(bucket, 11)]
    if kind == "shards":
        return _uneven_shards(bucket)
    return _pairs(bucket)


@pytest.fixture
def as_worker(monkeypatch):
    """Run what follows as DataLoader worker ``w`` of ``n`` (``None``: the main process)."""
    def play(w, n=None):
        info = None if w is None else SimpleNamespace(id=w, num_workers=n)
        monkeypatch.setattr(topology, "_worker_info", lambda: info)
    return play


@pytest.mark.parametrize("kind", ["iter", "batch", "shards", "multishard"])
@pytest.mark.parametrize("even", ["pad", "drop"])
@pytest.mark.parametrize("world", [2, 3])
def test_every_rank_yields_the_same_number(client, endpoint, bucket, kind, even, world):
    corpus = _corpus(kind, bucket)
    parts = []
    for r in range(world):
        ds = _make(kind, client, endpoint, bucket, rank=r, world_size=world,
                   even_ranks=even, shuffle=True, seed=5)
        parts.append([_ident(kind, s) for s in ds])
        if kind != "multishard":
            assert len(ds) == len(parts[-1])
    counts = {len(p) for p in parts}
    assert len(counts) == 1, [len(p) for p in parts]
    sizes = SIZES if kind in ("shards", "multishard") else [1] * len(corpus)
    assert counts == {rank_total(sizes, world, even)}
    seen = Counter(itertools.chain(*parts))
    if even == "pad":
        assert set(seen) == set(corpus)  # every sample at least once
    else:
        assert max(seen.values()) == 1 and set(seen) <= set(corpus)  # none twice


@pytest.mark.parametrize("kind", ["iter", "shards", "multishard"])
@pytest.mark.parametrize("even", ["pad", "drop"])
@pytest.mark.parametrize("workers", [2, 3])
def test_each_worker_yields_the_same_number_on_every_rank(client, endpoint, bucket, as_worker,
                                                          kind, even, workers):
    corpus = _corpus(kind, bucket)
    counts = {}
    got = []
    for r, w in itertools.product(range(2), range(workers)):
        as_worker(w, workers)
        samples = list(_make(kind, client, endpoint, bucket, rank=r, world_size=2,
                             even_ranks=even, shuffle=True, seed=2))
        counts[r, w] = len(samples)
        got += [_ident(kind, s) for s in samples]
    for w in range(workers):
        assert counts[0, w] == counts[1, w], counts
    if even == "pad":
        assert set(got) == set(corpus)
    else:
        assert len(got) == len(set(got))


def test_without_equal_work_ranks_split_exactly_once_and_may_differ(bucket):
    corpus = _uneven_shards(bucket)
    parts = [kit.keys(_make("shards", None, None, bucket, rank=r, world_size=2,
                            even_ranks=None)) for r in range(2)]
    assert sorted(parts[0] + parts[1]) == sorted(corpus)
    assert [len(p) for p in parts] == [rank_total(SIZES, 2, None, r) for r in range(2)]
    assert AISShardReader(bucket, rank=1, world_size=2, even_ranks=False).even_ranks is None
    with pytest.raises(ValueError, match="even_ranks"):
        AISShardReader(bucket, even_ranks="even")


def test_len_is_the_whole_dataset_without_ranks(client, bucket):
    _uneven_shards(bucket)
    kit.object_corpus(bucket, 11)
    assert len(_make("shards", client, None, bucket)) == sum(SIZES)
    assert len(_make("iter", client, None, bucket)) == 11
    assert len(_make("iter", client, None, bucket, rank=2, world_size=3)) == 4
    assert len(_make("iter", client, None, bucket, rank=2, world_size=3,
                     even_ranks="drop")) == 3
    assert len(_make("iter", client, None, bucket, rank=2, world_size=3,
                     even_ranks=None)) == 3


@pytest.mark.parametrize("shuffle", [False, True])
def test_resume_anywhere_including_the_repeated_samples(bucket, shuffle):
    _uneven_shards(bucket)

    def reader():
        return _make("shards", None, None, bucket, rank=1, world_size=2, shuffle=shuffle,
                     seed=3)

    full = kit.keys(reader())
    assert len(full) == 19 and len(set(full)) < 19  # rank 1 pads with repeats
    for stop in range(len(full) + 1):
        ds = reader()
        it = iter(ds)
        head = [next(it)[0] for _ in range(stop)]
        state = ds.state_dict()
        it.close()
        again = reader()
        again.load_state_dict(state)
        assert head + kit.keys(again) == full, f"stop={stop}"
        loader_level = reader()
        loader_level.load_state_dict({"epoch": 0, "samples_seen": stop})
        assert kit.keys(loader_level) == full[stop:], f"samples_seen={stop}"


def test_a_short_shard_is_made_up_by_the_rank_own_shards(bucket):
    names, _ = kit.shard_corpus(bucket, shards=4, per_shard=4)
    parts, readers = [], []
    for r in range(2):
        ds = AISShardReader(bucket, prefix_map={bucket: "shards/"}, rank=r, world_size=2,
                            on_error="skip")
        assert len(ds) == 8  # counted from the listing, before the damage
        readers.append(ds)
    bad = bytearray(kit.make_tar(kit.shard_members(1, 4)))
    bad[2 * 1024 + 10] ^= 0xFF  # shard 1 (rank 1's) now breaks at its second sample
    kit.put(bucket, {names[1]: bytes(bad)})
    for ds in readers:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            parts.append(kit.keys(ds))
    assert [len(p) for p in parts] == [8, 8]
    # shard 1 gave nothing, shard 3 its 4, then the reader went round again (skipping
    # shard 1, which failed once already: one failure counts once against the budget)
    assert parts[1] == [f"s03-{j:03d}" for j in range(4)] * 2
    assert readers[1].error_stats["shards_failed"] == 1


@pytest.mark.parametrize("shuffle", [False, True])
def test_a_rank_that_cannot_make_up_warns_once(bucket, shuffle):
    names, _ = kit.shard_corpus(bucket, shards=4, per_shard=4)
    ds = AISShardReader(bucket, prefix_map={bucket: "shards/"}, rank=1, world_size=2,
                        on_error="skip", shuffle=shuffle, shuffle_buffer=3,
                        error_budget=None)  # every shard fails: no budget, to see the warning
    assert len(ds) == 8
    for name in names[1::2]:  # rank 1's shards: unreadable from the first header
        kit.put(bucket, {name: b"\xff" * 1024})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert list(ds) == []
    assert [str(w.message)[:22] for w in caught] == ["2 units gave 0 of the "]
    assert caught[0].category is ShardReadWarning and "fewer samples" in str(caught[0].message)


def test_batch_iter_makes_up_for_skipped_objects(client, bucket):
    corpus = [n for n, _ in kit.object_corpus(bucket, 8)]
    readers = [AISBatchIterDataset(bucket, client, max_batch_size=2, rank=r, world_size=2,
                                   cont_on_err=True) for r in range(2)]
    for reader in readers:
        len(reader)  # the listing is taken now
    # gone after the listing: the cluster reports it as failed in its batch
    bucket.object(corpus[3]).delete()
    got = [list(reader) for reader in readers]
    assert [len(g) for g in got] == [4, 4]
    assert [n for n, _ in got[1]] == [corpus[i] for i in (1, 5, 7, 1)]


def test_partitioned_sources_get_equal_work(client, bucket):
    others = [client.bucket(f"p{i}").create() for i in range(2)]
    names = []
    for i, b in enumerate([bucket] + others):
        names += [f"{b.name}/{n}" for n, _ in kit.object_corpus(b, 2 + 2 * i)]  # 2, 4, 6
    parts = []
    for r in range(2):
        ds = AISIterDataset([bucket] + others, partition_sources_by_worker=True, rank=r,
                            world_size=2)
        parts.append([f"{o.bucket_name}/{o.name}" for o in ds._get_worker_iter_info()[0]])
        assert len(ds) == len(parts[-1])
    # rounds of sources: (ds, p0) then (p1): quotas 4 and 6
    assert len(parts[0]) == len(parts[1]) == 10
    assert set(parts[0] + parts[1]) == set(names)


@pytest.mark.parametrize("even, counts", [("pad", [4, 4]), ("drop", [3, 3]),
                                          (None, [4, 3])])
def test_dynamic_batch_sampler_splits_batches_across_ranks(bucket, even, counts):
    kit.put(bucket, {f"z/{i:03d}.bin": b"x" * 40 for i in range(7)})
    ds = AISMapDataset(bucket)
    everything = list(DynamicBatchSampler(ds, 40))  # 7 batches of one
    got = []
    for r in range(2):
        sampler = DynamicBatchSampler(ds, 40, rank=r, world_size=2, even_ranks=even)
        mine = list(sampler)
        assert len(mine) == counts[r]
        sampler.set_epoch(0)
        assert len(sampler) == counts[r]
        got += mine
    flat = sorted(i for b in got for i in b)
    if even == "pad":
        assert set(flat) == set(range(7)) and len(flat) == 8
    else:
        assert len(flat) == len(set(flat)) == sum(counts)
    assert all(b in everything for b in got)
