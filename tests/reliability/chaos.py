"""The chaos harness: every dataset class read through a real DataLoader while the
emulator injects faults, and what came out checked against what was stored.

Used by the chaos tier (``test_chaos.py``) and by the report that compares each run with a
clean one (``report.py``)::

    corpus = build_corpus(emulator, "chaos", scale=1)
    rules = install(emulator.faults, MIX, seed=1)
    outcome = run_case("AISShardReader", corpus, client, num_workers=2)
    outcome.exact                     # every sample once, right bytes
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aistore.sdk import Client, DataShard
from torch.utils.data import DataLoader

import ais_datasets as ds
from ais_emulator.shards import make_tar

# The mix: 5% 503s (back-off, no Retry-After), 2% resets mid-body, 2% truncated
# bodies, and some latency, on the data path (object GETs and HEADs, GetBatch).
DATA_OPS = "get|head|batch"
MIX = (
    ("503", {"probability": 0.05, "retry_after": "none"}),
    ("reset", {"after": "random", "probability": 0.02}),
    ("truncate", {"probability": 0.02}),
    ("latency", {"delay": 0.002, "probability": 0.2}),
)
# the chaos tier's corpora are small: the same kinds, more often, plus one certain
# mid-body reset per run so that no run goes without a cut body
TIER_MIX = (
    ("503", {"probability": 0.12, "retry_after": "none"}),
    ("reset", {"after": "random", "probability": 0.08}),
    ("truncate", {"probability": 0.08}),
    ("latency", {"delay": 0.002, "probability": 0.2}),
    ("reset", {"after": "random", "first": 1}),
)
# a slow network: latency on every request and a bandwidth cap on every body
SLOW_NETWORK = (
    ("latency", {"delay": 0.01}),
    ("slow", {"rate": 4 << 20}),
)

CASES = ("AISShardReader", "AISShardReader(use_batch=False)", "AISShardReader(readahead)",
         "AISMultiShardStream", "AISIterDataset", "AISIterDataset(use_batch=False)",
         "AISMapDataset[i]", "AISMapDataset.__getitems__", "DynamicBatchSampler",
         "AISParallelMapDataset", "AISBatchIterDataset")


def install(faults, mix: Iterable[tuple[str, dict]], seed: int, op: str = DATA_OPS,
            **common) -> list:
    """Add the rules of ``mix`` (each with ``seed``, ``op`` and ``common``, e.g. a
    ``bucket``); returns them."""
    return [faults.add(kind, op=op, seed=seed, **common, **kw) for kind, kw in mix]


def fired(rules) -> dict[str, int]:
    """Faults fired per kind (modifiers included)."""
    out: Counter = Counter()
    for rule in rules:
        out[str(rule.status) if rule.kind == "status" else rule.kind] += rule.fired
    return dict(out)


# -- corpus -------------------------------------------------------------------------------


def _payload(name: str, size: int) -> bytes:
    seed = f"<{name}>".encode()
    return (seed * (size // len(seed) + 1))[:size]


@dataclass
class Corpus:
    """What was stored: buckets, objects and the samples each class must deliver."""

    bucket: str
    objects: dict[str, bytes]  # objs/<name> -> bytes
    samples: dict[str, dict[str, bytes]]  # shard sample key -> fields
    shard_names: list[str]
    pairs: list[tuple[bytes, bytes]]  # AISMultiShardStream items (images, labels)
    big: dict[str, bytes] = field(default_factory=dict)  # big/<name>: parallel reads


def build_corpus(emu, bucket: str, scale: int = 1) -> Corpus:
    """Seed ``bucket`` (created here) in ``emu``; sizes vary so cuts land anywhere."""
    emu.create_bucket(bucket, exist_ok=True)
    objects, samples, shard_names, pairs, big = {}, {}, [], [], {}
    for i in range(24 * scale):
        name = f"objs/obj-{i:04d}.bin"
        objects[name] = _payload(name, 200 + zlib.crc32(name.encode()) % 6000)
        emu.put_object(bucket, name, objects[name])
    for s in range(6 * scale):
        members = []
        for j in range(8):
            key = f"s{s:03d}-{j:02d}"
            fields = {ext: _payload(f"{key}.{ext}", 100 + zlib.crc32(f"{key}{ext}".encode()) % 3000)
                      for ext in ("cls", "jpg")}
            samples[key] = fields
            members += [(f"{key}.{ext}", data) for ext, data in sorted(fields.items())]
        name = f"shards/shard-{s:03d}.tar"
        emu.put_object(bucket, name, make_tar(members))
        shard_names.append(name)
    for s in range(3 * scale):
        imgs = [(f"{s}-{i:02d}.jpg", _payload(f"img{s}/{i}", 300 + 97 * i)) for i in range(6)]
        lbls = [(f"{s}-{i:02d}.cls", _payload(f"lbl{s}/{i}", 20 + i)) for i in range(6)]
        emu.put_object(bucket, f"pairs/img/{s:03d}.tar", make_tar(imgs))
        emu.put_object(bucket, f"pairs/lbl/{s:03d}.tar", make_tar(lbls))
        pairs += [(a[1], b[1]) for a, b in zip(imgs, lbls, strict=True)]
    for i in range(3 * scale):
        name = f"big/blob-{i}.bin"
        big[name] = _payload(name, 150_000 + 7_777 * i)
        emu.put_object(bucket, name, big[name])
    return Corpus(bucket, objects, samples, shard_names, pairs, big)


# -- running a case -----------------------------------------------------------------------


@dataclass
class Outcome:
    case: str
    num_workers: int
    expected: int
    delivered: int
    duplicates: int
    missing: int
    wrong: int
    seconds: float
    error_stats: dict = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return self.delivered == self.expected and not (self.duplicates or self.missing
                                                        or self.wrong)


def _as_list(x):
    return list(x)


def _dataset(case: str, corpus: Corpus, client: Client, retry) -> tuple[Any, dict]:
    """The dataset of ``case`` and its DataLoader arguments."""
    bucket = client.bucket(corpus.bucket)
    kw: dict[str, Any] = {"batch_size": None}
    if case.startswith("AISShardReader"):
        extra = {"use_batch": False} if "use_batch=False" in case else \
            {"readahead_bytes": 64 << 10} if "readahead" in case else {}
        return ds.AISShardReader(bucket, prefix_map={bucket: "shards/"}, retry=retry,
                                 **extra), kw
    if case == "AISMultiShardStream":
        url = client._request_client.base_url.rsplit("/v1", 1)[0]  # noqa: SLF001
        return ds.AISMultiShardStream([DataShard(url, corpus.bucket, prefix="pairs/img/"),
                                       DataShard(url, corpus.bucket, prefix="pairs/lbl/")],
                                      retry=retry), kw
    if case.startswith("AISIterDataset"):
        return ds.AISIterDataset(bucket, prefix_map={bucket: "objs/"}, retry=retry,
                                 max_batch_size=8, use_batch="use_batch=False" not in case), kw
    if case == "AISBatchIterDataset":
        return ds.AISBatchIterDataset(bucket, client, prefix_map={bucket: "objs/"},
                                      max_batch_size=8, retry=retry), kw
    if case == "AISParallelMapDataset":
        return ds.AISParallelMapDataset(bucket, prefix_map={bucket: "big/"}, num_workers=4,
                                        chunk_size=32 << 10, retry=retry), kw
    dataset = ds.AISMapDataset(bucket, prefix_map={bucket: "objs/"}, retry=retry)
    if case == "AISMapDataset.__getitems__":
        return dataset, {"batch_size": 8, "collate_fn": _as_list}
    if case == "DynamicBatchSampler":
        sampler = ds.DynamicBatchSampler(dataset, max_batch_size=24_000)
        return dataset, {"batch_sampler": sampler, "collate_fn": _as_list}
    return dataset, kw  # AISMapDataset[i]: one GET per index


def expected_items(case: str, corpus: Corpus) -> Counter:
    """What ``case`` must deliver, as a multiset of (key, bytes) items."""
    if case.startswith("AISShardReader"):
        return Counter((k, _fields_key(f)) for k, f in corpus.samples.items())
    if case == "AISMultiShardStream":
        return Counter(corpus.pairs)
    if case == "AISParallelMapDataset":
        return Counter(corpus.big.items())
    return Counter(corpus.objects.items())


def _fields_key(fields: dict) -> tuple:
    return tuple(sorted((e, bytes(v)) for e, v in fields.items() if v != b""))


def _item(case: str, sample) -> tuple:
    if case.startswith("AISShardReader"):
        key, fields = sample
        return key, _fields_key(fields)
    if case == "AISMultiShardStream":
        return tuple(bytes(x) for x in sample)
    name, data = sample
    if case == "AISParallelMapDataset":
        with data:
            return name, data.tobytes()
    return name, bytes(data)


def compare(got: Counter, want: Counter, keyed: bool = True) -> tuple[int, int, int]:
    """(duplicates, missing, wrong) of delivered ``got`` against ``want``.

    Keyed items are ``(key, bytes)``: a key delivered again is a duplicate, a key never
    delivered is missing, an item whose bytes are not the stored ones is wrong. Unkeyed
    items are compared whole (a wrong item is also a missing one).
    """
    if keyed:
        keys = Counter(key for key, _ in got.elements())
        duplicates = sum(c - 1 for c in keys.values() if c > 1)
        missing = len({key for key, _ in want} - set(keys))
        wrong = sum(c for item, c in got.items() if item not in want)
        return duplicates, missing, wrong
    duplicates = sum(max(0, got[x] - want[x]) for x in want)
    missing = sum(max(0, want[x] - got[x]) for x in want)
    wrong = sum(c for x, c in got.items() if x not in want)
    return duplicates, missing, wrong


def run_case(case: str, corpus: Corpus, client: Client, num_workers: int = 0,
             retry=None, mp_context: str | None = None,
             on_dataset: Callable[[Any], None] | None = None) -> Outcome:
    """Read ``case`` once through a DataLoader and compare with the corpus."""
    dataset, kw = _dataset(case, corpus, client, retry)
    if num_workers:
        kw.update(num_workers=num_workers, multiprocessing_context=mp_context)
    loader = DataLoader(dataset, **kw)
    got: Counter = Counter()
    t0 = time.monotonic()
    for out in loader:
        batch = out if kw.get("collate_fn") is _as_list else [out]
        for sample in batch:
            got[_item(case, sample)] += 1
    seconds = time.monotonic() - t0
    if on_dataset is not None:
        on_dataset(dataset)
    want = expected_items(case, corpus)
    duplicates, missing, wrong = compare(got, want, keyed=case != "AISMultiShardStream")
    stats = getattr(dataset, "error_stats", {}) if hasattr(type(dataset), "error_stats") \
        else {}
    return Outcome(case, num_workers, sum(want.values()), sum(got.values()), duplicates,
                   missing, wrong, seconds, stats)
