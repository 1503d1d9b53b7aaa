"""The sans-IO request and response values every transport converts to and from.

    req = Request("GET", "/v1/objects/b/a%20b", query="provider=ais",
                  headers={"range": "bytes=0-9"}, base_url="http://127.0.0.1:8080")
    resp = dispatch(emu, req)
    resp.status, resp.headers, resp.length(), b"".join(resp.iter_body())

``Request.path`` is the raw (percent-encoded) path; header names are matched
case-insensitively. A transport may hand the body as a stream (an iterable of byte
chunks with an optional ``length``): handlers read control messages as ``body`` (bytes,
bounded) and object data as ``data`` (streamed). ``Response.body`` is bytes or an iterable of bytes-like chunks;
``content_length`` is set when an iterable body's size is known, and on HEAD replies it
carries the size of the entity while no body is sent. A HEAD reply announces a
Content-Length only when its handler sets ``content_length`` (as Go's net/http, which
adds none to a HEAD reply by itself): ``dispatch`` clears ``announce_length`` otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Optional, Union
from urllib.parse import parse_qsl, unquote

from ais_emulator.limits import MAX_CONTROL_BODY

Body = Union[bytes, bytearray, memoryview, Iterable]


class ApiError(Exception):
    """A protocol-level failure (bad parameter, malformed body, unsupported call): raised
    anywhere in the api layer, turned into an AIS error reply by ``api.errors`` (which
    handlers import it from)."""

    def __init__(self, status: int, message: str, tcode: str = "", headers: Optional[dict] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.tcode = tcode
        self.headers = headers or {}


class BodyReadError(Exception):
    """The request body could not be read (malformed framing, silence, early close):
    answered with ``status``, after which the transport closes the connection."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message, self.tcode, self.headers = status, message, "", {}


class StreamAborted(Exception):
    """A reply body ended early for a reason the protocol expects (a damaged archive
    member found after the status was sent, a job stopped mid-stream): the transport cuts
    the connection and logs one line, not a traceback. Any other exception from a body is
    an emulator bug."""


class Request:
    """One request. ``body`` is the control body as bytes (JSON action messages, queries):
    read from ``stream`` on first use, at most ``MAX_CONTROL_BODY`` bytes (413 past it).
    ``data`` is the object data of a PUT, append or part: the bytes already read, else the
    stream itself (one pass; ``content_length`` is its declared size, None when chunked),
    so object bytes are never held twice. ``guard``: the transport's origin policy."""

    def __init__(self, method: str, path: str, query: str = "",
                 headers: Optional[Mapping[str, str]] = None, body=b"", base_url: str = "",
                 remote_addr: str = "", allow_etl_code: bool = True, guard=None):
        self.method = method.upper()
        self.path = path
        self.query = query
        self.headers = {k.lower(): v for k, v in dict(headers or {}).items()}
        self.base_url = base_url  # scheme://host:port of the emulator (never the Host header)
        self.remote_addr = remote_addr
        self.allow_etl_code = allow_etl_code  # may client-sent ETL code run? (server: opt-in)
        self.guard = guard
        self._body_error: Optional[Exception] = None
        if body is None or isinstance(body, (bytes, bytearray, memoryview)):
            self._body, self.stream = bytes(body or b""), None
        else:
            self._body, self.stream = None, body

    def __repr__(self) -> str:
        return f"Request({self.method} {self.path}{'?' + self.query if self.query else ''})"

    @property
    def body(self) -> bytes:
        if self._body is None:
            if self._body_error is not None:  # a stream is read once: the same answer again
                raise self._body_error
            try:
                self._body = _read_control(self.stream)
            except Exception as e:
                self._body_error = e
                raise
        return self._body

    @body.setter
    def body(self, value) -> None:
        self._body, self.stream = bytes(value or b""), None

    @property
    def data(self):
        """Object data: bytes, or an iterable of bytes-like chunks (read it once)."""
        return self._body if self._body is not None else self.stream

    @property
    def content_length(self) -> Optional[int]:
        if self._body is not None:
            return len(self._body)
        return getattr(self.stream, "length", None)

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    @cached_property
    def params(self) -> dict[str, str]:
        """Query parameters (the first value of a repeated key wins)."""
        out: dict[str, str] = {}
        for key, value in parse_qsl(self.query, keep_blank_values=True):
            out.setdefault(key, value)
        return out

    def param(self, name: str, default: str = "") -> str:
        return self.params.get(name, default)

    @cached_property
    def decoded_path(self) -> str:
        """The percent-decoded path (UTF-8); repeated slashes are kept."""
        return unquote(self.path, encoding="utf-8", errors="strict")


def _read_control(stream) -> bytes:
    def too_large(n) -> ApiError:
        return ApiError(413, f"request body too large: {n} bytes (a JSON request body may "
                             f"have at most {MAX_CONTROL_BODY} bytes)")

    declared = getattr(stream, "length", None)
    if declared is not None and declared > MAX_CONTROL_BODY:
        raise too_large(declared)
    buf = bytearray()
    for chunk in stream:
        buf += chunk
        if len(buf) > MAX_CONTROL_BODY:
            raise too_large(f"more than {len(buf)}")
    return bytes(buf)


@dataclass
class Response:
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: Body = b""
    content_length: Optional[int] = None
    announce_length: bool = True  # False: no Content-Length header at all (HEAD replies)
    fault: Optional[object] = None  # an injected fault the transport executes (faulting.py)

    def length(self) -> Optional[int]:
        """Content-Length to announce, or None (none to announce, or unknown: chunked /
        until close)."""
        if not self.announce_length:
            return None
        if self.content_length is not None:
            return self.content_length
        if isinstance(self.body, (bytes, bytearray, memoryview)):
            return len(self.body)
        return None

    def iter_body(self) -> Iterator:
        if isinstance(self.body, (bytes, bytearray, memoryview)):
            if len(self.body):
                yield self.body
            return
        yield from self.body

    def close(self) -> None:
        """Release an iterable body that will not be consumed."""
        closer = getattr(self.body, "close", None)
        if callable(closer):
            closer()
