"""Crash safety of ``serve --data-dir``: SIGKILL at random points, restart, check.

Each round starts the server on the same data dir, checks what the previous round left,
lets client threads PUT, DELETE, append/flush and upload multipart parts for a random
time, and kills the server with SIGKILL mid-traffic. Every thread owns its names, so
each name has a known history: the state the last acknowledged request left, plus at
most one request in flight when the server died. After the restart:

* every name holds exactly the acknowledged state or the in-flight request's state (the
  bytes compared in full and against the checksum header; nothing torn or mixed), and
  a version that matches it;
* the last append handle a thread received still works (the session survived) - or,
  if the in-flight append did land, the handle after it - and flushing it yields exactly
  the acknowledged bytes;
* a multipart upload is resumable: its acknowledged parts (plus the in-flight one, sent
  again) complete into exactly their concatenation;
* the listing shows exactly the names that hold objects.

At the end the server stops cleanly and ``objects/`` holds one file per object: crashes
leak no blobs. Bounded (5 rounds of at most 1.2 s of traffic) and seeded
(``AIS_CRASH_SEED``, default 1313; the kill times and sizes follow from it).
"""

from __future__ import annotations

import os
import random
import threading
import time

import pytest
import requests

from emulator._durable import Raw, ServerProc, files_under, intact, payload

SEED = int(os.environ.get("AIS_CRASH_SEED", "1313"))
ROUNDS = 5
WORKERS = 4
BUCKET = "crash"

pytestmark = pytest.mark.timeout(240)


class Dead(Exception):
    """The server went away during a request."""


