"""Fault rules applied to the protocol: which request is which operation, and the sans-IO
part of every fault.

``dispatch`` calls :func:`decide` before a request is handled and :func:`apply` after::

    fault = decide(emu, req)                # None: no rule fired (one check when no rules)
    resp = status_reply(emu, req, fault) if fault and fault.kind == "status" else handle()
    resp = apply(fault, resp)

What is done here, the same for every transport: latency (a sleep before the request is
handled), an AIS-shaped error reply (with ``Retry-After`` for 429/503), a slow body
(paced chunks) and a flipped byte. What needs a socket is only *prepared* here and left
to the transports (``ais_emulator.transports.faultexec``): the reply carries the fault
in ``Response.fault``, and for a fault after N body bytes its body yields those N bytes
and then raises :class:`CutBody`. A reset or stall before the headers does not run the
handler at all (the request is not applied, as when the connection drops on the way in).

Deviation: an injected 5xx is the emulator's own; real AIS answers 5xx for its own
reasons (a target down, a backend failing) with messages that differ.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Optional
from urllib.parse import unquote

import xxhash

from ais_emulator.api.errors import error_response
from ais_emulator.api.types import Request, Response
from ais_emulator.faults import AFTER_RANDOM, Fault

CONTROL_PREFIX = "/v1/__emulator__"
_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}
_SLOW_STEPS = 20  # a slow body goes out in pieces of rate/_SLOW_STEPS bytes
_UNKNOWN_SIZE = 1 << 16  # after=random in a body of unknown length: within its first 64 KiB


class CutBody(BaseException):
    """Raised by a faulted body where the transport must reset, close or stall.

    A ``BaseException``: code that catches ``Exception`` around a body (logging a
    failed stream) must not take it for an emulator bug.
    """


def classify(req: Request) -> tuple[Optional[str], Optional[str], Optional[str]]:
    """``(op, bucket, object)`` of a request for rule matching; op None: never faulted."""
    path = req.path
    if path.startswith(CONTROL_PREFIX):
        return None, None, None
    parts = path.lstrip("/").split("/", 3)
    area = parts[1] if len(parts) > 1 else ""
    bucket = unquote(parts[2]) if len(parts) > 2 and parts[2] else None
    method = req.method
    if area == "objects" and len(parts) > 3:
        obj = unquote(parts[3])
        op = {"GET": "get", "HEAD": "head", "PUT": "put", "DELETE": "delete"}.get(method,
                                                                                 "object")
        return op, bucket, obj
    if area == "objects":
        return "object", bucket, None
    if area == "buckets":
        return ("list" if method == "GET" and bucket else "bucket"), bucket, None
    if area == "ml":  # /v1/ml/moss[/<bucket>]
        bucket = unquote(parts[3]) if len(parts) > 3 and parts[3] else _batch_bucket(req)
        return "batch", bucket, None
    return "cluster", None, None


def _batch_bucket(req: Request) -> Optional[str]:
    """The bucket of a GetBatch request's first item (its URL names none)."""
    try:
        body = _control_body(req)
        doc = json.loads(body) if body else None
        first = doc["in"][0] if isinstance(doc, dict) and doc.get("in") else None
        bucket = first.get("bucket") if isinstance(first, dict) else None
    except (ValueError, TypeError, KeyError, IndexError, RecursionError):
        return None
    return bucket if isinstance(bucket, str) else None


def decide(emu, req: Request) -> Optional[Fault]:
    """The fault ``emu``'s rules pick for ``req`` (None: serve it normally).

    Latency is served here: the call sleeps before it returns.
    """
    faults = getattr(emu, "faults", None)
    if faults is None or not faults.active:
        return None
    op, bucket, obj = classify(req)
    if op is None:
        return None
    body = _control_body(req) if op in ("batch", "bucket", "list", "cluster") else b""
    key = f"{req.method} {req.path}?{req.query} {req.header('range')} {_body_key(body)}"
    fault = faults.pick(req.method, op, bucket, obj, key)
    if fault is not None and fault.delay > 0:
        time.sleep(fault.delay)
    return fault


