"""The main job, end to end: write a WebDataset corpus into AIStore, read it back with
AISShardReader through a DataLoader with two worker processes, report samples/s and
check that every sample arrived exactly once, with the right bytes.

Without --endpoint (and without AIS_ENDPOINT) it starts `ais-emulator serve` on a free
loopback port and runs there. Against a real cluster it only ever touches what it wrote:

  * without --bucket it creates a fresh bucket (ais-datasets-demo-<random>) and removes
    it at the end;
  * with --bucket NAME it uses NAME if it is missing (created, then removed) or empty;
    a bucket that already holds objects is refused unless --allow-nonempty-bucket is
    given, and even then the demo writes under its own unique prefix, reads only that
    prefix, and removes only the objects it wrote;
  * --keep leaves what it wrote in place.

examples:
  python scripts/demo.py                                    # embedded emulator
  AIS_ENDPOINT=http://127.0.0.1:51180 python scripts/demo.py
  python scripts/demo.py --endpoint http://aistore:8080 --bucket scratch --keep
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
import uuid
from collections import Counter
from contextlib import contextmanager

import torch
from aistore.sdk import Client
from aistore.sdk.errors import AISError, ErrBckAlreadyExists, ErrObjNotFound
from torch.utils.data import DataLoader
from tqdm import tqdm

from ais_datasets import AISShardReader

EMBEDDED_BUCKET = "ais-datasets-demo"


class Refused(Exception):
    """The demo would have to touch data it did not create: it stops before writing."""

    exit_status = 2


def _parse_args(argv):
    p = argparse.ArgumentParser(
        prog="demo.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", metavar="URL", default=os.environ.get("AIS_ENDPOINT", "").strip(),
                   help="AIStore endpoint (default: $AIS_ENDPOINT; unset: an embedded "
                        "emulator)")
    p.add_argument("--bucket", metavar="NAME", default=None,
                   help="ais bucket to use: missing or empty, or see "
                        "--allow-nonempty-bucket (default: a fresh bucket of the demo's own)")
    p.add_argument("--allow-nonempty-bucket", action="store_true",
                   help="use a --bucket that already holds objects: the demo writes under "
                        "its own unique prefix there and never reads, overwrites or "
                        "deletes the objects it finds")
    p.add_argument("--shards", metavar="N", type=int, default=16, help="number of tar shards (default 16)")
    p.add_argument("--samples-per-shard", metavar="N", type=int, default=128,
                   help="samples per shard (default 128)")
    p.add_argument("--sample-size", metavar="BYTES", type=int, default=16 * 1024,
                   help="bytes of each sample's .bin member (default 16384)")
    p.add_argument("--workers", metavar="N", type=int, default=2,
                   help="DataLoader worker processes (default 2; 0 reads in this process)")
    p.add_argument("--start-method", default="fork", choices=["fork", "spawn", "forkserver"],
                   help="how the workers are started (default fork)")
    p.add_argument("--keep", action="store_true",
                   help="keep the objects (and a bucket the demo created) afterwards")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    for name in ("shards", "samples_per_shard", "sample_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.workers < 0:
        p.error("--workers must be 0 or more")
    return args


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


def _exists(bucket) -> bool:
    try:
        bucket.head()
    except AISError as err:  # a HEAD has no body: a plain 404, not ErrBckNotFound
        if err.status_code == 404:
            return False
        raise
    return True


def _first_object(bucket, prefix: str = ""):
    """The name of one object in ``bucket`` under ``prefix``, or None."""
    for entry in bucket.list_objects_iter(prefix=prefix, page_size=1):
        return entry.name
    return None


def claim_bucket(client, name, allow_nonempty: bool, embedded: bool):
    """``(bucket, created)``: a bucket the demo may write into, or ``Refused``."""
    if name is None:
        if embedded:
            name = EMBEDDED_BUCKET
        else:  # a fresh bucket of our own on someone's cluster
            name = f"{EMBEDDED_BUCKET}-{uuid.uuid4().hex[:10]}"
    bucket = client.bucket(name)
    if not _exists(bucket):
        try:
            bucket.create()
            return bucket, True
        except ErrBckAlreadyExists:  # created by someone else meanwhile: not ours
            pass
    found = _first_object(bucket)
    if found is not None and not allow_nonempty:
        raise Refused(
            f"demo: refusing ais://{name}: it already holds objects (e.g. {found!r}) and the "
            "demo never reads, overwrites or deletes data it did not write. Leave out "
            "--bucket for a fresh bucket of its own, name a new or empty bucket, or pass "
            "--allow-nonempty-bucket to write (and afterwards remove) only its own objects "
            "under a unique prefix there.")
    return bucket, False


def _sample_bytes(shard: int, idx: int, size: int) -> bytes:
    seed = hashlib.sha256(f"{shard}/{idx}".encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def _write_corpus(bucket, prefix: str, args, written: list) -> dict[str, str]:
    """Write the shards under ``prefix`` (each name appended to ``written`` before it is
    sent); return {sample key: sha256 of its .bin}."""
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
        name = f"{prefix}shard-{s:05d}.tar"
        written.append(name)
        bucket.object(name).get_writer().put_content(buf.getvalue())
    return expected


def _clean_up(bucket, written: list, created: bool) -> None:
    """Remove the objects the demo wrote, and the bucket if the demo created it and
    nothing else arrived in it meanwhile."""
    for name in written:
        try:
            bucket.object(name).delete()
        except ErrObjNotFound:  # its PUT failed (the error is already on its way)
            pass
    if created:
        other = _first_object(bucket)
        if other is None:
            bucket.delete(missing_ok=True)
        else:
            print(f"left ais://{bucket.name} in place: it now holds objects the demo did "
                  f"not write (e.g. {other!r})")


def run(args, embedded: bool = False) -> int:
    client = Client(args.endpoint)
    bucket, created = claim_bucket(client, args.bucket, args.allow_nonempty_bucket, embedded)
    prefix = f"demo-run-{uuid.uuid4().hex[:10]}/"
    if _first_object(bucket, prefix) is not None:  # a unique prefix: never expected
        raise Refused(f"demo: ais://{bucket.name}/{prefix} already holds objects; not touching them")
    written: list[str] = []
    try:
        t0 = time.perf_counter()
        expected = _write_corpus(bucket, prefix, args, written)
        print(f"wrote {len(expected)} samples in {args.shards} shards to "
              f"ais://{bucket.name}/{prefix} ({time.perf_counter() - t0:.2f}s)")

        # Per-worker bars come from the dataset (drawn when stderr is a terminal); without a
        # terminal one overall bar in this process shows progress instead.
        tty = sys.stderr.isatty()
        dataset = AISShardReader(bucket, prefix_map={bucket: prefix},
                                 show_progress=not args.no_progress and tty)
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
            data = fields.get("bin", b"")
            nbytes += len(data)
            if hashlib.sha256(bytes(data)).hexdigest() != expected.get(key):
                bad.append(key)
        elapsed = time.perf_counter() - t0
    finally:
        if args.keep:
            print(f"kept {len(written)} objects under ais://{bucket.name}/{prefix}")
        else:
            _clean_up(bucket, written, created)

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
    try:
        if args.endpoint:
            print(f"using the cluster at {args.endpoint}")
            return run(args)
        with _embedded_emulator() as url:
            print(f"started the embedded emulator at {url}")
            args.endpoint = url
            return run(args, embedded=True)
    except Refused as exc:
        print(exc, file=sys.stderr)
        return Refused.exit_status


if __name__ == "__main__":
    sys.exit(main())
