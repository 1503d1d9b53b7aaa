"""Dataset contenders on the benchmark corpora, all from the same data server.

The data server is the session's EmulatorServer, or with ``--bench-live URL`` a real
AIStore (``make bench-live``). Per corpus: ``ais_datasets`` (ours) vs ``aistore.pytorch``
(upstream, the baseline) with ``num_workers`` 0 and 2 (DataLoader, ``batch_size=None``
unless stated), and ``webdataset`` on the shards. Memory scaling: AISShardReader's peak
RSS on one shard of size S and one of 8S, in a fresh loading process per round.

Upstream's AISMultiShardStream issues one GET per member per source; it reads only its
first ``cap`` samples and its rates are computed on what it read (``capped_at``).

Two ceilings (:mod:`benchmarks.ceilings`). Every dataset round is paired with a pass of
its *request ceiling* run just before it, outside the timed part: the contender's own
requests (captured once from a ``num_workers=0`` pass) replayed by a lean ``http.client``
reader into a reused buffer, bytes dropped, in as many processes as the contender has
workers; ``× ceiling`` is the median of the per-round ratios, so a drift of the machine
between tests does not move it. The *DataLoader ceiling* rows run the same DataLoader
settings over samples of the same shape generated inside each worker. The shard groups
also run with ``batch_size=64`` (the DataLoader collates, and workers hand over one batch
instead of one sample at a time).
"""

from __future__ import annotations

import gc
import time

import pytest

from benchmarks import ceilings, measure
from benchmarks import contenders as c
from benchmarks.corpora import SAMPLE_SIZE

pytestmark = pytest.mark.timeout(3600)

WORKERS = [0, 2]
DATASETS = [c.OURS, c.UPSTREAM]
ROLE = {c.OURS: measure.OURS, c.UPSTREAM: measure.BASELINE, c.WEBDATASET: measure.OTHER,
        c.DL_CEILING: measure.DL_CEILING}
BATCH = 64

G_ITER = "small-objects/AISIterDataset"
G_MAP = "small-objects/AISMapDataset.__getitems__(64)"
G_SHARDS = "shards/AISShardReader"
G_MULTI = "multishard/AISMultiShardStream"
G_LARGE = "large-object/AISParallelMapDataset"
G_MEM = "memory-scaling/AISShardReader S vs 8S"

# a contender's requests, captured once per (group, contender, server)
_CAPTURED: dict[tuple, list] = {}


def _consume(reader: c.Reader) -> measure.Round:
    return measure.consume(reader.make, reader.key_of, reader.size_of, cap=reader.cap,
                           weight_of=reader.weight_of, release=reader.release)


def _requests(key: tuple, reader0: c.Reader) -> list:
    """What the contender sends: ``reader0`` (the same contender with ``num_workers=0``)
    drained once with its requests recorded, or its declared ``requests``."""
    if key not in _CAPTURED:
        if reader0.requests is not None:
            _CAPTURED[key] = reader0.requests()
        else:
            _CAPTURED[key] = ceilings.capture(reader0.make, cap=reader0.cap)
    return _CAPTURED[key]


def _run(benchmark, srv, reader: c.Reader, reader0: c.Reader, manifest: dict, group: str,
         contender: str, n_rounds: int, num_workers: int, **extra) -> dict:
    """``n_rounds`` of ``reader``, each paired with a pass of its request ceiling."""
    reqs = _requests((group, contender, srv.url), reader0)
    threads, processes = ceilings.threads_of(reqs), max(1, num_workers)
    samples = reader.cap_samples or manifest["samples"]

    def ceiling_round() -> measure.Round:
        gc.collect()
        t0 = time.perf_counter()
        got = ceilings.replay(reqs, processes, threads)
        return measure.Round(time.perf_counter() - t0, samples, len(reqs), got, None)

    refs: list[measure.Round] = []
    rounds = measure.run_rounds(benchmark, lambda: _consume(reader), n_rounds, group,
                                before=ceiling_round, paired=refs)
    extra.update(measure.paired_ratios(rounds, refs))
    return measure.record(
        benchmark, corpus=manifest, group=group, contender=contender, role=ROLE[contender],
        rounds=rounds, num_workers=num_workers, cap=reader.cap_samples, note=reader.note,
        ceiling_pattern=ceilings.pattern(reqs), ceiling_threads=threads,
        ceiling_processes=processes, **extra)


def _dl_ceiling(benchmark, manifest: dict, group: str, n_rounds: int, workers: int,
                like: c.Reader, shape: ceilings.Shape, batch_size: int | None = None) -> None:
    """The DataLoader ceiling: samples of ``shape`` generated inside each worker."""
    reader = c.dl_ceiling_reader(shape, like, workers, batch_size=batch_size)
    rounds = measure.run_rounds(benchmark, lambda: _consume(reader), n_rounds, group)
    measure.record(benchmark, corpus=manifest, group=group, contender=c.DL_CEILING,
                   role=measure.DL_CEILING, rounds=rounds, num_workers=workers,
                   note=reader.note, **_batch_info(batch_size))


BATCHES = [None, BATCH]


def _group(group: str, batch: int | None) -> str:
    return group if batch is None else f"{group}, batch_size={batch}"


def _batch_info(batch: int | None) -> dict:
    return {"batch_size": batch} if batch else {}


def _shape(kind: str, manifest: dict) -> ceilings.Shape:
    return ceilings.Shape(kind, manifest["samples"], SAMPLE_SIZE)


