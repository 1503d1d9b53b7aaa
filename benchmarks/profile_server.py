"""Where a 16 KiB GET spends its time: cProfile of the EmulatorServer and of the client.

The server runs in its own process (as in the benchmarks) with every thread profiled;
the client (one ``requests.Session``, sequential GETs) is profiled here. Not a
benchmark: a tool for the performance work::

    python -m benchmarks.profile_server --requests 2000 --top 25
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import tempfile
import time

from benchmarks.contenders import object_url
from benchmarks.servers import ServerProcess

# calls that mostly wait for the other side rather than compute
_WAITS = ("poll", "select", "recv_into", "recv", "accept", "acquire", "wait", "sendall")


def _top(stats: pstats.Stats, n: int, per: int, title: str) -> str:
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats("tottime").print_stats(n)
    total = waits = 0.0
    for (_file, _line, func), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        total += tottime
        if _file == "~" and any(w in func for w in _WAITS):
            waits += tottime
    head = (f"== {title}: {(total - waits) / per * 1e6:.0f} µs per request in Python "
            f"(+{waits / per * 1e6:.0f} µs in socket send/recv/poll, mostly waiting) ==\n")
    return head + out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args(argv)

    import requests

    fd, server_prof = tempfile.mkstemp(suffix=".pstats")
    os.close(fd)
    os.environ["AIS_BENCH_PROFILE"] = server_prof
    try:
        with ServerProcess("emulator", quick=True) as srv:
            manifest = srv.seed("small")
            names = [name for name, _ in manifest["objects"]]
            urls = [object_url(srv.url, manifest["bucket"], names[i % len(names)])
                    for i in range(args.requests)]
            client = cProfile.Profile()
            t0 = time.perf_counter()
            with requests.Session() as session:
                session.trust_env = False  # no proxy/netrc lookups per request
                client.enable()
                for url in urls:
                    _ = session.get(url).content
                client.disable()
            wall = time.perf_counter() - t0
        print(f"{args.requests} GETs in {wall:.2f}s (profiled on both sides): "
              f"{args.requests / wall:.0f} GET/s\n")
        print(_top(pstats.Stats(server_prof), args.top, args.requests, "server"))
        print(_top(pstats.Stats(client), args.top, args.requests, "client"))
    finally:
        os.environ.pop("AIS_BENCH_PROFILE", None)
        os.unlink(server_prof)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
