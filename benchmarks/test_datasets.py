"""Dataset contenders on the benchmark corpora, all from the session's EmulatorServer.

Per corpus: ``ais_datasets`` (ours) vs ``aistore.pytorch`` (upstream, the baseline) with
``num_workers`` 0 and 2 (DataLoader, ``batch_size=None`` unless stated), plus the raw-GET
limit, and ``webdataset`` on the shards. Memory scaling: AISShardReader's peak RSS on one
shard of size S and one of 8S, in a fresh loading process per round (``num_workers=0``).

Upstream's AISMultiShardStream issues one GET per member per source; it reads only its
first ``cap`` samples and its rates are computed on what it read (``capped_at``).

Every dataset round is paired with a raw-GET pass over the same objects run just before
it (outside the timed part): ``× limit`` is the median of the per-round ratios, so a
drift of the machine between tests does not move it. The ``DataLoader floor`` rows
replay the same samples from memory through the same DataLoader settings: the ceiling
any dataset can reach with that DataLoader on this machine. The shard groups are also
run with ``batch_size=64`` (the DataLoader collates, and workers hand over one batch
instead of one sample at a time).
"""

from __future__ import annotations

import pytest

from benchmarks import contenders as c
from benchmarks import measure

pytestmark = pytest.mark.timeout(3600)

WORKERS = [0, 2]
DATASETS = [c.OURS, c.UPSTREAM]
ROLE = {c.OURS: measure.OURS, c.UPSTREAM: measure.BASELINE, c.WEBDATASET: measure.OTHER,
        c.LIMIT: measure.LIMIT, c.FLOOR: measure.FLOOR}
BATCH = 64

G_ITER = "small-objects/AISIterDataset"
G_MAP = "small-objects/AISMapDataset.__getitems__(64)"
G_SHARDS = "shards/AISShardReader"
G_MULTI = "multishard/AISMultiShardStream"
G_LARGE = "large-object/AISParallelMapDataset"
G_MEM = "memory-scaling/AISShardReader S vs 8S"


def _consume(reader: c.Reader) -> measure.Round:
    return measure.consume(reader.make, reader.key_of, reader.size_of, cap=reader.cap,
                           weight_of=reader.weight_of, release=reader.release)


def _run(benchmark, reader: c.Reader, manifest: dict, group: str, contender: str,
         n_rounds: int, num_workers: int | None, srv=None, **extra) -> dict:
    """``n_rounds`` of ``reader``; with ``srv``, each paired with a raw-GET limit pass."""
    refs: list[measure.Round] = []
    before = None
    if srv is not None:
        limit = c.limit_reader(srv.url, manifest)
        before = lambda: _consume(limit)  # noqa: E731
    rounds = measure.run_rounds(benchmark, lambda: _consume(reader), n_rounds, group,
                                before=before, paired=refs)
    extra.update(measure.paired_ratios(rounds, refs))
    return measure.record(benchmark, corpus=manifest, group=group, contender=contender,
                          role=ROLE[contender], rounds=rounds, num_workers=num_workers,
                          cap=reader.cap_samples, note=reader.note, **extra)


def _limit(benchmark, srv, corpus: str, group: str, n_rounds: int) -> None:
    manifest = srv.seed(corpus)
    _run(benchmark, c.limit_reader(srv.url, manifest), manifest, group, c.LIMIT, n_rounds,
         None)


def _floor(benchmark, srv, manifest: dict, group: str, n_rounds: int, workers: int,
           like: c.Reader, dataset, batch_size: int | None = None) -> None:
    """The DataLoader floor: ``dataset`` (ours) read once into memory, then replayed."""
    reader = c.floor_reader(list(dataset), like, workers, batch_size=batch_size)
    _run(benchmark, reader, manifest, group, c.FLOOR, n_rounds, workers, srv=srv,
         **_batch_info(batch_size))


BATCHES = [None, BATCH]


def _group(group: str, batch: int | None) -> str:
    return group if batch is None else f"{group}, batch_size={batch}"


def _batch_info(batch: int | None) -> dict:
    return {"batch_size": batch} if batch else {}


def _bucket_dataset(name: str, srv, manifest: dict):
    """Our ``name`` over the corpus's bucket (the samples a floor replays)."""
    return c.dataset_class(c.OURS, name)(c._bucket(srv.url, manifest["bucket"]))


# --------------------------------------------------------------------------- small objects


def test_small_objects_iter_limit(benchmark, emulator_server, n_rounds):
    _limit(benchmark, emulator_server, "small", G_ITER, n_rounds)


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("contender", DATASETS)
def test_small_objects_iter(benchmark, emulator_server, contender, workers, n_rounds):
    manifest = emulator_server.seed("small")
    reader = c.iter_reader(contender, emulator_server.url, manifest, workers)
    _run(benchmark, reader, manifest, G_ITER, contender, n_rounds, workers,
         srv=emulator_server)


@pytest.mark.parametrize("workers", WORKERS)
def test_small_objects_iter_floor(benchmark, emulator_server, workers, n_rounds):
    manifest = emulator_server.seed("small")
    like = c.iter_reader(c.OURS, emulator_server.url, manifest, workers)
    _floor(benchmark, emulator_server, manifest, G_ITER, n_rounds, workers, like,
           _bucket_dataset("AISIterDataset", emulator_server, manifest))


