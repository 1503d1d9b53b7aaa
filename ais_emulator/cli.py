"""Command line: ``ais-emulator serve [--host 127.0.0.1] [--port 51080] [--allow-etl-code]
[--fault SPEC ...]``.

Binds loopback by default, prints ``ais-emulator: serving AIStore API at <url>`` once
``GET /v1/health`` answers, and exits 0 on SIGINT or SIGTERM. Each ``--fault`` installs
one fault rule (``ais_emulator.faults``; one line as ``emu.faults.add`` takes it), printed
at start; ``/v1/__emulator__/faults`` shows their counters and changes them later.

    ais-emulator serve --port 0          # any free port; the URL is printed
    ais-emulator serve --fault "503 p=0.05 op=get" --fault "reset after=4096 p=0.02"
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

from ais_emulator.faults import FaultSpecError, Rule, parse_spec
from ais_emulator.transports.server import EmulatorServer

DEFAULT_PORT = 51080


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ais-emulator",
                                description="A pure-Python emulator of the AIStore REST API.")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the AIStore REST API over HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"port to bind; 0 picks a free one (default: {DEFAULT_PORT})")
    serve.add_argument("--allow-etl-code", action="store_true",
                       help="run the ETL classes clients send with init_class() (off by "
                            "default: they are code from whoever can reach the server)")
    serve.add_argument("--fault", action="append", default=[], metavar="SPEC", type=_fault,
                       help="inject a fault: KIND [key=value ...], e.g. '503 p=0.05 op=get' "
                            "or 'reset after=4096 p=0.02' (repeatable; see "
                            "ais_emulator.faults)")
    return p


def _fault(spec: str) -> str:
    """Check a ``--fault`` spec (argparse reports the error and exits 2)."""
    try:
        Rule(**parse_spec(spec))
    except (FaultSpecError, TypeError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return spec


def _wait_healthy(url: str, timeout: float = 10.0) -> None:
    probe = url.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:")
    with urllib.request.urlopen(probe + "/v1/health", timeout=timeout) as resp:
        if resp.status != 200:
            raise RuntimeError(f"health check answered {resp.status}")


def serve(host: str, port: int, allow_etl_code: bool = False,
          faults: Sequence[str] = ()) -> int:
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
            for spec in faults:
                rule = server.emulator.faults.add(spec)
                print(f"ais-emulator: fault rule {rule.id}: {rule}", flush=True)
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
        return serve(args.host, args.port, args.allow_etl_code, args.fault)
    return 2  # pragma: no cover (argparse enforces the sub-command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
