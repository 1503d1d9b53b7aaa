"""Cluster endpoints: health and the cluster map (smap), plus the emulator's reset route.

    GET  /v1/health[?prr=true]        200, empty
    GET  /v1/daemon?what=smap         one proxy and one target, both at the emulator's URL
    POST /v1/__emulator__/reset       emulator-only: drop all state, fault rules too (200)

Deviations: the emulator is always ready, so ``prr``/``readiness`` are always 200; the
smap's single proxy and single target share the address the client used, which makes
direct (target) reads land back on the emulator. ``what`` values other than ``smap``
(and ``snode``) are answered 400.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ais_emulator.api.errors import ApiError
from ais_emulator.api.routes import route
from ais_emulator.api.types import Request, Response
from ais_emulator.api.wire import json_reply


@route("GET", "/v1/health")
def health(emu, req: Request) -> Response:
    """200, empty. Deviation: always ready, whatever ``prr``/``readiness`` ask."""
    return Response(200, {}, b"")


def _net(base_url: str) -> dict:
    parts = urlsplit(base_url or "http://127.0.0.1")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {"node_ip_addr": parts.hostname or "", "daemon_port": str(port),
            "direct_url": f"{parts.scheme}://{parts.netloc}"}


def _snode(emu, node_id: str, kind: str, base_url: str) -> dict:
    net = _net(base_url)
    return {"daemon_id": node_id, "daemon_type": kind, "public_net": net,
            "intra_control_net": net, "intra_data_net": net, "flags": 0,
            "id_digest": emu.identity.digest(node_id)}


def smap(emu, base_url: str) -> dict:
    ident = emu.identity
    proxy = _snode(emu, ident.proxy_id, "proxy", base_url)
    target = _snode(emu, ident.target_id, "target", base_url)
    return {"pmap": {ident.proxy_id: proxy}, "tmap": {ident.target_id: target},
            "proxy_si": proxy, "version": "1", "uuid": ident.uuid,
            "creation_time": ident.created}


@route("GET", "/v1/daemon")
def daemon(emu, req: Request) -> Response:
    """``what=smap`` (and ``snode``). Deviation: other ``what`` values are a 400."""
    what = req.param("what")
    if what == "smap":
        doc = smap(emu, req.base_url)
    elif what == "snode":
        doc = _snode(emu, emu.identity.proxy_id, "proxy", req.base_url)
    else:
        raise ApiError(400, f"invalid GET /v1/daemon request: unrecognized what={what!r} "
                            "(the emulator serves what=smap and what=snode)")
    return json_reply(doc)


@route("POST", "/v1/__emulator__/reset")
def reset(emu, req: Request) -> Response:
    """Emulator-only: drop all state (buckets, objects, uploads, registrations, fault rules)."""
    emu.reset()
    return Response(200, {}, b"")
