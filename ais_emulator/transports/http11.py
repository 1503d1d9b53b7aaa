"""HTTP/1.1 request framing for the server, as strict as RFC 9112 asks, with bounded memory.

``Wire`` reads one connection: ``read_head`` returns a parsed ``Head`` (request line and
headers) within the size and time limits of ``ServerLimits``, and ``body`` returns the
request body as a one-pass stream of chunks (``BodyStream``): nothing is read until a
handler asks, so an object's bytes go from the socket into the store once.

Refused with a ``Refusal`` (status and reason, after which the connection closes): a
malformed request line (400), a version other than HTTP/1.x (505), a request line over
``max_request_line`` (414), a head over ``max_header_bytes`` or ``max_headers`` (431), a
header name that is not a token, whitespace before the colon, obsolete line folding and
control characters in values (400), HTTP/1.1 without exactly one Host (400), a
Content-Length that is not one decimal number (400), both Content-Length and
Transfer-Encoding (400, the request-smuggling shape), a transfer coding other than
``chunked`` (501). Inside a body: a malformed chunk size or a missing CRLF after chunk
data (400), a client that goes silent for ``read_timeout`` (408) or closes early.

    wire = Wire(sock, ServerLimits())
    head = wire.read_head(first=True)      # None: the client closed or idled out
    stream = wire.body(head)               # iterate it, or leave it for the server to drain
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Optional

from ais_emulator.api.types import BodyReadError
from ais_emulator.limits import ServerLimits

_RECV = 256 * 1024
_PIECE = 1 << 20  # body chunks handed to the handler: at most 1 MiB each

_REQUEST_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\x00-\x20\x7f]+) "
                           rb"HTTP/([0-9])\.([0-9])\Z")
_FIELD = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*\Z", re.DOTALL)
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]{1,19}\Z")
_CHUNK = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?\Z")
_HIGH = re.compile(rb"[\x80-\xff]")


class Refusal(Exception):
    """The request cannot be served; answer ``status`` with ``reason`` and close."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class Head:
    method: str
    target: str
    version: str  # "HTTP/1.1" or "HTTP/1.0"
    headers: dict = field(default_factory=dict)  # lowercase name -> value (repeats joined)
    length: Optional[int] = None  # Content-Length
    chunked: bool = False

    @property
    def keep_alive(self) -> bool:
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.1":
            return "close" not in conn
        return "keep-alive" in conn


class Wire:
    """Buffered reads from one client socket, every wait bounded by a timeout."""

    def __init__(self, sock: socket.socket, limits: ServerLimits):
        self.sock, self.limits = sock, limits
        self.buf = bytearray()
        self.waiting = True  # between requests (the server may close such a connection)

    def _recv(self, timeout: float, size: int = _RECV) -> bytes:
        self.sock.settimeout(max(timeout, 0.001))
        return self.sock.recv(size)

    # -- the head ------------------------------------------------------------------

    def read_head(self, first: bool) -> Optional[Head]:
        """The next request's head; None when the client closed or stayed idle."""
        lim = self.limits
        self.waiting = True
        while self.buf[:2] == b"\r\n" or self.buf[:1] == b"\n":  # stray CRLF between requests
            del self.buf[:2 if self.buf[:1] == b"\r" else 1]
        if not self.buf:
            try:
                data = self._recv(lim.header_timeout if first else lim.idle_timeout)
            except (TimeoutError, OSError):
                return None
            if not data:
                return None
            self.buf += data
        self.waiting = False
        deadline = time.monotonic() + lim.header_timeout
        while True:
            end = _head_end(self.buf)
            if end is not None:
                break
            if len(self.buf) > lim.max_header_bytes:
                nl = self.buf.find(b"\n")
                too_long_line = nl < 0 or nl > lim.max_request_line
                raise Refusal(414 if too_long_line else 431,
                              "URI too long" if too_long_line else "request header fields too large")
            left = deadline - time.monotonic()
            if left <= 0:
                raise Refusal(408, "request header timeout")
            try:
                data = self._recv(left)
            except TimeoutError:
                raise Refusal(408, "request header timeout") from None
            if not data:
                raise ConnectionResetError("client closed inside a request head")
            self.buf += data
        if end > lim.max_header_bytes:
            nl = self.buf.find(b"\n")
            if nl > lim.max_request_line:
                raise Refusal(414, "URI too long")
            raise Refusal(431, "request header fields too large")
        raw = bytes(self.buf[:end])
        del self.buf[:end]
        return parse_head(raw, lim)

    # -- the body ------------------------------------------------------------------

    def body(self, head: Head) -> BodyStream:
        return BodyStream(self, head)

    def read_some(self, n: int) -> bytes:
        """Up to ``n`` bytes (buffered first); BodyReadError on silence or early close."""
        if self.buf:
            out = bytes(self.buf[:n])
            del self.buf[:n]
            return out
        try:
            data = self._recv(self.limits.read_timeout, max(1, min(n, _PIECE)))
        except TimeoutError:
            raise BodyReadError(408, f"request body timed out ({self.limits.read_timeout:g} s "
                                     "without data)") from None
        except OSError as e:
            raise BodyReadError(400, f"request body: connection failed ({e})") from None
        if not data:
            raise BodyReadError(400, "client closed the connection before the whole body")
        return data

    def read_line(self, limit: int) -> bytes:
        """One line without its CRLF (or LF); BodyReadError past ``limit`` bytes."""
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line = bytes(self.buf[:nl])
                del self.buf[:nl + 1]
                return line[:-1] if line.endswith(b"\r") else line
            if len(self.buf) > limit:
                raise BodyReadError(400, "malformed chunked body: line too long")
            self.buf += self.read_some(_RECV)