def _control_body(req: Request) -> bytes:
    """The request's control body (GetBatch names its objects there); object data is
    never read here. A body that cannot be read is b"": the handler answers the error."""
    try:
        return req.body
    except Exception:  # noqa: BLE001 - Request keeps the error for the handler
        return b""


def _body_key(body) -> str:
    """A short digest of a request body (GetBatch names its objects there), so that two
    requests to one URL draw their faults apart."""
    if not isinstance(body, (bytes, bytearray, memoryview)) or not len(body):
        return ""
    return xxhash.xxh64_hexdigest(bytes(body[:4096]))


def status_reply(emu, req: Request, fault: Fault) -> Response:
    """The AIS error reply a status fault answers with (``Retry-After`` where set)."""
    headers = {}
    if fault.retry_after is not None and fault.retry_after >= 0:
        headers["Retry-After"] = str(int(fault.retry_after))
    reason = _REASONS.get(fault.status, "error")
    message = (f"{reason} (injected fault, rule {fault.rule_id}): {req.method} "
               f"{unquote(req.path)}")
    return error_response(emu, req, fault.status, message, headers=headers)


def apply(fault: Optional[Fault], resp: Response) -> Response:
    """``resp`` with the sans-IO part of ``fault`` done (see the module docstring)."""
    if fault is None:
        return resp
    kind = fault.kind
    if kind in (None, "status") and fault.rate is None:
        return resp
    if fault.before_headers:
        resp.close()
        resp.body = b""
        resp.fault = fault
        return resp
    length = resp.length()
    if isinstance(resp.body, (bytes, bytearray, memoryview)):
        size: Optional[int] = len(resp.body)
    else:
        size = resp.content_length if resp.announce_length else None
    if not size and size is not None and kind != "reset":
        return resp  # no body to cut, pace or flip
    original = resp.body
    body = iter((original,) if size is not None and isinstance(
        original, (bytes, bytearray, memoryview)) else original)
    if kind == "corrupt":
        at = fault.at if fault.at is not None else int(fault.draw * (size or 1))
        body = _flip(body, at)
    if fault.rate is not None:
        body = _paced(body, fault.rate)
    if kind in ("reset", "truncate", "stall"):
        after = fault.after
        if after == AFTER_RANDOM:  # a seeded position in the body
            after = int(fault.draw * (size if size is not None else _UNKNOWN_SIZE))
        if kind == "truncate" and size:
            after = min(after, size - 1)  # fewer bytes than announced
        body = _cut(body, after or 0)
        resp.fault = fault
    resp.body = body
    if length is not None:
        resp.content_length = length
    return resp


def _flip(body, at: int) -> Iterator:
    """``body`` with the byte at position ``at`` inverted (nothing when it is shorter)."""
    pos = 0
    for chunk in body:
        n = len(chunk)
        if pos <= at < pos + n:
            piece = bytearray(chunk)
            piece[at - pos] ^= 0xFF
            chunk = bytes(piece)
        pos += n
        yield chunk


def _paced(body, rate: float) -> Iterator:
    """``body`` sent at ``rate`` bytes per second at most."""
    step = max(1, int(rate / _SLOW_STEPS))
    start = time.monotonic()
    sent = 0
    for chunk in body:
        view = memoryview(chunk).cast("B")
        for k in range(0, len(view), step):
            piece = view[k:k + step]
            due = start + (sent + len(piece)) / rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            sent += len(piece)
            yield piece


def _cut(body, after: int) -> Iterator:
    """The first ``after`` bytes of ``body``, then :class:`CutBody`."""
    left = after
    try:
        for chunk in body:
            if left <= 0:
                break
            if len(chunk) > left:
                chunk = memoryview(chunk).cast("B")[:left]
            left -= len(chunk)
            yield chunk
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    raise CutBody()
