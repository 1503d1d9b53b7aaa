"""Per-node counters: what ``ais performance`` and ``Cluster.get_performance()`` read.

Counts the requests the emulator served, named as AIS names its target statistics
(``get.n``, ``get.size``, ``put.n``, ``err.get.n``, ``lst.n``, ...), plus the uptime.
Control-plane state beside the store: the protocol layer reports each served request
with ``observe``; nothing here knows HTTP beyond the method and path it is given.

    stats = NodeStats()
    stats.observe("GET", "/v1/objects/b/o", 200, nbytes=5, elapsed_ns=1200)
    stats.snapshot()["get.n"] == 1

Deviations from AIS: one set of counters for the whole emulated cluster (every node
reports it); latencies are the time to build the reply (a streamed body is not timed),
as cumulative ``*.ns.total`` with the mean in ``*.ns``; no disk or network counters.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections import Counter

# (method, first path segments) -> AIS's statistic name of the operation
_OPS = (
    ("GET", "/v1/objects/", "get"), ("HEAD", "/v1/objects/", "head"),
    ("PUT", "/v1/objects/", "put"), ("DELETE", "/v1/objects/", "del"),
    ("PATCH", "/v1/objects/", "patch"), ("GET", "/v1/buckets/", "lst"),
    ("GET", "/v1/ml/moss", "getbatch"),
)


# counters every snapshot carries, zero until counted (the CLI's tables list them)
_BASE = ("get.n", "get.size", "put.n", "put.size", "del.n", "head.n", "lst.n", "append.n",
         "getbatch.n", "err.get.n", "err.put.n", "err.del.n", "err.head.n", "err.lst.n")


def metric_kind(name: str) -> str:
    """AIS's kind of a statistic (``what=metrics``): counter, size, latency, total, ..."""
    if name == "up.ns.time":
        return "special"
    if name == "state.flags":
        return "gauge"
    for suffix, kind in ((".ns.total", "total"), (".ns", "latency"), (".size", "size"),
                         (".n", "counter")):
        if name.endswith(suffix):
            return kind
    return "gauge"


def _op(method: str, path: str) -> str:
    if path.startswith("/s3/") and path.count("/") >= 3:  # an object of the S3 API
        return {"GET": "get", "HEAD": "head", "PUT": "put", "DELETE": "del"}.get(method, "")
    if path.startswith("/s3/") and method == "GET":
        return "lst"
    for m, prefix, name in _OPS:
        if method == m and path.startswith(prefix):
            return name
    return ""


class NodeStats:
    """Thread-safe request counters and the start time of one emulated cluster."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: Counter = Counter()
        self.started_ns = time.time_ns()

    def observe(self, method: str, path: str, status: int, nbytes: int = 0,
                elapsed_ns: int = 0) -> None:
        """Count one served request (``nbytes``: the object bytes sent or received)."""
        op = _op(method, path)
        if not op:
            return
        with self._lock:
            if status >= 400:
                self._counts[f"err.{op}.n"] += 1
                return
            self._counts[f"{op}.n"] += 1
            self._counts[f"{op}.ns.total"] += max(0, elapsed_ns)
            if nbytes and op in ("get", "put", "getbatch"):
                self._counts[f"{op}.size"] += nbytes

    def snapshot(self) -> dict:
        """Every counter (AIS names), the mean latencies and ``up.ns.time``."""
        with self._lock:
            out = {**dict.fromkeys(_BASE, 0), **self._counts}
        for key in [k for k in out if k.endswith(".ns.total")]:
            op = key[: -len(".ns.total")]
            n = out.get(f"{op}.n", 0)
            out[f"{op}.ns"] = out[key] // n if n else 0
        out["up.ns.time"] = time.time_ns() - self.started_ns
        return dict(sorted(out.items()))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


# -- host and process figures (for sysinfo and node status) ----------------------------


def _page() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4096


def host_memory() -> tuple[int, int]:
    """(total, available) bytes of the host's memory; (0, 0) when unknown."""
    try:
        page = _page()
        return os.sysconf("SC_PHYS_PAGES") * page, os.sysconf("SC_AVPHYS_PAGES") * page
    except (ValueError, OSError, AttributeError):
        return 0, 0


def process_memory() -> tuple[int, int]:
    """(virtual size, resident) bytes of this process; the peak resident size where the
    current one is not readable."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            size, resident = (int(x) for x in f.read().split()[:2])
        return size * _page(), resident * _page()
    except (OSError, ValueError):
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return rss, rss


def load_average() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return 0.0, 0.0, 0.0
