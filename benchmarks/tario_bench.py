"""Throughput of the tar parser alone, on in-memory shards (no network, no DataLoader).

Run from the repository root::

    python -m benchmarks.tario_bench                 # 64 MiB per case, 1 MiB chunks
    python -m benchmarks.tario_bench --mib 16 --chunk 65536

Each case is a WebDataset-style shard of samples ``<key>.bin`` (the member size of the
case, random bytes) plus ``<key>.cls`` (a few bytes), cut into chunks the way a stream
delivers it. ``members`` iterates :class:`~ais_datasets.tario.TarStream` (one ``bytes``
per member), ``samples`` groups them with :func:`~ais_datasets.tario.iter_samples`.
Rates count the whole archive (headers and padding included); best of ``--rounds``.
``AIS_DATASETS_PURE_PYTHON=1`` measures the pure-Python parser.
"""

from __future__ import annotations

import argparse
import io
import random
import tarfile
import time
from typing import Optional

from ais_datasets.tario import BLOCK, READ_SIZE, TarStream, iter_samples


def make_shard(member_size: int, mib: float) -> tuple[bytes, int]:
    """A ustar shard of about ``mib`` MiB; returns (bytes, number of samples)."""
    rng = random.Random(member_size)
    n = max(1, int(mib * 2**20) // (member_size + 3 * BLOCK))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for i in range(n):
            for ext, data in (("bin", rng.randbytes(member_size)), ("cls", b"%d" % i)):
                info = tarfile.TarInfo(f"sample-{i:07d}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue(), n


def _best(run, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tario_bench",
                                     description=__doc__.split("::")[0])
    parser.add_argument("--mib", type=float, default=64.0, help="shard size per case")
    parser.add_argument("--chunk", type=int, default=READ_SIZE, help="chunk size (bytes)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    print("parser:", "compiled fast path (ais_datasets._tarscan)" if TarStream(()).compiled
          else "pure Python")
    print(f"{'case':<30}{'MiB/s':>9}{'samples/s':>12}{'us/sample':>11}")
    for member_size in (1024, 16 * 1024, 256 * 1024):
        data, n = make_shard(member_size, args.mib)
        chunks = [data[i:i + args.chunk] for i in range(0, len(data), args.chunk)]
        cases = (("members", lambda c=chunks: sum(1 for _ in TarStream(c))),
                 ("samples", lambda c=chunks: sum(1 for _ in iter_samples(TarStream(c)))))
        for label, run in cases:
            seconds = _best(run, args.rounds)
            case = f"{label}, {member_size // 1024} KiB + label"
            print(f"{case:<30}{len(data) / seconds / 2**20:>9.0f}{n / seconds:>12.0f}"
                  f"{seconds / n * 1e6:>11.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
