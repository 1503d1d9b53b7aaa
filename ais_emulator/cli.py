"""Command line: ``ais-emulator serve [--host 127.0.0.1] [--port 51080] [--allow-etl-code]``.

Binds loopback by default, prints ``ais-emulator: serving AIStore API at <url>`` once
``GET /v1/health`` answers, and exits 0 on SIGINT or SIGTERM.

    ais-emulator serve --port 0          # any free port; the URL is printed
    python -m ais_emulator serve
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import urllib.request
from collections.abc import Sequence
from typing import Optional

from ais_emulator.transports.server import EmulatorServer

DEFAULT_PORT = 51080


_EXAMPLES = f"""examples:
  ais-emulator serve                    # http://127.0.0.1:{DEFAULT_PORT}
  ais-emulator serve --port 0           # any free port; the URL is printed
  AIS_ENDPOINT=http://127.0.0.1:{DEFAULT_PORT} python train.py
  curl -X POST http://127.0.0.1:{DEFAULT_PORT}/v1/__emulator__/reset    # drop all state
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ais-emulator", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="A pure-Python emulator of the AIStore REST API: the unchanged aistore\n"
                    "SDK, aistore.pytorch, ais_datasets, webdataset or curl run against it\n"
                    "without a cluster. (In tests, ais_emulator.mock_ais and the pytest\n"
                    "fixtures need no server at all.)",
        epilog=_EXAMPLES)
    sub = p.add_subparsers(dest="command", required=True, title="commands")
    serve = sub.add_parser(
        "serve", help="serve the AIStore REST API over HTTP",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve the AIStore REST API over HTTP. Prints the URL once\n"
                    "GET /v1/health answers; stops on SIGINT or SIGTERM.",
        epilog=_EXAMPLES)
    serve.add_argument("--host", default="127.0.0.1", metavar="ADDRESS",
                       help="address to bind (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N",
                       help=f"port to bind; 0 picks a free one (default: {DEFAULT_PORT})")
    serve.add_argument("--allow-etl-code", action="store_true",
                       help="run the ETL classes clients send with init_class() (off by "
                            "default: they are code from whoever can reach the server)")
    return p


def _wait_healthy(url: str, timeout: float = 10.0) -> None:
    probe = url.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:")
    with urllib.request.urlopen(probe + "/v1/health", timeout=timeout) as resp:
        if resp.status != 200:
            raise RuntimeError(f"health check answered {resp.status}")


def serve(host: str, port: int, allow_etl_code: bool = False) -> int:
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            server = EmulatorServer(host=host, port=port, allow_etl_code=allow_etl_code).start()
        except OSError as e:
            print(f"ais-emulator: cannot bind {host}:{port}: {e}", file=sys.stderr)
            return 1
        try:
            _wait_healthy(server.url)
            print(f"ais-emulator: serving AIStore API at {server.url}", flush=True)
            while not stop.wait(0.5):
                pass
        finally:
            server.stop()
        print("ais-emulator: stopped", flush=True)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args.host, args.port, args.allow_etl_code)
    return 2  # pragma: no cover (argparse enforces the sub-command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
