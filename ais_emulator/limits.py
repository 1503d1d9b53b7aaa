"""Every resource limit of the emulator, its default, and the answer past it.

Hostile or broken input meets a bound and a clear 4xx, never unbounded memory, a
hang or a 5xx. Limits that copy real AIS carry its number; the others are the
emulator's own (real AIS spreads objects over disks, the emulator holds them in memory).
``LIMITS`` lists them all for the generated coverage page (``docs/emulation.md``).

    Emulator(max_object_size=64 * MiB)                  # 413 past 64 MiB
    EmulatorServer(limits=ServerLimits(max_connections=64, idle_timeout=5.0))
    ais-emulator serve --max-object-size 1GiB
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

# -- the protocol (api/, store/): fixed ----------------------------------------------------
MAX_OBJECT_SIZE = 5 * GiB        # default of Emulator(max_object_size=...), --max-object-size
MAX_CONTROL_BODY = 16 * MiB      # a JSON request body (action messages, GetBatch, queries)
MAX_JSON_DEPTH = 512             # nesting of [ and { in a JSON body
MAX_CUSTOM_MD = 2 * KiB          # AIS's maxSizeCustomKVs: sum of len(key) + len(value)
MAX_OBJECT_NAME = 16 * KiB       # UTF-8 bytes of an object name
MAX_TEMPLATE_NAMES = 10_000_000  # names one range template may expand to (AIS's cap)
MAX_RUNNING_JOBS = 64            # jobs running at once (copy, transform, archive, ...)
MAX_HEADER_VALUE = 32 * KiB      # a header value the emulator sends (clients cap lines at 64 KiB)


@dataclass(frozen=True)
class ServerLimits:
    """The HTTP server's bounds (``EmulatorServer(limits=...)``); times in seconds."""

    max_request_line: int = 32 * KiB   # method, target and version: 414 past it
    max_header_bytes: int = 64 * KiB   # request line and every header together: 431
    max_headers: int = 128             # header lines: 431
    max_chunk_line: int = 4 * KiB      # a chunk-size line with its extensions: 400
    header_timeout: float = 16.0       # first byte to the end of the headers (AIS's 16 s)
    idle_timeout: float = 30.0         # between requests on a kept-alive connection (AIS's)
    read_timeout: float = 60.0         # silence while a request body is being read
    max_connections: int = 512         # open connections; at the cap idle ones are closed


@dataclass(frozen=True)
class Limit:
    name: str
    default: str
    answer: str
    what: str


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return str(n)


_SERVER = ServerLimits()

LIMITS = (
    Limit("max_object_size", _size(MAX_OBJECT_SIZE), "413",
          "one object's bytes (PUT, append session, multipart total); objects live in "
          "memory: `Emulator(max_object_size=...)`, `ais-emulator serve --max-object-size`"),
    Limit("MAX_CONTROL_BODY", _size(MAX_CONTROL_BODY), "413", "a JSON request body"),
    Limit("MAX_JSON_DEPTH", str(MAX_JSON_DEPTH), "400",
          "nesting of arrays and objects in a JSON body"),
    Limit("MAX_CUSTOM_MD", _size(MAX_CUSTOM_MD), "400",
          "custom metadata of a PUT or PATCH, sum of key and value lengths (as AIS)"),
    Limit("MAX_OBJECT_NAME", _size(MAX_OBJECT_NAME), "400", "an object name, in UTF-8 bytes"),
    Limit("MAX_TEMPLATE_NAMES", f"{MAX_TEMPLATE_NAMES:,}", "400",
          "names one range template expands to (iterated lazily, never held in a list)"),
    Limit("MAX_RUNNING_JOBS", str(MAX_RUNNING_JOBS), "429",
          "jobs running at the same time (`Emulator(max_running_jobs=...)`)"),
    Limit("range numbers", "int64", "416", "a Range start or end (AIS's strconv.ParseInt)"),
    Limit("archregx", "linear time", "400",
          "RE2 syntax, matched by google-re2; without it a pure-Python check refuses "
          "patterns that can backtrack catastrophically"),
    Limit("max_request_line", _size(_SERVER.max_request_line), "414",
          "the request line (method, URL, version)"),
    Limit("max_header_bytes", _size(_SERVER.max_header_bytes), "431",
          "the request line and headers together"),
    Limit("max_headers", str(_SERVER.max_headers), "431", "header lines of one request"),
    Limit("max_chunk_line", _size(_SERVER.max_chunk_line), "400",
          "a chunk-size line (chunked request bodies)"),
    Limit("header_timeout", f"{_SERVER.header_timeout:g} s", "408, close",
          "from a request's first byte to its last header"),
    Limit("idle_timeout", f"{_SERVER.idle_timeout:g} s", "close",
          "an idle kept-alive connection"),
    Limit("read_timeout", f"{_SERVER.read_timeout:g} s", "408, close",
          "silence while a request body is read (or while a reply is written)"),
    Limit("max_connections", str(_SERVER.max_connections), "wait",
          "open connections; at the cap the oldest idle one is closed, else new ones wait"),
    Limit("MAX_HEADER_VALUE", _size(MAX_HEADER_VALUE), "-",
          "a header value the emulator sends (CR, LF and other controls become spaces)"),
)

_SIZE = re.compile(r"\s*(\d+)\s*([kmgt]?)(i?b?)\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``"5GiB"``, ``"512m"``, ``"1000"`` -> bytes (powers of 1024); ValueError otherwise."""
    m = _SIZE.fullmatch(text)
    if m is None:
        raise ValueError(f"invalid size {text!r} (expecting e.g. 512MiB, 5GiB, 1000)")
    return int(m.group(1)) << (10 * "_kmgt".index(m.group(2).lower() or "_"))
