"""Executing an injected fault at a transport's edge: what needs a socket (or must look
as if it had one).

``ais_emulator.api.faulting`` prepares a reply whose fault is a reset, a truncation or a
stall (``Response.fault``; a body cut after N bytes raises ``CutBody`` there). Each
transport hands such a reply to one function here:

* HTTP server, :func:`serve`: real socket behaviour. A reset is a TCP RST (``SO_LINGER``
  0, then close), before the status line or after the body bytes the rule allows; a
  truncation sends those bytes under the full ``Content-Length`` (or without the last
  chunk of a chunked reply) and closes; a stall sends nothing more until the client
  closes the connection, the server stops, or the rule's ``delay`` passes (then it closes).
* In-process mock, :func:`in_process`: what ``requests`` raises for the same event on a
  real connection: ``ConnectionError`` (connection aborted: reset by peer) before the
  headers; a body that breaks off with ``ConnectionResetError`` (urllib3:
  ``ProtocolError``, requests: ``ChunkedEncodingError``/``ConnectionError``), ends short
  (urllib3: ``IncompleteRead``), or times out (``ReadTimeoutError``/``ReadTimeout``).

Deviations of the in-process mock (it has no socket): a stall waits for the client's
read timeout (the ``timeout`` the request was sent with) or the rule's ``delay``,
whichever is shorter, then raises the timeout (or, when ``delay`` is shorter, as if the
server closed); without any timeout it waits ``delay``. Connection pooling is not
modelled: a reset after the whole body does not break the *next* request on that
connection, as it does over HTTP.

    return faultexec.serve(self, method, resp, keep, version)   # server: the reply's fault
    raw = faultexec.in_process(resp, request)                   # mock: may raise now
"""

from __future__ import annotations

import http.client
import io
import select
import socket
import struct
import time
from typing import Optional

from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import ReadTimeout
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from ais_emulator.api.faulting import CutBody

_POLL = 0.1


# -- HTTP server ---------------------------------------------------------------------------


def serve(handler, method: str, resp, keep: bool, version: str) -> bool:
    """Send ``resp`` over ``handler``'s connection and execute its fault.

    Returns False: the connection does not carry another request.
    """
    fault = resp.fault
    if not fault.before_headers:
        try:
            handler._send(method, resp, keep, version)  # noqa: SLF001 - the server's own sender
        except CutBody:
            pass  # the bytes the rule allows are out
        except OSError:
            return False  # the client went away first
    if fault.kind == "reset":
        reset_connection(handler)
    elif fault.kind == "stall":
        stay_silent(handler.connection, fault.stall)
    return False


def reset_connection(handler) -> None:
    """Abort the handler's connection with a TCP RST (nothing more is sent)."""
    sock = handler.connection
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    for name in ("wfile", "rfile"):  # the socket closes once no file refers to it
        stream = getattr(handler, name, None)
        try:
            if stream is not None:
                stream.close()
        except (OSError, ValueError):
            pass
    try:
        sock.close()
    except OSError:
        pass


def stay_silent(sock, seconds: float) -> None:
    """Send nothing for up to ``seconds``, until the peer closes or the server stops."""
    deadline = time.monotonic() + max(0.0, seconds)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            readable, _, _ = select.select([sock], [], [], min(_POLL, left))
            if readable and not sock.recv(1, socket.MSG_PEEK):
                return  # the client closed (or the server shut the connection down)
        except (OSError, ValueError):
            return
        if readable:
            time.sleep(min(_POLL, max(0.0, deadline - time.monotonic())))


# -- in-process mock ------------------------------------------------------------------------


def read_timeout(request) -> Optional[float]:
    """The read timeout ``request`` was sent with (None: none)."""
    timeout = getattr(request, "req_kwargs", {}).get("timeout")
    if isinstance(timeout, tuple):
        timeout = timeout[1] if len(timeout) > 1 else timeout[0]
    read = getattr(timeout, "read_timeout", timeout)  # urllib3 Timeout
    try:
        return None if read is None else float(read)
    except (TypeError, ValueError):
        return None


def in_process(resp, request) -> io.RawIOBase:
    """Raise now (a fault before the headers), or return the raw body stream that fails
    as a connection would (see the module docstring)."""
    fault = resp.fault
    url = str(getattr(request, "url", ""))
    if fault.before_headers:
        if fault.kind == "reset":
            err = ProtocolError("Connection aborted.",
                                ConnectionResetError(104, "Connection reset by peer"))
            raise RequestsConnectionError(err, request=request)
        limit = read_timeout(request)
        if _wait(fault.stall, limit):
            err = ReadTimeoutError(None, url, f"Read timed out. (read timeout={limit})")
            raise ReadTimeout(err, request=request)
        err = ProtocolError("Connection aborted.", http.client.RemoteDisconnected(
            "Remote end closed connection without response"))
        raise RequestsConnectionError(err, request=request)
    return _BreakingRaw(resp.iter_body(), fault, resp.length(), read_timeout(request))


def _wait(stall: float, limit: Optional[float]) -> bool:
    """Sleep through a stall; True when the client's timeout ends it."""
    if limit is not None and limit <= stall:
        time.sleep(limit)
        return True
    time.sleep(stall)
    return False


class _BreakingRaw(io.RawIOBase):
    """A reply body as a socket delivers it: short reads, then the fault's error.

    Reading it whole (``read()``) raises ``IncompleteRead`` where the body ends short of
    its announced length, as ``http.client`` does; sized reads return what arrived and
    leave the check to urllib3, as over a socket.
    """

    def __init__(self, chunks, fault, length: Optional[int], limit: Optional[float]) -> None:
        super().__init__()
        self._chunks = chunks
        self._fault = fault
        self._length = length
        self._limit = limit
        self._buf = memoryview(b"")
        self._got = 0
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not len(self._buf):
            if self._ended:
                return 0
            try:
                self._buf = memoryview(next(self._chunks)).cast("B")
            except StopIteration:
                self._ended = True
                return 0
            except CutBody:
                self._ended = True
                self._broken()
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        self._got += n
        return n

    def _broken(self) -> None:
        kind = self._fault.kind
        if kind == "reset":
            raise ConnectionResetError(104, "Connection reset by peer")
        if kind == "stall" and _wait(self._fault.stall, self._limit):
            raise TimeoutError("timed out")
        if self._length is None:  # a chunked body without its last chunk
            raise http.client.IncompleteRead(b"")

    def readall(self) -> bytes:
        data = super().readall() or b""
        if self._length is not None and len(data) < self._length:
            raise http.client.IncompleteRead(data, self._length - len(data))
        return data

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        super().close()
