"""HTTP/1.1 connections for the server: request heads and bodies, with bounded memory.

``Wire`` reads one connection: ``read_head`` returns a parsed ``Head`` (request line and
headers, checked by :mod:`ais_emulator.transports.http_head`) within the size and time
limits of ``ServerLimits``, and ``body`` returns the request body as a one-pass stream
of chunks (``BodyStream``): nothing is read until a handler asks, so an object's bytes
go from the socket into the store once.

Refused with a ``Refusal`` (status and reason, after which the connection closes), on
top of what ``http_head`` refuses: a request line over ``max_request_line`` (414) or a
head over ``max_header_bytes`` (431) while it arrives, a client silent for
``header_timeout`` (408). Inside a body: a malformed chunk size or a missing CRLF after
chunk data (400), trailers over the head limits (431), a client that goes silent for
``read_timeout`` (408) or closes early.

    wire = Wire(sock, ServerLimits())
    head = wire.read_head(first=True)      # None: the client closed or idled out
    stream = wire.body(head)               # iterate it, or leave it for the server to drain
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from typing import Optional

from ais_emulator.api.types import BodyReadError
from ais_emulator.limits import ServerLimits
from ais_emulator.transports.http_head import Head, Refusal, head_end, parse_head

_RECV = 256 * 1024
_PIECE = 1 << 20  # body chunks handed to the handler: at most 1 MiB each

_CHUNK = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?\Z")


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
            end = head_end(self.buf)
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
        return self._body_recv(
            lambda: self._recv(self.limits.read_timeout, max(1, min(n, _PIECE))))

    def read_into(self, view: memoryview) -> int:
        """Fill the start of ``view`` (buffered bytes first, else one ``recv_into``)."""
        if self.buf:
            n = min(len(view), len(self.buf))
            view[:n] = self.buf[:n]
            del self.buf[:n]
            return n
        def receive() -> int:
            self.sock.settimeout(self.limits.read_timeout)
            return self.sock.recv_into(view, min(len(view), _PIECE))

        return self._body_recv(receive)

    def _body_recv(self, receive):
        """What ``receive()`` (one recv of body bytes) got, never nothing: silence past
        the read timeout is a 408, a failed or closed connection a 400 (BodyReadError)."""
        try:
            got = receive()
        except TimeoutError:
            raise BodyReadError(408, f"request body timed out ({self.limits.read_timeout:g} s "
                                     "without data)") from None
        except OSError as e:
            raise BodyReadError(400, f"request body: connection failed ({e})") from None
        if not got:
            raise BodyReadError(400, "client closed the connection before the whole body")
        return got

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

    def readinto(self, view: memoryview) -> int:
        """Content-Length bodies: fill ``view`` from the socket without an intermediate
        copy (the store's fast path); returns the bytes written, 0 at the end."""
        if self.chunked:
            raise TypeError("readinto serves Content-Length bodies only")
        if not self.started:
            iter(self)  # the first read: 100 Continue, bookkeeping
        if not self.left:
            self.done = True
            return 0
        try:
            n = self.wire.read_into(view[:self.left])
        except BaseException:
            self.broken = True
            raise
        self.left -= n
        self.done = not self.left
        return n

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
