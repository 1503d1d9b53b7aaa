"""The route table and ``dispatch``: the single entry point of the AIS REST protocol.

Handlers register with ``@route(method, template)``. Templates are ``/``-separated;
``{name}`` captures one path segment and a final ``{name*}`` captures the rest of the
(percent-decoded) path with repeated slashes kept, which is how object names are taken.

    @route("GET", "/v1/objects/{bucket}/{obj*}")
    def get_object(emu, req, bucket, obj): ...

    resp = dispatch(emu, Request("GET", "/v1/health"))

Every failure leaves here as an AIS error reply (see ``errors``); an unknown route is a
501 that names the method, the path and the nearest routes served. A HEAD reply whose
handler set no ``content_length`` announces none (see ``types``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional

from ais_emulator.api import faulting
from ais_emulator.api.errors import ApiError, error_reply, internal_error, unknown_route
from ais_emulator.api.types import Request, Response
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
    ``faulting``): the reply may carry a fault for the transport to execute."""
    fault = faulting.decide(emu, request)
    if fault is None:
        resp = _dispatch(emu, request)
    elif fault.kind == "status":
        resp = faulting.status_reply(emu, request, fault)
    elif fault.before_headers:
        resp = Response(200, {}, b"")
    else:
        resp = _dispatch(emu, request)
    if request.method == "HEAD" and resp.content_length is None:
        resp.announce_length = False
    return faulting.apply(fault, resp) if fault is not None else resp


def _dispatch(emu, request: Request) -> Response:
    try:
        try:
            path = request.decoded_path
        except UnicodeDecodeError:
            raise ApiError(400, f"invalid URL path {request.path!r}: not UTF-8") from None
        found, params = ROUTES.find(request.method, path)
        if found is None:
            return unknown_route(emu, request, ROUTES.known())
        return found.handler(emu, request, **params)
    except (StoreError, ApiError) as err:
        return error_reply(emu, request, err)
    except Exception as exc:  # an emulator bug: say so, loudly, as a real failure
        log.exception("ais_emulator: %s %s failed", request.method, request.path)
        return internal_error(emu, request, exc)
