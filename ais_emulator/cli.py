"""Command line: ``ais-emulator serve [--host 127.0.0.1] [--port 51080] [--allow-etl-code]
[--max-object-size 5GiB] [--allow-host NAME]... [--allow-origin ORIGIN]...``.

Binds loopback by default, prints ``ais-emulator: serving AIStore API at <url>`` once
``GET /v1/health`` answers, and exits 0 on SIGINT or SIGTERM. Binding any other address
prints a warning (louder with ``--allow-etl-code``): whoever can connect may change every
bucket, and with ETL code allowed, run code.

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

from ais_emulator.emulator import Emulator
from ais_emulator.limits import MAX_OBJECT_SIZE, parse_size
from ais_emulator.transports.server import EmulatorServer, is_loopback

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
    serve.add_argument("--max-object-size", type=_size, default=MAX_OBJECT_SIZE,
                       metavar="SIZE", help="largest object the in-memory store takes, e.g. "
                                            "512MiB (default: 5GiB); larger PUTs get 413")
    serve.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                       help="a Host name to accept on the emulator's control routes besides "
                            "the bound address (repeatable; '*' accepts any)")
    serve.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                       help="a browser origin (e.g. http://localhost:3000) allowed to call "
                            "the emulator (repeatable; '*' allows any)")
    return p


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _wait_healthy(url: str, timeout: float = 10.0) -> None:
    probe = url.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:")
    with urllib.request.urlopen(probe + "/v1/health", timeout=timeout) as resp:
        if resp.status != 200:
            raise RuntimeError(f"health check answered {resp.status}")


def serve(host: str, port: int, allow_etl_code: bool = False,
          max_object_size: int = MAX_OBJECT_SIZE, allowed_hosts: Sequence[str] = (),
          allowed_origins: Sequence[str] = ()) -> int:
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            emu = Emulator(max_object_size=max_object_size)
            server = EmulatorServer(host=host, port=port, emulator=emu,
                                    allow_etl_code=allow_etl_code, allowed_hosts=allowed_hosts,
                                    allowed_origins=allowed_origins).start()
        except OSError as e:
            print(f"ais-emulator: cannot bind {host}:{port}: {e}", file=sys.stderr)
            return 1
        try:
            _wait_healthy(server.url)
            if not is_loopback(host):
                _warn_exposed(host, allow_etl_code)
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


def _warn_exposed(host: str, allow_etl_code: bool) -> None:
    print(f"ais-emulator: WARNING: bound to {host}, not loopback: anyone who can reach this "
          "address may read, change and delete every bucket (there is no authentication)",
          file=sys.stderr, flush=True)
    if allow_etl_code:
        print("ais-emulator: WARNING: --allow-etl-code on a non-loopback address: anyone who "
              "can reach it may RUN ARBITRARY PYTHON CODE on this machine", file=sys.stderr,
              flush=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args.host, args.port, args.allow_etl_code, args.max_object_size,
                     args.allow_host, args.allow_origin)
    return 2  # pragma: no cover (argparse enforces the sub-command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