def test_small_objects_map_limit(benchmark, emulator_server, n_rounds):
    _limit(benchmark, emulator_server, "small", G_MAP, n_rounds)


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("contender", DATASETS)
def test_small_objects_map_getitems(benchmark, emulator_server, contender, workers, n_rounds):
    manifest = emulator_server.seed("small")
    reader = c.map_batch_reader(contender, emulator_server.url, manifest, workers, batch=64)
    _run(benchmark, reader, manifest, G_MAP, contender, n_rounds, workers,
         srv=emulator_server, batch_size=64)


# --------------------------------------------------------------------------- shards

@pytest.mark.parametrize("batch", BATCHES)
def test_shards_limit(benchmark, emulator_server, n_rounds, batch):
    _limit(benchmark, emulator_server, "shards", _group(G_SHARDS, batch), n_rounds)


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize(("contender", "batch"),
                         [(x, None) for x in DATASETS + [c.WEBDATASET]]
                         + [(x, BATCH) for x in DATASETS])
def test_shards(benchmark, emulator_server, contender, batch, workers, n_rounds):
    manifest = emulator_server.seed("shards")
    if contender == c.WEBDATASET:
        reader = c.webdataset_reader(emulator_server.url, manifest, workers)
    else:
        reader = c.shard_reader(contender, emulator_server.url, manifest, workers,
                                batch_size=batch)
    _run(benchmark, reader, manifest, _group(G_SHARDS, batch), contender, n_rounds, workers,
         srv=emulator_server, **_batch_info(batch))


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("batch", BATCHES)
def test_shards_floor(benchmark, emulator_server, batch, workers, n_rounds):
    manifest = emulator_server.seed("shards")
    like = c.shard_reader(c.OURS, emulator_server.url, manifest, workers, batch_size=batch)
    _floor(benchmark, emulator_server, manifest, _group(G_SHARDS, batch), n_rounds, workers,
           like, _bucket_dataset("AISShardReader", emulator_server, manifest),
           batch_size=batch)


@pytest.mark.parametrize("batch", BATCHES)
def test_multishard_limit(benchmark, emulator_server, n_rounds, batch):
    _limit(benchmark, emulator_server, "multishard", _group(G_MULTI, batch), n_rounds)


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("contender", DATASETS)
@pytest.mark.parametrize("batch", BATCHES)
def test_multishard(benchmark, emulator_server, batch, contender, workers, n_rounds, sizes):
    manifest = emulator_server.seed("multishard")
    cap = None
    if contender == c.UPSTREAM:
        cap = max(100, sizes.samples // 10)  # one GET per member per source
    reader = c.multishard_reader(contender, emulator_server.url, manifest, workers, cap=cap,
                                 batch_size=batch)
    if cap is not None:
        reader.note = "upstream sends one GET per member per source"
    _run(benchmark, reader, manifest, _group(G_MULTI, batch), contender, n_rounds, workers,
         srv=emulator_server, **_batch_info(batch))


def _multishard_dataset(srv, manifest: dict):
    from aistore.sdk import DataShard

    cls = c.dataset_class(c.OURS, "AISMultiShardStream")
    return cls(data_sources=[DataShard(client_url=srv.url, bucket_name=manifest["bucket"],
                                       prefix=p) for p in manifest["prefixes"]])


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("batch", BATCHES)
def test_multishard_floor(benchmark, emulator_server, batch, workers, n_rounds):
    manifest = emulator_server.seed("multishard")
    like = c.multishard_reader(c.OURS, emulator_server.url, manifest, workers,
                               batch_size=batch)
    _floor(benchmark, emulator_server, manifest, _group(G_MULTI, batch), n_rounds, workers,
           like, _multishard_dataset(emulator_server, manifest), batch_size=batch)


# --------------------------------------------------------------------------- large object


def test_large_object_limit(benchmark, emulator_server, n_rounds):
    _limit(benchmark, emulator_server, "large", G_LARGE, n_rounds)


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("contender", DATASETS)
def test_large_object(benchmark, emulator_server, contender, workers, n_rounds):
    manifest = emulator_server.seed("large")
    reader = c.parallel_map_reader(contender, emulator_server.url, manifest, workers)
    try:
        _run(benchmark, reader, manifest, G_LARGE, contender, n_rounds, workers,
             srv=emulator_server)
    except Exception as exc:
        if "daemonic processes are not allowed to have children" not in str(exc):
            raise
        pytest.skip(f"{contender}.AISParallelMapDataset cannot run in a DataLoader worker: "
                    "the SDK's parallel reader starts a ProcessPoolExecutor, and DataLoader "
                    "workers are daemonic processes")


# --------------------------------------------------------------------------- memory scaling


@pytest.mark.parametrize("factor", [1, 8])
@pytest.mark.parametrize("contender", DATASETS + [c.WEBDATASET])
def test_shard_memory_scaling(benchmark, emulator_server, contender, factor, n_rounds):
    """Each round in a fresh process (``benchmarks.memprobe``): growth is the round's own."""
    from benchmarks.memprobe import ProbeSkipped, run_in_child

    manifest = emulator_server.seed("mem-s" if factor == 1 else "mem-8s")
    try:
        rounds = measure.run_rounds(
            benchmark, lambda: run_in_child(contender, emulator_server.url, manifest),
            n_rounds, G_MEM)
    except ProbeSkipped as exc:
        pytest.skip(str(exc))
    note = "fresh process per round; libraries imported before the round starts"
    if contender == c.WEBDATASET:
        note += "; WebDataset(urls), curl opener"
    measure.record(benchmark, corpus=manifest, group=G_MEM, contender=contender,
                   role=ROLE[contender], rounds=rounds, num_workers=0, note=note,
                   scale_factor=factor, shard_mib=manifest["total_bytes"] / measure.MiB)
