"""Timing, peak-RSS and ``extra_info`` helpers shared by every benchmark.

One benchmark = one contender on one corpus. Each round runs the whole read (dataset
construction included) and returns a ``Round``; ``run_rounds`` drives the rounds through
``benchmark.pedantic`` (or once, under ``--benchmark-disable``) and ``record`` writes the
medians into ``benchmark.extra_info``::

    rounds = run_rounds(benchmark, lambda: consume(make, key_of, size_of), 3, "shards")
    record(benchmark, corpus=manifest, contender="ais_datasets", role="ours", rounds=rounds)

Ratios between contenders (to upstream, to the ceilings, emulator/moto) are filled in
once per run by ``conftest.pytest_benchmark_update_json`` from the entries of that same
run; the ratio to a contender's request ceiling is measured round by round
(``paired_ratios``, see :mod:`benchmarks.ceilings`).
"""

from __future__ import annotations

import gc
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

MiB = 1024 * 1024

# roles inside a group: the contender being improved, the one it is compared with,
# anything else shown for reference, and a paired A/B entry whose ratio was measured pair
# by pair (``paired_ratio``) and is left alone by ``fill_ratios``
OURS, BASELINE, OTHER, PAIRED = "ours", "baseline", "other", "paired"
# the DataLoader ceiling: samples generated inside each worker, same DataLoader settings
DL_CEILING = "dataloader-ceiling"