# --------------------------------------------------------------------------- small objects


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("contender", DATASETS)
def test_small_objects_iter(benchmark, data_server, contender, workers, n_rounds):
    manifest = data_server.seed("small")
    reader = c.iter_reader(contender, data_server.url, manifest, workers)
    reader0 = c.iter_reader(contender, data_server.url, manifest, 0)
    _run(benchmark, data_server, reader, reader0, manifest, G_ITER, contender, n_rounds,
         workers)


@pytest.mark.parametrize("workers", WORKERS)
def test_small_objects_iter_dl_ceiling(benchmark, data_server, workers, n_rounds):
    manifest = data_server.seed("small")
    like = c.iter_reader(c.OURS, data_server.url, manifest, workers)
    _dl_ceiling(benchmark, manifest, G_ITER, n_rounds, workers, like,
                _shape("object", manifest))


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("contender", DATASETS)
def test_small_objects_map_getitems(benchmark, data_server, contender, workers, n_rounds):
    manifest = data_server.seed("small")
    reader = c.map_batch_reader(contender, data_server.url, manifest, workers, batch=64)
    reader0 = c.map_batch_reader(contender, data_server.url, manifest, 0, batch=64)
    _run(benchmark, data_server, reader, reader0, manifest, G_MAP, contender, n_rounds,
         workers, batch_size=64)


# --------------------------------------------------------------------------- shards


def _shard_contender(contender: str, url: str, manifest: dict, workers: int,
                     batch: int | None) -> c.Reader:
    if contender == c.WEBDATASET:
        return c.webdataset_reader(url, manifest, workers)
    return c.shard_reader(contender, url, manifest, workers, batch_size=batch)


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize(("contender", "batch"),
                         [(x, None) for x in DATASETS + [c.WEBDATASET]]
                         + [(x, BATCH) for x in DATASETS])
def test_shards(benchmark, data_server, contender, batch, workers, n_rounds):
    manifest = data_server.seed("shards")
    reader = _shard_contender(contender, data_server.url, manifest, workers, batch)
    reader0 = _shard_contender(contender, data_server.url, manifest, 0, batch)
    _run(benchmark, data_server, reader, reader0, manifest, _group(G_SHARDS, batch),
         contender, n_rounds, workers, **_batch_info(batch))


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("batch", BATCHES)
def test_shards_dl_ceiling(benchmark, data_server, batch, workers, n_rounds):
    manifest = data_server.seed("shards")
    like = c.shard_reader(c.OURS, data_server.url, manifest, workers, batch_size=batch)
    _dl_ceiling(benchmark, manifest, _group(G_SHARDS, batch), n_rounds, workers, like,
                _shape("sample", manifest), batch_size=batch)


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("contender", DATASETS)
@pytest.mark.parametrize("batch", BATCHES)
def test_multishard(benchmark, data_server, batch, contender, workers, n_rounds, sizes):
    manifest = data_server.seed("multishard")
    cap = None
    if contender == c.UPSTREAM:
        cap = max(100, sizes.samples // 10)  # one GET per member per source

    def reader_for(w: int) -> c.Reader:
        r = c.multishard_reader(contender, data_server.url, manifest, w, cap=cap,
                                batch_size=batch)
        if cap is not None:
            r.note = "upstream sends one GET per member per source"
        return r

    _run(benchmark, data_server, reader_for(workers), reader_for(0), manifest,
         _group(G_MULTI, batch), contender, n_rounds, workers, **_batch_info(batch))


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("batch", BATCHES)
def test_multishard_dl_ceiling(benchmark, data_server, batch, workers, n_rounds):
    manifest = data_server.seed("multishard")
    like = c.multishard_reader(c.OURS, data_server.url, manifest, workers, batch_size=batch)
    _dl_ceiling(benchmark, manifest, _group(G_MULTI, batch), n_rounds, workers, like,
                _shape("pair", manifest), batch_size=batch)


# --------------------------------------------------------------------------- large object


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("contender", DATASETS)
def test_large_object(benchmark, data_server, contender, workers, n_rounds):
    manifest = data_server.seed("large")
    reader = c.parallel_map_reader(contender, data_server.url, manifest, workers)
    reader0 = c.parallel_map_reader(contender, data_server.url, manifest, 0)
    try:
        _run(benchmark, data_server, reader, reader0, manifest, G_LARGE, contender,
             n_rounds, workers)
    except Exception as exc:
        if "daemonic processes are not allowed to have children" not in str(exc):
            raise
        pytest.skip(f"{contender}.AISParallelMapDataset cannot run in a DataLoader worker: "
                    "the SDK's parallel reader starts a ProcessPoolExecutor, and DataLoader "
                    "workers are daemonic processes")


# --------------------------------------------------------------------------- memory scaling


@pytest.mark.parametrize("factor", [1, 8])
@pytest.mark.parametrize("contender", DATASETS + [c.WEBDATASET])
def test_shard_memory_scaling(benchmark, data_server, contender, factor, n_rounds):
    """Each round in a fresh process (``benchmarks.memprobe``): growth is the round's own."""
    from benchmarks.memprobe import ProbeSkipped, run_in_child

    manifest = data_server.seed("mem-s" if factor == 1 else "mem-8s")
    try:
        rounds = measure.run_rounds(
            benchmark, lambda: run_in_child(contender, data_server.url, manifest),
            n_rounds, G_MEM)
    except ProbeSkipped as exc:
        pytest.skip(str(exc))
    note = "fresh process per round; libraries imported before the round starts"
    if contender == c.WEBDATASET:
        note += "; WebDataset(urls), curl opener"
    measure.record(benchmark, corpus=manifest, group=G_MEM, contender=contender,
                   role=ROLE[contender], rounds=rounds, num_workers=0, note=note,
                   scale_factor=factor, shard_mib=manifest["total_bytes"] / measure.MiB)
