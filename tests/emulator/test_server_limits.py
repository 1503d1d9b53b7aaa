"""The HTTP server under hostile framing (defects 8 and 9): strict RFC 9112 parsing, clear
4xx answers at every limit, bounded memory for bodies, timeouts, a connection cap, and
control routes a browser page cannot reach. No case may leave a traceback in the log."""

from __future__ import annotations

import logging
import socket
import time
import tracemalloc

import pytest
import requests

from ais_emulator import EmulatorServer
from ais_emulator.api.types import Response
from ais_emulator.limits import ServerLimits
from ais_emulator.store import ObjectNotFound

pytestmark = pytest.mark.timeout(120)

FAST = ServerLimits(header_timeout=0.5, idle_timeout=0.5, read_timeout=0.5)


@pytest.fixture
def clean_log(caplog):
    caplog.set_level(logging.WARNING, logger="ais_emulator")
    yield caplog
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


@pytest.fixture
def srv(clean_log):
    with EmulatorServer(limits=FAST) as s:
        s.emulator.create_bucket("b")
        s.emulator.put_object("b", "keep", b"kept")
        yield s


def addr(srv):
    host, port = srv.url.split("//")[1].rsplit(":", 1)
    return host, int(port)


def exchange(srv, data: bytes, wait: float = 5.0) -> bytes:
    """Send ``data`` and read until the server closes (or ``wait`` passes)."""
    with socket.create_connection(addr(srv), timeout=wait) as s:
        s.sendall(data)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return out


def healthy(srv) -> None:
    assert requests.get(srv.url + "/v1/health", timeout=5).status_code == 200
    assert srv.emulator.get_object("b", "keep") == b"kept"


HOST = b"Host: 127.0.0.1\r\n"


