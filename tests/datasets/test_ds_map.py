"""Map-style datasets (GetBatch in ``__getitems__``) and DynamicBatchSampler."""

from __future__ import annotations

import logging
import pickle

import ais_ds_test_kit as kit
import pytest
from torch.utils.data import DataLoader

from ais_datasets import AISMapDataset, AISParallelMapDataset, DynamicBatchSampler


def test_getitem_len_and_bounds(bucket):
    corpus = kit.object_corpus(bucket, 8)
    ds = AISMapDataset(bucket)
    assert len(ds) == 8
    assert [ds[i] for i in range(8)] == corpus
    assert ds[-1] == corpus[-1]
    with pytest.raises(IndexError, match="in bounds"):
        ds[8]
    assert [o.name for o in ds.get_obj_list()] == [n for n, _ in corpus]


def test_getitems_is_one_getbatch_request_per_source(client, bucket, calls):
    corpus = kit.object_corpus(bucket, 10)
    other = client.bucket("other").create()
    extra = kit.object_corpus(other, 3, prefix="x/")
    ds = AISMapDataset([bucket, other])
    calls.clear()
    idx = [12, 0, 3, 3, 10]
    assert ds.__getitems__(idx) == [(corpus + extra)[i] for i in idx]
    assert calls.batch_requests() == 2 and not calls.gets()


def test_dataloader_batches_use_getbatch(bucket, calls):
    corpus = kit.object_corpus(bucket, 12)
    loader = DataLoader(AISMapDataset(bucket), batch_size=5, collate_fn=list)
    calls.clear()
    batches = list(loader)
    assert [s for b in batches for s in b] == corpus
    assert calls.batch_requests() == 3 and not calls.gets()


def test_getitems_fallbacks_keep_per_item_semantics(bucket, calls):
    from aistore.sdk.errors import ErrObjNotFound

    corpus = kit.object_corpus(bucket, 6)
    ds = AISMapDataset(bucket)
    bucket.object(corpus[2][0]).delete()
    with pytest.raises(ErrObjNotFound):
        ds.__getitems__([0, 1, 2])
    assert ds.__getitems__([0, 1, 3]) == [corpus[0], corpus[1], corpus[3]]
    calls.clear()
    off = AISMapDataset(bucket, use_batch=False)
    assert off.__getitems__([0, 1]) == corpus[:2]
    assert calls.batch_requests() == 0 and len(calls.gets()) == 2


def test_getbatch_unsupported_is_remembered(bucket, calls, monkeypatch):
    from aistore.sdk.batch.batch import Batch
    from aistore.sdk.errors import AISError

    corpus = kit.object_corpus(bucket, 4)

    def not_implemented(self, *a, **kw):
        raise AISError(501, "not implemented", "http://x/v1/ml/moss", None)

    monkeypatch.setattr(Batch, "get", not_implemented)
    ds = AISMapDataset(bucket)
    assert ds.__getitems__([0, 1]) == corpus[:2]
    calls.clear()
    assert ds.__getitems__([2, 3]) == corpus[2:]
    assert len(calls.gets()) == 2  # no second GetBatch attempt in this process


def test_etl_reads_per_item(bucket, calls):
    kit.object_corpus(bucket, 3)
    ds = AISMapDataset(bucket, etl_name="resize-etl")
    calls.clear()
    from aistore.sdk.errors import AISError

    with pytest.raises(AISError):  # no such ETL on the cluster
        ds.__getitems__([0, 1])
    assert calls.batch_requests() == 0
    assert calls.gets()[0][1].get("etl_name") == "resize-etl"


def test_map_dataset_pickles(bucket):
    corpus = kit.object_corpus(bucket, 3)
    ds = pickle.loads(pickle.dumps(AISMapDataset(bucket)))
    assert [ds[i] for i in range(3)] == corpus


