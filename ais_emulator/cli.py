"""The ``ais-emulator`` command line: ``serve`` one Emulator over HTTP until stopped.

``ais-emulator serve [--host 127.0.0.1] [--port 51080] [--allow-etl-code]
[--data-dir DIR] [--load PROVIDER://BUCKET=PATH ...] [--max-object-size 5GiB]
[--allow-host NAME]... [--allow-origin ORIGIN]... [--promote-root DIR] [--fault SPEC ...]``.

Binds loopback by default, prints ``ais-emulator: serving AIStore API at <url>`` once
``GET /v1/health`` answers, and exits 0 on SIGINT or SIGTERM. Binding any other address
prints a warning (louder with ``--allow-etl-code``): whoever can connect may change every
bucket, and with ETL code allowed, run code. ``--data-dir`` keeps the store in a directory
(``store.disk``); ``--load`` seeds buckets from local trees before serving (``seeding``).
A data dir that cannot be used, or a tree that cannot be loaded, exits 1 with the reason.
Each ``--fault`` installs one fault rule (``ais_emulator.faults``; one line as
``emu.faults.add`` takes it), printed before the serving line;
``/v1/__emulator__/faults`` shows their counters and changes them later.

    ais-emulator serve --port 0          # any free port; the URL is printed
    ais-emulator serve --data-dir ./ais-data --load ais://corpus=./corpus
    ais-emulator serve --fault "503 p=0.05 op=get" --fault "reset after=4096 p=0.02"
    python -m ais_emulator serve
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import urllib.request
from collections.abc import Sequence
from typing import Optional

from ais_emulator.emulator import Emulator
from ais_emulator.faults import FaultSpecError, Rule, parse_spec
from ais_emulator.limits import MAX_OBJECT_SIZE, parse_size
from ais_emulator.seeding import SeedError, parse_load_spec
from ais_emulator.store.catalog import DataDirError
from ais_emulator.store.errors import StoreError
from ais_emulator.transports.server import EmulatorServer, is_loopback

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
    serve.add_argument("--data-dir", metavar="DIR",
                       help="keep buckets and objects in DIR (created if missing); they "
                            "survive restarts and objects may be larger than memory "
                            "(default: in memory only)")
    serve.add_argument("--load", metavar="PROVIDER://BUCKET=PATH", action="append",
                       default=[], type=_load_spec,
                       help="put every file under PATH into BUCKET (created if missing) "
                            "before serving; unchanged files are skipped; repeatable")
    serve.add_argument("--max-object-size", type=_size, default=MAX_OBJECT_SIZE,
                       metavar="SIZE", help="largest object the store holds in memory, e.g. "
                                            "512MiB (default: 5GiB); larger PUTs get 413 "
                                            "(with --data-dir objects stream to disk)")
    serve.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                       help="a Host name to accept on the emulator's control routes besides "
                            "the bound address (repeatable; '*' accepts any)")
    serve.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                       help="a browser origin (e.g. http://localhost:3000) allowed to call "
                            "the emulator (repeatable; '*' allows any)")
    serve.add_argument("--promote-root", metavar="DIR", default=None,
                       help="let clients promote the files under DIR into buckets "
                            "(Object.promote, ais object promote); off by default: the "
                            "emulator reads no local files")
    serve.add_argument("--fault", action="append", default=[], metavar="SPEC", type=_fault,
                       help="inject a fault: KIND [key=value ...], e.g. '503 p=0.05 op=get' "
                            "or 'reset after=4096 p=0.02' (repeatable; see "
                            "ais_emulator.faults)")
    return p


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _load_spec(text: str) -> tuple[str, str, str]:
    try:
        return parse_load_spec(text)
    except SeedError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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


def _open(data_dir: Optional[str], loads, max_object_size: int,
          promote_root: Optional[str] = None) -> Emulator:
    """The Emulator to serve, seeded; DataDirError/SeedError/StoreError on failure."""
    emu = Emulator(data_dir=data_dir, max_object_size=max_object_size,
                   promote_root=promote_root)
    try:
        if data_dir is not None:
            buckets = emu.store.list_buckets()
            count = sum(len(emu.store.object_names(b)) for b in buckets)
            print(f"ais-emulator: data dir {emu.data_dir} ({len(buckets)} buckets, "
                  f"{count} objects)", flush=True)
        for provider, bucket, path in loads:
            stored, same, nbytes = emu.load_tree(bucket, path, provider)
            print(f"ais-emulator: loaded {emu.bucket_id(bucket, provider)} from {path}: "
                  f"{stored} objects stored ({nbytes / 2**20:.1f} MiB), {same} unchanged",
                  flush=True)
    except BaseException:
        emu.close()
        raise
    return emu


def serve(host: str, port: int, allow_etl_code: bool = False,
          max_object_size: int = MAX_OBJECT_SIZE, allowed_hosts: Sequence[str] = (),
          allowed_origins: Sequence[str] = (), data_dir: Optional[str] = None,
          loads=(), promote_root: Optional[str] = None, faults: Sequence[str] = ()) -> int:
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            emu = _open(data_dir, loads, max_object_size, promote_root)
        except (DataDirError, SeedError, StoreError, OSError) as e:
            print(f"ais-emulator: {e}", file=sys.stderr)
            return 1
        try:
            server = EmulatorServer(host=host, port=port, emulator=emu,
                                    allow_etl_code=allow_etl_code, allowed_hosts=allowed_hosts,
                                    allowed_origins=allowed_origins).start()
        except OSError as e:
            emu.close()
            print(f"ais-emulator: cannot bind {host}:{port}: {e}", file=sys.stderr)
            return 1
        try:
            _wait_healthy(server.url)
            if not is_loopback(host):
                _warn_exposed(host, allow_etl_code)
            for spec in faults:
                rule = server.emulator.faults.add(spec)
                print(f"ais-emulator: fault rule {rule.id}: {rule}", flush=True)
            print(f"ais-emulator: serving AIStore API at {server.url}", flush=True)
            while not stop.wait(0.5):
                pass
        finally:
            server.stop()
            emu.close()
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
        if args.promote_root is not None and not os.path.isdir(args.promote_root):
            print(f"ais-emulator: --promote-root {args.promote_root}: not a directory",
                  file=sys.stderr)
            return 2
        return serve(args.host, args.port, args.allow_etl_code, args.max_object_size,
                     args.allow_host, args.allow_origin, args.data_dir, args.load,
                     args.promote_root, args.fault)
    return 2  # pragma: no cover (argparse enforces the sub-command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
