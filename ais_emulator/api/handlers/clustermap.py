"""The cluster's maps as AIS serves them: node records (Go's ``meta.Snode``), the cluster
map (``meta.Smap``) and the bucket metadata (``meta.BMD``).

The emulated cluster has one proxy and one target, both at the address the client
connected to (so direct target reads land back on the emulator); map versions are 1.
``cluster`` serves them on ``GET /v1/cluster``, ``nodes`` on ``GET /v1/daemon``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ais_emulator.api.handlers.bprops import bucket_props


def net_of(base_url: str) -> dict:
    """Go's ``meta.NetInfo`` of a node reached at ``base_url``."""
    parts = urlsplit(base_url or "http://127.0.0.1")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {"node_ip_addr": parts.hostname or "", "daemon_port": str(port),
            "direct_url": f"{parts.scheme}://{parts.netloc}"}


def snode(emu, node_id: str, kind: str, base_url: str) -> dict:
    """Go's ``meta.Snode`` of one node (every node is at the address the client used)."""
    net = net_of(base_url)
    return {"daemon_id": node_id, "daemon_type": kind, "public_net": net,
            "intra_control_net": net, "intra_data_net": net, "flags": 0,
            "id_digest": emu.identity.digest(node_id)}


def smap(emu, base_url: str) -> dict:
    """Go's ``meta.Smap``: the one proxy (primary) and the one target."""
    ident = emu.identity
    proxy = snode(emu, ident.proxy_id, "proxy", base_url)
    target = snode(emu, ident.target_id, "target", base_url)
    return {"pmap": {ident.proxy_id: proxy}, "tmap": {ident.target_id: target},
            "proxy_si": proxy, "version": "1", "uuid": ident.uuid,
            "creation_time": ident.created}


def bmd(emu) -> dict:
    """Go's ``meta.BMD``: every bucket's properties by provider and namespace."""
    providers: dict = {}
    for bck in emu.store.list_buckets(remote=False):
        ns = f"@{bck.ns_uuid}#{bck.ns_name}"
        providers.setdefault(bck.provider, {}).setdefault(ns, {})[bck.name] = \
            bucket_props(emu, bck)
    providers.setdefault("ais", {}).setdefault("@#", {})
    return {"providers": providers, "uuid": emu.identity.uuid, "version": "1"}
