"""AISIterDataset, AISBatchIterDataset and the AISBaseIterDataset helpers (in-process)."""

from __future__ import annotations

import itertools
import pickle

import ais_ds_test_kit as kit
import pytest

from ais_datasets import AISBaseIterDataset, AISBatchIterDataset, AISIterDataset


def test_yields_every_object_with_its_bytes(bucket):
    corpus = kit.object_corpus(bucket, 12)
    kit.put(bucket, {"other/x.bin": b"not selected"})
    ds = AISIterDataset(bucket, prefix_map={bucket: "objs/"})
    assert list(ds) == corpus
    assert len(ds) == 12
    assert list(ds) == corpus  # a second pass is the same epoch again


def test_several_sources_prefix_lists_and_object_groups(client, bucket):
    corpus = dict(kit.object_corpus(bucket, 6, prefix="a/"))
    corpus.update(kit.object_corpus(bucket, 4, prefix="b/"))
    other = client.bucket("other").create()
    corpus.update(kit.object_corpus(other, 3, prefix="c/"))
    group = other.objects(obj_names=["c/obj-000.bin", "c/obj-002.bin"])
    ds = AISIterDataset([bucket, group], prefix_map={bucket: ["a/", "b/obj-00"]})
    names = [name for name, _ in ds]
    assert names == [f"a/obj-{i:03d}.bin" for i in range(6)] + \
        [f"b/obj-{i:03d}.bin" for i in range(4)] + ["c/obj-000.bin", "c/obj-002.bin"]
    assert all(data == corpus[name] for name, data in ds)


def test_empty_source_list_is_rejected():
    with pytest.raises(ValueError):
        AISIterDataset([])


def test_prefetch_keeps_order_and_reads_each_object_once(bucket, calls):
    corpus = kit.object_corpus(bucket, 30)
    for prefetch in (1, 4, 64):
        calls.clear()
        assert list(AISIterDataset(bucket, prefetch=prefetch, use_batch=False)) == corpus
        assert len(calls.gets()) == 30 and calls.batch_requests() == 0
    with pytest.raises(ValueError):
        AISIterDataset(bucket, prefetch=0)


@pytest.mark.parametrize("size, requests", [(64, 1), (7, 5), (1, 30)])
def test_getbatch_reads_many_objects_per_request_in_order(bucket, calls, size, requests):
    corpus = kit.object_corpus(bucket, 30)
    calls.clear()
    assert list(AISIterDataset(bucket, max_batch_size=size)) == corpus
    assert calls.batch_requests() == requests and not calls.gets()
    with pytest.raises(ValueError):
        AISIterDataset(bucket, max_batch_size=0)


def test_getbatch_missing_object_raises_the_get_error_in_place(bucket):
    from aistore.sdk.errors import ErrObjNotFound

    corpus = kit.object_corpus(bucket, 6)
    group = bucket.objects(obj_names=[n for n, _ in corpus[:3]] + ["gone.bin"] +
                           [n for n, _ in corpus[3:]])
    got = []
    with pytest.raises(ErrObjNotFound):
        for item in AISIterDataset(group, max_batch_size=4):
            got.append(item)
    assert got == corpus[:3]


def test_getbatch_unsupported_falls_back_to_gets_once_per_process(bucket, calls,
                                                                  monkeypatch):
    corpus = kit.object_corpus(bucket, 10)
    attempts = kit.no_getbatch(monkeypatch)
    calls.clear()
    assert list(AISIterDataset(bucket, max_batch_size=3)) == corpus
    assert list(AISIterDataset(bucket, max_batch_size=3)) == corpus
    assert len(attempts) == 1 and len(calls.gets()) == 20


def test_getbatch_failing_mid_stream_goes_on_with_gets_without_repeats(bucket, calls,
                                                                       monkeypatch):
    from ais_datasets import getbatch

    corpus = kit.object_corpus(bucket, 10)
    real = getbatch.batch_stream

    def breaks_after_two(client, objects):
        stream = real(client, objects)
        yield next(stream)
        yield next(stream)
        stream.close()
        raise ConnectionError("connection reset")

    monkeypatch.setattr("ais_datasets.getbatch.batch_stream", breaks_after_two)
    calls.clear()
    assert list(AISIterDataset(bucket, max_batch_size=4)) == corpus
    assert calls.batch_requests() == 3 and len(calls.gets()) == 2 + 2 + 0
    # the failure was not a missing route: GetBatch is still used afterwards
    monkeypatch.setattr("ais_datasets.getbatch.batch_stream", real)
    calls.clear()
    assert list(AISIterDataset(bucket, max_batch_size=4)) == corpus
    assert calls.batch_requests() == 3 and not calls.gets()


