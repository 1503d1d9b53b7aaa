"""``etl_name``: every class asks for the inline transform on its GETs, as upstream does.

The transforms are registered directly on the in-process emulator (its ETL registry), so
these tests exercise the GET side only.
"""

from __future__ import annotations

import io
import tarfile

import ais_ds_test_kit as kit
import pytest

from ais_datasets import AISIterDataset, AISMapDataset, AISMultiShardStream, AISShardReader


def _upper(data: bytes, path: str, args: str) -> bytes:
    return data.upper()


def _upper_tar(data: bytes, path: str, args: str) -> bytes:
    """Rewrite a tar with every member's bytes upper-cased."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = [(m.name, tar.extractfile(m).read().upper()) for m in tar.getmembers()]
    return kit.make_tar(members)


@pytest.fixture
def etls(ais_mock):
    ais_mock.emulator.etl.register("upper-etl", _upper)
    ais_mock.emulator.etl.register("upper-tar", _upper_tar)


def test_object_datasets_apply_the_etl(etls, bucket, calls):
    corpus = kit.object_corpus(bucket, 5)
    expected = [(n, d.upper()) for n, d in corpus]
    assert list(AISIterDataset(bucket, etl_name="upper-etl")) == expected
    ds = AISMapDataset(bucket, etl_name="upper-etl")
    assert ds[0] == expected[0]
    calls.clear()
    assert ds.__getitems__([1, 2]) == expected[1:3]
    assert calls.batch_requests() == 0  # GetBatch carries no transform: per-item GETs


@pytest.mark.parametrize("shuffle", [False, True])
def test_shard_reader_transforms_whole_shards_and_resumes(etls, bucket, shuffle):
    _, samples = kit.shard_corpus(bucket, shards=3, per_shard=3)
    expected = [(k, {e: v.upper() for e, v in f.items()}) for k, f in samples]

    def make():
        return AISShardReader(bucket, prefix_map={bucket: "shards/"}, etl_name="upper-tar",
                              shuffle=shuffle, shuffle_buffer=4)

    full = kit.plain(make())
    assert sorted(full) == sorted(expected)
    ds = make()
    it = iter(ds)
    head = [next(it) for _ in range(4)]
    it.close()
    again = make()
    again.load_state_dict(ds.state_dict())  # transformed streams are re-read, not ranged
    assert kit.plain(head) + kit.plain(again) == full


def test_multishard_uses_each_sources_etl(etls, endpoint, bucket):
    from aistore.sdk import DataShard

    kit.put(bucket, {"a/0.tar": kit.make_tar([("x.jpg", b"img")]),
                     "b/0.tar": kit.make_tar([("x.cls", b"lbl")])})
    stream = AISMultiShardStream([DataShard(endpoint, bucket.name, prefix="a/",
                                            etl_name="upper-tar"),
                                  DataShard(endpoint, bucket.name, prefix="b/")])
    assert list(stream) == [(b"IMG", b"lbl")]