def _proc_kib(pid: int | str, field_name: str, file: str = "status") -> int | None:
    """A ``kB`` field of ``/proc/<pid>/<file>`` (``status`` or ``smaps_rollup``)."""
    try:
        with open(f"/proc/{pid}/{file}") as fh:
            for line in fh:
                if line.startswith(field_name):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_hwm() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux ``clear_refs`` 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class PeakRss:
    """Peak RSS of this process and of its children (DataLoader workers, their helpers).

    The main process's peak is its kernel high-water mark (VmHWM), reset on entry. Each
    child's peak is the last VmHWM read from it before it exits, polled every
    ``interval`` seconds; children are summed, so ``total`` is an upper bound (the peaks
    need not coincide, and pages shared with the parent after ``fork`` count again).
    Processes that were already children on entry (the server processes) are left out.
    While there are children, the proportional set size (PSS: shared pages split between
    the processes sharing them) of the whole tree is also sampled every ``pss_interval``
    seconds: ``peak_pss_total_mib`` is the honest "memory of the loading tree" figure.
    """

    pss_interval = 0.1

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.main_kib = 0
        self.start_kib = 0
        self.children_kib: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._hwm_ok = False
        self.pss_total_kib = 0

    def _poll(self) -> None:
        import psutil

        me = psutil.Process()
        known: set[int] = set()
        ignore = self._preexisting
        last_scan = last_pss = 0.0
        while True:
            now = time.monotonic()
            if known and now - last_pss > self.pss_interval:
                pss = [_proc_kib(pid, "Pss:", "smaps_rollup") for pid in ["self", *known]]
                self.pss_total_kib = max(self.pss_total_kib, sum(p for p in pss if p))
                last_pss = now
            if now - last_scan > 0.1:
                try:
                    known |= {c.pid for c in me.children(recursive=True)} - ignore
                except psutil.Error:
                    pass
                last_scan = now
            for pid in list(known):
                kib = _proc_kib(pid, "VmHWM:")
                if kib is None:
                    known.discard(pid)
                elif kib > self.children_kib.get(pid, 0):
                    self.children_kib[pid] = kib
            if not self._hwm_ok:
                rss = _proc_kib("self", "VmRSS:") or 0
                self.main_kib = max(self.main_kib, rss)
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakRss:
        import psutil

        try:
            self._preexisting = {c.pid for c in psutil.Process().children(recursive=True)}
        except psutil.Error:
            self._preexisting = set()
        self._hwm_ok = _reset_hwm()
        self.start_kib = _proc_kib("self", "VmRSS:") or 0
        self.main_kib = self.start_kib
        self._thread = threading.Thread(target=self._poll, name="peak-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if self._hwm_ok:
            self.main_kib = max(self.main_kib, _proc_kib("self", "VmHWM:") or 0)

    @property
    def result(self) -> dict[str, float]:
        workers = sum(self.children_kib.values())
        return {
            "peak_rss_mib": self.main_kib / 1024,
            "peak_rss_delta_mib": (self.main_kib - self.start_kib) / 1024,
            "peak_rss_workers_mib": workers / 1024,
            "peak_rss_total_mib": (self.main_kib + workers) / 1024,
            "worker_processes": len(self.children_kib),
            "peak_pss_total_mib": self.pss_total_kib / 1024 if self.pss_total_kib else None,
        }


@dataclass
class Round:
    seconds: float  # the whole round: construction + iteration (+ worker shutdown)
    samples: float  # distinct samples seen (weighted: a raw GET of a shard counts its samples)
    yielded: int  # items yielded (more than samples if workers duplicate work)
    payload_bytes: int  # bytes of sample payload handed to the caller
    ttfs: float | None  # round start to first sample
    rss: dict[str, float] = field(default_factory=dict)


def consume(make_iterable: Callable[[], Iterable], key_of: Callable[[Any], Any],
            size_of: Callable[[Any], int], cap: int | None = None,
            weight_of: Callable[[Any], float] | None = None,
            release: Callable[[Any], None] | None = None) -> Round:
    """One round: build the iterable, drain it (or its first ``cap`` items) to nowhere.

    ``key_of`` names a sample (distinct keys are counted, so duplicates across workers do
    not count twice); ``weight_of`` says how many samples one item stands for (default 1);
    ``release`` frees what an item holds (e.g. closes a shared-memory buffer).
    """
    gc.collect()  # garbage of the previous round must not count here
    with PeakRss() as mon:
        t0 = time.perf_counter()
        first = None
        seen: dict[Any, float] = {}
        yielded = nbytes = 0
        it = iter(make_iterable())
        for item in it:
            if first is None:
                first = time.perf_counter()
            yielded += 1
            seen[key_of(item)] = 1.0 if weight_of is None else weight_of(item)
            nbytes += size_of(item)
            if release is not None:
                release(item)
            del item
            if cap is not None and yielded >= cap:
                break
        del it  # shuts DataLoader workers down inside the timed, monitored region
        seconds = time.perf_counter() - t0
    return Round(seconds, sum(seen.values()), yielded, nbytes,
                 None if first is None else first - t0, mon.result)


def run_rounds(benchmark, one_round: Callable[[], Round], rounds: int, group: str,
               before: Callable[[], Round] | None = None,
               paired: list[Round] | None = None) -> list[Round]:
    """Run ``one_round`` ``rounds`` times under ``benchmark`` (once when disabled).

    ``before``: a reference round (the contender's request ceiling) run just before each
    round, outside the timed part; its rounds are appended to ``paired``, one per round.
    """
    benchmark.group = group  # read when pytest-benchmark creates its stats
    out: list[Round] = []

    def target() -> None:
        out.append(one_round())

    def setup() -> None:
        paired.append(before())

    if before is not None and paired is None:
        raise ValueError("run_rounds: 'before' needs a 'paired' list")
    benchmark.pedantic(target, setup=setup if before is not None else None, rounds=rounds,
                       iterations=1, warmup_rounds=0)
    return out


def paired_ratios(rounds: list[Round], refs: list[Round]) -> dict[str, float]:
    """Median (and range) of each round's rate over its ceiling round's rate, and the
    ceiling's own median rates."""
    if len(refs) != len(rounds):
        return {}
    ratios = [r.samples / r.seconds / (ref.samples / ref.seconds)
              for r, ref in zip(rounds, refs, strict=True)
              if r.seconds > 0 and ref.seconds > 0 and ref.samples > 0]
    if not ratios:
        return {}
    return {"ceiling_paired_ratio": statistics.median(ratios),
            "ceiling_paired_min": min(ratios), "ceiling_paired_max": max(ratios),
            "ceiling_paired_rounds": len(ratios),
            "ceiling_samples_per_s": statistics.median(
                ref.samples / ref.seconds for ref in refs if ref.seconds > 0),
            "ceiling_body_mib_per_s": statistics.median(
                ref.payload_bytes / ref.seconds / MiB for ref in refs if ref.seconds > 0)}


def record(benchmark, *, corpus: dict, contender: str, role: str, rounds: list[Round],
           num_workers: int | None = None, group: str | None = None,
           cap: int | None = None, expected: int | None = None, note: str = "",
           **extra: Any) -> dict:
    """Median rates of ``rounds`` into ``benchmark.extra_info`` (and returned)."""
    expected = corpus["samples"] if expected is None else expected
    seconds = statistics.median(r.seconds for r in rounds)
    samples = statistics.median(r.samples for r in rounds)
    rates = [r.samples / r.seconds for r in rounds if r.seconds > 0]
    sps = statistics.median(rates) if rates else 0.0
    bps = corpus["bytes_per_sample"]
    ttfs = [r.ttfs for r in rounds if r.ttfs is not None]
    peak = {}
    for k in rounds[0].rss:
        vals = [r.rss[k] for r in rounds if r.rss.get(k) is not None]
        peak[k] = max(vals) if vals else None
    # weighted counts (bytes / bytes per sample) may sum to a hair under the whole
    complete = cap is None and min(r.samples for r in rounds) >= expected - 1e-6
    info = {
        "group": group or corpus["name"],
        "corpus": corpus["name"],
        "contender": contender,
        "role": role,
        "num_workers": num_workers,
        "rounds": len(rounds),
        "seconds_median": seconds,
        "samples": samples,
        "samples_yielded": statistics.median(r.yielded for r in rounds),
        "samples_expected": expected,
        "complete": complete,
        "capped_at": cap,
        "bytes_per_sample": bps,
        "samples_per_s": sps,
        "mib_per_s": sps * bps / MiB,
        "payload_mib_per_s": statistics.median(
            r.payload_bytes / r.seconds / MiB for r in rounds if r.seconds > 0),
        "ttfs_s": statistics.median(ttfs) if ttfs else None,
        **peak,
        "note": note,
        "pid": os.getpid(),
        **extra,
    }
    if cap is None and not complete:
        info["note"] = (note + " " if note else "") + (
            f"INCOMPLETE: {min(r.samples for r in rounds)} of {expected} distinct samples")
    benchmark.extra_info.update(info)
    return info


def _rate(info: dict) -> float | None:
    rate = info.get("samples_per_s")
    return rate if rate else None


def fill_ratios(infos: list[dict]) -> None:
    """Cross-entry ratios of one run, written into each entry's ``extra_info``.

    * ``ratio_to_baseline``: samples/s over the baseline's (role ``baseline``) in the same
      group with the same ``num_workers`` (``baseline_contender`` names it);
    * ``ratio_to_ceiling``: samples/s over the contender's own request ceiling: the
      median of the per-round ratios (``ceiling_paired_ratio``);
    * ``ratio_to_dl_ceiling``: samples/s over the DataLoader ceiling (role
      ``dataloader-ceiling``) of the same group and ``num_workers``;
    * ``server_cpu_ratio``: baseline server CPU per request over this one's (x less CPU);
    * memory scaling (entries with ``scale_factor``): ``rss_ratio`` and
      ``rss_delta_ratio`` of the largest factor over factor 1, per contender and workers.
    """
    infos = [i for i in infos if i and "group" in i]
    base, dl_ceiling = {}, {}
    for info in infos:
        if info.get("role") == BASELINE:
            base[(info["group"], info.get("num_workers"), info.get("scale_factor"))] = info
        elif info.get("role") == DL_CEILING:
            dl_ceiling[(info["group"], info.get("num_workers"))] = info
    for info in infos:
        if info.get("role") == PAIRED:
            continue
        rate = _rate(info)
        ref = base.get((info["group"], info.get("num_workers"), info.get("scale_factor")))
        if ref is not None and rate and _rate(ref):
            info["baseline_contender"] = ref["contender"]
            info["ratio_to_baseline"] = rate / _rate(ref)
            mine, theirs = info.get("server_cpu_s_per_request"), ref.get(
                "server_cpu_s_per_request")
            if mine and theirs:
                info["server_cpu_ratio"] = theirs / mine
        if info.get("ceiling_paired_ratio"):
            info["ratio_to_ceiling"] = info["ceiling_paired_ratio"]
        top = dl_ceiling.get((info["group"], info.get("num_workers")))
        if top is not None and top is not info and rate and _rate(top):
            info["ratio_to_dl_ceiling"] = rate / _rate(top)

    scaled: dict[tuple, dict[int, dict]] = {}
    for info in infos:
        if "scale_factor" in info:
            key = (info["group"], info["contender"], info.get("num_workers"))
            scaled.setdefault(key, {})[info["scale_factor"]] = info
    for by_factor in scaled.values():
        if 1 not in by_factor or len(by_factor) < 2:
            continue
        small, top = by_factor[1], by_factor[max(by_factor)]
        for key, out in (("peak_rss_total_mib", "rss_ratio"),
                         ("peak_rss_delta_mib", "rss_delta_ratio")):
            if small.get(key) is not None:
                # floor at 1 MiB: a near-zero growth at S must not turn into a huge ratio
                top[out] = max(top.get(key) or 0.0, 1.0) / max(small[key], 1.0)
