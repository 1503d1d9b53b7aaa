"""The servers the benchmarks read from, each in its own child process.

A server runs in a child process so that its memory (the whole seeded corpus) and its CPU
(its own interpreter lock) stay out of the loading process being measured, and so that
DataLoader workers fork a process without server threads in it. The child speaks one JSON
line per request on stdin/stdout::

    with ServerProcess("emulator", quick=True) as srv:    # or "moto"
        manifest = srv.seed("small")                      # build + load, in the child
        srv.url, srv.cpu_seconds()

``emulator``: an ``ais_emulator.EmulatorServer`` on 127.0.0.1, seeded through the
``Emulator`` API (no HTTP). ``moto``: moto's ``ThreadedMotoServer`` on 127.0.0.1, seeded
with boto3 ``put_object`` (objects public-read, so plain GETs need no signature).

``LiveCluster`` stands in for ``ServerProcess("emulator")`` against a real AIStore
(``make bench-live``): the same corpora, uploaded through the SDK into fresh buckets of
its own (``bench-<corpus>-<run id>``), which it removes at the end; it never touches a
bucket it did not create.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


class ServerError(RuntimeError):
    pass


class ServerProcess:
    """Parent side: start the child, send requests, stop it."""

    def __init__(self, kind: str, quick: bool, startup_timeout: float = 120.0):
        self.kind = kind  # "emulator" or "moto"
        self._log = tempfile.NamedTemporaryFile(prefix=f"bench-{kind}-", suffix=".log",
                                                delete=False)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
        # moto only: dummy values so botocore can sign its seeding requests locally
        env.setdefault("AWS_ACCESS_KEY_ID", "bench")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
        env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        cmd = [sys.executable, "-m", "benchmarks.servers", kind] + (["--quick"] if quick else [])
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, cwd=str(REPO), env=env, text=True)
        try:
            hello = self._read(startup_timeout)
        except Exception:
            self.close()
            raise
        self.url: str = hello["url"]
        self.pid: int = self.proc.pid
        self._seeded: dict[tuple, dict] = {}

    def _log_tail(self, n: int = 4000) -> str:
        try:
            return Path(self._log.name).read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def _read(self, timeout: float) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            state = "exited" if self.proc.poll() is not None else f"silent for {timeout:.0f}s"
            raise ServerError(f"{self.kind} server process {state}; log:\n{self._log_tail()}")
        reply = json.loads(line)
        if "error" in reply:
            raise ServerError(f"{self.kind} server: {reply['error']}")
        return reply

    def request(self, timeout: float = 600.0, **msg) -> dict:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        return self._read(timeout)

    def seed(self, corpus: str, limit: int | None = None) -> dict:
        """Build ``corpus`` in the child and load it (first ``limit`` objects); the manifest."""
        key = (corpus, limit)
        if key not in self._seeded:
            self._seeded[key] = self.request(op="seed", corpus=corpus, limit=limit)
        return self._seeded[key]

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the whole server process."""
        import psutil

        t = psutil.Process(self.pid).cpu_times()
        return t.user + t.system

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self._log.close()
        os.unlink(self._log.name)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LiveCluster:
    """A real AIStore as the benchmarks' data server (see the module docstring)."""

    kind = "aistore"

    def __init__(self, url: str, quick: bool):
        import uuid

        from aistore.sdk import Client

        self.url = url.rstrip("/")
        self.pid = None
        self._client = Client(self.url)
        self._sizes = quick
        self._run = uuid.uuid4().hex[:8]
        self._seeded: dict[tuple, dict] = {}
        self._created: list = []
        self._client.cluster().is_ready()  # fails here, clearly, when nothing answers

    def seed(self, corpus: str, limit: int | None = None) -> dict:
        """Build ``corpus`` here and upload it into a fresh bucket; the manifest."""
        from benchmarks import corpora

        key = (corpus, limit)
        if key not in self._seeded:
            built = corpora.build(corpus, corpora.sizes(self._sizes))
            name = f"bench-{built.bucket.removeprefix('bench-')}-{self._run}"
            bucket = self._client.bucket(name)
            bucket.create()  # a fresh name: fails rather than reuse someone's bucket
            self._created.append(bucket)
            objs = built.objects if limit is None else built.objects[:limit]

            def put(item):
                bucket.object(item[0]).get_writer().put_content(item[1])

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(put, objs))
            built.bucket = name
            self._seeded[key] = built.manifest(limit)
        return self._seeded[key]

    def cpu_seconds(self) -> float | None:
        return None  # the cluster's processes are not ours to measure

    def close(self) -> None:
        errors = []
        while self._created:
            bucket = self._created.pop()
            try:
                bucket.delete(missing_ok=True)
            except Exception as exc:  # noqa: BLE001 - keep removing the others
                errors.append(exc)
        if errors:
            raise ServerError(f"could not remove benchmark buckets: {errors[0]}")

    def __enter__(self) -> LiveCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------- child side


