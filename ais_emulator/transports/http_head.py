"""HTTP/1.1 request heads, as strict as RFC 9112 asks: the request line and the headers.

:func:`parse_head` turns the bytes of one head (up to its empty line, found by
:func:`head_end`) into a :class:`Head`, or refuses it with a :class:`Refusal` (status
and reason, after which the server closes the connection): a malformed request line
(400), a version other than HTTP/1.x (505), a request line over ``max_request_line``
(414), more than ``max_headers`` header lines (431), a header name that is not a token,
whitespace before the colon, obsolete line folding and control characters in values
(400), HTTP/1.1 without exactly one Host (400), a Content-Length that is not one decimal
number (400), both Content-Length and Transfer-Encoding (400, the request-smuggling
shape), a transfer coding other than ``chunked`` (501). Raw non-ASCII bytes of the
target are percent-encoded (as UTF-8). No socket here: reading a connection is
:mod:`ais_emulator.transports.http11`'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from ais_emulator.limits import ServerLimits

_REQUEST_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\x00-\x20\x7f]+) "
                           rb"HTTP/([0-9])\.([0-9])\Z")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]{1,19}\Z")
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
        """HTTP/1.1 unless ``Connection: close``; an HTTP/1.0 connection is closed."""
        return self.version == "HTTP/1.1" and "close" not in self.headers.get(
            "connection", "").lower()


def head_end(buf: bytearray) -> Optional[int]:
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
        raw_name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(raw_name):
            raise Refusal(400, "malformed header line")
        name, value = raw_name.decode("ascii").lower(), value.strip(b" \t")
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
