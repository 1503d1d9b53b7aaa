"""EmulatorServer vs moto's ThreadedMotoServer: 16 KiB GETs/s and large-object MiB/s.

Both servers hold the same bytes (the first ``server_objects`` small objects and the
large object) and are read by the same plain-HTTP client: one ``requests.Session``,
sequential GETs, the emulator at ``/v1/objects/<bucket>/<obj>?provider=ais`` and moto at
path-style ``/<bucket>/<obj>`` (``trust_env`` off: no per-request proxy lookups from the
environment, which otherwise cost the client ~0.3 ms per GET). Each server runs in its
own child process; besides the client-side rates, the server process's CPU seconds per
request are recorded.

Per size there are three entries in one group: the emulator, moto, and a paired run that
alternates one emulator round with one moto round and reports the median of the per-pair
ratios (robust against the load of a shared machine changing between the two tests)::

    pytest benchmarks/test_emulator_server.py --benchmark-only --benchmark-json=run.json
"""

from __future__ import annotations

import statistics
import time

import pytest

from benchmarks import measure
from benchmarks.contenders import CHUNK, object_url

pytestmark = pytest.mark.timeout(1800)

SERVERS = {"emulator": ("ais_emulator.EmulatorServer", measure.OURS),
           "moto": ("moto.ThreadedMotoServer", measure.BASELINE)}
PAIRED = "paired rounds: emulator / moto"


@pytest.fixture(scope="session")
def server_rounds(pytestconfig, quick) -> int:
    """More rounds than the dataset benchmarks: these are short and the ratio is headline."""
    return pytestconfig.getoption("--bench-rounds") or (1 if quick else 5)


def _url(kind: str, endpoint: str, bucket: str, name: str) -> str:
    if kind == "emulator":
        return object_url(endpoint, bucket, name)
    return f"{endpoint}/{bucket}/{name}"


class _Target:
    """One server, its URLs, and a GET loop that also books server and client CPU."""

    def __init__(self, request, kind: str, size: str, sizes):
        self.kind = kind
        self.srv = request.getfixturevalue(f"{kind}_server")
        if size == "small":
            n = sizes.server_objects
            # the emulator already holds the whole small-objects corpus; moto the first n
            manifest = self.srv.seed("small") if kind == "emulator" else self.srv.seed(
                "small", limit=n)
            objects = manifest["objects"][:n]
            self.stream_chunk = None
            self.group = "server-get-16KiB"
            self.note = "requests.Session, sequential GETs, one object each"
        else:
            manifest = self.srv.seed("large")
            objects = manifest["objects"]
            self.stream_chunk = CHUNK
            self.group = f"server-get-{objects[0][1] // 2**20}MiB"
            self.note = f"streamed GET, iter_content({CHUNK // 2**20} MiB)"
        self.urls = [_url(kind, self.srv.url, manifest["bucket"], name) for name, _ in objects]
        self.corpus = {"name": self.group, "bucket": manifest["bucket"], "samples": len(objects),
                       "bytes_per_sample": sum(s for _, s in objects) / len(objects)}
        self.cpu: dict[str, list] = {"server": [], "client": [], "redirects": []}

    def make(self):
        import requests

        s0, c0 = self.srv.cpu_seconds(), time.process_time()
        with requests.Session() as session:
            session.trust_env = False  # no proxy/netrc lookups per request, for either server
            for url in self.urls:
                if self.stream_chunk:
                    got = 0
                    with session.get(url, stream=True) as resp:
                        resp.raise_for_status()
                        for block in resp.iter_content(self.stream_chunk):
                            got += len(block)
                else:
                    resp = session.get(url)
                    resp.raise_for_status()
                    got = len(resp.content)
                self.cpu["redirects"].append(len(resp.history))
                yield url, got
        self.cpu["server"].append(self.srv.cpu_seconds() - s0)
        self.cpu["client"].append(time.process_time() - c0)

    def round(self) -> measure.Round:
        return measure.consume(self.make, lambda i: i[0], lambda i: i[1])

    def cpu_info(self) -> dict:
        n = len(self.urls)
        return {
            "server_cpu_s_per_request": statistics.median(self.cpu["server"]) / n,
            "client_cpu_s_per_request": statistics.median(self.cpu["client"]) / n,
            "redirects_per_get": statistics.mean(self.cpu["redirects"]),
        }


@pytest.mark.parametrize("size", ["small", "large"])
@pytest.mark.parametrize("kind", list(SERVERS))
def test_server_get(benchmark, request, kind, size, sizes, server_rounds):
    target = _Target(request, kind, size, sizes)
    rounds = measure.run_rounds(benchmark, target.round, server_rounds, target.group)
    contender, role = SERVERS[kind]
    measure.record(benchmark, corpus=target.corpus, contender=contender, role=role,
                   rounds=rounds, note=target.note, **target.cpu_info())
    benchmark.extra_info["requests_per_s"] = benchmark.extra_info["samples_per_s"]


@pytest.mark.parametrize("size", ["small", "large"])
def test_server_get_paired(benchmark, request, size, sizes, server_rounds):
    emu = _Target(request, "emulator", size, sizes)
    moto = _Target(request, "moto", size, sizes)
    pairs: list[tuple[measure.Round, measure.Round]] = []

    def one_pair() -> measure.Round:
        pair = (emu.round(), moto.round())
        pairs.append(pair)
        return pair[0]

    rounds = measure.run_rounds(benchmark, one_pair, server_rounds, emu.group)
    ratios = [m.seconds / e.seconds for e, m in pairs if e.seconds > 0]
    e_cpu, m_cpu = emu.cpu_info(), moto.cpu_info()
    measure.record(
        benchmark, corpus=emu.corpus, contender=PAIRED, role=measure.PAIRED, rounds=rounds,
        note="alternating rounds; rates are the emulator's, the ratio is per pair",
        paired_ratio=statistics.median(ratios), paired_ratio_min=min(ratios),
        paired_ratio_max=max(ratios), paired_rounds=len(ratios),
        paired_server_cpu_ratio=(m_cpu["server_cpu_s_per_request"]
                                 / e_cpu["server_cpu_s_per_request"]
                                 if e_cpu["server_cpu_s_per_request"] else None),
        **{f"moto_{k}": v for k, v in m_cpu.items()}, **e_cpu)
