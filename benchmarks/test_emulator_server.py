"""EmulatorServer vs moto's ThreadedMotoServer: 16 KiB GETs/s and large-object MiB/s.

Both servers hold the same bytes (the first ``server_objects`` small objects and the
large object) and are read by the same plain-HTTP client: one ``requests.Session``,
sequential GETs, the emulator at ``/v1/objects/<bucket>/<obj>?provider=ais`` and moto at
path-style ``/<bucket>/<obj>`` (``trust_env`` off: no per-request proxy lookups from the
environment, which otherwise cost the client ~0.3 ms per GET). Each server runs in its own child process; besides the
client-side rates, the server process's CPU seconds per request are recorded.

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


def _server(request, kind: str):
    return request.getfixturevalue(f"{kind}_server")


def _url(kind: str, endpoint: str, bucket: str, name: str) -> str:
    if kind == "emulator":
        return object_url(endpoint, bucket, name)
    return f"{endpoint}/{bucket}/{name}"


def _get_rounds(benchmark, srv, urls, group, n_rounds, stream_chunk=None):
    """Rounds of sequential GETs of ``urls``; per-round server and client CPU seconds."""
    import requests

    cpu = {"server": [], "client": [], "redirects": []}

    def make():
        s0, c0 = srv.cpu_seconds(), time.process_time()
        with requests.Session() as session:
            session.trust_env = False  # no proxy/netrc lookups per request, for either server
            for url in urls:
                if stream_chunk:
                    got = 0
                    with session.get(url, stream=True) as resp:
                        resp.raise_for_status()
                        for block in resp.iter_content(stream_chunk):
                            got += len(block)
                else:
                    resp = session.get(url)
                    resp.raise_for_status()
                    got = len(resp.content)
                cpu["redirects"].append(len(resp.history))
                yield url, got
        cpu["server"].append(srv.cpu_seconds() - s0)
        cpu["client"].append(time.process_time() - c0)

    rounds = measure.run_rounds(
        benchmark, lambda: measure.consume(make, lambda i: i[0], lambda i: i[1]),
        n_rounds, group)
    per_req = len(urls)
    return rounds, {
        "server_cpu_s_per_request": statistics.median(cpu["server"]) / per_req,
        "client_cpu_s_per_request": statistics.median(cpu["client"]) / per_req,
        "redirects_per_get": statistics.mean(cpu["redirects"]) if cpu["redirects"] else 0,
    }


@pytest.mark.parametrize("kind", list(SERVERS))
def test_get_16kib_objects(benchmark, request, kind, sizes, n_rounds):
    srv = _server(request, kind)
    n = sizes.server_objects
    # the emulator already holds the whole small-objects corpus; moto gets the first n
    manifest = srv.seed("small") if kind == "emulator" else srv.seed("small", limit=n)
    objects = manifest["objects"][:n]
    urls = [_url(kind, srv.url, manifest["bucket"], name) for name, _ in objects]
    group = "server-get-16KiB"
    rounds, extra = _get_rounds(benchmark, srv, urls, group, n_rounds)
    corpus = {"name": group, "bucket": manifest["bucket"], "samples": n,
              "bytes_per_sample": sum(size for _, size in objects) / n}
    contender, role = SERVERS[kind]
    measure.record(benchmark, corpus=corpus, contender=contender, role=role, rounds=rounds,
                   note="requests.Session, sequential GETs, one object each", **extra)
    benchmark.extra_info["requests_per_s"] = benchmark.extra_info["samples_per_s"]


@pytest.mark.parametrize("kind", list(SERVERS))
def test_get_large_object(benchmark, request, kind, sizes, n_rounds):
    srv = _server(request, kind)
    manifest = srv.seed("large")
    (name, size), = manifest["objects"]
    url = _url(kind, srv.url, manifest["bucket"], name)
    group = f"server-get-{size // 2**20}MiB"
    rounds, extra = _get_rounds(benchmark, srv, [url], group, n_rounds, stream_chunk=CHUNK)
    contender, role = SERVERS[kind]
    measure.record(benchmark, corpus={**manifest, "name": group}, contender=contender,
                   role=role, rounds=rounds,
                   note=f"streamed GET, iter_content({CHUNK // 2**20} MiB)", **extra)