@pytest.mark.parametrize("stop", [0, 2, 5, 9])
def test_getbatch_resume_mid_batch(bucket, calls, stop):
    kit.object_corpus(bucket, 9)
    ds = AISIterDataset(bucket, max_batch_size=4, shuffle=True, seed=4)
    full = list(ds)
    ds.set_epoch(0)  # iterations advance the epoch unless it is pinned
    it = iter(ds)
    head = [next(it) for _ in range(stop)]
    it.close()
    again = AISIterDataset(bucket, max_batch_size=4, shuffle=True, seed=4)
    again.load_state_dict(ds.state_dict())
    calls.clear()
    assert head + list(again) == full
    assert calls.batch_requests() == -(-(9 - stop) // 4) and not calls.gets()


def test_etl_name_is_sent_as_upstream_sends_it(bucket, calls):
    kit.object_corpus(bucket, 2)
    ds = AISIterDataset(bucket, etl_name="my-etl-xform")
    from aistore.sdk.errors import AISError

    with pytest.raises(AISError):  # no such ETL on the cluster: the error surfaces
        list(ds)
    assert calls.gets() and all(q.get("etl_name") == "my-etl-xform" for _, q, _ in calls.gets())


def test_shuffle_is_a_seeded_permutation_per_epoch(bucket):
    corpus = kit.object_corpus(bucket, 20)
    ds = AISIterDataset(bucket, shuffle=True, seed=7)
    first = [n for n, _ in ds]
    assert sorted(first) == [n for n, _ in corpus] and first != sorted(first)
    assert [n for n, _ in AISIterDataset(bucket, shuffle=True, seed=7)] == first
    ds.set_epoch(1)
    second = [n for n, _ in ds]
    assert second != first and sorted(second) == sorted(first)
    assert [n for n, _ in AISIterDataset(bucket, shuffle=True, seed=8)] != first


@pytest.mark.parametrize("world", [2, 3, 5])
@pytest.mark.parametrize("shuffle", [False, True])
def test_ranks_split_exactly_once(bucket, world, shuffle):
    corpus = kit.object_corpus(bucket, 17)
    parts = [[n for n, _ in AISIterDataset(bucket, shuffle=shuffle, rank=r, world_size=world,
                                           even_ranks=None)]
             for r in range(world)]
    assert sorted(itertools.chain(*parts)) == [n for n, _ in corpus]
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_ranks_from_environment(bucket, monkeypatch):
    corpus = kit.object_corpus(bucket, 9)
    monkeypatch.setenv("WORLD_SIZE", "3")
    parts = []
    for r in range(3):
        monkeypatch.setenv("RANK", str(r))
        parts.append([n for n, _ in AISIterDataset(bucket, ranks_from_env=True)])
    assert sorted(itertools.chain(*parts)) == [n for n, _ in corpus]
    assert parts[1] == [corpus[i][0] for i in (1, 4, 7)]


def test_partition_sources_by_slot(client, bucket):
    others = [client.bucket(f"p{i}").create() for i in range(3)]
    names = []
    for i, b in enumerate([bucket] + others):
        names += [f"{b.name}/{n}" for n, _ in kit.object_corpus(b, 2 + i)]
    parts = []
    for r in range(2):
        ds = AISIterDataset([bucket] + others, partition_sources_by_worker=True, rank=r,
                            world_size=2, even_ranks=None)
        parts.append([f"{o.bucket_name}/{o.name}" for o in ds._get_worker_iter_info()[0]])
    assert {n.split("/")[0] for n in parts[0]} == {"ds", "p1"}
    assert sorted(parts[0] + parts[1]) == sorted(names)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("stop", [0, 1, 7, 13])
def test_resume_from_state_dict(bucket, shuffle, stop):
    kit.object_corpus(bucket, 13)
    ds = AISIterDataset(bucket, shuffle=shuffle, seed=3)
    ds.set_epoch(2)
    full = [n for n, _ in ds]
    it = iter(ds)
    head = [next(it)[0] for _ in range(stop)]
    it.close()
    state = pickle.loads(pickle.dumps(ds.state_dict()))
    assert state["epoch"] == 2 and state["samples_seen"] == stop
    fresh = AISIterDataset(bucket, shuffle=shuffle, seed=3)
    fresh.load_state_dict(state)
    assert head + [n for n, _ in fresh] == full
    # the loaded state is used once, and the next iteration starts the next epoch
    reference = AISIterDataset(bucket, shuffle=shuffle, seed=3)
    reference.set_epoch(3)
    assert [n for n, _ in fresh] == [n for n, _ in reference] and fresh.epoch == 3
    fresh.set_epoch(2)
    assert [n for n, _ in fresh] == full


def test_loader_level_state_and_set_epoch_discarding_it(bucket):
    corpus = kit.object_corpus(bucket, 10)
    ds = AISIterDataset(bucket)
    ds.load_state_dict({"epoch": 0, "samples_seen": 4})
    assert ds.state_dict()["samples_seen"] == 4
    assert [n for n, _ in ds] == [n for n, _ in corpus[4:]]
    ds.load_state_dict({"epoch": 0, "samples_seen": 4})
    ds.set_epoch(1)
    assert len(list(ds)) == 10
    with pytest.raises(ValueError):
        ds.load_state_dict({"epoch": 0})
    bad = AISIterDataset(bucket, rank=1, world_size=2)
    bad.load_state_dict({"epoch": 0, "samples_seen": 1, "slot": 0, "num_slots": 1})
    with pytest.raises(ValueError, match="slot"):
        iter(bad)


def test_progress_bar_counts_samples(bucket, capsys):
    kit.object_corpus(bucket, 5)
    assert len(list(AISIterDataset(bucket, show_progress=True))) == 5
    err = capsys.readouterr().err
    assert "AISIterDataset" in err and "5/5" in err


def test_batch_iter_dataset_uses_getbatch(client, bucket, calls):
    corpus = kit.object_corpus(bucket, 11)
    ds = AISBatchIterDataset(bucket, client, max_batch_size=4)
    assert list(ds) == corpus
    assert calls.batch_requests() == 3 and not calls.gets()


@pytest.mark.parametrize("streaming", [True, False])
@pytest.mark.parametrize("fmt", [".tar", ".tgz", ".zip"])
def test_batch_iter_formats(client, bucket, streaming, fmt):
    corpus = kit.object_corpus(bucket, 5)
    assert list(AISBatchIterDataset(bucket, client, max_batch_size=2, output_format=fmt,
                                    streaming=streaming)) == corpus


def test_batch_iter_errors_and_cont_on_err(client, bucket):
    corpus = kit.object_corpus(bucket, 5)
    group = bucket.objects(obj_names=["objs/obj-000.bin", "missing.bin", "objs/obj-001.bin"])
    from aistore.sdk.errors import ErrObjNotFound

    # the server either refuses the request up front (404) or flags the entry
    with pytest.raises((RuntimeError, ErrObjNotFound), match="missing.bin"):
        list(AISBatchIterDataset(group, client))
    got = list(AISBatchIterDataset(group, client, cont_on_err=True))
    assert got == corpus[:2]


@pytest.mark.parametrize("stop", [0, 3, 6, 9])
def test_batch_iter_resume_and_split(client, bucket, stop):
    corpus = kit.object_corpus(bucket, 9)
    ds = AISBatchIterDataset(bucket, client, max_batch_size=4, shuffle=True, seed=1)
    full = list(ds)
    assert sorted(full) == corpus
    ds.set_epoch(0)
    it = iter(ds)
    head = [next(it) for _ in range(stop)]
    it.close()  # no prefetching thread outlives the test's emulator
    again = AISBatchIterDataset(bucket, client, max_batch_size=4, shuffle=True, seed=1)
    again.load_state_dict(ds.state_dict())
    assert head + list(again) == full
    parts = [list(AISBatchIterDataset(bucket, client, rank=r, world_size=2, even_ranks=None))
             for r in (0, 1)]
    assert sorted(parts[0] + parts[1]) == corpus


class _Names(AISBaseIterDataset):
    """A subclass written against upstream's protected helpers."""

    def __iter__(self):
        self._reset_iterator()
        objects, label = self._get_worker_iter_info()
        for obj in objects:
            yield obj.name


def test_upstream_style_subclass_works(bucket):
    corpus = kit.object_corpus(bucket, 5)
    ds = _Names(bucket)
    assert list(ds) == [n for n, _ in corpus]
    assert len(ds) == 5
    assert [o.name for o in ds._create_objects_iter()] == [n for n, _ in corpus]
    assert [o.props_cached.size for o in ds._create_objects_iter()] == \
        [len(d) for _, d in corpus]
    assert list(_Names(bucket, rank=1, world_size=2, even_ranks=None)) == \
        [n for n, _ in corpus[1::2]]
    # equal work: rank 1 repeats its first object where rank 0 has a fifth
    assert list(_Names(bucket, rank=1, world_size=2)) == [corpus[i][0] for i in (1, 3, 1)]


def test_datasets_pickle_and_list_once(bucket, calls):
    corpus = kit.object_corpus(bucket, 6)
    ds = AISIterDataset(bucket)
    assert len(ds) == 6
    listings = sum(1 for m, p, _, _ in calls.calls if p.startswith("buckets/"))
    clone = pickle.loads(pickle.dumps(ds))
    assert list(clone) == corpus and list(ds) == corpus
    assert sum(1 for m, p, _, _ in calls.calls if p.startswith("buckets/")) == listings


def test_object_names_with_special_characters(ais_backend):
    client, bucket = ais_backend.client, ais_backend.bucket("names")
    objects = {"dir/a b+c?.bin": b"1", "\u00fc/\u00f1.bin": b"2", "x%20y.bin": b"3",
               "semi;colon#hash.bin": b"4"}
    kit.put(bucket, objects)
    assert dict(AISIterDataset(bucket)) == objects
    assert dict(AISBatchIterDataset(bucket, client)) == objects
    members = [(name.replace("/", "_"), data) for name, data in objects.items()]
    kit.put(bucket, {"shards/we ird+\u00fc.tar": kit.make_tar(members)})
    from ais_datasets import AISShardReader

    got = AISShardReader(bucket, prefix_map={bucket: "shards/"})
    assert sorted(k for k, _ in got) == sorted(n.rsplit(".", 1)[0] for n, _ in members)
