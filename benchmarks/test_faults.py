"""Shard paths under injected faults, each round paired with a clean round just before it.

Per shard path (AISShardReader from GetBatch replies, from its own GETs, with
read-ahead; AISMultiShardStream) and ``num_workers`` 0 and 2, two fault conditions on the
``shards``/``multishard`` corpora, installed over REST on the session's EmulatorServer
(its own process) for the faulted round only:

* ``cuts``: 2% of data replies reset at a seeded point of the body and 2% truncated:
  faults that need no back-off, a Range resume at once (target: 0.85x the clean rate);
* ``503``: 5% of data requests answered 503 without ``Retry-After``, with the default
  retry policy (its back-off is the right answer to a 503: reported, no target).

``extra_info``: ``fault_group``, ``condition``, ``samples_per_s`` (faulted), the paired
median ``ratio_vs_clean`` (and range), the faults fired, and ``exact`` (every sample once).
The rows stay out of the generated report's dataset tables (no ``group`` key); run::

    .venv/bin/python -m pytest benchmarks/test_faults.py -p no:cacheprovider --benchmark-only \\
        --benchmark-json=bench-results/faults.json
"""

from __future__ import annotations

import statistics

import pytest
import requests

from benchmarks import contenders as c
from benchmarks import measure

pytestmark = pytest.mark.timeout(3600)

WORKERS = [0, 2]
OPS = "get|head|batch"
CONDITIONS = {
    "cuts": [{"kind": "reset", "after": "random", "probability": 0.02},
             {"kind": "truncate", "probability": 0.02}],
    "503": [{"kind": "503", "probability": 0.05, "retry_after": "none"}],
}
PATHS = {
    "AISShardReader (GetBatch)": ("shards", {}),
    "AISShardReader (own GETs)": ("shards", {"use_batch": False}),
    "AISShardReader (read-ahead)": ("shards", {"readahead_bytes": 8 << 20}),
    "AISMultiShardStream": ("multishard", {}),
}


def _reader(path: str, srv, manifest: dict, workers: int) -> c.Reader:
    corpus, kwargs = PATHS[path]
    if corpus == "multishard":
        return c.multishard_reader(c.OURS, srv.url, manifest, workers)
    cls = c.dataset_class(c.OURS, "AISShardReader")

    def make():
        return c._loader(cls(c._bucket(srv.url, manifest["bucket"]), **kwargs), workers)

    return c.Reader(make, c._first, lambda s: c.nbytes(s[1]))


class _Faults:
    """The condition's rules on the server, over REST, for one round at a time."""

    def __init__(self, url: str, bucket: str, condition: str) -> None:
        self.base = f"{url}/v1/__emulator__/faults"
        self.bucket, self.condition = bucket, condition
        self.round = 0
        self.fired = 0

    def install(self) -> None:
        self.round += 1
        rules = [{"op": OPS, "bucket": self.bucket, "seed": self.round, **rule}
                 for rule in CONDITIONS[self.condition]]
        requests.post(self.base, json=rules, timeout=10).raise_for_status()

    def clear(self) -> None:
        rules = requests.get(self.base, timeout=10).json()["rules"]
        self.fired += sum(r["fired"] for r in rules)
        requests.delete(self.base, timeout=10).raise_for_status()


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("condition", list(CONDITIONS))
@pytest.mark.parametrize("path", list(PATHS))
def test_shard_path_under_faults(benchmark, emulator_server, path, condition, workers,
                                 n_rounds):
    manifest = emulator_server.seed(PATHS[path][0])
    reader = _reader(path, emulator_server, manifest, workers)
    faults = _Faults(emulator_server.url, manifest["bucket"], condition)

    def consume() -> measure.Round:
        return measure.consume(reader.make, reader.key_of, reader.size_of,
                               weight_of=reader.weight_of)

    def faulted() -> measure.Round:
        faults.install()
        try:
            return consume()
        finally:
            faults.clear()

    clean: list[measure.Round] = []
    rounds = measure.run_rounds(benchmark, faulted, n_rounds, f"faults/{path}",
                                before=consume, paired=clean)
    ratios = [r.samples / r.seconds / (ref.samples / ref.seconds)
              for r, ref in zip(rounds, clean, strict=True) if r.seconds and ref.seconds]
    expected = manifest["samples"]
    info = {
        "fault_group": f"faults/{path}",
        "condition": condition,
        "contender": c.OURS,
        "num_workers": workers,
        "rounds": len(rounds),
        "samples_per_s": statistics.median(r.samples / r.seconds for r in rounds),
        "clean_samples_per_s": statistics.median(r.samples / r.seconds for r in clean),
        "ratio_vs_clean": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "faults_fired": faults.fired,
        "exact": all(r.samples == expected and r.yielded == expected for r in rounds),
    }
    benchmark.extra_info.update(info)
    print(f"\n{path} [{condition}, workers={workers}]: {info['samples_per_s']:.0f} samples/s, "
          f"{info['ratio_vs_clean']:.2f}x clean ({info['ratio_min']:.2f}-"
          f"{info['ratio_max']:.2f}), {faults.fired} faults fired, exact={info['exact']}")
    assert info["exact"], "a faulted round did not deliver every sample exactly once"


