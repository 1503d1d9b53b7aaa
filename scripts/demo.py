"""The main job, end to end: write a WebDataset corpus into AIStore, read it back with
``AISShardReader`` through a two-worker ``DataLoader``, report samples/s and check that every
sample arrived exactly once.

With no ``AIS_ENDPOINT`` (and no ``--endpoint``) it starts ``ais-emulator serve`` on a free
loopback port and uses that; otherwise it runs against the given cluster.

    python scripts/demo.py                        # embedded emulator
    AIS_ENDPOINT=http://127.0.0.1:51180 python scripts/demo.py --bucket my-demo
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
from collections import Counter
from contextlib import contextmanager

import torch
from aistore.sdk import Client
from torch.utils.data import DataLoader
from tqdm import tqdm

from ais_datasets import AISShardReader


def _parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint", default=os.environ.get("AIS_ENDPOINT", ""),
                   help="AIStore endpoint (default: $AIS_ENDPOINT, else an embedded emulator)")
    p.add_argument("--bucket", default="ais-datasets-demo", help="bucket to write the corpus into")
    p.add_argument("--shards", type=int, default=16)
    p.add_argument("--samples-per-shard", type=int, default=128)
    p.add_argument("--sample-size", type=int, default=16 * 1024, help="bytes per .bin member")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--start-method", default="fork", choices=["fork", "spawn", "forkserver"])
    p.add_argument("--keep", action="store_true", help="keep the bucket afterwards")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


@contextmanager
def _embedded_emulator():
    """Run ``python -m ais_emulator serve --port 0`` and yield its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ais_emulator", "serve", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.search(r"https?://[\w.\-]+:\d+", line)
            if m:
                url = m.group(0)
                break
        if url is None:
            raise SystemExit("demo: the emulator did not start (no URL printed within 30 s)")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _sample_bytes(shard: int, idx: int, size: int) -> bytes:
    seed = hashlib.sha256(f"{shard}/{idx}".encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def _write_corpus(bucket, args) -> dict[str, str]:
    """Write the shards; return {sample key: sha256 of its .bin}."""
    expected = {}
    for s in range(args.shards):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for i in range(args.samples_per_shard):
                key = f"s{s:04d}/{i:06d}"
                data = _sample_bytes(s, i, args.sample_size)
                label = str((s * 7 + i) % 10).encode()
                for ext, payload in (("bin", data), ("cls", label)):
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size = len(payload)
                    info.mtime = 0
                    tar.addfile(info, io.BytesIO(payload))
                expected[key] = hashlib.sha256(data).hexdigest()
        bucket.object(f"shard-{s:05d}.tar").get_writer().put_content(buf.getvalue())
    return expected


def run(args) -> int:
    client = Client(args.endpoint)
    bucket = client.bucket(args.bucket)
    bucket.create(exist_ok=True)
    try:
        t0 = time.perf_counter()
        expected = _write_corpus(bucket, args)
        print(f"wrote {len(expected)} samples in {args.shards} shards to ais://{args.bucket} "
              f"({time.perf_counter() - t0:.2f}s)")

        # Per-worker bars come from the dataset (drawn when stderr is a terminal); without a
        # terminal one overall bar in this process shows progress instead.
        tty = sys.stderr.isatty()
        dataset = AISShardReader(bucket, show_progress=not args.no_progress and tty)
        loader = DataLoader(
            dataset, batch_size=None, num_workers=args.workers,
            multiprocessing_context=args.start_method if args.workers else None,
        )
        seen = Counter()
        bad = []
        nbytes = 0
        t0 = time.perf_counter()
        first = None
        bar = tqdm(loader, total=len(expected), desc="samples", unit="sample",
                   disable=args.no_progress or tty, mininterval=0.5)
        for key, fields in bar:
            if first is None:
                first = time.perf_counter() - t0
            seen[key] += 1
            data = fields["bin"]
            nbytes += len(data)
            if hashlib.sha256(bytes(data)).hexdigest() != expected.get(key):
                bad.append(key)
        elapsed = time.perf_counter() - t0
    finally:
        if not args.keep:
            bucket.delete(missing_ok=True)

    n = sum(seen.values())
    dupes = [k for k, c in seen.items() if c > 1]
    missing = set(expected) - set(seen)
    print(f"read {n} samples with {args.workers} workers ({args.start_method}) in {elapsed:.2f}s: "
          f"{n / elapsed:,.0f} samples/s, {nbytes / elapsed / 2**20:,.1f} MiB/s, "
          f"first sample after {first or 0:.3f}s")
    ok = not dupes and not missing and not bad and n == len(expected)
    print(f"exactly once: {'OK' if ok else 'FAILED'} ({len(seen)}/{len(expected)} distinct, "
          f"{len(dupes)} duplicated, {len(missing)} missing, {len(bad)} with wrong bytes)")
    return 0 if ok else 1


def main(argv=None) -> int:
    args = _parse_args(argv)
    torch.set_num_threads(1)
    if args.endpoint:
        print(f"using the cluster at {args.endpoint}")
        return run(args)
    with _embedded_emulator() as url:
        print(f"started the embedded emulator at {url}")
        args.endpoint = url
        return run(args)


if __name__ == "__main__":
    sys.exit(main())
