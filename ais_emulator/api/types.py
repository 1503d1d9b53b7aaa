"""The sans-IO request and response values every transport converts to and from.

    req = Request("GET", "/v1/objects/b/a%20b", query="provider=ais",
                  headers={"range": "bytes=0-9"}, base_url="http://127.0.0.1:8080")
    resp = dispatch(emu, req)
    resp.status, resp.headers, resp.length(), b"".join(resp.iter_body())

``Request.path`` is the raw (percent-encoded) path; header names are matched
case-insensitively. ``Response.body`` is bytes or an iterable of bytes-like chunks;
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

Body = Union[bytes, bytearray, memoryview, Iterable]


@dataclass
class Request:
    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    base_url: str = ""  # scheme://host:port the client addressed
    remote_addr: str = ""
    allow_etl_code: bool = True  # may client-sent ETL code run? (the HTTP server: opt-in)

    def __post_init__(self):
        self.method = self.method.upper()
        self.headers = {k.lower(): v for k, v in dict(self.headers or {}).items()}
        if self.body is None:
            self.body = b""

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