CHECKED = {
    "AISShardReader (own GETs)": "shards",
    "AISShardReader (read-ahead)": "shards",
    "AISIterDataset (plain GETs)": "small",
}


def _checked_reader(path: str, srv, manifest: dict, workers: int, verify: bool) -> c.Reader:
    bucket = lambda: c._bucket(srv.url, manifest["bucket"])  # noqa: E731
    if path.startswith("AISIterDataset"):
        cls = c.dataset_class(c.OURS, "AISIterDataset")

        def make():
            return c._loader(cls(bucket(), use_batch=False, verify_checksum=verify), workers)

        return c.Reader(make, c._first, lambda s: c.nbytes(s[1]))
    cls = c.dataset_class(c.OURS, "AISShardReader")
    kwargs = {"use_batch": False} if "own GETs" in path else {"readahead_bytes": 8 << 20}

    def make():
        return c._loader(cls(bucket(), verify_checksum=verify, **kwargs), workers)

    return c.Reader(make, c._first, lambda s: c.nbytes(s[1]))


@pytest.mark.parametrize("workers", [0])
@pytest.mark.parametrize("path", list(CHECKED))
def test_checksum_cost(benchmark, emulator_server, path, workers, n_rounds):
    """Samples/s with ``verify_checksum=True`` over the same path with it off, paired."""
    manifest = emulator_server.seed(CHECKED[path])
    on = _checked_reader(path, emulator_server, manifest, workers, True)
    off = _checked_reader(path, emulator_server, manifest, workers, False)

    def consume(reader):
        return lambda: measure.consume(reader.make, reader.key_of, reader.size_of)

    refs: list[measure.Round] = []
    rounds = measure.run_rounds(benchmark, consume(on), max(n_rounds, 3),
                                f"checksum/{path}", before=consume(off), paired=refs)
    ratios = [r.samples / r.seconds / (ref.samples / ref.seconds)
              for r, ref in zip(rounds, refs, strict=True) if r.seconds and ref.seconds]
    info = {"fault_group": f"checksum/{path}", "num_workers": workers,
            "samples_per_s": statistics.median(r.samples / r.seconds for r in rounds),
            "unchecked_samples_per_s": statistics.median(r.samples / r.seconds for r in refs),
            "ratio_vs_unchecked": statistics.median(ratios), "ratio_min": min(ratios),
            "ratio_max": max(ratios)}
    benchmark.extra_info.update(info)
    print(f"\n{path} [checksum on, workers={workers}]: {info['samples_per_s']:.0f} samples/s, "
          f"{info['ratio_vs_unchecked']:.2f}x unchecked ({info['ratio_min']:.2f}-"
          f"{info['ratio_max']:.2f})")
