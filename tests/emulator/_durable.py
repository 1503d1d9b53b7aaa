"""Helpers of the durable-store tests: a ``serve --data-dir`` child process and a raw
AIS REST client (plain ``requests``, no retries, short timeouts)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from urllib.parse import quote

import requests
import xxhash


class ServerProc:
    """``python -m ais_emulator serve --port 0 --data-dir DIR`` as a child process; its
    output goes to ``<DIR>.log`` (never a pipe that could fill up and stall it)."""

    def __init__(self, data_dir: str, *extra: str, timeout: float = 60.0):
        self.log_path = data_dir.rstrip("/") + ".log"
        self._log = open(self.log_path, "ab")
        start = self._log.tell()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ais_emulator", "serve", "--port", "0",
             "--data-dir", data_dir, *extra],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            text = self.output(start)
            m = re.search(r"serving AIStore API at (http://\S+)", text)
            if m:
                self.url = m.group(1)
                self.start = start
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("server did not start:\n" + text)
            time.sleep(0.02)

    def output(self, start: int = 0) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(start)
            return f.read().decode(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._log.close()

    def stop(self) -> str:
        """SIGTERM, wait; this run's output."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self._log.close()
        return self.output(self.start)


class Raw:
    """One connection's worth of raw object requests against ``url`` (bucket ``b``)."""

    def __init__(self, url: str, bucket: str, timeout: float = 20.0):
        self.url, self.bucket, self.timeout = url, bucket, timeout
        self.s = requests.Session()
        self.s.trust_env = False

    def close(self) -> None:
        self.s.close()

    def _obj(self, name: str) -> str:
        return f"{self.url}/v1/objects/{self.bucket}/{quote(name)}"

    def req(self, method: str, name: str, params=None, **kw) -> requests.Response:
        params = {"provider": "ais", **(params or {})}
        return self.s.request(method, self._obj(name), params=params, timeout=self.timeout,
                              **kw)

    def create_bucket(self) -> None:
        r = self.s.post(f"{self.url}/v1/buckets/{self.bucket}", timeout=self.timeout,
                        json={"action": "create-bck", "name": "", "value": None})
        r.raise_for_status()

    def put(self, name: str, data: bytes) -> requests.Response:
        return self.req("PUT", name, data=data)

    def get(self, name: str) -> requests.Response:
        return self.req("GET", name)

    def delete(self, name: str) -> requests.Response:
        return self.req("DELETE", name)

    def append(self, name: str, handle: str, data: bytes) -> requests.Response:
        return self.req("PUT", name, {"append_type": "append", "append_handle": handle},
                        data=data)

    def flush(self, name: str, handle: str) -> requests.Response:
        return self.req("PUT", name, {"append_type": "flush", "append_handle": handle})

    def mpt_create(self, name: str) -> requests.Response:
        return self.req("POST", name, json={"action": "mpt-upload", "name": "", "value": None})

    def mpt_part(self, name: str, upload_id: str, number: int, data: bytes):
        return self.req("PUT", name, {"uploadId": upload_id, "partNumber": str(number)},
                        data=data)

    def mpt_complete(self, name: str, upload_id: str, numbers) -> requests.Response:
        value = [{"part-number": n, "etag": ""} for n in numbers]
        return self.req("POST", name, {"uploadId": upload_id},
                        data=json.dumps({"action": "mpt-complete", "name": "", "value": value}))

    def names(self) -> list[str]:
        r = self.s.get(f"{self.url}/v1/buckets/{self.bucket}", timeout=self.timeout,
                       params={"provider": "ais"},
                       data=json.dumps({"action": "list", "name": "", "value": {"props": "name"}}),
                       headers={"Accept": "application/json"})
        r.raise_for_status()
        return sorted(e["name"] for e in (r.json().get("entries") or []))


def payload(tag: str, size: int) -> bytes:
    """Deterministic bytes of ``size`` that only ``tag`` produces."""
    unit = f"<{tag}>".encode()
    return (unit * (size // len(unit) + 1))[:size]


def intact(resp: requests.Response) -> bytes:
    """The body of a 200 GET, checked against its own checksum header."""
    body = resp.content
    assert resp.headers["Ais-Checksum-Type"] == "xxhash2"
    assert resp.headers["Ais-Checksum-Value"] == xxhash.xxh64(body).hexdigest(), \
        "body does not match its checksum"
    assert int(resp.headers.get("Content-Length", len(body))) == len(body)
    return body


def files_under(path: str) -> int:
    return sum(len(files) for _, _, files in os.walk(path))
