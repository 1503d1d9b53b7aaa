"""Job records ("xactions"): what the emulator starts, runs and reports to ``Job.wait()``.

Plain Python control-plane state beside the store; it knows no HTTP (the job endpoints in
``api/handlers/jobs.py`` turn these records into AIS's ``nl.Status`` and ``core.Snap``).

    job = emu.jobs.start("copy-bck", work, src_bck=src, dst_bck=dst)
    job.wait(5)                 # tests only; clients poll over REST
    job.end_ns, job.err, job.stats.objs

``work(ctx)`` runs in a daemon thread. It reports progress through ``ctx.add(...)`` and
should check ``ctx.aborted`` between objects; an exception it raises becomes the job's
``err`` (the job ends, it never takes the emulator down). A job that is done before it is
returned (``start(..., sync=True)``) still has a record, as AIS keeps one.

Deviations from real AIS: one record per job (AIS keeps one per target, and the proxy's
notification listener), IDs are random short strings with AIS's kind prefixes, and records
live until ``reset()`` (AIS ages them out).
"""

from __future__ import annotations

import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from ais_emulator.limits import MAX_RUNNING_JOBS
from ais_emulator.store.errors import InvalidRequest, StoreError

# Kinds whose completion the SDK detects by "idle on two consecutive polls" (wire doc §7.3).
IDLE_KINDS = frozenset({
    "copy-listrange", "etl-listrange", "archive", "put-copies", "download", "list",
    "get-batch", "ec-get", "ec-put", "ec-resp",
})
# AIS keeps an idle-kind xaction alive (listed as running) until its idle timeout, about
# two minutes in v1.5.0, after its work is done; the emulator lists it as active as long.
IDLE_LINGER_NS = 120 * 1_000_000_000
_ID_PREFIX = {"copy-listrange": "tco-", "etl-listrange": "tco-", "etl-bck": "tcb-",
              "copy-bck": "tcb-", "get-batch": "gbt-", "etl": "etl-"}


class TooManyJobs(StoreError):
    """``max_running`` jobs are running already (AIS has no such cap: 429, which the SDK
    retries)."""

    def __init__(self, kind: str, limit: int):
        super().__init__(f"cannot start {kind}: {limit} jobs are running already (the "
                         "emulator's cap); retry when one has finished", kind=kind,
                         limit=limit)


class JobNotFound(StoreError):
    """No job matches the query (AIS: 404)."""

    def __init__(self, job_id: str = "", kind: str = ""):
        what = job_id or kind
        super().__init__(f'job "{what}" does not exist', job_id=job_id, kind=kind)


@dataclass
class JobStats:
    objs: int = 0        # loc-objs / loc-bytes: objects this job wrote or visited locally
    bytes: int = 0
    in_objs: int = 0     # received (e.g. a cold GET or a copy's destination side)
    in_bytes: int = 0
    out_objs: int = 0    # sent
    out_bytes: int = 0


@dataclass
class Job:
    id: str
    kind: str
    bck: Any = None          # BucketId of the job's bucket, if any
    src_bck: Any = None
    dst_bck: Any = None
    start_ns: int = field(default_factory=time.time_ns)
    end_ns: int = 0
    err: str = ""
    aborted: bool = False
    stats: JobStats = field(default_factory=JobStats)
    details: dict = field(default_factory=dict)   # kind-specific facts (e.g. per-object errors)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _abort: threading.Event = field(default_factory=threading.Event, repr=False)
    _ended: bool = field(default=False, repr=False)  # ``end`` was called (begin/end jobs)
    _external: bool = field(default=False, repr=False)  # started with ``begin``

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    @property
    def abort_requested(self) -> bool:
        """A stop was asked for (the job's work should end soon)."""
        return self._abort.is_set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the job ends (for tests and in-process callers)."""
        return self._done.wait(timeout)

    def active(self, now_ns: Optional[int] = None) -> bool:
        """Running, or an idle kind that ended cleanly less than ``IDLE_LINGER_NS`` ago
        (AIS lists such an xaction as running until it times out)."""
        if not self.finished:
            return True
        if self.kind not in IDLE_KINDS or self.err or self.aborted:
            return False
        now_ns = time.time_ns() if now_ns is None else now_ns
        return now_ns - self.end_ns < IDLE_LINGER_NS


class JobContext:
    """What a job's work function sees: progress counters and the abort flag."""

    def __init__(self, job: Job):
        self.job = job

    @property
    def aborted(self) -> bool:
        return self.job._abort.is_set()

    def add(self, objs: int = 1, nbytes: int = 0, *, direction: str = "loc") -> None:
        """Count ``objs`` objects of ``nbytes`` bytes (``direction``: loc, in or out)."""
        st = self.job.stats
        if direction == "in":
            st.in_objs += objs
            st.in_bytes += nbytes
        elif direction == "out":
            st.out_objs += objs
            st.out_bytes += nbytes
        else:
            st.objs += objs
            st.bytes += nbytes


