"""The route table and ``dispatch``: the single entry point of the AIS REST protocol.

Handlers register with ``@route(method, template)``. Templates are ``/``-separated;
``{name}`` captures one path segment and a final ``{name*}`` captures the rest of the
(percent-decoded) path with repeated slashes kept, which is how object names are taken.

    @route("GET", "/v1/objects/{bucket}/{obj*}")
    def get_object(emu, req, bucket, obj): ...

    resp = dispatch(emu, Request("GET", "/v1/health"))

Every failure leaves here as an AIS error reply (see ``errors``); an unknown route is a
501 that names the method, the path and the nearest routes served. A HEAD reply whose
handler set no ``content_length`` announces none (see ``types``). Every reply's headers
are cleaned on the way out (``headers``), and a request carrying a ``guard`` (the HTTP
server's) is checked against it before any handler runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional

from ais_emulator.api import faulting
from ais_emulator.api.errors import ApiError, error_reply, internal_error, unknown_route
from ais_emulator.api.headers import clean_headers
from ais_emulator.api.types import BodyReadError, Request, Response, StreamAborted
from ais_emulator.store.archives import ArchiveError
from ais_emulator.store.errors import StoreError

log = logging.getLogger("ais_emulator")

Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    parts: tuple = field(init=False, repr=False)
    rest: bool = field(init=False, repr=False)

    def __post_init__(self):
        parts = tuple(self.template.strip("/").split("/"))
        object.__setattr__(self, "parts", parts)
        object.__setattr__(self, "rest", parts[-1].startswith("{") and parts[-1].endswith("*}"))

    def match(self, segments: list[str]) -> Optional[dict]:
        parts, rest = self.parts, self.rest
        nfixed = len(parts) - 1 if rest else len(parts)
        if (len(segments) <= nfixed) if rest else (len(segments) != nfixed):
            return None
        params = {}
        for i in range(nfixed):
            want, got = parts[i], segments[i]
            if want[0] == "{":
                if not got:
                    return None
                params[want[1:-1]] = got
            elif want != got:
                return None
        if rest:
            params[parts[-1][1:-2]] = "/".join(segments[nfixed:])
        return params


class RouteTable:
    def __init__(self):
        self._routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        """Register a route; registering the same method and template again replaces it."""
        new = Route(method.upper(), template, handler)
        for i, r in enumerate(self._routes):
            if r.method == new.method and r.template == template:
                self._routes[i] = new
                return
        self._routes.append(new)

    def find(self, method: str, path: str) -> tuple[Optional[Route], dict]:
        segments = path.lstrip("/").split("/")
        attempts = [segments]
        if len(segments) > 1 and not segments[-1]:
            attempts.append(segments[:-1])
        for attempt in attempts:
            for r in self._routes:
                if r.method == method:
                    params = r.match(attempt)
                    if params is not None:
                        return r, params
        return None, {}

    def known(self) -> list[str]:
        return [f"{r.method} {r.template}" for r in self._routes]


ROUTES = RouteTable()


def route(method: str, template: str):
    """Decorator: register ``handler(emu, request, **captures) -> Response``."""

    def deco(fn: Handler) -> Handler:
        ROUTES.add(method, template, fn)
        return fn

    return deco


def dispatch(emu, request: Request) -> Response:
    """Serve one request against ``emu``; never raises. Fault rules apply here (see
    ``faulting``): the reply may carry a fault for the transport to execute. The reply is
    counted in ``emu.stats`` and, when it changed state or failed, written to ``emu.log``."""
    started = time.perf_counter_ns()
    fault = faulting.decide(emu, request)
    if fault is None or (fault.kind != "status" and not fault.before_headers):
        resp = _dispatch(emu, request)
    elif fault.kind == "status":
        resp = faulting.status_reply(emu, request, fault)
    else:
        resp = Response(200, {}, b"")
    if request.method == "HEAD" and resp.content_length is None:
        resp.announce_length = False
    resp.headers = clean_headers(resp.headers)
    if not isinstance(resp.body, (bytes, bytearray, memoryview)):
        resp.body = _Guarded(resp.body, request.path)
    _account(emu, request, resp, time.perf_counter_ns() - started)
    return faulting.apply(fault, resp) if fault is not None else resp


class _Guarded:
    """A streamed reply body whose store errors (found after the status went out: a
    damaged archive member, an object gone mid-read) surface as ``StreamAborted``, so a
    transport cuts the reply and logs one line instead of a traceback."""

    __slots__ = ("_body", "_it", "_what")

    def __init__(self, body, what: str):
        self._body, self._it, self._what = body, iter(body), what

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._it)
        except (StoreError, ArchiveError) as err:
            raise StreamAborted(f"{self._what}: {err}") from err

    def close(self) -> None:
        closer = getattr(self._body, "close", None)
        if callable(closer):
            closer()


def _account(emu, request: Request, resp: Response, elapsed_ns: int) -> None:
    stats, log = getattr(emu, "stats", None), getattr(emu, "log", None)
    if stats is not None:
        if request.method in ("PUT", "POST"):
            nbytes = request.content_length or 0  # declared (a body is read at most once)
        else:
            nbytes = resp.content_length or 0
        stats.observe(request.method, request.path, resp.status, nbytes, elapsed_ns)
    if log is None:
        return
    if resp.status >= 500:
        log.error(f"{request.method} {request.path} -> {resp.status}")
    elif resp.status >= 400:
        log.warning(f"{request.method} {request.path} -> {resp.status}")
    elif request.method not in ("GET", "HEAD"):
        log.info(f"{request.method} {request.path} -> {resp.status}")


def _dispatch(emu, request: Request) -> Response:
    try:
        try:
            path = request.decoded_path
        except UnicodeDecodeError:
            raise ApiError(400, f"invalid URL path {request.path!r}: not UTF-8") from None
        if request.guard is not None:
            request.guard.check(request)
        found, params = ROUTES.find(request.method, path)
        if found is None:
            return unknown_route(emu, request, ROUTES.known())
        return found.handler(emu, request, **params)
    except (StoreError, ApiError, BodyReadError) as err:
        return error_reply(emu, request, err)
    except Exception as exc:  # an emulator bug: say so, loudly, as a real failure
        log.exception("ais_emulator: %s %s failed", request.method, request.path)
        return internal_error(emu, request, exc)
