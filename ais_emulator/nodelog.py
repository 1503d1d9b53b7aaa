"""The emulator's node log: what ``ais log`` and ``Cluster.get_node_log()`` read.

A bounded, thread-safe ring of log lines in AIS's layout (``I 05:20:12.253948 text``,
``W`` for warnings, ``E`` for errors) under a ``Started up at ...`` header, as an aisnode
log file begins. The emulator writes a line when it starts, for every request that
changed state (method, path, status), for every error reply, and when a job starts and
ends. Control-plane state beside the store; it knows no HTTP.

    log = NodeLog()
    log.info("created ais://b")
    log.text("info")          # the whole log; "warning"/"error": W and E lines only
    log.archive("aistarget")  # gzip-compressed tar of the log file (``all=true``)

Deviations from AIS: the log lives in memory and keeps the newest ``max_lines`` lines
(AIS rotates files on disk); every node of the emulated cluster serves the same log;
the archive holds one file (AIS: every rotated file of the node).
"""

from __future__ import annotations

import io
import os
import platform
import sys
import tarfile
import threading
import time
from collections import deque

SEVERITIES = {"info": "I", "warning": "W", "error": "E"}
_FILE_LEVEL = {"I": "INFO", "W": "WARNING", "E": "ERROR"}
_MAX_LINE = 2048  # characters kept of one message


def parse_severity(value: str) -> str:
    """``info``/``warning``/``error`` (any case, empty = info) -> I/W/E; ValueError else.
    AIS also takes the one-letter forms."""
    v = (value or "info").strip().lower()
    if v in SEVERITIES:
        return SEVERITIES[v]
    if v in ("i", "w", "e"):
        return v.upper()
    raise ValueError(f'unknown log severity "{value}"')


class NodeLog:
    """The newest ``max_lines`` log lines of one emulated cluster."""

    def __init__(self, max_lines: int = 20_000):
        self._lines: deque = deque(maxlen=max_lines)
        self._lock = threading.Lock()
        self.started_ns = time.time_ns()
        self._header = (
            f"Started up at {time.strftime('%Y/%m/%d %H:%M:%S', time.localtime())}, host "
            f"{platform.node() or 'localhost'}, python{platform.python_version()} for "
            f"{sys.platform}/{platform.machine() or 'unknown'}\n")

    def write(self, level: str, message: str) -> None:
        """Append one line (``level``: I, W or E); newlines in ``message`` are escaped."""
        now = time.time()
        stamp = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1e6):06d}"
        text = message.replace("\r", "\\r").replace("\n", "\\n")[:_MAX_LINE]
        with self._lock:
            self._lines.append(f"{level} {stamp} {text}\n")

    def info(self, message: str) -> None:
        self.write("I", message)

    def warning(self, message: str) -> None:
        self.write("W", message)

    def error(self, message: str) -> None:
        self.write("E", message)

    def text(self, severity: str = "info") -> str:
        """The log as AIS serves it: ``info`` every line; ``warning`` and ``error`` the W
        and E lines (AIS keeps those in one file). Raises ValueError for another value."""
        level = parse_severity(severity)
        with self._lock:
            lines = list(self._lines)
        if level != "I":
            lines = [ln for ln in lines if ln[0] in "WE"]
        return self._header + "".join(lines)

    def archive(self, role: str = "aistarget", severity: str = "info") -> bytes:
        """A gzip-compressed tar holding the log as one file named as AIS names its log
        files (``<role>.<host>.<SEVERITY>.<start>.<pid>``)."""
        level = parse_severity(severity)
        data = self.text(severity).encode("utf-8")
        start = time.strftime("%m%d-%H%M%S", time.localtime(self.started_ns / 1e9))
        host = (platform.node() or "localhost").split(".")[0]
        name = f"{role}.{host}.{_FILE_LEVEL[level]}.{start}.{os.getpid()}"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tf:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tf.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    def clear(self) -> None:
        with self._lock:
            self._lines.clear()
