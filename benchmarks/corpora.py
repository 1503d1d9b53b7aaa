"""Seeded, deterministic benchmark corpora (sizes in ``FULL`` and ``QUICK``).

A corpus is a bucket name plus a list of ``(object name, bytes)``; the bytes of sample
``i`` depend only on ``(SEED, i)``, so the small objects, the shards and the memory-scaling
shards all carry the very same sample payloads. Builders run in the server process (see
``benchmarks.servers``); the benchmark process only ever sees a ``manifest`` (names,
sizes, sample counts)::

    corpus = build("shards", QUICK)
    corpus.manifest()["samples"]          # 1000
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

KiB = 1024
MiB = 1024 * KiB
SEED = 20_240_611
SAMPLE_SIZE = 16 * KiB


@dataclass(frozen=True)
class Sizes:
    """How big each corpus is; ``QUICK`` is about a tenth of ``FULL``."""

    samples: int  # small objects, and samples packed into the shards
    shards: int  # number of .tar shards holding those samples
    large_bytes: int  # the single large object
    server_objects: int  # 16 KiB objects GET one by one in the server benchmark
    mem_samples: int  # samples in the memory-scaling shard of size S (8S: 8x as many)


FULL = Sizes(samples=10_000, shards=64, large_bytes=256 * MiB, server_objects=2_000,
             mem_samples=1_024)
QUICK = Sizes(samples=1_000, shards=8, large_bytes=32 * MiB, server_objects=200,
              mem_samples=128)


def sizes(quick: bool) -> Sizes:
    return QUICK if quick else FULL


def sample_key(i: int) -> str:
    return f"sample-{i:06d}"


def sample_bin(i: int) -> bytes:
    """The 16 KiB payload of sample ``i`` (random bytes, fixed per index)."""
    return random.Random(SEED * 1_000_003 + i).randbytes(SAMPLE_SIZE)


def sample_cls(i: int) -> bytes:
    """The few-byte label of sample ``i``."""
    return b"%d" % (i % 1000)


def large_blob(nbytes: int) -> bytes:
    rng = random.Random(SEED + 7)
    chunk = MiB
    parts = [rng.randbytes(min(chunk, nbytes - off)) for off in range(0, nbytes, chunk)]
    return b"".join(parts)


def make_tar(members: list[tuple[str, bytes]]) -> bytes:
    """A plain (uncompressed, ustar) tar with fixed metadata: same members, same bytes
    (``ais_emulator.shards``, the public builder)."""
    from ais_emulator.shards import make_tar as build

    return build(members)


def shard_ranges(samples: int, shards: int) -> list[range]:
    """Split ``range(samples)`` into ``shards`` contiguous, near-equal ranges."""
    return [range(j * samples // shards, (j + 1) * samples // shards) for j in range(shards)]


@dataclass
class Corpus:
    name: str
    bucket: str
    samples: int
    objects: list[tuple[str, bytes]] = field(repr=False)
    meta: dict = field(default_factory=dict)

    def manifest(self, limit: int | None = None) -> dict:
        objs = self.objects if limit is None else self.objects[:limit]
        total = sum(len(data) for _, data in objs)
        samples = self.samples if limit is None else min(self.samples, limit)
        return {
            "name": self.name,
            "bucket": self.bucket,
            "samples": samples,
            "objects": [[name, len(data)] for name, data in objs],
            "total_bytes": total,
            "bytes_per_sample": total / samples if samples else 0.0,
            **self.meta,
        }


def _small(sz: Sizes) -> Corpus:
    objs = [(f"small/{sample_key(i)}.bin", sample_bin(i)) for i in range(sz.samples)]
    return Corpus("small-objects", "bench-small", sz.samples, objs,
                  {"object_size": SAMPLE_SIZE})


def _shards(sz: Sizes) -> Corpus:
    objs = []
    for j, rng in enumerate(shard_ranges(sz.samples, sz.shards)):
        members = []
        for i in rng:
            members.append((f"{sample_key(i)}.bin", sample_bin(i)))
            members.append((f"{sample_key(i)}.cls", sample_cls(i)))
        objs.append((f"shards/shard-{j:06d}.tar", make_tar(members)))
    return Corpus("shards", "bench-shards", sz.samples, objs,
                  {"shards": sz.shards, "extensions": ["bin", "cls"]})


def _multishard(sz: Sizes) -> Corpus:
    """Two matching shard sets: ``a/`` holds the .bin members, ``b/`` the .cls members."""
    objs = []
    ranges = shard_ranges(sz.samples, sz.shards)
    for prefix, ext, payload in (("a", "bin", sample_bin), ("b", "cls", sample_cls)):
        for j, rng in enumerate(ranges):
            members = [(f"{sample_key(i)}.{ext}", payload(i)) for i in rng]
            objs.append((f"{prefix}/shard-{j:06d}.tar", make_tar(members)))
    return Corpus("multishard", "bench-multishard", sz.samples, objs,
                  {"shards": sz.shards, "prefixes": ["a/", "b/"]})


def _large(sz: Sizes) -> Corpus:
    return Corpus("large-object", "bench-large", 1,
                  [("large/blob.bin", large_blob(sz.large_bytes))],
                  {"object_size": sz.large_bytes})


def _mem(sz: Sizes, factor: int) -> Corpus:
    n = sz.mem_samples * factor
    members = []
    for i in range(n):
        members.append((f"{sample_key(i)}.bin", sample_bin(i)))
        members.append((f"{sample_key(i)}.cls", sample_cls(i)))
    label = "S" if factor == 1 else f"{factor}S"
    return Corpus(f"shard-{label}", f"bench-mem-{label.lower()}", n,
                  [("shards/shard-000000.tar", make_tar(members))], {"factor": factor})


BUILDERS = {
    "small": _small,
    "shards": _shards,
    "multishard": _multishard,
    "large": _large,
    "mem-s": lambda sz: _mem(sz, 1),
    "mem-8s": lambda sz: _mem(sz, 8),
}


def build(name: str, sz: Sizes) -> Corpus:
    try:
        return BUILDERS[name](sz)
    except KeyError:
        raise KeyError(f"unknown corpus {name!r}; known: {sorted(BUILDERS)}") from None
