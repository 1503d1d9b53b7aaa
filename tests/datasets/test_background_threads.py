"""Background work ends with the iteration that started it.

An iterator left before its end (closed, or dropped and garbage-collected) must not
leave ``ais-datasets*`` threads behind: requests not yet started are cancelled, no new
one is sent, and the threads exit once the requests already running return.
"""

from __future__ import annotations

import threading
import time

import ais_ds_test_kit as kit
import pytest

from ais_datasets import AISBatchIterDataset, AISIterDataset, AISShardReader

PREFIX = "ais-datasets"
SETTLE_S = 5.0


def _started_since(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate()
            if t.name.startswith(PREFIX) and t.is_alive() and t not in before]


def _left_after(before: set[threading.Thread]) -> list[str]:
    """Names of the threads started since ``before`` still alive after ``SETTLE_S``."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        extra = _started_since(before)
        if not extra or time.monotonic() >= deadline:
            return [t.name for t in extra]
        time.sleep(0.02)


def _breaks_after_two(monkeypatch):
    """GetBatch streams that fail after two entries: the rest of each batch is GETs."""
    from ais_datasets import getbatch

    real = getbatch.batch_stream

    def breaks(client, objects):
        stream = real(client, objects)
        try:
            yield next(stream)
            yield next(stream)
        finally:
            stream.close()
        raise ConnectionError("connection reset")

    monkeypatch.setattr("ais_datasets.getbatch.batch_stream", breaks)


def _dataset(kind, client, bucket, monkeypatch):
    if kind in ("shards", "shards-prefetch"):
        kit.shard_corpus(bucket, shards=6, per_shard=3)
        return AISShardReader(bucket, readahead_bytes=1 << 16,
                              prefetch_shards=2 if kind == "shards-prefetch" else 1)
    kit.object_corpus(bucket, 40)
    if kind == "getbatch-mid-stream":
        _breaks_after_two(monkeypatch)
        return AISIterDataset(bucket, max_batch_size=32, prefetch=8)
    if kind == "no-getbatch":
        kit.no_getbatch(monkeypatch)
        return AISIterDataset(bucket, prefetch=8)
    if kind == "gets":
        return AISIterDataset(bucket, use_batch=False, prefetch=8)
    if kind == "etl":
        return AISIterDataset(bucket, etl_name="no-such-etl", prefetch=8)
    if kind == "batch-iter":
        return AISBatchIterDataset(bucket, client, max_batch_size=2, prefetch=4)
    raise AssertionError(kind)


KINDS = ["getbatch-mid-stream", "no-getbatch", "gets", "batch-iter", "shards",
         "shards-prefetch"]


@pytest.mark.parametrize("end", ["close", "drop"])
@pytest.mark.parametrize("kind", KINDS)
def test_an_abandoned_iteration_leaves_no_thread(client, bucket, monkeypatch, kind, end):
    ds = _dataset(kind, client, bucket, monkeypatch)
    before = set(threading.enumerate())
    it = iter(ds)
    head = [next(it) for _ in range(4)]
    assert len(head) == 4
    assert _started_since(before), "the iteration was expected to work in the background"
    if end == "close":
        it.close()
    else:
        del it  # garbage-collected
    assert _left_after(before) == []


def test_an_iteration_that_raises_leaves_no_thread(bucket):
    from aistore.sdk.errors import AISError

    ds = _dataset("etl", None, bucket, None)
    before = set(threading.enumerate())
    with pytest.raises(AISError):
        list(ds)
    assert _left_after(before) == []


@pytest.mark.parametrize("kind", ["gets", "shards"])
def test_a_finished_iteration_leaves_no_thread(client, bucket, monkeypatch, kind):
    ds = _dataset(kind, client, bucket, monkeypatch)
    before = set(threading.enumerate())
    assert len(list(ds)) == (40 if kind == "gets" else 18)
    assert _left_after(before) == []


def test_a_single_process_dataloader_left_early_leaves_no_thread(bucket):
    from torch.utils.data import DataLoader

    kit.object_corpus(bucket, 40)
    ds = AISIterDataset(bucket, use_batch=False, prefetch=8)
    before = set(threading.enumerate())
    for k, _ in enumerate(DataLoader(ds, batch_size=None, num_workers=0)):
        if k == 3:
            break
    assert _left_after(before) == []

