"""HTTP fuzz tier: seeded random and malformed requests over raw sockets to the server.

Every case is built from one ``random.Random`` (``FUZZ_SEED``), and the run stops after
``FUZZ_SECONDS`` (default 8; ``make fuzz`` runs longer) or ``FUZZ_CASES`` cases. Cases mix
well-formed AIS requests with hostile values (CR/LF in names and metadata, deep JSON,
huge numbers, template bombs, catastrophic archregx, foreign origins), byte-level
mutations of them, and framing attacks (Content-Length with chunked, bad chunk sizes,
early closes, stalls, pipelining). Asserted throughout and after:

* no 5xx reply (501 and 505 are protocol answers, allowed), no injected header line;
* a request from a foreign ``Origin`` is refused (403);
* the server answers a health check every few cases, and never leaves a client waiting
  past its timeouts;
* no traceback or error in the emulator's log;
* objects stored before the fuzz are intact after it.

    FUZZ_SECONDS=120 FUZZ_SEED=7 pytest tests/fuzz/test_http_fuzz.py
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import socket
import time
from collections import Counter

import pytest

from ais_emulator import Emulator, EmulatorServer
from ais_emulator.limits import ServerLimits
from ais_emulator.shards import make_tar

SEED = int(os.environ.get("FUZZ_SEED", "1103"))
SECONDS = float(os.environ.get("FUZZ_SECONDS", "8"))
MAX_CASES = int(os.environ.get("FUZZ_CASES", "0")) or None
LIMITS = ServerLimits(header_timeout=0.3, idle_timeout=0.3, read_timeout=0.3,
                      max_connections=64)
CLIENT_WAIT = 5.0  # a reply (or a close) must come within this, whatever was sent

pytestmark = pytest.mark.timeout(SECONDS + 120)


WITNESS = {"a.bin": bytes(range(256)) * 40, "dir/b.txt": b"bravo", "empty": b"",
           "s.tar": make_tar([("x/1.cls", b"1"), ("x/1.jpg", b"jpg"), ("a" * 40 + "!", b"a")])}
FUZZ_OBJECTS = {"o": b"hello", "d/e.txt": b"echo", "s.tar": WITNESS["s.tar"]}


class _Errors(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(f"{record.levelname} {record.getMessage()}")


# -- case generation ------------------------------------------------------------------------

JUNK = ["", "x", "%0D%0AX-Injected:%201", "a%00b", "%E2%82%AC", "..%2Fx", "a/./b", "%ff%fe",
        "%", "a" * 300, "é", "a b", "?", "#", "dir/", "s.tar", "o", "d/e.txt", "%0A"]
PATTERNS = ["^(a+)+$", "(a|aa)*b", r"\.jpg$", "(a)\\1", "[", "(?=a)", ".*" * 40, "x/1", ""]
TEMPLATES = ["x-{0000000..9999999}", "o", "{0..99999999999}", "{0..9}" * 70, "p@99999999",
             "%06d", "{1..0}", "{a,b}", "*", "", "x-{00..10..0}", "9" * 5000]
ACTIONS = ["create-bck", "destroy-bck", "list", "copy-bck", "etl-bck", "delete-listrange",
           "evict-listrange", "prefetch-listrange", "copy-listrange", "archive", "promote",
           "summary-bck", "move-bck", "mpt-upload", "mpt-complete", "check-lock", "",
           "set-bprops", "start", "stop", "bogus"]
ROUTES = ["/v1/objects/{b}/{o}", "/v1/objects/{b}", "/v1/buckets/{b}", "/v1/buckets/{b}/{o}",
          "/v1/buckets", "/v1/daemon", "/v1/cluster", "/v1/ml/moss/{b}", "/v1/etl",
          "/v1/etl/{o}", "/v1/health", "/v1/{o}", "/{o}", "/v1/objects/witness/{w}"]
METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "TRACE", "GETX"]
_SENSIBLE = {"/v1/objects/{b}/{o}": ["GET", "HEAD", "PUT", "DELETE", "PATCH", "POST"],
             "/v1/buckets/{b}": ["GET", "HEAD", "POST", "DELETE", "PUT"],
             "/v1/daemon": ["GET"], "/v1/cluster": ["GET", "PUT"], "/v1/ml/moss/{b}": ["GET"],
             "/v1/etl": ["GET", "PUT"], "/v1/health": ["GET"]}


def _value(rnd: random.Random, depth: int = 0):
    kind = rnd.randrange(12)
    if kind == 0 and depth < 3:
        return {rnd.choice(["template", "objnames", "prefix", "tobck", "pagesize", "flags",
                            "uuid", "value", "coer", "in"]): _value(rnd, depth + 1)
                for _ in range(rnd.randrange(4))}
    if kind == 1 and depth < 3:
        return [_value(rnd, depth + 1) for _ in range(rnd.randrange(4))]
    return rnd.choice([rnd.choice(TEMPLATES), rnd.choice(JUNK), 10**rnd.randrange(30),
                       -1, 0.5, True, None, {"name": "fz2"}, ["o", "d/e.txt"],
                       "x" * rnd.choice([1, 3000])])


def _body(rnd: random.Random) -> bytes:
    kind = rnd.randrange(10)
    if kind == 0:
        return b""
    if kind == 1:
        return rnd.randbytes(rnd.randrange(1, 300))
    if kind == 2:
        return rnd.choice([b"[", b"{\"a\":"]) * rnd.choice([10, 600, 50_000])
    if kind == 3:
        return b'{"action": ' + b"1" * rnd.choice([20, 5000]) + b"}"
    if kind == 4:
        return b'{"action":"list","value":{"pagesize":NaN}}'
    msg = {"action": rnd.choice(ACTIONS), "name": rnd.choice(JUNK[:6]), "value": _value(rnd)}
    if rnd.random() < 0.3:
        msg["value"] = {"k": "v\r\nX-Evil: 1\r\n\r\nSMUGGLED", "big": "x" * rnd.choice([5, 3000])}
    return json.dumps(msg).encode()


def _query(rnd: random.Random) -> str:
    params = []
    for _ in range(rnd.randrange(4)):
        key = rnd.choice(["provider", "archpath", "archregx", "archmode", "props", "uploadId",
                          "partNumber", "append_type", "append_handle", "object_to",
                          "etl_name", "what", "presence", "set-new-custom", "namespace", "x"])
        value = rnd.choice(PATTERNS + JUNK + ["ais", "aws", "regexp", "wdskey", "smap",
                                              "1" * 30, "-1", "append", "flush", "name,size"])
        params.append(f"{key}={value}")
    return "&".join(params)


def _headers(rnd: random.Random, host: str) -> list[tuple[str, str]]:
    out = [("Host", host)]
    for _ in range(rnd.randrange(4)):
        out.append(rnd.choice([
            ("Range", rnd.choice(["bytes=0-9", "bytes=5-2", "bytes=0-" + "9" * 5000, "bytes=-0",
                                  "bytes=" + ",".join(["0-1"] * 50), "items=1-2", "bytes=9-"])),
            ("Ais-Custom-Md", rnd.choice(["k=v", "noequals", "=v", "k=" + "v" * 3000, "k=a\x01b"])),
            ("Ais-Checksum-Type", rnd.choice(["xxhash2", "md5", "bogus", "crc32c"])),
            ("Ais-Checksum-Value", rnd.choice(["0", "deadbeef", ""])),
            ("Content-Type", rnd.choice(["application/json", "text/plain", "x" * 100])),
            ("Accept", "application/msgpack"),
            ("Expect", "100-continue"),
            ("Connection", rnd.choice(["close", "keep-alive", "upgrade"])),
        ]))
    return out


def _request(rnd: random.Random, host: str) -> tuple[bytes, str, bool]:
    """(bytes, method, has a foreign Origin) of one structured request."""
    route = rnd.choice(ROUTES)
    method = rnd.choice(METHODS if rnd.random() < 0.3 else _SENSIBLE.get(route, METHODS))
    if "witness" in route:
        method = rnd.choice(["GET", "HEAD"])  # read-only on the witness bucket
    path = route.format(b=rnd.choice(["fz", "fz2", "nosuch", "abc%0A", "a" * 70, "..", "%00"]),
                        o=rnd.choice(JUNK), w=rnd.choice(list(WITNESS) + JUNK[:5]))
    query = _query(rnd)
    headers = _headers(rnd, host)
    foreign = rnd.random() < 0.08
    if foreign:
        headers.append(rnd.choice([("Origin", "http://evil.example"), ("Origin", "null"),
                                   ("Sec-Fetch-Site", "cross-site")]))
        if rnd.random() < 0.5:
            path, query = "/v1/__emulator__/reset", ""
    body = _body(rnd) if method not in ("HEAD",) or rnd.random() < 0.2 else b""
    chunked = rnd.random() < 0.15
    headers.append(("Transfer-Encoding", "chunked") if chunked
                   else ("Content-Length", str(len(body))))
    if chunked:
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
    target = path + ("?" + query if query else "")
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode("utf-8") + b"\r\n" + body, method, foreign


def _mutate(rnd: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rnd.randrange(1, 4)):
        if not data:
            break
        i = rnd.randrange(len(data))
        op = rnd.randrange(5)
        if op == 0:
            data[i] ^= 1 << rnd.randrange(8)
        elif op == 1:
            data[i:i] = rnd.choice([b"\r", b"\n", b"\r\n", b"\x00", b" ", b":", b"\r\n\r\n"])
        elif op == 2:
            del data[i:i + rnd.randrange(1, 16)]
        elif op == 3:
            data = data[:i]
        else:
            end = data.find(b"\r\n", i)
            if end > 0:
                data[end:end] = data[i:end + 2][-64:]
    return bytes(data)


def _framing(rnd: random.Random, host: str) -> tuple[bytes, bool]:
    """(bytes, stall): a framing attack; ``stall`` keeps the socket open after sending."""
    put = f"PUT /v1/objects/fz/f{rnd.randrange(9)} HTTP/1.1\r\nHost: {host}\r\n".encode()
    kind = rnd.randrange(9)
    if kind == 0:
        return put + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", False
    if kind == 1:
        size = rnd.choice([b"ffffffffffff", b"1" * 20, b"-5", b"zz", b"5;ext=\x01", b"0x5", b""])
        return put + b"Transfer-Encoding: chunked\r\n\r\n" + size + b"\r\nabc", rnd.random() < 0.1
    if kind == 2:
        return put + b"Content-Length: " + rnd.choice([b"1000000000000", b"99999999999999999999",
                                                        b"1e3", b"5, 6", b""]) + b"\r\n\r\nabc", False
    if kind == 3:  # declared more than sent, then silence (or a close)
        return put + b"Content-Length: 1000\r\n\r\n0123456789", rnd.random() < 0.15
    if kind == 4:  # a head that never ends (or is cut by a close)
        return put[: rnd.randrange(len(put))], rnd.random() < 0.15
    if kind == 5:  # pipelining
        one = f"GET /v1/health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        return one * rnd.randrange(2, 5) + put + b"Content-Length: 2\r\n\r\nhi", False
    if kind == 6:
        return put + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n", False
    if kind == 7:
        return (b"GET /v1/health HTTP/1.1\r\nHost: " + host.encode() + b"\r\n" +
                b"X-Pad: " + b"p" * rnd.choice([100, 70_000]) + b"\r\n\r\n"), False
    return rnd.randbytes(rnd.randrange(1, 200)), False


# -- the run ---------------------------------------------------------------------------------

_STATUS = re.compile(rb"(?:^|\r\n)HTTP/1\.1 (\d{3}) ")
_INJECTED = re.compile(rb"\r\n(?:x-injected|x-evil|smuggled)", re.IGNORECASE)


def _exchange(addr, data: bytes, stall: bool) -> bytes:
    with socket.create_connection(addr, timeout=CLIENT_WAIT) as s:
        try:
            s.sendall(data)
            if not stall:
                s.shutdown(socket.SHUT_WR)  # the server reads EOF after our bytes
        except OSError:
            pass  # the server refused early and closed: what it sent is still readable
        out = bytearray()
        t0 = time.monotonic()
        while True:
            try:
                chunk = s.recv(1 << 16)
            except ConnectionResetError:
                break
            except TimeoutError:
                raise AssertionError(f"no reply and no close within {CLIENT_WAIT} s for "
                                     f"{data[:120]!r}") from None
            if not chunk:
                break
            out += chunk
            assert time.monotonic() - t0 < 30, "a reply that never ends"
        return bytes(out)


def _health(addr, host: str) -> None:
    out = _exchange(addr, f"GET /v1/health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(), False)
    assert out.startswith(b"HTTP/1.1 200 "), out[:200]


def test_http_fuzz():
    errors = _Errors()
    logger = logging.getLogger("ais_emulator")
    logger.addHandler(errors)
    emu = Emulator(max_object_size=1 << 20)
    for bucket, objects in (("witness", WITNESS), ("fz", FUZZ_OBJECTS), ("fz2", {})):
        emu.create_bucket(bucket)
        for name, data in objects.items():
            emu.put_object(bucket, name, data)
    rnd = random.Random(SEED)
    statuses: Counter = Counter()
    kinds: Counter = Counter()
    cases = 0
    try:
        with EmulatorServer(emulator=emu, limits=LIMITS) as srv:
            host_port = srv.url.split("//")[1]
            host, port = host_port.rsplit(":", 1)
            addr = (host, int(port))
            deadline = time.monotonic() + SECONDS
            while time.monotonic() < deadline and (MAX_CASES is None or cases < MAX_CASES):
                cases += 1
                roll = rnd.random()
                foreign, stall = False, False
                if roll < 0.55:
                    kind = "structured"
                    data, _, foreign = _request(rnd, host_port)
                elif roll < 0.8:
                    kind = "mutated"
                    data = _mutate(rnd, _request(rnd, host_port)[0])
                else:
                    kind = "framing"
                    data, stall = _framing(rnd, host_port)
                kinds[kind] += 1
                out = _exchange(addr, data, stall)
                codes = [int(c) for c in _STATUS.findall(out)]
                statuses.update(codes)
                bad = [c for c in codes if c >= 500 and c not in (501, 505)]
                assert not bad, f"case {cases} ({kind}) got {bad}: {data[:300]!r} -> {out[:600]!r}"
                for m in _STATUS.finditer(out):
                    head = out[m.start():out.find(b"\r\n\r\n", m.start())]
                    assert not _INJECTED.search(head), (data[:300], out[:600])
                if foreign and codes:
                    assert codes[0] in (400, 403, 413, 414, 431, 501), (data[:300], out[:300])
                if cases % 25 == 0:
                    _health(addr, host_port)
            _health(addr, host_port)
    finally:
        logger.removeHandler(errors)
    print(f"\nhttp fuzz: seed {SEED}, {cases} cases {dict(kinds)}, statuses "
          f"{dict(sorted(statuses.items()))}")
    assert not errors.records, errors.records[:5]
    for name, data in WITNESS.items():
        assert emu.get_object("witness", name) == data, name
    assert [b.name for b in emu.list_buckets() if b.name == "witness"] == ["witness"]
    # the run exercised what it claims to: many cases, answers across the 2xx-4xx range
    assert cases >= 50 and len(statuses) >= 8, (cases, statuses)
    assert statuses[403] and statuses[400] and statuses[200]