class _EmulatorHost:
    def __init__(self) -> None:
        from ais_emulator import Emulator, EmulatorServer

        self.emulator = Emulator()
        self._server = EmulatorServer(host="127.0.0.1", port=0, emulator=self.emulator)
        self._server.__enter__()
        self.url = self._server.url
        self._buckets: set[str] = set()

    def load(self, bucket: str, objects) -> None:
        if bucket not in self._buckets:
            self.emulator.create_bucket(bucket)
            self._buckets.add(bucket)
        for name, data in objects:
            self.emulator.put_object(bucket, name, data)

    def close(self) -> None:
        self._server.__exit__(None, None, None)


class _MotoHost:
    def __init__(self) -> None:
        import logging

        import boto3
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self._s3 = boto3.client("s3", endpoint_url=self.url, region_name="us-east-1")
        self._buckets: set[str] = set()

    def load(self, bucket: str, objects) -> None:
        if bucket not in self._buckets:
            self._s3.create_bucket(Bucket=bucket)
            self._buckets.add(bucket)

        def put(item):
            name, data = item
            self._s3.put_object(Bucket=bucket, Key=name, Body=data, ACL="public-read")

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(put, objects))

    def close(self) -> None:
        self._server.stop()


def _profile_threads() -> list:
    """Profile every thread started from now on (``AIS_BENCH_PROFILE``); their profiles."""
    import cProfile
    import threading

    profiles: list = []
    run = threading.Thread.run

    def profiled_run(self):
        prof = cProfile.Profile()
        profiles.append(prof)
        prof.enable()
        try:
            run(self)
        finally:
            prof.disable()

    threading.Thread.run = profiled_run
    return profiles


def _dump_profiles(profiles: list, path: str) -> None:
    import pstats

    stats = None
    for prof in profiles:
        try:
            prof.create_stats()
        except Exception:  # noqa: BLE001 - a thread still running: skip it
            continue
        if not prof.stats:
            continue
        if stats is None:
            stats = pstats.Stats(prof)
        else:
            stats.add(prof)
    if stats is not None:
        stats.dump_stats(path)


def _child(argv: list[str]) -> int:
    from benchmarks import corpora

    profile_to = os.environ.get("AIS_BENCH_PROFILE")
    profiles = _profile_threads() if profile_to else []

    kind = argv[0]
    sz = corpora.sizes("--quick" in argv)
    # stdout carries the protocol only; anything printed goes to the log (stderr)
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    host = {"emulator": _EmulatorHost, "moto": _MotoHost}[kind]()
    proto.write(json.dumps({"url": host.url, "pid": os.getpid()}) + "\n")
    for line in sys.stdin:
        try:
            msg = json.loads(line)
            if msg["op"] != "seed":
                raise ValueError(f"unknown op {msg['op']!r}")
            name, limit = msg["corpus"], msg.get("limit")
            corpus = corpora.build(name, sz)
            objs = corpus.objects if limit is None else corpus.objects[:limit]
            host.load(corpus.bucket, objs)
            reply = corpus.manifest(limit)
        except Exception:
            reply = {"error": traceback.format_exc()}
        proto.write(json.dumps(reply) + "\n")
    host.close()
    if profile_to:
        _dump_profiles(profiles, profile_to)
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