@pytest.mark.parametrize("request_bytes,status", [
    (b"PUT /v1/objects/b/x HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),  # smuggling shape
    (b"PUT /v1/objects/b/x HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
    (b"PUT /v1/objects/b/x HTTP/1.1\r\n" + HOST + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    (b"PUT /v1/objects/b/x HTTP/1.1\r\n" + HOST + b"Content-Length: +5\r\n\r\nhello", 400),
    (b"PUT /v1/objects/b/x HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
     b"1ffffffffffffffff\r\nab", 400),                                 # 17 hex digits
    (b"PUT /v1/objects/b/x HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
     b"3\r\nabcXX0\r\n\r\n", 400),                                     # no CRLF after data
    (b"GET /v1/health HTTP/1.1\r\n\r\n", 400),                         # no Host
    (b"GET /v1/health HTTP/1.1\r\n" + HOST + HOST + b"\r\n", 400),     # two Hosts
    (b"GET /v1/health HTTP/1.1\r\n" + HOST + b"X-A: a\r\n b\r\n\r\n", 400),  # obs-fold
    (b"GET /v1/health HTTP/1.1\r\nHost : x\r\n\r\n", 400),             # space before colon
    (b"GET /v1/health HTTP/1.1\r\n" + HOST + b"X-A: a\x00b\r\n\r\n", 400),
    (b"GET /v1/health HTTP/1.1\r\n" + HOST + b"X-A: a\rb\r\n\r\n", 400),
    (b"GET  /v1/health HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    (b"GET /v1/health HTTP/2.0\r\n" + HOST + b"\r\n", 505),
    (b"GET /" + b"a" * 40_000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 414),
    (b"GET /v1/health HTTP/1.1\r\n" + HOST + b"X-A: " + b"a" * 70_000 + b"\r\n\r\n", 431),
    (b"GET /v1/health HTTP/1.1\r\n" + HOST + b"X-A: a\r\n" * 200 + b"\r\n", 431),
])
def test_malformed_framing_gets_a_clear_answer(srv, request_bytes, status):
    out = exchange(srv, request_bytes)
    assert out.startswith(b"HTTP/1.1 %d " % status), out[:200]
    healthy(srv)


def test_huge_content_length_is_a_413_without_reading_it(srv):
    """Defect 8: Content-Length 10^12 was a MemoryError traceback and a dropped connection."""
    out = exchange(srv, b"PUT /v1/objects/b/big HTTP/1.1\r\n" + HOST +
                   b"Content-Length: 1000000000000\r\n\r\nabc")
    assert out.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in out
    healthy(srv)


def test_huge_chunk_size_streams_then_times_out(srv):
    """Defect 8: a chunk size of 0xffffffffffff was an OverflowError; now the body streams
    into the store and a client that goes silent gets a 408."""
    out = exchange(srv, b"PUT /v1/objects/b/big HTTP/1.1\r\n" + HOST +
                   b"Transfer-Encoding: chunked\r\n\r\nffffffffffff\r\nabc")
    assert out.startswith(b"HTTP/1.1 408 "), out[:200]
    healthy(srv)
    with pytest.raises(ObjectNotFound):
        srv.emulator.get_object("b", "big")


def test_a_silent_body_frees_its_thread(srv):
    """Defect 8: declaring 1000 bytes and sending 10 held a thread forever."""
    out = exchange(srv, b"PUT /v1/objects/b/x HTTP/1.1\r\n" + HOST +
                   b"Content-Length: 1000\r\n\r\n0123456789")
    assert out.startswith(b"HTTP/1.1 408 ")
    healthy(srv)


def test_header_and_idle_timeouts_close_the_connection(srv):
    with socket.create_connection(addr(srv), timeout=5) as s:  # slow head
        s.sendall(b"GET /v1/health HTTP/1.1\r\n")
        t0 = time.monotonic()
        out = s.recv(65536)
        assert out.startswith(b"HTTP/1.1 408 ") and time.monotonic() - t0 < 4
    with socket.create_connection(addr(srv), timeout=5) as s:  # idle keep-alive
        s.sendall(b"GET /v1/health HTTP/1.1\r\n" + HOST + b"\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
        assert s.recv(65536) == b""  # closed after idle_timeout


def test_connection_cap_reclaims_idle_connections(clean_log):
    limits = ServerLimits(max_connections=4, idle_timeout=30, header_timeout=30)
    with EmulatorServer(limits=limits) as s:
        idle = []
        for _ in range(4):
            c = socket.create_connection(addr(s), timeout=5)
            c.sendall(b"GET /v1/health HTTP/1.1\r\n" + HOST + b"\r\n")
            assert c.recv(65536).startswith(b"HTTP/1.1 200 ")
            idle.append(c)
        slow = [socket.create_connection(addr(s), timeout=5) for _ in range(3)]
        for c in slow:
            c.sendall(b"GET /v1/health HTTP/1.1\r\n")  # heads that never end
        for _ in range(3):  # still served: idle connections make room
            assert requests.get(s.url + "/v1/health", timeout=5).status_code == 200
        for c in idle + slow:
            c.close()


def test_pipelined_requests_and_drained_small_bodies(srv):
    reqs = (b"GET /v1/health HTTP/1.1\r\n" + HOST + b"Content-Length: 3\r\n\r\nabc"
            b"PUT /v1/objects/b/p HTTP/1.1\r\n" + HOST + b"Content-Length: 2\r\n\r\nhi"
            b"GET /v1/objects/b/p HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n")
    out = exchange(srv, reqs)
    assert out.count(b"HTTP/1.1 200 ") == 3 and out.endswith(b"hi")


def test_chunked_put_is_held_once(srv):
    """Defect 8: a chunked PUT was held twice (the parts and their join)."""
    size, piece = 64 << 20, b"z" * (1 << 20)
    body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(size // len(piece)))
    body += b"0\r\n\r\n"
    tracemalloc.start()
    try:
        with socket.create_connection(addr(srv), timeout=30) as s:
            s.sendall(b"PUT /v1/objects/b/chunked HTTP/1.1\r\n" + HOST +
                      b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            s.sendall(body)
            assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
        base = len(body)  # the test's own copy of the body is traced too
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - base < 1.5 * size, (peak - base) / size
    assert len(srv.emulator.get_object("b", "chunked")) == size


def test_reply_headers_never_carry_line_breaks(srv, monkeypatch):
    """The server's last check: a header value with CR/LF built past ``dispatch``."""
    import ais_emulator.transports.server as server

    monkeypatch.setattr(server, "dispatch", lambda emu, req: Response(
        200, {"X-Test": "a\r\nX-Injected: 1\r\n\r\nbody"}, b"ok"))
    out = exchange(srv, b"GET /v1/health HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n")
    head = out.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nX-Injected" not in head and b"X-Test: a  X-Injected: 1    body" in head


# -- browser pages (defect 9) ----------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Host": "rebind.example:{port}"},
    {"Sec-Fetch-Site": "cross-site"},
])
def test_a_web_page_cannot_reset_the_emulator(srv, headers):
    port = addr(srv)[1]
    headers = {k: v.format(port=port) for k, v in headers.items()}
    r = requests.post(srv.url + "/v1/__emulator__/reset", headers=headers,
                      data="x", timeout=5)
    assert r.status_code == 403, r.text
    healthy(srv)


def test_a_web_page_cannot_write_data_either(srv):
    r = requests.post(srv.url + "/v1/buckets/b", data='{"action":"destroy-bck"}',
                      headers={"Origin": "http://evil.example", "Content-Type": "text/plain"})
    assert r.status_code == 403
    healthy(srv)


def test_reset_from_the_bound_address_works(srv):
    port = addr(srv)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        r = requests.post(srv.url + "/v1/__emulator__/reset", headers={"Host": host},
                          timeout=5)
        assert r.status_code == 200
    r = requests.post(srv.url + "/v1/__emulator__/reset",
                      headers={"Origin": f"http://localhost:{port}"}, timeout=5)
    assert r.status_code == 200


def test_allowed_hosts_option(clean_log):
    with EmulatorServer(allowed_hosts=["emu.internal"]) as s:
        r = requests.post(s.url + "/v1/__emulator__/reset",
                          headers={"Host": "emu.internal:1"}, timeout=5)
        assert r.status_code == 200


def test_binding_a_non_loopback_address_warns(caplog):
    caplog.set_level(logging.WARNING, logger="ais_emulator")
    with EmulatorServer(host="0.0.0.0", allow_etl_code=True) as s:
        port = s.url.rsplit(":", 1)[1]
        assert requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=5).status_code == 200
    msgs = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("reachable from other machines" in m and "RUN CODE" in m for m in msgs), msgs
