"""Query-string and header helpers shared by the handlers (bucket identity, booleans).

    bck = bucket_of(request, "data")     # provider= and namespace= from the query
    is_true(request.param("prr"))
"""

from __future__ import annotations

import json
from functools import lru_cache

from ais_emulator.api.errors import ApiError
from ais_emulator.api.types import Request
from ais_emulator.store import BucketId, RangeNotSatisfiable

_TRUE = {"1", "t", "true", "y", "yes", "on"}


def is_true(value: str) -> bool:
    """Go's cos.IsParseBool: true for "1", "t", "true" (any case); anything else false."""
    return (value or "").strip().lower() in _TRUE


@lru_cache(maxsize=1024)
def _bucket(provider: str, name: str, namespace: str) -> BucketId:
    return BucketId.parse(provider, name, namespace)


def bucket_of(request: Request, name: str) -> BucketId:
    """The bucket named in the path, with provider and namespace from the query."""
    return _bucket(request.param("provider"), name, request.param("namespace"))


def body_bytes(request: Request) -> bytes:
    """The whole request body as bytes, whether the transport gave bytes or an iterable
    of bytes-like chunks (object data may arrive as a stream)."""
    body = request.body
    if isinstance(body, bytes):
        return body
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    return b"".join(bytes(chunk) for chunk in (body or ()))


def no_range(request: Request, what: str) -> None:
    """A Range header together with an ETL is a 400."""
    if request.header("range"):
        raise ApiError(400, f"range read ({request.header('range')}) cannot be combined "
                            f"with {what}")


def parse_range_header(value: str, size: int) -> list[tuple[int, int]]:
    """Go's ``parseMultiRange``: the ``[start, stop)`` of each range of ``value`` that
    overlaps an object of ``size`` bytes, in the order given.

    A malformed header is a 416 without Content-Range (AIS's wording); when no range
    overlaps the object, RangeNotSatisfiable (416 with ``Content-Range: bytes */size``).
    Ranges that start at or beyond ``size`` are dropped when another one overlaps.
    Deviations: a zero-length suffix range (``bytes=-0``, or any suffix of an empty
    object) is unsatisfiable, where AIS serves an empty 206 (``bytes 1-0/1``); a header
    naming no range at all (``bytes=``) is a malformed 416, where AIS drops the connection.
    """

    def bad(why: str, what: str) -> ApiError:
        return ApiError(416, f"read range {json.dumps(what)} is invalid {why}")

    if not value.startswith("bytes="):
        raise bad("(prefix)", value)
    specs = value[len("bytes="):].split(",")
    out, beyond = [], False
    for spec in specs:
        spec = spec.strip()
        if not spec:
            continue
        first, dash, last = spec.partition("-")
        if not dash:
            raise bad("(-)", value)
        first, last = first.strip(), last.strip()
        if not first:
            if not last or last[0] == "-":
                raise bad("as per RFC 7233 Section 2.1", spec)
            n = _int(last)
            if n is None or n < 0:
                raise bad("(see RFC 7233 Section 2.1)", spec)
            n = min(n, size)
            if n == 0:
                raise RangeNotSatisfiable(size, specs)
            out.append((size - n, size))
            continue
        start = _int(first)
        if start is None or start < 0:
            raise bad("(start)", spec)
        if start >= size:
            beyond = True
            continue
        if not last:
            out.append((start, size))
            continue
        end = _int(last)
        if end is None or start > end:
            raise bad("(end)", spec)
        out.append((start, min(end, size - 1) + 1))
    if beyond and not out:
        raise RangeNotSatisfiable(size, specs)
    if not out:
        raise bad("(no range)", value)
    return out


_INT64_MAX = (1 << 63) - 1


def _int(text: str):
    """Go's strconv.ParseInt(text, 10, 64): an optional sign and decimal digits, within
    int64 (a longer number is malformed, as in Go: never a 4,300-digit ``int()``)."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    if len(body.lstrip("0")) > 19:
        return None
    value = int(text)
    return value if -_INT64_MAX - 1 <= value <= _INT64_MAX else None
