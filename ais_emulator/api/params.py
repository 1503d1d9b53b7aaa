"""Query-string and header helpers shared by the handlers (bucket identity, booleans).

    bck = bucket_of(request, "data")     # provider= and namespace= from the query
    is_true(request.param("prr"))
"""

from __future__ import annotations

from functools import lru_cache

from ais_emulator.api.errors import ApiError
from ais_emulator.api.types import Request
from ais_emulator.store import BucketId

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


def no_range(request: Request, what: str) -> None:
    """A Range header together with an archive read or an ETL is a 400, as in AIS."""
    if request.header("range"):
        raise ApiError(400, f"range read ({request.header('range')}) cannot be combined "
                            f"with {what}")


def parse_range_header(value: str, size: int) -> tuple:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` -> (first, last) with None for absent.

    Multi-range and malformed headers are answered 416, as AIS does.
    """

    def bad(message: str) -> ApiError:
        return ApiError(416, message, headers={"Content-Range": f"bytes */{size}"})

    unit, _, spec = value.strip().partition("=")
    if unit.strip().lower() != "bytes" or not spec:
        raise bad(f"invalid range {value!r}: expecting bytes=<first>-<last>")
    if "," in spec:
        raise bad(f"multi-range requests are not supported: {value!r}")
    first, dash, last = spec.strip().partition("-")
    if not dash or (not first and not last):
        raise bad(f"invalid range {value!r}")
    try:
        a = int(first) if first.strip() else None
        b = int(last) if last.strip() else None
    except ValueError:
        raise bad(f"invalid range {value!r}") from None
    if (a is not None and a < 0) or (b is not None and b < 0):
        raise bad(f"invalid range {value!r}")
    return a, b