class Worker:
    """One client thread's names and their acknowledged and in-flight states."""

    def __init__(self, wid: int, seed: int):
        self.wid = wid
        self.rng = random.Random(seed)
        self.seq = 0
        self.puts = [f"w{wid}/put-{k}" for k in range(3)]
        self.app, self.mpt = f"w{wid}/app", f"w{wid}/mpt"
        # name -> (bytes or None for absent, version or None)
        self.acked: dict[str, tuple] = {n: (None, None) for n in self.puts + [self.app, self.mpt]}
        self.pending: dict[str, tuple] = {}  # name -> (bytes or None, version or None)
        self.session = None  # (handle, bytes so far) of an acknowledged append session
        self.app_inflight = None  # ("append", chunk) / ("flush",) in flight
        self.upload = None  # (upload id, {number: bytes}) acknowledged
        self.part_inflight = None  # (number, bytes)
        self.error = None

    # -- traffic ----------------------------------------------------------------------

    def _size(self) -> int:
        r = self.rng.random()
        if r < 0.1:
            return self.rng.randint(1 << 20, 3 << 20)
        return self.rng.randint(1, 64 * 1024)

    def _data(self, name: str) -> bytes:
        self.seq += 1
        return payload(f"{name}#{self.seq}", self._size())

    def _call(self, fn, *args):
        try:
            r = fn(*args)
        except requests.RequestException as e:
            raise Dead() from e
        return r

    @staticmethod
    def _next_version(state) -> str:
        data, version = state
        return "1" if data is None else str(int(version) + 1)

    def run(self, raw: Raw, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                op = self.rng.choice(("put", "put", "put", "delete", "append", "mpt"))
                getattr(self, f"_{op}")(raw)
        except Dead:
            return
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def _put(self, raw: Raw) -> None:
        name = self.rng.choice(self.puts)
        data = self._data(name)
        self.pending[name] = (data, self._next_version(self.acked[name]))
        r = self._call(raw.put, name, data)
        assert r.status_code == 200, r.text
        assert r.headers["Ais-Version"] == self.pending[name][1]
        self.acked[name] = self.pending.pop(name)

    def _delete(self, raw: Raw) -> None:
        name = self.rng.choice(self.puts)
        self.pending[name] = (None, None)
        r = self._call(raw.delete, name)
        assert r.status_code == (404 if self.acked[name][0] is None else 200), r.text
        self.acked[name] = self.pending.pop(name)

    def _append(self, raw: Raw) -> None:
        if self.session is not None and self.rng.random() < 0.3:
            self.app_inflight = ("flush",)
            self.pending[self.app] = (self.session[1], self._next_version(self.acked[self.app]))
            r = self._call(raw.flush, self.app, self.session[0])
            assert r.status_code == 200, r.text
            self.acked[self.app] = self.pending.pop(self.app)
            self.session = self.app_inflight = None
            return
        chunk = self._data(self.app)[: self.rng.randint(1, 20000)]
        if self.session is None:
            base = self.acked[self.app][0] or b""
            r = self._call(raw.append, self.app, "", chunk)  # an unacknowledged start is lost
            assert r.status_code == 200, r.text
            self.session = (r.headers["Ais-Append-Handle"], base + chunk)
            return
        self.app_inflight = ("append", chunk)
        r = self._call(raw.append, self.app, self.session[0], chunk)
        assert r.status_code == 200, r.text
        self.session = (r.headers["Ais-Append-Handle"], self.session[1] + chunk)
        self.app_inflight = None

    def _mpt(self, raw: Raw) -> None:
        if self.upload is None:
            r = self._call(raw.mpt_create, self.mpt)  # an unacknowledged create is lost
            assert r.status_code == 200, r.text
            self.upload = (r.text, {})
            return
        upload_id, parts = self.upload
        if parts and (len(parts) >= 4 or self.rng.random() < 0.3):
            self._complete(raw)
            return
        number = len(parts) + 1
        data = self._data(self.mpt)
        self.part_inflight = (number, data)
        r = self._call(raw.mpt_part, self.mpt, upload_id, number, data)
        assert r.status_code == 200, r.text
        parts[number] = data
        self.part_inflight = None

    def _complete(self, raw: Raw) -> None:
        upload_id, parts = self.upload
        whole = b"".join(parts[n] for n in sorted(parts))
        self.pending[self.mpt] = (whole, self._next_version(self.acked[self.mpt]))
        r = self._call(raw.mpt_complete, self.mpt, upload_id, sorted(parts))
        assert r.status_code == 200, r.text
        self.acked[self.mpt] = self.pending.pop(self.mpt)
        self.upload = None

    # -- after a restart ------------------------------------------------------------------

    def reconcile(self, raw: Raw) -> None:
        """Check every name against its history and settle it (see the module doc)."""
        for name in list(self.acked):
            allowed = [self.acked[name]] + ([self.pending[name]] if name in self.pending else [])
            r = raw.get(name)
            if r.status_code == 404:
                got = (None, None)
            else:
                assert r.status_code == 200, r.text
                got = (intact(r), r.headers["Ais-Version"])
            assert got in allowed, (
                f"{name}: {_describe(got)} is neither the acknowledged state nor the "
                f"in-flight one: {[_describe(a) for a in allowed]}")
            self.acked[name] = got
        self.pending.clear()
        self._resume_append(raw)
        self._resume_upload(raw)

    def _resume_append(self, raw: Raw) -> None:
        if self.session is None:
            return
        handle, data = self.session
        candidates = [(handle, data)]
        if self.app_inflight and self.app_inflight[0] == "append":
            sid, _, offset = handle.rpartition(".")
            chunk = self.app_inflight[1]
            candidates.append((f"{sid}.{int(offset) + len(chunk)}", data + chunk))
        flushed = self.app_inflight == ("flush",) and self.acked[self.app][0] == data
        for h, expect in candidates:
            r = raw.flush(self.app, h)
            if r.status_code == 200:
                got = raw.get(self.app)
                assert got.status_code == 200 and intact(got) == expect, \
                    f"{self.app}: flushed session holds other bytes"
                self.acked[self.app] = (expect, got.headers["Ais-Version"])
                break
        else:
            assert flushed, f"{self.app}: no acknowledged append handle survived the crash"
        self.session = self.app_inflight = None

    def _resume_upload(self, raw: Raw) -> None:
        if self.upload is None:
            return
        upload_id, parts = self.upload
        if self.part_inflight is not None:
            number, data = self.part_inflight
            r = raw.mpt_part(self.mpt, upload_id, number, data)  # the client's retry
            assert r.status_code == 200, f"{self.mpt}: upload not resumable: {r.text}"
            parts[number] = data
            self.part_inflight = None
        whole = b"".join(parts[n] for n in sorted(parts))
        if parts:
            r = raw.mpt_complete(self.mpt, upload_id, sorted(parts))
            if r.status_code != 200:  # the in-flight completion landed before the crash
                assert r.status_code == 404 and self.acked[self.mpt][0] == whole, r.text
        got = raw.get(self.mpt)
        if parts:
            assert got.status_code == 200 and intact(got) == whole, \
                f"{self.mpt}: completed upload holds other bytes"
            self.acked[self.mpt] = (whole, got.headers["Ais-Version"])
        self.upload = None

    def present(self) -> list[str]:
        return sorted(n for n, (data, _) in self.acked.items() if data is not None)


def _describe(state) -> str:
    data, version = state
    if data is None:
        return "absent"
    return f"{len(data)} bytes v{version} {data[:24]!r}"


def test_sigkill_rounds_keep_every_acknowledged_write(tmp_path):
    data_dir = str(tmp_path / "ais-data")
    master = random.Random(SEED)
    workers = [Worker(w, master.randrange(1 << 30)) for w in range(WORKERS)]
    srv = ServerProc(data_dir)
    try:
        setup = Raw(srv.url, BUCKET)
        setup.create_bucket()
        setup.close()
        for rnd in range(ROUNDS):
            stop = threading.Event()
            raws = [Raw(srv.url, BUCKET) for _ in workers]
            threads = [threading.Thread(target=w.run, args=(r, stop)) for w, r in zip(workers, raws, strict=True)]
            for t in threads:
                t.start()
            time.sleep(master.uniform(0.3, 1.2))
            srv.kill()
            stop.set()
            for t in threads:
                t.join(timeout=60)
            for r in raws:
                r.close()
            for w in workers:
                assert w.error is None, f"round {rnd}, worker {w.wid}: {w.error!r}"
            srv = ServerProc(data_dir)
            assert os.listdir(os.path.join(data_dir, "tmp")) == [], "tmp/ not emptied at start"
            raw = Raw(srv.url, BUCKET)
            for w in workers:
                w.reconcile(raw)
            assert raw.names() == sorted(n for w in workers for n in w.present())
            raw.close()
        out = srv.stop()
        assert "Traceback" not in srv.output(), srv.output()[-4000:]
        assert "stopped" in out
        # no blob leaked: one file per object (nothing else is open after reconciling)
        objects = sum(len(w.present()) for w in workers)
        assert files_under(os.path.join(data_dir, "objects")) == objects
        assert sum(w.seq for w in workers) > 20 * ROUNDS  # the traffic was real
    finally:
        if srv.proc.poll() is None:
            srv.kill()
