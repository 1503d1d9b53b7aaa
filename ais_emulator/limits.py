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


LIMITS = (
    Limit("max_object_size", "5 GiB", "413",
          "one object's bytes (PUT, append session, multipart total); objects live in "
          "memory: `Emulator(max_object_size=...)`, `ais-emulator serve --max-object-size`"),
    Limit("MAX_CONTROL_BODY", "16 MiB", "413", "a JSON request body"),
    Limit("MAX_JSON_DEPTH", "512", "400", "nesting of arrays and objects in a JSON body"),
    Limit("MAX_CUSTOM_MD", "2 KiB", "400",
          "custom metadata of a PUT or PATCH, sum of key and value lengths (as AIS)"),
    Limit("MAX_OBJECT_NAME", "16 KiB", "400", "an object name, in UTF-8 bytes"),
    Limit("MAX_TEMPLATE_NAMES", "10,000,000", "400",
          "names one range template expands to (iterated lazily, never held in a list)"),
    Limit("MAX_RUNNING_JOBS", "64", "429", "jobs running at the same time"),
    Limit("range numbers", "int64", "416", "a Range start or end (AIS's strconv.ParseInt)"),
    Limit("archregx", "linear time", "400",
          "RE2 syntax, matched by google-re2; without it a pure-Python check refuses "
          "patterns that can backtrack catastrophically"),
    Limit("max_request_line", "32 KiB", "414", "the request line (method, URL, version)"),
    Limit("max_header_bytes", "64 KiB", "431", "the request line and headers together"),
    Limit("max_headers", "128", "431", "header lines of one request"),
    Limit("max_chunk_line", "4 KiB", "400", "a chunk-size line (chunked request bodies)"),
    Limit("header_timeout", "16 s", "close", "from a request's first byte to its last header"),
    Limit("idle_timeout", "30 s", "close", "an idle kept-alive connection"),
    Limit("read_timeout", "60 s", "close", "silence while a request body is read"),
    Limit("max_connections", "512", "wait",
          "open connections; at the cap the oldest idle one is closed, else new ones wait"),
    Limit("MAX_HEADER_VALUE", "32 KiB", "-",
          "a header value the emulator sends (CR, LF and other controls become spaces)"),
)

_SIZE = re.compile(r"\s*(\d+)\s*([kmgt]?)(i?b?)\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``"5GiB"``, ``"512m"``, ``"1000"`` -> bytes (powers of 1024); ValueError otherwise."""
    m = _SIZE.fullmatch(text)
    if m is None:
        raise ValueError(f"invalid size {text!r} (expecting e.g. 512MiB, 5GiB, 1000)")
    return int(m.group(1)) << (10 * "_kmgt".index(m.group(2).lower() or "_"))