def _head_end(buf: bytearray) -> Optional[int]:
    """Index just past the empty line ending a head (CRLF or bare LF), or None."""
    i = buf.find(b"\n\r\n")
    j = buf.find(b"\n\n")
    ends = [k + 3 for k in (i,) if k >= 0] + [k + 2 for k in (j,) if k >= 0]
    return min(ends) if ends else None


def parse_head(raw: bytes, lim: ServerLimits) -> Head:
    lines = raw.split(b"\n")
    lines = [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise Refusal(400, "empty request")
    if len(lines[0]) > lim.max_request_line:
        raise Refusal(414, "URI too long")
    m = _REQUEST_LINE.match(lines[0])
    if m is None:
        raise Refusal(400, "malformed request line")
    method, target, major, minor = m.groups()
    if major != b"1":
        raise Refusal(505, "HTTP version not supported")
    version = "HTTP/1.0" if minor == b"0" else "HTTP/1.1"
    if len(lines) - 1 > lim.max_headers:
        raise Refusal(431, f"more than {lim.max_headers} header lines")
    headers: dict[str, str] = {}
    lengths: list[str] = []
    hosts = 0
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            raise Refusal(400, "obsolete line folding in headers")
        fm = _FIELD.match(line)
        if fm is None:
            raise Refusal(400, "malformed header line")
        name, value = fm.group(1).decode("ascii").lower(), fm.group(2)
        if _BAD_VALUE.search(value):
            raise Refusal(400, f"invalid character in header {name}")
        text = value.decode("latin-1")
        if name == "content-length":
            lengths += [v.strip() for v in text.split(",")]
        elif name == "host":
            hosts += 1
        headers[name] = f"{headers[name]}, {text}" if name in headers else text
    if version == "HTTP/1.1" and hosts != 1:
        raise Refusal(400, "missing required Host header" if not hosts else "more than one Host header")
    head = Head(method.decode("ascii"), _target(target), version, headers)
    te = headers.get("transfer-encoding")
    if te is not None:
        if lengths:
            raise Refusal(400, "both Content-Length and Transfer-Encoding")
        codings = [c.strip().lower() for c in te.split(",") if c.strip()]
        if codings != ["chunked"]:
            raise Refusal(501, f"unsupported transfer encoding {te[:64]!r}")
        if version != "HTTP/1.1":
            raise Refusal(400, "Transfer-Encoding in an HTTP/1.0 request")
        head.chunked = True
    elif lengths:
        if len(set(lengths)) != 1 or not _DIGITS.match(lengths[0]):
            raise Refusal(400, "invalid Content-Length")
        head.length = int(lengths[0])
    return head


def _target(raw: bytes) -> str:
    """The request target as text; raw non-ASCII bytes are percent-encoded (as UTF-8)."""
    if _HIGH.search(raw):
        raw = _HIGH.sub(lambda m: b"%%%02X" % m.group()[0], raw)
    return raw.decode("ascii")


class BodyStream:
    """A request body as chunks of at most 1 MiB, read on demand, once. ``length`` is the
    declared Content-Length (None when chunked); ``done`` once the body was read whole.
    ``Expect: 100-continue`` is answered when the first chunk is asked for."""

    def __init__(self, wire: Wire, head: Head):
        self.wire = wire
        self.length = head.length
        self.chunked = head.chunked
        self.left = head.length or 0  # bytes still unread (Content-Length framing)
        self.done = not head.chunked and not head.length
        self.started = False
        self.broken = False
        self.continue_due = (head.version == "HTTP/1.1"
                             and head.headers.get("expect", "").lower() == "100-continue")

    def __iter__(self) -> Iterator[bytes]:
        if self.started:
            raise RuntimeError("a request body can be read once")
        self.started = True
        if self.done:
            return iter(())
        if self.continue_due:
            self.continue_due = False
            try:
                self.wire.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            except OSError as e:
                self.broken = True
                raise BodyReadError(400, f"request body: connection failed ({e})") from None
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        try:
            yield from (self._chunked() if self.chunked else self._sized())
        except BaseException:
            self.broken = True
            raise
        self.done = True

    def _sized(self) -> Iterator[bytes]:
        while self.left:
            data = self.wire.read_some(min(self.left, _PIECE))
            self.left -= len(data)
            yield data

    def _chunked(self) -> Iterator[bytes]:
        wire, lim = self.wire, self.wire.limits
        while True:
            m = _CHUNK.match(wire.read_line(lim.max_chunk_line))
            if m is None:
                raise BodyReadError(400, "malformed chunked body: invalid chunk size line")
            size = int(m.group(1), 16)
            if size == 0:
                break
            while size:
                data = wire.read_some(min(size, _PIECE))
                size -= len(data)
                yield data
            if wire.read_line(2) != b"":
                raise BodyReadError(400, "malformed chunked body: no CRLF after chunk data")
        total = 0
        for _ in range(lim.max_headers + 1):  # trailer fields: read and dropped
            line = wire.read_line(lim.max_header_bytes)
            if not line:
                return
            total += len(line)
            if total > lim.max_header_bytes:
                break
        raise BodyReadError(431, "chunked body trailers too large")

    def drain(self, budget: int) -> bool:
        """Read and drop what is left of the body if at most ``budget`` bytes remain
        (so the connection can be reused); False when it cannot be done cheaply."""
        if self.done:
            return True
        if self.broken or self.continue_due or self.chunked or self.left > budget:
            return False
        if self.started:
            return False  # a handler stopped midway: the stream's position is unknown
        try:
            for _ in self:
                pass
        except (BodyReadError, OSError):
            return False
        return self.done
