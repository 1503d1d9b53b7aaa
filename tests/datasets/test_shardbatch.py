"""ais_datasets.shardbatch: whole shards from GetBatch requests, failures kept in place."""

from __future__ import annotations

import ais_ds_test_kit as kit
import pytest
from aistore.sdk.errors import ErrObjNotFound

from ais_datasets import AISShardReader


def big_shards(bucket, shards: int, per_shard: int, size: int):
    """Shards of ``per_shard`` samples with ``size``-byte ``.bin`` members."""
    names, samples = [], []
    for s in range(shards):
        members = []
        for j in range(per_shard):
            key = f"s{s:02d}-{j:03d}"
            members += [(f"{key}.bin", kit.payload(f"{key}.bin", size)),
                        (f"{key}.cls", b"%d" % j)]
        name = f"shards/shard-{s:02d}.tar"
        kit.put(bucket, {name: kit.make_tar(members)})
        names.append(name)
        samples.extend(kit.group(members))
    return names, samples


def test_a_missing_shard_inside_a_batch_raises_in_place(bucket, calls):
    names, expected = kit.shard_corpus(bucket, shards=4, per_shard=2)
    listed = names[:2] + ["shards/gone.tar"] + names[2:]
    group = bucket.objects(obj_names=listed)
    got = []
    calls.clear()
    with pytest.raises(ErrObjNotFound):
        for sample in AISShardReader(group):
            got.append(sample)
    assert kit.plain(got) == expected[:4]  # the shards before it, then its own error
    ds = AISShardReader(group, on_error="skip")
    calls.clear()
    assert kit.plain(ds) == expected  # the shards after it still come from the batch
    assert ds.error_stats["shards_failed"] == 1
    assert calls.batch_requests() == 1
    assert [p.rsplit("/", 1)[1] for p, _, _ in calls.gets()] == ["gone.tar"]


def test_without_a_getbatch_route_each_shard_has_its_own_get(bucket, calls, monkeypatch):
    names, expected = kit.shard_corpus(bucket, shards=5, per_shard=2)
    attempts = kit.no_getbatch(monkeypatch)
    calls.clear()
    for _ in range(2):
        assert kit.plain(AISShardReader(bucket)) == expected
    assert len(attempts) == 1  # learned once per process
    assert len(calls.gets()) == 2 * len(names)


def test_a_connection_dropped_inside_a_batch_goes_on_with_a_range(bucket, calls,
                                                                   monkeypatch):
    from aistore.sdk.batch.batch import Batch
    from urllib3.exceptions import ProtocolError

    names, expected = big_shards(bucket, shards=4, per_shard=3, size=200_000)
    real_get = Batch.get
    reads = []

    class Flaky:
        """The batch response, breaking on its second read (inside shard 1)."""

        def __init__(self, raw):
            self.raw = raw

        def read(self, amt=None, *a, **kw):
            reads.append(amt)
            if len(reads) == 2:
                raise ProtocolError("connection broken")
            return self.raw.read(amt, *a, **kw)

        def close(self):
            self.raw.close()

    def get(self, *a, **kw):
        return Flaky(real_get(self, *a, **kw))

    monkeypatch.setattr(Batch, "get", get)
    calls.clear()
    assert kit.plain(AISShardReader(bucket)) == expected
    # shard 1 goes on from the byte it reached with a range GET; shards 2 and 3 come
    # with a new GetBatch request
    gets = [(p.rsplit("/", 1)[1], h.get("Range")) for p, _, h in calls.gets()]
    assert gets == [(names[1].rsplit("/", 1)[1], gets[0][1])]
    start = int(gets[0][1][len("bytes="):-1])
    assert 0 < start < len(bucket.object(names[1]).get_reader().read_all())
    assert calls.batch_requests() == 2


def test_resuming_mid_shard_starts_with_a_range_then_batches(bucket, calls):
    names, expected = big_shards(bucket, shards=4, per_shard=4, size=10_000)
    ds = AISShardReader(bucket)
    it = iter(ds)
    head = [next(it) for _ in range(6)]  # inside shard 1
    state = ds.state_dict()
    it.close()
    again = AISShardReader(bucket)
    again.load_state_dict(state)
    calls.clear()
    rest = list(again)
    assert kit.plain(head + rest) == expected
    gets = calls.gets()
    assert len(gets) == 1 and gets[0][2].get("Range", "").startswith("bytes=")
    assert calls.batch_requests() == 1  # shards 2 and 3


def test_use_batch_false_and_etl_read_shards_one_get_each(bucket, calls):
    names, expected = kit.shard_corpus(bucket, shards=3, per_shard=2)
    calls.clear()
    assert kit.plain(AISShardReader(bucket, use_batch=False)) == expected
    assert calls.batch_requests() == 0 and len(calls.gets()) == 3