Work = Callable[[JobContext], None]


def _new_id(kind: str) -> str:
    return _ID_PREFIX.get(kind, "") + uuidlib.uuid4().hex[:10]


class JobRegistry:
    """Every job this emulator started. Thread-safe. At most ``max_running`` jobs run in
    threads at once; one more is refused (``TooManyJobs``) before it is recorded."""

    def __init__(self, max_running: int = MAX_RUNNING_JOBS,
                 on_event: Optional[Callable[[Job, str], None]] = None):
        """``on_event(job, "start" | "end")`` is called as jobs start and end."""
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._running = 0
        self.max_running = max_running
        self._on_event = on_event

    def start(self, kind: str, work: Optional[Work] = None, *, bck=None, src_bck=None,
              dst_bck=None, sync: bool = False, details: Optional[dict] = None) -> Job:
        """Record a new job and run ``work`` (in a thread, or inline with ``sync``)."""
        job = Job(id=_new_id(kind), kind=kind, bck=bck if bck is not None else src_bck,
                  src_bck=src_bck, dst_bck=dst_bck, details=dict(details or {}))
        threaded = work is not None and not sync
        with self._lock:
            if threaded:
                if self._running >= self.max_running:
                    raise TooManyJobs(kind, self.max_running)
                self._running += 1
            self._jobs[job.id] = job
        self._event(job, "start")
        if work is None:
            self._finish(job, "")
        elif sync:
            self._run(job, work)
        else:
            threading.Thread(target=self._run, args=(job, work, True), daemon=True,
                             name=f"ais-job-{job.id}").start()
        return job

    def begin(self, kind: str, *, bck=None, details: Optional[dict] = None) -> Job:
        """Record a running job whose work the caller does (e.g. a reply being streamed);
        the caller ends it with ``end`` and checks ``job.abort_requested`` meanwhile."""
        job = Job(id=_new_id(kind), kind=kind, bck=bck, details=dict(details or {}),
                  _external=True)
        with self._lock:
            self._jobs[job.id] = job
        self._event(job, "start")
        return job

    def end(self, job: Job, err: str = "") -> None:
        """End a job started with ``begin`` (once; later calls do nothing)."""
        with self._lock:
            if job._ended:
                return
            job._ended = True
        self._finish(job, err)

    def _run(self, job: Job, work: Work, counted: bool = False) -> None:
        err = ""
        try:
            work(JobContext(job))
        except StoreError as e:
            err = e.message
        except Exception as e:  # noqa: BLE001 - a job's failure is its record, never a crash
            err = f"{type(e).__name__}: {e}"
        finally:
            if counted:
                with self._lock:
                    self._running -= 1
        self._finish(job, err)

    @property
    def running(self) -> int:
        """Jobs running in their threads now."""
        return self._running

    def _finish(self, job: Job, err: str) -> None:
        if job._abort.is_set():
            job.aborted = True
            err = err or "aborted"
        job.err = err
        job.end_ns = time.time_ns()
        job._done.set()
        self._event(job, "end")

    def _event(self, job: Job, event: str) -> None:
        if self._on_event is not None:
            try:
                self._on_event(job, event)
            except Exception:  # noqa: BLE001 - a listener never breaks a job
                pass

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id=job_id)
        return job

    def find(self, job_id: str = "", kind: str = "", bck=None,
             running_only: bool = False) -> list[Job]:
        """Jobs matching every given filter, oldest first."""
        with self._lock:
            jobs = list(self._jobs.values())
        out = []
        for job in jobs:
            if job_id and job.id != job_id:
                continue
            if kind and job.kind != kind:
                continue
            if bck is not None and bck not in (job.bck, job.src_bck, job.dst_bck):
                continue
            if running_only and job.finished:
                continue
            out.append(job)
        return sorted(out, key=lambda j: j.start_ns)

    def abort(self, job_id: str = "", kind: str = "", bck=None) -> list[Job]:
        """Ask matching running jobs to stop; they end with ``aborted``, and so does an
        idle-kind job that is done but still active (AIS aborts the idle xaction). AIS:
        400 without an ID or a kind."""
        if not job_id and not kind:
            raise InvalidRequest("abort needs a job ID or a kind")
        jobs = self.find(job_id, kind, bck)
        if job_id and not jobs:
            raise JobNotFound(job_id=job_id)
        for job in jobs:
            if not job.finished:
                job._abort.set()
                if job._external:  # its caller may be blocked (e.g. a stalled stream)
                    self.end(job, "aborted")
            elif job.active():  # an idle xaction AIS still holds: it ends aborted
                job._abort.set()
                job.aborted, job.err = True, job.err or "aborted"
                self._event(job, "end")
        return jobs

    def reset(self) -> None:
        with self._lock:
            jobs, self._jobs = list(self._jobs.values()), {}
        for job in jobs:
            job._abort.set()
