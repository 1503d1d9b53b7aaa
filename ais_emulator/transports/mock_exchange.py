"""One in-process exchange: a ``requests`` request in, the Emulator's reply out as urllib3's.

:class:`EmulatorRoute` is the ``responses`` route of every mocked endpoint: it turns the
prepared request into an :class:`~ais_emulator.api.Request`, hands it to
``api.dispatch`` and turns the :class:`~ais_emulator.api.Response` into the
``urllib3.HTTPResponse`` that ``requests`` reads. Bodies stream: an iterable response
body becomes a raw file-like object (:class:`IterRaw`), read as ``requests`` asks,
never joined; an injected fault (reset, truncation, stall) is played by
:mod:`ais_emulator.transports.faultexec`. Which emulator serves a URL is the caller's
``lookup``.
"""

from __future__ import annotations

import http.client
import io
from collections.abc import Callable
from typing import Optional
from urllib.parse import urlsplit

from urllib3 import HTTPResponse

from ais_emulator.api import Request, dispatch
from ais_emulator.emulator import Emulator
from ais_emulator.transports import faultexec
from ais_emulator.transports._responses_adapter import QuietRoute

Lookup = Callable[[str], Optional[tuple[str, str, Emulator]]]  # url -> (base, prefix, emu)


class IterRaw(io.RawIOBase):
    """A readable raw stream over an iterable of bytes-like chunks."""

    def __init__(self, chunks):
        super().__init__()
        self._it = iter(chunks)
        self._chunks = chunks
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not len(self._buf):
            try:
                self._buf = memoryview(next(self._it)).cast("B")
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        closer = getattr(self._chunks, "close", None)
        if callable(closer):
            closer()
        super().close()


def _body(request) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        return body.read()
    if not isinstance(body, (bytes, bytearray, memoryview)):
        return b"".join(bytes(c) if not isinstance(c, str) else c.encode() for c in body)
    return bytes(body)


class EmulatorRoute(QuietRoute):
    """Matches every request to an emulated endpoint (``lookup``) and dispatches it."""

    def __init__(self, lookup: Lookup):
        super().__init__()
        self._lookup = lookup

    def matches(self, request):
        if self._lookup(str(request.url)) is None:
            return False, "not an emulated endpoint"
        return True, ""

    def get_response(self, request) -> HTTPResponse:
        found = self._lookup(str(request.url))
        if found is None:  # the mock was stopped concurrently
            raise ConnectionError(f"no emulator serves {request.url}")
        base, prefix, emu = found
        parts = urlsplit(str(request.url))
        req = Request(request.method, parts.path[len(prefix):] or "/", parts.query,
                      dict(request.headers), _body(request), base_url=base + prefix,
                      remote_addr="in-process")
        resp = dispatch(emu, req)
        length = resp.length()
        headers = [(name, value) for name, value in resp.headers.items()
                   if length is None or name.lower() != "content-length"]
        if length is not None:
            headers.append(("Content-Length", str(length)))
        if resp.fault is not None:  # an injected reset, truncation or stall
            raw = faultexec.in_process(resp, request)
        elif request.method == "HEAD":
            resp.close()
            raw = io.BytesIO(b"")
        elif isinstance(resp.body, (bytes, bytearray, memoryview)):
            raw = io.BytesIO(resp.body)
        else:
            raw = io.BufferedReader(IterRaw(resp.body), buffer_size=1 << 16)
        return HTTPResponse(body=raw, headers=headers, status=resp.status,
                            reason=http.client.responses.get(resp.status),
                            preload_content=False, decode_content=False,
                            request_method=request.method)
