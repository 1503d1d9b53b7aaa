"""Benchmark session set-up: ``--quick``, the servers, and the run-wide ratios.

``--quick``: corpora of about a tenth of the size and one round per benchmark (with
``--benchmark-disable`` a smoke run that only checks the suite still works).
``--bench-rounds N`` overrides the number of rounds. ``--bench-live URL``: the dataset
benchmarks read from the real AIStore at URL (fresh buckets of their own, removed
afterwards) instead of the emulator; the emulator-vs-moto server benchmarks are skipped.
The servers are session-wide child processes (``benchmarks.servers``); each corpus is
built and loaded once, on first use.
"""

from __future__ import annotations

import os
import platform
import sys

import pytest

from benchmarks import corpora, measure
from benchmarks.servers import LiveCluster, ServerProcess


def pytest_addoption(parser):
    group = parser.getgroup("ais benchmarks")
    group.addoption("--quick", action="store_true", default=False,
                    help="small corpora (about a tenth) and one round per benchmark")
    group.addoption("--bench-rounds", type=int, default=None,
                    help="rounds per benchmark (default 3, or 1 with --quick)")
    group.addoption("--bench-live", default=None, metavar="URL",
                    help="read the dataset benchmarks' corpora from the real AIStore at URL "
                         "(fresh buckets, removed afterwards) instead of the emulator")


def pytest_configure(config):
    path = config.getoption("benchmark_json", None)
    if path is not None:  # e.g. bench-results/run.json on a fresh clone
        os.makedirs(os.path.dirname(os.path.abspath(str(path))), exist_ok=True)


@pytest.fixture(scope="session")
def quick(pytestconfig) -> bool:
    return bool(pytestconfig.getoption("--quick"))


@pytest.fixture(scope="session")
def sizes(quick) -> corpora.Sizes:
    return corpora.sizes(quick)


@pytest.fixture(scope="session")
def n_rounds(pytestconfig, quick) -> int:
    return pytestconfig.getoption("--bench-rounds") or (1 if quick else 3)


def live_url(config) -> str:
    return (config.getoption("--bench-live") or "").strip()


@pytest.fixture(scope="session")
def emulator_server(pytestconfig, quick):
    """The session's EmulatorServer (child process); corpora via ``.seed(name)``."""
    if live_url(pytestconfig):
        pytest.skip("--bench-live: the emulator's own benchmarks do not run against a cluster")
    with ServerProcess("emulator", quick) as srv:
        yield srv


@pytest.fixture(scope="session")
def data_server(pytestconfig, quick, request):
    """Where the dataset benchmarks read from: the EmulatorServer, or with ``--bench-live``
    the real AIStore (``LiveCluster``); corpora via ``.seed(name)``."""
    url = live_url(pytestconfig)
    if not url:
        yield request.getfixturevalue("emulator_server")
        return
    with LiveCluster(url, quick) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def moto_server(quick):
    """moto's ThreadedMotoServer (child process), the reference S3 emulator."""
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"moto[server]/boto3 not installed ({exc})")
    with ServerProcess("moto", quick) as srv:
        yield srv


_SKIPPED: list[dict] = []


def pytest_runtest_logreport(report):
    """Remember skipped benchmarks, so the saved run (and the report) can say why."""
    if report.skipped and report.when in ("setup", "call"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(
            report.longrepr)
        if reason.startswith("Skipped: "):
            reason = reason[len("Skipped: "):]
        _SKIPPED.append({"test": report.nodeid, "reason": reason})


def pytest_benchmark_update_machine_info(config, machine_info):
    import psutil

    machine_info["cpu_count_logical"] = os.cpu_count()
    machine_info["memory_total_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    machine_info["platform"] = platform.platform()
    versions = {}
    for mod in ("torch", "aistore", "webdataset", "moto", "requests"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - a version is informational only
            continue
    machine_info["versions"] = versions


def pytest_benchmark_update_json(config, benchmarks, output_json):
    """Ratios between the entries of this run, and how to reproduce it."""
    measure.fill_ratios([b["extra_info"] for b in output_json["benchmarks"]])
    args = " ".join(config.invocation_params.args)
    python = sys.executable
    try:
        python = os.path.relpath(python, config.invocation_params.dir)
    except ValueError:
        pass
    if python.startswith(".."):
        python = os.path.basename(sys.executable)
    output_json["ais_bench"] = {
        "quick": bool(config.getoption("--quick")),
        "command": f"{python} -m pytest {args}",
        "python": python,
        "json": str(config.getoption("benchmark_json") or ""),
        "sizes": vars(corpora.sizes(bool(config.getoption("--quick")))),
        "skipped": [s for s in _SKIPPED if "benchmark-only" not in s["reason"]],
        "target": _target(config),
    }


def _target(config) -> dict:
    """What served the dataset benchmarks' data."""
    url = live_url(config)
    if not url:
        return {"kind": "emulator", "name": "ais_emulator.EmulatorServer"}
    version = ""
    try:
        import requests

        reply = requests.get(f"{url.rstrip('/')}/v1/daemon", params={"what": "node_status"},
                             timeout=5).json()
        version = str(reply.get("ais_version") or "")  # e.g. "5.0.v1.5.0"
    except Exception:  # noqa: BLE001 - the version is informational
        version = ""
    return {"kind": "aistore", "name": f"AIStore{' ' + version if version else ''}",
            "url": url}


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, config):
    """The run's rates and ratios, after pytest-benchmark's own tables."""
    session = getattr(config, "_benchmarksession", None)
    infos = [b.extra_info for b in getattr(session, "benchmarks", None) or []]
    infos = [i for i in infos if i.get("group")]
    if not infos:
        return
    measure.fill_ratios(infos)
    terminalreporter.section("ais benchmarks: rates and ratios (same run)")
    for i in sorted(infos, key=lambda i: (i["group"], str(i.get("num_workers")))):
        parts = [f"{i['group']:<46}", f"{i['contender']:<28}",
                 f"w={i['num_workers'] if i.get('num_workers') is not None else '-'}",
                 f"{i['samples_per_s']:>10.1f} samples/s", f"{i['mib_per_s']:>8.1f} MiB/s"]
        for key, label in (("ratio_to_baseline", "x upstream"),
                           ("ratio_to_ceiling", "x its request ceiling"),
                           ("ratio_to_dl_ceiling", "x DataLoader ceiling"),
                           ("paired_ratio", "x moto, paired rounds"),
                           ("server_cpu_ratio", "x less server CPU"),
                           ("rss_delta_ratio", "RSS growth 8S/S")):
            if i.get(key) is not None:
                parts.append(f"{i[key]:.2f} {label}")
        if i.get("capped_at"):
            parts.append(f"(first {i['capped_at']} samples)")
        terminalreporter.write_line("  ".join(parts))
