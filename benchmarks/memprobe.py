"""One shard-reading round in a fresh process, for the memory-scaling benchmark.

A long benchmark session keeps freed heap around, so a later allocation may not raise the
RSS at all; a fresh interpreter per round makes "peak RSS growth" mean what it says. The
libraries are imported before the round starts, so the growth is what the round itself
allocated (a constant set-up part plus what grows with the shard)::

    rnd = run_in_child("ais_datasets", "http://127.0.0.1:PORT", manifest)   # measure.Round
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from benchmarks import measure

REPO = Path(__file__).resolve().parent.parent


class ProbeSkipped(Exception):
    pass


def run_in_child(contender: str, endpoint: str, manifest: dict,
                 timeout: float = 600.0) -> measure.Round:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.memprobe", contender, endpoint],
        input=json.dumps(manifest), capture_output=True, text=True, timeout=timeout,
        cwd=str(REPO), env=env)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"memprobe {contender} failed ({proc.returncode}):\n"
                           f"{proc.stderr[-4000:]}")
    out = json.loads(lines[-1])
    if "skip" in out:
        raise ProbeSkipped(out["skip"])
    return measure.Round(**out)


def _child(contender: str, endpoint: str) -> int:
    manifest = json.loads(sys.stdin.read())
    # everything a round needs, imported before it starts
    import aistore.sdk  # noqa: F401
    import torch.utils.data  # noqa: F401

    from benchmarks import contenders

    try:
        reader = contenders.shard_reader_any(contender, endpoint, manifest, 0)
    except BaseException as exc:  # pytest.skip raises a BaseException subclass
        if type(exc).__name__ == "Skipped":
            print(json.dumps({"skip": str(exc)}))
            return 0
        raise
    if contender == contenders.WEBDATASET:
        import webdataset  # noqa: F401
    else:
        __import__(contender)
    rnd = measure.consume(reader.make, reader.key_of, reader.size_of, cap=reader.cap,
                          weight_of=reader.weight_of, release=reader.release)
    print(json.dumps(asdict(rnd)))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1], sys.argv[2]))
