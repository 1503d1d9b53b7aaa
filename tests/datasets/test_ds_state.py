"""Every dataset pickles; every iterable class resumes under StatefulDataLoader(0 workers)."""

from __future__ import annotations

import json
import pickle

import ais_ds_test_kit as kit
import pytest
from torchdata.stateful_dataloader import StatefulDataLoader

from ais_datasets import (
    AISBatchIterDataset,
    AISIterDataset,
    AISMapDataset,
    AISMultiShardStream,
    AISParallelMapDataset,
    AISShardReader,
    DynamicBatchSampler,
)

pytestmark = pytest.mark.filterwarnings("ignore:'set_vital' is deprecated:UserWarning")


@pytest.fixture
def corpus(bucket):
    kit.object_corpus(bucket, 7)
    kit.shard_corpus(bucket, shards=3, per_shard=3)
    for s in range(2):
        kit.put(bucket, {f"img/{s}.tar": kit.make_tar(kit.shard_members(s, 3, ("jpg",))),
                         f"lbl/{s}.tar": kit.make_tar(kit.shard_members(s, 3, ("cls",)))})
    return bucket


def _iterables(client, endpoint, bucket, **kw):
    from aistore.sdk import DataShard

    return {
        "iter": AISIterDataset(bucket, prefix_map={bucket: "objs/"}, **kw),
        "batch": AISBatchIterDataset(bucket, client, prefix_map={bucket: "objs/"},
                                     max_batch_size=3, **kw),
        "shards": AISShardReader(bucket, prefix_map={bucket: "shards/"}, shuffle_buffer=4,
                                 **kw),
        "multishard": AISMultiShardStream([DataShard(endpoint, bucket.name, prefix="img/"),
                                           DataShard(endpoint, bucket.name, prefix="lbl/")],
                                          shuffle_buffer=4, **kw),
    }


def _canon(sample):
    if isinstance(sample, tuple) and len(sample) == 2 and isinstance(sample[1], dict):
        return sample[0], tuple(sorted(sample[1].items()))
    return sample


@pytest.mark.parametrize("kind", ["iter", "batch", "shards", "multishard"])
def test_iterables_pickle_before_and_after_iterating(client, endpoint, corpus, kind):
    ds = _iterables(client, endpoint, corpus, shuffle=True, seed=1)[kind]
    before = pickle.loads(pickle.dumps(ds))
    full = [_canon(s) for s in ds]
    after = pickle.loads(pickle.dumps(ds))  # a copy carries the epoch count: next is 1
    assert [_canon(s) for s in before] == full
    second = [_canon(s) for s in after]
    assert second == [_canon(s) for s in ds] and sorted(second) == sorted(full)
    assert second != full and ds.epoch == after.epoch == 1


def test_map_datasets_and_sampler_pickle(corpus):
    m = AISMapDataset(corpus, prefix_map={corpus: "objs/"})
    p = AISParallelMapDataset(corpus, prefix_map={corpus: "objs/"}, num_workers=2)
    sampler = DynamicBatchSampler(m, 500, shuffle=True)
    m2, p2, s2 = pickle.loads(pickle.dumps((m, p, sampler)))
    assert [m2[i] for i in range(len(m2))] == [m[i] for i in range(len(m))]
    assert len(p2) == len(p) and list(s2) == list(sampler)


@pytest.mark.parametrize("kind", ["iter", "batch", "shards", "multishard"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_stateful_dataloader_without_workers(client, endpoint, corpus, kind, shuffle):
    def loader(state=None):
        ds = _iterables(client, endpoint, corpus, shuffle=shuffle, seed=4)[kind]
        dl = StatefulDataLoader(ds, batch_size=2, num_workers=0, collate_fn=list)
        if state is not None:
            dl.load_state_dict(state)
        return dl

    full = [_canon(s) for batch in loader() for s in batch]
    first = loader()
    it = iter(first)
    head = [_canon(s) for s in next(it) + next(it)]
    state = first.state_dict()
    del it  # the DataLoader's iterator closes the dataset's with it
    json.dumps(state["dataset_state"] if "dataset_state" in state else state)
    rest = [_canon(s) for batch in loader(state) for s in batch]
    assert head + rest == full


@pytest.mark.parametrize("kind", ["iter", "batch", "shards", "multishard"])
def test_state_is_plain_json_data(client, endpoint, corpus, kind):
    ds = _iterables(client, endpoint, corpus)[kind]
    assert json.loads(json.dumps(ds.state_dict())) == ds.state_dict()
    it = iter(ds)
    next(it)
    it.close()
    state = ds.state_dict()
    assert json.loads(json.dumps(state)) == state
    assert state["samples_seen"] == 1 and state["slot"] == 0 and state["num_slots"] == 1


def test_shard_reader_partitions_sources(client):
    buckets = [client.bucket(f"src{i}").create() for i in range(3)]
    for i, b in enumerate(buckets):
        kit.put(b, {f"s{i}.tar": kit.make_tar(kit.shard_members(i, 2))})
    parts = [kit.keys(AISShardReader(buckets, partition_sources_by_worker=True, rank=r,
                                     world_size=2, even_ranks=None)) for r in range(2)]
    assert parts == [["s00-000", "s00-001", "s02-000", "s02-001"], ["s01-000", "s01-001"]]
    # equal work: rank 1 reads its own source again where rank 0 has a third
    parts = [kit.keys(AISShardReader(buckets, partition_sources_by_worker=True, rank=r,
                                     world_size=2)) for r in range(2)]
    assert parts[0] == ["s00-000", "s00-001", "s02-000", "s02-001"]
    assert parts[1] == ["s01-000", "s01-001"] * 2