def test_parallel_map_dataset(bucket):
    big = kit.payload("big", 300_000)
    kit.put(bucket, {"p/big.bin": big, "p/small.bin": b"tiny"})
    ds = AISParallelMapDataset(bucket, prefix_map={bucket: "p/"}, num_workers=4)
    assert len(ds) == 2 and ds.num_workers == 4
    name, buf = ds[0]
    try:
        assert name == "p/big.bin" and buf.tobytes() == big
    finally:
        buf.close()
    with pytest.raises(IndexError):
        ds[2]


# --------------------------------------------------------------------- DynamicBatchSampler

def _sized(bucket, sizes, prefix="z/"):
    kit.put(bucket, {f"{prefix}{i:03d}.bin": b"x" * s for i, s in enumerate(sizes)})
    return AISMapDataset(bucket, prefix_map={bucket: prefix})


def test_sampler_batches_fit_and_len_counts_batches(bucket):
    sizes = [30, 50, 20, 60, 40, 10, 100, 70, 5, 45]
    ds = _sized(bucket, sizes)
    sampler = DynamicBatchSampler(ds, max_batch_size=100)
    batches = list(sampler)
    assert len(sampler) == len(batches) == 6
    assert batches == [[0, 1, 2], [3, 4], [5], [6], [7, 8], [9]]
    assert sorted(i for b in batches for i in b) == list(range(10))
    assert all(sum(sizes[i] for i in b) <= 100 for b in batches)


def test_sampler_matches_upstream_rule_without_shuffle(bucket):
    from aistore.pytorch import DynamicBatchSampler as Upstream

    sizes = [30, 0, 50, 20, 130, 60, 40, 10, 100, 70, 5, 45, 99, 1]
    ds = _sized(bucket, sizes)
    for kw in ({}, {"drop_last": True}, {"allow_oversized_samples": True},
               {"drop_last": True, "saturation_factor": 0.3}):
        assert list(DynamicBatchSampler(ds, 100, **kw)) == list(Upstream(ds, 100, **kw))
        assert len(DynamicBatchSampler(ds, 100, **kw)) == \
            len(list(DynamicBatchSampler(ds, 100, **kw)))


def test_sampler_seeded_shuffle_and_epochs(bucket):
    ds = _sized(bucket, [10 + (i * 7) % 40 for i in range(30)])
    a = DynamicBatchSampler(ds, 100, shuffle=True, seed=4)
    expected = len(a)  # before an iteration: the next epoch's
    first = list(a)
    assert first == list(DynamicBatchSampler(ds, 100, shuffle=True, seed=4))
    assert expected == len(first) and a.epoch == 1
    assert sorted(i for b in first for i in b) == list(range(30))
    expected = len(a)
    it = iter(a)
    second = [next(it)]
    assert a.epoch == 1 and len(a) == expected  # in progress: this epoch's
    second += list(it)
    assert second != first and expected == len(second)  # each iteration: the next epoch
    a.set_epoch(0)
    assert list(a) == first == list(a)  # pinned
    assert list(DynamicBatchSampler(ds, 100, shuffle=True, seed=5)) != first


def test_sampler_warnings_and_validation(bucket, caplog):
    ds = _sized(bucket, [0, 500, 10])
    with caplog.at_level(logging.WARNING, logger="ais_datasets.dynamic_sampler"):
        assert list(DynamicBatchSampler(ds, 100)) == [[2]]
    assert "size of 0 bytes" in caplog.text and "larger than the max batch size" in caplog.text
    with pytest.raises(ValueError):
        DynamicBatchSampler(ds, 100, saturation_factor=1.5)


def test_sampler_with_dataloader_and_object_group(bucket):
    _sized(bucket, [40, 40, 40, 40, 40])
    group = bucket.objects(obj_names=[f"z/{i:03d}.bin" for i in (4, 0, 2)])
    ds = AISMapDataset(group)
    sampler = DynamicBatchSampler(ds, 80)
    loader = DataLoader(ds, batch_sampler=sampler, collate_fn=list)
    got = [[name for name, _ in batch] for batch in loader]
    assert len(loader) == len(got) == 2
    assert got == [["z/004.bin", "z/000.bin"], ["z/002.bin"]]
