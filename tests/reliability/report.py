"""Every dataset class under the issue's fault mix, against a clean run of the same data.

An ``ais-emulator serve`` child process holds the corpus (seeded over HTTP); faults are
installed over REST (``/v1/__emulator__/faults``). For each class and ``num_workers`` in
(0, 2) it alternates clean and faulted reads (``--rounds`` pairs) and prints, as a
markdown table: delivered/expected, duplicates, missing and wrong items of the faulted
runs, the faults that fired, and the median seconds of each condition::

    .venv/bin/python tests/reliability/report.py [--rounds 3] [--scale 4]

The mix (``chaos.MIX``): 5% AIS-shaped 503s without Retry-After, 2% resets at a seeded
point of the body, 2% truncated bodies, 2 ms of latency on 20% of the replies, on every
object GET/HEAD and GetBatch request. Seeds differ per round, so each faulted round
meets other faults.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

import requests
from aistore.sdk import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for ``reliability``

from ais_datasets import RetryPolicy  # noqa: E402
from reliability import chaos  # noqa: E402


class HttpSeeder:
    """What ``chaos.build_corpus`` needs of an Emulator, over the SDK."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def create_bucket(self, name: str, exist_ok: bool = False) -> None:
        self.client.bucket(name).create(exist_ok=exist_ok)

    def put_object(self, bucket: str, name: str, data: bytes) -> None:
        self.client.bucket(bucket).object(name).get_writer().put_content(data)


def _serve() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "ais_emulator", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    match = re.search(r"http://[\d.]+:\d+", line)
    if not match:
        proc.kill()
        raise SystemExit(f"the emulator did not start: {line}")
    return proc, match.group(0)


def _install(url: str, seed: int, bucket: str) -> None:
    rules = [{"kind": kind, "op": chaos.DATA_OPS, "seed": seed, "bucket": bucket, **kw}
             for kind, kw in chaos.MIX]
    requests.post(f"{url}/v1/__emulator__/faults", json=rules, timeout=10).raise_for_status()


def _fired_and_clear(url: str) -> Counter:
    rules = requests.get(f"{url}/v1/__emulator__/faults", timeout=10).json()["rules"]
    requests.delete(f"{url}/v1/__emulator__/faults", timeout=10).raise_for_status()
    out: Counter = Counter()
    for rule in rules:
        out[str(rule.get("status")) if rule["kind"] == "status" else rule["kind"]] += \
            rule["fired"]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=int, default=4, help="corpus size multiplier")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--cases", nargs="+", default=list(chaos.CASES))
    args = parser.parse_args(argv)
    proc, url = _serve()
    try:
        client = Client(url)
        corpus = chaos.build_corpus(HttpSeeder(client), "report", scale=args.scale)
        retry = RetryPolicy(timeout=(3, 5))
        print(f"server {url}; corpus: {len(corpus.objects)} objects, "
              f"{len(corpus.shard_names)} shards ({len(corpus.samples)} samples), "
              f"{len(corpus.pairs)} shard pairs, {len(corpus.big)} large objects; "
              f"{args.rounds} clean/faulted pairs per row\n")
        print("| class | workers | delivered/expected | duplicates | missing | wrong "
              "| faults fired (all rounds) | clean s | faulted s | faulted/clean |")
        print("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|")
        for case in args.cases:
            for workers in args.workers:
                clean, faulted, fired = [], [], Counter()
                worst = None
                for r in range(args.rounds):
                    clean.append(chaos.run_case(case, corpus, client, workers,
                                                retry=retry).seconds)
                    _install(url, seed=1000 * r + workers, bucket=corpus.bucket)
                    try:
                        out = chaos.run_case(case, corpus, client, workers, retry=retry)
                    finally:
                        fired += _fired_and_clear(url)
                    faulted.append(out.seconds)
                    if worst is None or not out.exact:
                        worst = out
                c, f = statistics.median(clean), statistics.median(faulted)
                kinds = ", ".join(f"{k} {v}" for k, v in sorted(fired.items()))
                print(f"| {case} | {workers} | {worst.delivered}/{worst.expected} | "
                      f"{worst.duplicates} | {worst.missing} | {worst.wrong} | {kinds} | "
                      f"{c:.2f} | {f:.2f} | {f / c:.2f}x |", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
