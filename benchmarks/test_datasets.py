"""Dataset contenders on the benchmark corpora, all from the session's EmulatorServer.

Per corpus: ``ais_datasets`` (ours) vs ``aistore.pytorch`` (upstream, the baseline) with
``num_workers`` 0 and 2 (DataLoader, ``batch_size=None`` unless stated), plus the raw-GET
limit, and ``webdataset`` on the shards. Memory scaling: AISShardReader's peak RSS on one
shard of size S and one of 8S, in a fresh loading process per round (``num_workers=0``).

Upstream's AISMultiShardStream issues one GET per member per source; it reads only its
first ``cap`` samples and its rates are computed on what it read (``capped_at``).
"""

from __future__ import annotations

import pytest

from benchmarks import contenders as c
from benchmarks import measure

pytestmark = pytest.mark.timeout(3600)

WORKERS = [0, 2]
DATASETS = [c.OURS, c.UPSTREAM]
ROLE = {c.OURS: measure.OURS, c.UPSTREAM: measure.BASELINE, c.WEBDATASET: measure.OTHER,
        c.LIMIT: measure.LIMIT}

G_ITER = "small-objects/AISIterDataset"
G_MAP = "small-objects/AISMapDataset.__getitems__(64)"
G_SHARDS = "shards/AISShardReader"
G_MULTI = "multishard/AISMultiShardStream"
G_LARGE = "large-object/AISParallelMapDataset"
G_MEM = "memory-scaling/AISShardReader S vs 8S"


def _run(benchmark, reader: c.Reader, manifest: dict, group: str, contender: str,
         n_rounds: int, num_workers: int | None, **extra) -> dict:
    rounds = measure.run_rounds(
        benchmark,
        lambda: measure.consume(reader.make, reader.key_of, reader.size_of, cap=reader.cap,
                                weight_of=reader.weight_of, release=reader.release),
        n_rounds, group)
    return measure.record(benchmark, corpus=manifest, group=group, contender=contender,
                          role=ROLE[contender], rounds=rounds, num_workers=num_workers,
                          cap=reader.cap, note=reader.note, **extra)


def _limit(benchmark, srv, corpus: str, group: str, n_rounds: int) -> None:
    manifest = srv.seed(corpus)
    _run(benchmark, c.limit_reader(srv.url, manifest), manifest, group, c.LIMIT, n_rounds,
         None)


# --------------------------------------------------------------------------- small objects


def test_small_objects_iter_limit(benchmark, emulator_server, n_rounds):
    _limit(benchmark, emulator_server, "small", G_ITER, n_rounds)


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("contender", DATASETS)
def test_small_objects_iter(benchmark, emulator_server, contender, workers, n_rounds):
    manifest = emulator_server.seed("small")
    reader = c.iter_reader(contender, emulator_server.url, manifest, workers)
    _run(benchmark, reader, manifest, G_ITER, contender, n_rounds, workers)


def test_small_objects_map_limit(benchmark, emulator_server, n_rounds):
    _limit(benchmark, emulator_server, "small", G_MAP, n_rounds)


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("contender", DATASETS)
def test_small_objects_map_getitems(benchmark, emulator_server, contender, workers, n_rounds):
    manifest = emulator_server.seed("small")
    reader = c.map_batch_reader(contender, emulator_server.url, manifest, workers, batch=64)
    _run(benchmark, reader, manifest, G_MAP, contender, n_rounds, workers, batch_size=64)


# --------------------------------------------------------------------------- shards


def test_shards_limit(benchmark, emulator_server, n_rounds):
    _limit(benchmark, emulator_server, "shards", G_SHARDS, n_rounds)


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("contender", DATASETS + [c.WEBDATASET])
def test_shards(benchmark, emulator_server, contender, workers, n_rounds):
    manifest = emulator_server.seed("shards")
    reader = c.shard_reader_any(contender, emulator_server.url, manifest, workers)
    _run(benchmark, reader, manifest, G_SHARDS, contender, n_rounds, workers)


def test_multishard_limit(benchmark, emulator_server, n_rounds):
    _limit(benchmark, emulator_server, "multishard", G_MULTI, n_rounds)


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("contender", DATASETS)
def test_multishard(benchmark, emulator_server, contender, workers, n_rounds, sizes):
    manifest = emulator_server.seed("multishard")
    cap = None
    if contender == c.UPSTREAM:
        cap = max(100, sizes.samples // 10)  # one GET per member per source
    reader = c.multishard_reader(contender, emulator_server.url, manifest, workers, cap=cap)
    if cap is not None:
        reader.note = f"first {cap} samples only (one GET per member per source)"
    _run(benchmark, reader, manifest, G_MULTI, contender, n_rounds, workers)


# --------------------------------------------------------------------------- large object


def test_large_object_limit(benchmark, emulator_server, n_rounds):
    _limit(benchmark, emulator_server, "large", G_LARGE, n_rounds)


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("contender", DATASETS)
def test_large_object(benchmark, emulator_server, contender, workers, n_rounds):
    manifest = emulator_server.seed("large")
    reader = c.parallel_map_reader(contender, emulator_server.url, manifest, workers)
    try:
        _run(benchmark, reader, manifest, G_LARGE, contender, n_rounds, workers)
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
