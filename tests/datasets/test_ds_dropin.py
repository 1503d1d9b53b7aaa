"""The same script with ``aistore.pytorch`` and with ``ais_datasets`` reads the same data.

Runs on every backend (in-process emulator, emulator server, and a live cluster under
``tox -e live``). The corpus has no key collisions, single-dot extensions and tars written
in sorted member order, where upstream's rules and ours agree.
"""

from __future__ import annotations

import importlib
from collections import Counter
from types import SimpleNamespace

import ais_ds_test_kit as kit
import pytest

CLASSES = ("AISMapDataset", "AISParallelMapDataset", "AISIterDataset", "AISShardReader",
           "AISMultiShardStream", "DynamicBatchSampler")


def _package(name: str) -> SimpleNamespace:
    root = importlib.import_module(name)
    batch = importlib.import_module(f"{name}.batch_iter_dataset")
    ns = {cls: getattr(root, cls) for cls in CLASSES}
    ns["AISBatchIterDataset"] = batch.AISBatchIterDataset
    return SimpleNamespace(**ns)


def _build(bucket):
    kit.object_corpus(bucket, 10, prefix="objs/")
    kit.shard_corpus(bucket, shards=3, per_shard=4, prefix="shards/")
    for s in range(2):
        img = [(f"s{s}-{j}.jpg", kit.payload(f"img{s}{j}")) for j in range(3)]
        lbl = [(f"s{s}-{j}.cls", kit.payload(f"lbl{s}{j}")) for j in range(3)]
        kit.put(bucket, {f"img/{s}.tar": kit.make_tar(img), f"lbl/{s}.tar": kit.make_tar(lbl)})


def _script(pkg: SimpleNamespace, client, bucket, endpoint):
    """What a user writes: every class over the corpus, results as multisets."""
    from aistore.sdk import DataShard

    objs = {bucket: "objs/"}
    out = {}
    m = pkg.AISMapDataset(bucket, prefix_map=objs)
    out["map"] = Counter(m[i] for i in range(len(m)))
    p = pkg.AISParallelMapDataset(bucket, prefix_map=objs, num_workers=2)
    items = []
    for i in range(len(p)):
        name, buf = p[i]
        items.append((name, buf.tobytes()))
        buf.close()
    out["parallel"] = Counter(items)
    out["iter"] = Counter(pkg.AISIterDataset(bucket, prefix_map=objs))
    out["batch"] = Counter(pkg.AISBatchIterDataset(bucket, client, prefix_map=objs,
                                                   max_batch_size=4))
    shards = pkg.AISShardReader(bucket, prefix_map={bucket: "shards/"})
    out["shards"] = Counter((k, tuple(sorted(f.items()))) for k, f in shards)
    stream = pkg.AISMultiShardStream([DataShard(endpoint, bucket.name, prefix="img/"),
                                      DataShard(endpoint, bucket.name, prefix="lbl/")])
    out["multishard"] = Counter(stream)
    sampler = pkg.DynamicBatchSampler(m, max_batch_size=700)
    out["sampler"] = Counter(tuple(b) for b in sampler)
    return out


@pytest.fixture
def corpus_bucket(ais_backend):
    bck = ais_backend.bucket("dropin")
    _build(bck)
    return bck


def test_same_samples_as_upstream(ais_backend, corpus_bucket):
    theirs = _script(_package("aistore.pytorch"), ais_backend.client, corpus_bucket,
                     ais_backend.endpoint)
    ours = _script(_package("ais_datasets"), ais_backend.client, corpus_bucket,
                   ais_backend.endpoint)
    assert set(ours) == set(theirs)
    for name in theirs:
        assert ours[name] == theirs[name], name
        assert sum(ours[name].values()) > 0, name
    assert sum(theirs["shards"].values()) == 12 and sum(theirs["multishard"].values()) == 6
