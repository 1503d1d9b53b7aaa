"""Cluster endpoints: health, the cluster map (smap) and BMD, ``GET /v1/cluster``, and the
emulator's reset route.

    GET  /v1/health[?prr=true]        200, empty
    GET  /v1/cluster?what=X           cluster_config, backends, remote, sysinfo, smap, bmd,
                                      mountpaths, target_ips; the job queries (``jobs``)
    POST /v1/__emulator__/reset       emulator-only: drop all state, fault rules too (200)

``GET /v1/cluster`` dispatches on ``what`` through a registry (``cluster_what``) that
other modules extend; an unknown ``what`` is a 400 worded as AIS words it
(``unexpected query [what=X]``). The node records (``/v1/daemon``) are in ``nodes``,
the maps themselves in ``clustermap``.

Deviations: the emulator is always ready, so ``prr``/``readiness`` are always 200; the
smap's single proxy and single target share the address the client connected to (the
server's own address, never the request's Host header), which makes direct (target)
reads land back on the emulator; smap and BMD versions are always 1.
"""

from __future__ import annotations

from collections.abc import Callable

from ais_emulator.api.errors import ApiError
from ais_emulator.api.handlers.clustermap import bmd, net_of, smap
from ais_emulator.api.handlers.config import MOUNTPATH, cluster_config
from ais_emulator.api.handlers.nodes import cluster_sysinfo
from ais_emulator.api.routes import route
from ais_emulator.api.types import Request, Response
from ais_emulator.api.wire import json_reply

ClusterWhat = Callable[..., Response]
_WHAT: dict[str, ClusterWhat] = {}


def cluster_what(name: str):
    """Register ``handler(emu, request) -> Response`` for ``GET /v1/cluster?what=name``."""

    def deco(fn: ClusterWhat) -> ClusterWhat:
        _WHAT[name] = fn
        return fn

    return deco


@route("GET", "/v1/health")
def health(emu, req: Request) -> Response:
    """200, empty. Deviation: always ready, whatever ``prr``/``readiness`` ask."""
    return Response(200, {}, b"")


@route("GET", "/v1/cluster")
def cluster_get(emu, req: Request) -> Response:
    """Cluster-wide queries by ``what`` (configuration, maps, jobs, ...)."""
    what = req.param("what")
    handler = _WHAT.get(what)
    if handler is None:
        raise ApiError(400, f"unexpected query [what={what}]")
    return handler(emu, req)


@cluster_what("smap")
def _cluster_smap(emu, req: Request) -> Response:
    return json_reply(smap(emu, req.base_url))


@cluster_what("bmd")
def _cluster_bmd(emu, req: Request) -> Response:
    return json_reply(bmd(emu))


@cluster_what("cluster_config")
def _cluster_config(emu, req: Request) -> Response:
    return json_reply(cluster_config(emu, req.base_url))


@cluster_what("backends")
def _backends(emu, req: Request) -> Response:
    """The remote providers the emulator serves (``Emulator.attach_backend``)."""
    return json_reply(sorted(emu.store.backends))


@cluster_what("remote")
def _remote_clusters(emu, req: Request) -> Response:
    return json_reply({"a": None, "ver": 0})


@cluster_what("sysinfo")
def _sysinfo(emu, req: Request) -> Response:
    return json_reply(cluster_sysinfo(emu))


@cluster_what("mountpaths")
def _mountpaths(emu, req: Request) -> Response:
    return json_reply({"targets": {emu.identity.target_id: {
        "available": [MOUNTPATH], "waiting_dd": [], "disabled": []}}})


@cluster_what("target_ips")
def _target_ips(emu, req: Request) -> Response:
    host = net_of(req.base_url)["node_ip_addr"]
    return Response(200, {"Content-Type": "text/plain; charset=utf-8"}, host.encode())


@route("POST", "/v1/__emulator__/reset")
def reset(emu, req: Request) -> Response:
    """Emulator-only: drop all state (buckets, objects, uploads, registrations, fault rules)."""
    emu.reset()
    return Response(200, {}, b"")
