"""The durable store (``serve --data-dir``) against the in-memory one, and large objects.

* ``durable-mixed-load``: 32 client threads, mixed requests on 64 overlapping names
  (GET 55%, PUT 30%, DELETE 5%, append + flush 5%, list 5%) for a fixed time against
  ``ais-emulator serve`` in memory and with ``--data-dir``; ops/s, p50/p99 latency per
  kind, and the errors and torn reads seen (both must be zero: every GET body is checked
  against its checksum header and must be one whole PUT's bytes).
* ``durable-1GiB``: PUT (streamed, chunked) and GET (streamed) of a 1 GiB object with
  ``--data-dir``: MiB/s and the server's peak RSS growth during each transfer (its
  kernel high-water mark, reset just before). Target: growth under 64 MiB.

The server is a child process (``python -m ais_emulator serve``); the clients are threads
of this process (``requests``, one session each)::

    pytest benchmarks/test_durable.py --benchmark-only --benchmark-json=bench-results/durable.json
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote

import pytest
import requests
import xxhash

from benchmarks import measure

pytestmark = pytest.mark.timeout(1800)

THREADS = 32
NAMES = 64
KINDS = ("get", "put", "delete", "append", "list")
WEIGHTS = (55, 30, 5, 5, 5)
SIZES = (1024, 16 * 1024, 256 * 1024)
LARGE = 1 << 30
TARGET_RSS_GROWTH_MIB = 64


@dataclass
class _Result:
    seconds: float
    ops: int
    nbytes: int


class Serve:
    """``python -m ais_emulator serve --port 0 [--data-dir D]`` in a child process."""

    def __init__(self, data_dir: str | None):
        self.log = tempfile.NamedTemporaryFile(prefix="bench-durable-", suffix=".log")
        args = ["--data-dir", data_dir] if data_dir else []
        self.proc = subprocess.Popen([sys.executable, "-m", "ais_emulator", "serve", "--port",
                                      "0", *args], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            text = open(self.log.name, errors="replace").read()
            m = re.search(r"serving AIStore API at (http://\S+)", text)
            if m:
                self.url = m.group(1)
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"server did not start: {text}")
            time.sleep(0.05)
        self.session = requests.Session()
        self.session.trust_env = False

    def obj(self, bucket: str, name: str) -> str:
        return f"{self.url}/v1/objects/{bucket}/{quote(name)}?provider=ais"

    def create_bucket(self, name: str) -> None:
        self.session.post(f"{self.url}/v1/buckets/{name}", json={
            "action": "create-bck", "name": "", "value": None}).raise_for_status()

    def kib(self, field: str) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
        raise RuntimeError(f"{field} not in /proc/{self.proc.pid}/status")

    def reset_peak(self) -> bool:
        """Reset the server's VmHWM to its current RSS (False where not allowed)."""
        try:
            with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def _payload(tag: str, size: int) -> bytes:
    unit = f"<{tag}>".encode()
    return (unit * (size // len(unit) + 1))[:size]


def _check(resp: requests.Response, written: set) -> bool:
    """True when a GET body is one whole PUT's bytes and matches its checksum header."""
    body = resp.content
    if resp.headers.get("Ais-Checksum-Value") != xxhash.xxh64(body).hexdigest():
        return False
    end = body.find(b">")
    tag = body[1:end].decode(errors="replace") if body[:1] == b"<" and end > 0 else ""
    return tag in written and body == _payload(tag, len(body))


class _Load:
    """The 32-thread mixed workload against one server."""

    def __init__(self, srv: Serve, seconds: float, seed: int = 13):
        self.srv, self.seconds, self.seed = srv, seconds, seed
        self.bucket = f"load-{seed}"
        self.names = [f"obj-{i:02d}" for i in range(NAMES)]
        self.written: set = set()
        self.lock = threading.Lock()
        self.lat: dict[str, list] = {k: [] for k in KINDS}
        self.errors: list[str] = []
        self.torn = 0
        self.bytes = 0

    def setup(self) -> None:
        self.srv.create_bucket(self.bucket)
        with requests.Session() as s:
            for i, name in enumerate(self.names):
                tag = f"{name}:seed:{i}"
                self.written.add(tag)
                s.put(self.srv.obj(self.bucket, name),
                      data=_payload(tag, SIZES[i % len(SIZES)])).raise_for_status()

    def _client(self, tid: int, deadline: float) -> None:
        rng = random.Random(self.seed * 1000 + tid)
        lat = {k: [] for k in KINDS}
        nbytes = torn = 0
        errors = []
        s = requests.Session()
        s.trust_env = False
        base = f"{self.srv.url}/v1/buckets/{self.bucket}"
        while time.monotonic() < deadline:
            kind = rng.choices(KINDS, WEIGHTS)[0]
            name = rng.choice(self.names)
            url = self.srv.obj(self.bucket, name)
            t0 = time.perf_counter()
            try:
                if kind == "get":
                    r = s.get(url)
                    if r.status_code == 200:
                        nbytes += len(r.content)
                        with self.lock:
                            ok = _check(r, self.written)
                        torn += not ok
                    elif r.status_code != 404:
                        errors.append(f"GET {r.status_code}")
                elif kind == "put":
                    tag = f"{name}:{tid}:{rng.random()}"
                    with self.lock:
                        self.written.add(tag)
                    data = _payload(tag, rng.choice(SIZES))
                    r = s.put(url, data=data)
                    nbytes += len(data)
                    if r.status_code != 200:
                        errors.append(f"PUT {r.status_code}")
                elif kind == "delete":
                    r = s.delete(url)
                    if r.status_code not in (200, 404):
                        errors.append(f"DELETE {r.status_code}")
                elif kind == "append":
                    log = self.srv.obj(self.bucket, f"log-{tid}")
                    r = s.put(log + "&append_type=append&append_handle=", data=b"x" * 1024)
                    h = r.headers.get("Ais-Append-Handle", "")
                    r2 = s.put(f"{log}&append_type=flush&append_handle={quote(h)}")
                    if r.status_code != 200 or r2.status_code != 200:
                        errors.append(f"append {r.status_code}/{r2.status_code}")
                else:
                    r = s.get(base + "?provider=ais", headers={"Accept": "application/json"},
                              json={"action": "list", "name": "", "value": {"props": "name"}})
                    names = [e["name"] for e in (r.json().get("entries") or [])] \
                        if r.status_code == 200 else None
                    if names is None:
                        errors.append(f"list {r.status_code}")
                    elif names != sorted(set(names)):
                        errors.append("list: not one sorted snapshot")
            except requests.RequestException as e:
                errors.append(f"{kind}: {e!r}")
            lat[kind].append(time.perf_counter() - t0)
        s.close()
        with self.lock:
            for k in KINDS:
                self.lat[k] += lat[k]
            self.bytes += nbytes
            self.torn += torn
            self.errors += errors

    def run(self) -> _Result:
        deadline = time.monotonic() + self.seconds
        threads = [threading.Thread(target=self._client, args=(t, deadline))
                   for t in range(THREADS)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        ops = sum(len(v) for v in self.lat.values())
        return _Result(elapsed, ops, self.bytes)

    def info(self) -> dict:
        def pct(values, q):
            if not values:
                return None
            values = sorted(values)
            return values[min(len(values) - 1, int(q * len(values)))]

        every = [x for v in self.lat.values() for x in v]
        out = {"ops": len(every), "errors": len(self.errors), "torn_reads": self.torn,
               "first_errors": self.errors[:5], "p50_s": pct(every, 0.50),
               "p99_s": pct(every, 0.99)}
        for k in KINDS:
            out[f"{k}_ops"] = len(self.lat[k])
            out[f"{k}_p50_s"] = pct(self.lat[k], 0.50)
            out[f"{k}_p99_s"] = pct(self.lat[k], 0.99)
        return out


@pytest.fixture(scope="module")
def seconds(quick) -> float:
    return 3.0 if quick else 15.0


@pytest.mark.parametrize("mode", ["memory", "data-dir"])
def test_mixed_load(benchmark, tmp_path, mode, seconds):
    srv = Serve(str(tmp_path / "ais-data") if mode == "data-dir" else None)
    try:
        load = _Load(srv, seconds)
        load.setup()
        benchmark.group = "durable-mixed-load"
        rnd = benchmark.pedantic(load.run, rounds=1, iterations=1, warmup_rounds=0)
        info = load.info()
    finally:
        srv.close()
    benchmark.extra_info.update(
        group="durable-mixed-load", contender=f"serve ({mode})",
        role=measure.OURS if mode == "data-dir" else measure.BASELINE, num_workers=None,
        samples_per_s=rnd.ops / rnd.seconds, mib_per_s=rnd.nbytes / measure.MiB / rnd.seconds,
        seconds=rnd.seconds, threads=THREADS, names=NAMES, mix=dict(zip(KINDS, WEIGHTS, strict=True)),
        note=f"{THREADS} threads, {NAMES} names, {seconds:.0f} s",
        load_avg=os.getloadavg()[0], **info)
    assert info["errors"] == 0, info["first_errors"]
    assert info["torn_reads"] == 0


def _chunks(total: int, chunk: int = 1 << 20):
    block = _payload("large", chunk)
    sent = 0
    while sent < total:
        n = min(chunk, total - sent)
        yield block[:n]
        sent += n


def _transfer(srv: Serve, url: str, kind: str, size: int) -> dict:
    """One streamed PUT or GET of ``size`` bytes: MiB/s and the server's RSS growth."""
    base = srv.kib("VmRSS:")
    hwm = srv.reset_peak()
    t0 = time.perf_counter()
    if kind == "put":
        srv.session.put(url, data=_chunks(size)).raise_for_status()
        got = size
    else:
        got = 0
        with srv.session.get(url, stream=True) as r:
            r.raise_for_status()
            for block in r.iter_content(1 << 20):
                got += len(block)
    secs = time.perf_counter() - t0
    assert got == size
    peak = srv.kib("VmHWM:") if hwm else srv.kib("VmRSS:")
    return {"mib_per_s": size / measure.MiB / secs, "seconds": secs,
            "rss_base_mib": base / 1024, "rss_growth_mib": (peak - base) / 1024}


def _warm(srv: Serve) -> None:
    """Load the PUT and GET code paths before a baseline RSS is taken."""
    srv.session.put(srv.obj("big", "warm"), data=_chunks(4 << 20)).raise_for_status()
    srv.session.get(srv.obj("big", "warm")).raise_for_status()


def test_large_object(benchmark, tmp_path, quick):
    """PUT into one server, GET from a fresh one on the same data dir (which also shows
    the object survived the restart), and the same through the store alone."""
    size = LARGE // 8 if quick else LARGE
    data_dir = str(tmp_path / "ais-data")
    result: dict = {}
    expected = xxhash.xxh64()
    for c in _chunks(size):
        expected.update(c)

    def one_round() -> _Result:
        srv = Serve(data_dir)
        try:
            srv.create_bucket("big")
            _warm(srv)
            result["put"] = _transfer(srv, srv.obj("big", "object.bin"), "put", size)
        finally:
            srv.close()
        srv = Serve(data_dir)
        try:
            _warm(srv)
            url = srv.obj("big", "object.bin")
            result["get"] = _transfer(srv, url, "get", size)
            head = srv.session.head(url + "&props=checksum,size")
            assert head.headers.get("Ais-Checksum-Value") == expected.hexdigest()
        finally:
            srv.close()
        return _Result(result["put"]["seconds"] + result["get"]["seconds"], 2, 2 * size)

    benchmark.group = "durable-1GiB"
    rnd = benchmark.pedantic(one_round, rounds=1, iterations=1, warmup_rounds=0)
    store = _store_probe(str(tmp_path / "store-probe"), size)
    assert store.pop("cksum") == expected.hexdigest()
    benchmark.extra_info.update(
        group="durable-1GiB", contender="serve --data-dir", role=measure.OTHER,
        num_workers=None, samples_per_s=rnd.ops / rnd.seconds,
        mib_per_s=rnd.nbytes / measure.MiB / rnd.seconds, object_mib=size / measure.MiB,
        target_rss_growth_mib=TARGET_RSS_GROWTH_MIB,
        **{f"{k}_{f}": v for k, r in result.items() for f, v in r.items()},
        **{f"store_{k}": v for k, v in store.items()},
        note="PUT streamed (chunked) from a generator; GET streamed (1 MiB reads) from a "
             "restarted server; store_*: DiskStore.put_object/iter_data in a fresh process")


def _store_probe(data_dir: str, size: int) -> dict:
    """``DiskStore.put_object`` of a chunk generator and a full ``iter_data`` read in a
    fresh process: MiB/s and its peak RSS growth for each."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.test_durable", data_dir, str(size)],
                         capture_output=True, text=True, timeout=1200,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if out.returncode != 0:
        raise RuntimeError(f"store probe failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _probe_main(data_dir: str, size: int) -> None:
    from ais_emulator.store import BucketId
    from ais_emulator.store.disk import DiskStore

    def kib(field: str) -> int:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field))

    def reset() -> None:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")

    store = DiskStore(data_dir)
    bck = BucketId.parse("ais", "big")
    store.create_bucket(bck)
    store.put_object(bck, "warm", _chunks(4 << 20))
    b"".join(store.get_object(bck, "warm").iter_data())
    out = {}
    for kind in ("put", "get"):
        base = kib("VmRSS:")
        reset()
        t0 = time.perf_counter()
        if kind == "put":
            rec = store.put_object(bck, "object.bin", _chunks(size))
            out["cksum"] = rec.cksum_value
        else:
            got = sum(len(c) for c in store.get_object(bck, "object.bin").iter_data())
            assert got == size
        secs = time.perf_counter() - t0
        out[f"{kind}_mib_per_s"] = size / measure.MiB / secs
        out[f"{kind}_rss_growth_mib"] = (kib("VmHWM:") - base) / 1024
    store.close()
    print(json.dumps(out))


if __name__ == "__main__":
    _probe_main(sys.argv[1], int(sys.argv[2]))
