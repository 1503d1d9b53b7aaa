"""DataLoader worker processes against the emulator's HTTP server.

fork / spawn / forkserver, exactly-once across workers, per-process resources, and
resuming with torchdata's StatefulDataLoader and with a plain DataLoader.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os

import ais_ds_test_kit as kit
import pytest
from torch.utils.data import DataLoader
from torchdata.stateful_dataloader import StatefulDataLoader

from ais_datasets import (
    AISBatchIterDataset,
    AISIterDataset,
    AISMapDataset,
    AISMultiShardStream,
    AISShardReader,
)

# torchdata 0.11's StatefulDataLoader calls a torch API that torch 2.15 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:'set_vital' is deprecated:UserWarning")


def _flatten(loader):
    return [s for batch in loader for s in batch]


def _shard_reader(bucket, **kw):
    return AISShardReader(bucket, prefix_map={bucket: "shards/"}, **kw)


def _multishard(endpoint, bucket, **kw):
    from aistore.sdk import DataShard

    return AISMultiShardStream([DataShard(endpoint, bucket.name, prefix="img/"),
                                DataShard(endpoint, bucket.name, prefix="lbl/")], **kw)


def _multishard_corpus(bucket, shards=3, per_shard=3):
    rows = []
    for s in range(shards):
        img = [(f"{s}-{j}.jpg", kit.payload(f"i{s}{j}")) for j in range(per_shard)]
        lbl = [(f"{s}-{j}.cls", kit.payload(f"l{s}{j}")) for j in range(per_shard)]
        kit.put(bucket, {f"img/{s}.tar": kit.make_tar(img), f"lbl/{s}.tar": kit.make_tar(lbl)})
        rows += [(a[1], b[1]) for a, b in zip(img, lbl, strict=True)]
    return rows


@pytest.mark.parametrize("kind", ["iter", "batch", "shards", "multishard"])
def test_two_forked_workers_read_everything_once(ais_server, server_client, server_bucket,
                                                 kind):
    if kind in ("iter", "batch"):
        expected = kit.object_corpus(server_bucket, 9)
        ds = AISIterDataset(server_bucket, shuffle=True) if kind == "iter" else \
            AISBatchIterDataset(server_bucket, server_client, max_batch_size=2)
        key = lambda s: s  # noqa: E731
    elif kind == "shards":
        _, samples = kit.shard_corpus(server_bucket, shards=5, per_shard=3)
        expected = kit.keys(samples)
        ds = _shard_reader(server_bucket, shuffle=True, show_progress=True)
        key = lambda s: s[0]  # noqa: E731
    else:
        expected = _multishard_corpus(server_bucket)
        ds = _multishard(ais_server.url, server_bucket)
        key = lambda s: s  # noqa: E731
    loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=list,
                        multiprocessing_context="fork")
    got = [key(s) for s in _flatten(loader)]
    assert sorted(got) == sorted(expected)


def test_spawn_workers_pickle_the_user_client(server_client, server_bucket):
    _, samples = kit.shard_corpus(server_bucket, shards=3, per_shard=2)
    ds = _shard_reader(server_bucket, shuffle=True, seed=3)
    loader = DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context="spawn")
    got = [(k, dict(f)) for k, f in loader]
    assert sorted(kit.plain(got)) == sorted(samples)


def test_spawn_workers_under_the_in_process_mock_fail_at_once_saying_why(bucket):
    from ais_emulator import BlockedRequestError

    kit.object_corpus(bucket, 3)
    loader = DataLoader(AISIterDataset(bucket), batch_size=None, num_workers=1,
                        multiprocessing_context="spawn")
    with pytest.raises(BlockedRequestError, match="started with 'spawn' or 'forkserver'"
                       ".*EmulatorServer"):
        next(iter(loader))


def test_forkserver_map_dataset_with_getbatch(server_bucket):
    corpus = kit.object_corpus(server_bucket, 10)
    loader = DataLoader(AISMapDataset(server_bucket), batch_size=4, num_workers=2,
                        collate_fn=list, multiprocessing_context="forkserver")
    assert _flatten(loader) == corpus


def _child_report(client, bucket_name, pool, queue):
    from aistore.sdk.request_client import RequestClient  # noqa: F401 - import check

    session = client._request_client.session_manager.session  # noqa: SLF001
    data = client.bucket(bucket_name).object("objs/obj-000.bin").get_reader().read_all()
    executor = pool.get()
    queue.put((os.getpid(), id(session), len(data), executor.submit(lambda: 7).result()))


def test_sessions_and_pools_are_per_process(server_client, server_bucket):
    from ais_datasets.reading import LazyPool

    kit.object_corpus(server_bucket, 1)
    parent_session = server_client._request_client.session_manager.session  # noqa: SLF001
    pool = LazyPool(2)
    parent_executor = pool.get()
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_report,
                        args=(server_client, server_bucket.name, pool, queue))
    child.start()
    pid, session_id, size, seven = queue.get(timeout=60)
    child.join(60)
    assert child.exitcode == 0 and pid != os.getpid()
    assert session_id != id(parent_session) and size > 0 and seven == 7
    assert pool.get() is parent_executor  # the parent's pool is untouched
    pool.shutdown()


@pytest.mark.parametrize("kind", ["iter", "shards"])
def test_stateful_dataloader_resume_with_two_workers(server_bucket, kind):
    if kind == "iter":
        kit.object_corpus(server_bucket, 14)

        def make():
            return AISIterDataset(server_bucket, shuffle=True, seed=9)
        key = lambda s: s[0]  # noqa: E731
    else:
        kit.shard_corpus(server_bucket, shards=5, per_shard=3)

        def make():
            return _shard_reader(server_bucket, shuffle=True, seed=9, shuffle_buffer=4)
        key = lambda s: s[0]  # noqa: E731

    def loader(ds, state=None):
        dl = StatefulDataLoader(ds, batch_size=2, num_workers=2, collate_fn=list,
                                multiprocessing_context="fork")
        if state is not None:
            dl.load_state_dict(state)
        return dl

    full = [key(s) for s in _flatten(loader(make()))]
    assert len(full) == (14 if kind == "iter" else 15)
    first = loader(make())
    it = iter(first)
    head = [key(s) for s in itertools.chain(*(next(it) for _ in range(3)))]
    state = first.state_dict()
    del it
    rest = [key(s) for s in _flatten(loader(make(), state))]
    assert head + rest == full


@pytest.mark.parametrize("kind", ["iter", "shards"])
def test_plain_dataloader_resume_from_samples_seen(server_bucket, kind):
    if kind == "iter":
        kit.object_corpus(server_bucket, 11)

        def make():
            return AISIterDataset(server_bucket)
    else:
        # 5 shards over 2 workers: one worker runs dry first, the round-robin shifts
        for s, n in enumerate([3, 1, 4, 2, 2]):
            kit.put(server_bucket,
                    {f"shards/shard-{s}.tar": kit.make_tar(kit.shard_members(s, n))})

        def make():
            return _shard_reader(server_bucket)

    def loader(ds):
        return DataLoader(ds, batch_size=2, num_workers=2, collate_fn=list,
                          multiprocessing_context="fork")

    full = [s[0] for s in _flatten(loader(make()))]
    for seen in (4, 6, 7, len(full)):
        ds = make()
        ds.load_state_dict({"epoch": 0, "samples_seen": seen, "batch_size": 2})
        rest = [s[0] for s in _flatten(loader(ds))]
        if seen % 2 == 0 or seen == len(full):
            assert full[:seen] + rest == full, f"seen={seen}"
        else:  # mid-batch: exactly the unseen samples; batches regroup, so order may differ
            assert sorted(full[:seen] + rest) == sorted(full), f"seen={seen}"


def test_plain_dataloader_resumed_twice_in_one_epoch(server_bucket):
    for s, n in enumerate([3, 1, 4, 2, 2, 5]):
        kit.put(server_bucket, {f"shards/shard-{s}.tar": kit.make_tar(kit.shard_members(s, n))})

    def run(state=None, batches=None):
        ds = _shard_reader(server_bucket)
        if state is not None:
            ds.load_state_dict(state)
        loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=list,
                            multiprocessing_context="fork")
        out = []
        for i, batch in enumerate(loader):
            if batches is not None and i == batches:
                break
            out += [s[0] for s in batch]
        return out

    full = run()
    first = run(batches=3)  # 6 samples
    second = run({"epoch": 0, "samples_seen": 6, "batch_size": 2}, batches=2)  # 4 more
    rest = run({"epoch": 0, "samples_seen": 10, "batch_size": 2, "resumed_at": [6]})
    assert first + second + rest == full


@pytest.mark.parametrize("kind", ["iter", "shards", "multishard"])
def test_ranks_times_workers_read_everything_once(ais_server, server_bucket, kind):
    got = []
    if kind == "iter":
        expected = [n for n, _ in kit.object_corpus(server_bucket, 13)]
    elif kind == "shards":
        expected = kit.keys(kit.shard_corpus(server_bucket, shards=7, per_shard=2)[1])
    else:
        expected = _multishard_corpus(server_bucket, shards=5, per_shard=2)
    for rank in range(2):
        if kind == "iter":
            ds = AISIterDataset(server_bucket, shuffle=True, rank=rank, world_size=2,
                                even_ranks=None)
        elif kind == "shards":
            ds = _shard_reader(server_bucket, shuffle=True, rank=rank, world_size=2,
                               even_ranks=None)
        else:
            ds = _multishard(ais_server.url, server_bucket, shuffle=True, rank=rank,
                             world_size=2, even_ranks=None)
        loader = DataLoader(ds, batch_size=None, num_workers=2,
                            multiprocessing_context="fork")
        got += [tuple(s) if kind == "multishard" else s[0] for s in loader]
    assert sorted(got) == sorted(expected)
