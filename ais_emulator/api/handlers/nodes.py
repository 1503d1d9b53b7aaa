"""Node endpoints: what one node reports about itself (``ais show cluster``, ``ais log``,
``ais performance``, ``Cluster.get_performance()``, ``get_node_log()``).

    GET /v1/daemon?what=X                      the proxy answers about itself
    GET /v1/reverse/daemon?what=X              the node named by ``Ais-Node-Id`` answers
        what = smap | bmd | snode | config | sysinfo | node_status | mountpaths | remote
               | metrics | disk | log [&severity=info|warning|error] [&all=true: tar.gz]

``node_status`` is Go's ``stats.NodeStatus``: JSON, or msgpack with Go's short keys
when the client accepts ``application/msgpack`` (the CLI does). Its ``ais_version`` is
the aisnode version the emulator follows (``AIS_VERSION``), so the CLI's version check
passes. The counters (``tracker``) come from ``emu.stats``, the log from ``emu.log``.

As in AIS (v1.5.0, checked): a reverse request without ``Ais-Node-Id`` is a 400
(``missing node ID``), with an ID not in the smap a 404 (``errNodeNotFound``); an
unknown ``what`` or log severity is a 400.

Deviations: every node serves the same log and counters (the emulator's); capacity
is the host's memory (the store lives in memory): used is the emulator's resident size;
``deployment`` is ``emulator`` and ``build_time`` names the emulator's version; no
verifying key in the node records.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import msgpack

from ais_emulator.api.errors import ApiError
from ais_emulator.api.handlers.clustermap import bmd, smap, snode
from ais_emulator.api.handlers.config import MOUNTPATH, cluster_config, node_config
from ais_emulator.api.routes import route
from ais_emulator.api.types import Request, Response
from ais_emulator.api.wire import MSGPACK, json_reply
from ais_emulator.nodelog import parse_severity
from ais_emulator.nodestats import host_memory, load_average, metric_kind, process_memory

AIS_VERSION = "5.0.v1.5.0"  # the aisnode release whose behaviour the emulator follows
STATE_OK = (1 << 1) | (1 << 2)  # cos.ClusterStarted | cos.NodeStarted: no alerts


def _emulator_version() -> str:
    try:
        from importlib.metadata import version

        return f"ais-emulator {version('ais-datasets')}"
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return "ais-emulator (dev)"


BUILD = _emulator_version()

NodeWhat = Callable[..., Response]
_WHAT: dict[str, NodeWhat] = {}


def node_what(name: str):
    """Register ``handler(emu, request, node_id, role) -> Response`` for ``what=name``."""

    def deco(fn: NodeWhat) -> NodeWhat:
        _WHAT[name] = fn
        return fn

    return deco


def _role(emu, node_id: str) -> str:
    if node_id == emu.identity.proxy_id:
        return "proxy"
    if node_id == emu.identity.target_id:
        return "target"
    raise ApiError(404, f"p[{emu.identity.proxy_id}]: cannot forward request to node node "
                        f"{node_id} not present in Smap v1", "errNodeNotFound")


def _answer(emu, req: Request, node_id: str) -> Response:
    role = _role(emu, node_id)
    what = req.param("what")
    handler = _WHAT.get(what)
    if handler is None:
        raise ApiError(400, f"invalid '/v1/daemon' request: unrecognized 'what={what}' query")
    return handler(emu, req, node_id, role)


@route("GET", "/v1/daemon")
def daemon(emu, req: Request) -> Response:
    """The proxy's own records (``what=smap``, ``node_status``, ``log``, ...)."""
    return _answer(emu, req, emu.identity.proxy_id)


@route("GET", "/v1/reverse/daemon")
def reverse_daemon(emu, req: Request) -> Response:
    """The records of the node named by ``Ais-Node-Id`` (400 without, 404 unknown)."""
    node_id = req.header("ais-node-id").strip()
    if not node_id:
        raise ApiError(400, "missing node ID")
    return _answer(emu, req, node_id)


# -- the records ------------------------------------------------------------------------


@node_what("smap")
def _smap(emu, req, node_id, role) -> Response:
    return json_reply(smap(emu, req.base_url))


@node_what("bmd")
def _bmd(emu, req, node_id, role) -> Response:
    return json_reply(bmd(emu))


@node_what("snode")
def _snode(emu, req, node_id, role) -> Response:
    return json_reply(snode(emu, node_id, role, req.base_url))


@node_what("config")
def _config(emu, req, node_id, role) -> Response:
    return json_reply(node_config(emu, role, req.base_url))


@node_what("sysinfo")
def _sysinfo(emu, req, node_id, role) -> Response:
    return json_reply(sys_info())


@node_what("mountpaths")
def _mountpaths(emu, req, node_id, role) -> Response:
    return json_reply({"available": [MOUNTPATH] if role == "target" else [],
                       "waiting_dd": [], "disabled": []})


@node_what("remote")
def _remote(emu, req, node_id, role) -> Response:
    return json_reply({"a": [], "ver": 0})


@node_what("metrics")
def _metrics(emu, req, node_id, role) -> Response:
    """Every statistic the node reports, with AIS's kind of it (the CLI's tables)."""
    names = {**emu.stats.snapshot(), "state.flags": 0}
    return json_reply({name: metric_kind(name) for name in sorted(names)})


@node_what("disk")
def _disk(emu, req, node_id, role) -> Response:
    """Go's ``fs.TcdfExt``: disk statistics (none: the store is in memory) and capacity."""
    doc = {"AllDiskStats": {}, **_capacity(role)}
    if MSGPACK in req.header("accept"):
        cap = node_status_msgpack({**_blank_status(), "capacity": _capacity(role)})["x"]
        return Response(200, {"Content-Type": MSGPACK},
                        msgpack.packb({"AllDiskStats": {}, **cap}, use_bin_type=True))
    return json_reply(doc)


@node_what("node_status")
def _node_status(emu, req, node_id, role) -> Response:
    doc = node_status(emu, node_id, role, req.base_url)
    if MSGPACK in req.header("accept"):
        return Response(200, {"Content-Type": MSGPACK},
                        msgpack.packb(node_status_msgpack(doc), use_bin_type=True))
    return json_reply(doc)


@node_what("log")
def _log(emu, req, node_id, role) -> Response:
    severity = req.param("severity")
    try:
        parse_severity(severity)
    except ValueError as e:
        raise ApiError(400, str(e)) from None
    if req.param("all").strip().lower() in ("1", "t", "true", "y", "yes", "on"):
        data = emu.log.archive("ais" + role, severity)
        return Response(200, {"Content-Type": "application/x-gzip"}, data)
    text = emu.log.text(severity).encode("utf-8")
    return Response(200, {"Content-Type": "text/plain; charset=utf-8"}, text)


# -- documents ----------------------------------------------------------------------------


def sys_info() -> dict:
    """Go's ``apc.MemCPUInfo`` of the emulator's process and host."""
    total, avail = host_memory()
    size, resident = process_memory()
    one, five, fifteen = load_average()
    return {"mem_used": resident, "mem_avail": avail,
            "pct_mem_used": 100.0 * resident / total if total else 0.0,
            "pct_cpu_used": 0.0,
            "load_avg": {"One": one, "Five": five, "Fifteen": fifteen}, "cpu_util": 0,
            "mem": {"Total": total, "Used": total - avail, "Free": avail, "BuffCache": 0,
                    "ActualFree": avail, "ActualUsed": total - avail, "SwapTotal": 0,
                    "SwapFree": 0, "SwapUsed": 0},
            "proc": {"CPU": {"User": 0, "System": 0, "Total": 0, "LastTime": 0, "Percent": 0.0},
                     "Mem": {"Size": size, "Resident": resident, "Share": 0}}}


def _capacity(role: str) -> dict:
    if role != "target":
        return {"mountpaths": None, "cs_err": "", "total_used": "0", "total_avail": "0",
                "pct_max": 0, "pct_avg": 0, "pct_min": 0}
    _total, avail = host_memory()
    _size, used = process_memory()
    pct = int(100 * used / (used + avail)) if used + avail else 0
    mpath = {"mountpath_label": "", "fs": {"Fs": "memory", "FsType": "ais-emulator",
                                           "FsID": "0,0"},
             "disks": [], "used": str(used), "avail": str(avail), "pct_used": pct}
    return {"mountpaths": {MOUNTPATH: mpath}, "cs_err": "", "total_used": str(used),
            "total_avail": str(avail), "pct_max": pct, "pct_avg": pct, "pct_min": pct}


def node_status(emu, node_id: str, role: str, base_url: str) -> dict:
    """Go's ``stats.NodeStatus`` (JSON form)."""
    primary = urlsplit(base_url or "http://127.0.0.1")
    url = f"{primary.scheme}://{primary.netloc}"
    ident = emu.identity
    return {
        "status": "", "deployment": "emulator", "ais_version": AIS_VERSION,
        "build_time": BUILD, "k8s_pod_name": "",
        "snode": snode(emu, node_id, role, base_url),
        "tracker": {**emu.stats.snapshot(), "state.flags": STATE_OK},
        "capacity": _capacity(role),
        "cluster": {"smap": {"Primary": {"pub_url": url, "control_url": url,
                                         "id": ident.proxy_id},
                             "uuid": ident.uuid, "version": "1"},
                    "bmd": {"uuid": ident.uuid, "version": "1"},
                    "rmd": {"version": "0"}, "config": {"version": "1"},
                    "etlmd": {"version": "0"}, "flags": STATE_OK},
        "sys_info": sys_info(),
        "smap_version": "1",
    }


def _blank_status() -> dict:
    """A node status with empty parts (to reuse ``node_status_msgpack`` for one part)."""
    net = {"node_ip_addr": "", "daemon_port": "", "direct_url": ""}
    return {"status": "", "deployment": "", "ais_version": "", "build_time": "",
            "k8s_pod_name": "",
            "snode": {"public_net": net, "intra_data_net": net, "intra_control_net": net,
                      "daemon_type": "target", "daemon_id": "", "flags": 0, "id_digest": 0},
            "tracker": {},
            "cluster": {"smap": {"Primary": {"pub_url": "", "control_url": "", "id": ""},
                                 "uuid": "", "version": "0"},
                        "bmd": {"uuid": "", "version": "0"}, "config": {"version": "0"},
                        "flags": 0},
            "sys_info": sys_info(), "smap_version": "0"}


def _net_mp(net: dict) -> dict:
    return {"h": net["node_ip_addr"], "p": net["daemon_port"], "u": net["direct_url"],
            "tcpEndpoint": f"{net['node_ip_addr']}:{net['daemon_port']}"}


def node_status_msgpack(doc: dict) -> dict:
    """The msgpack form of ``node_status``: Go's generated short keys and native types."""
    sn, cap, cl, si = doc["snode"], doc["capacity"], doc["cluster"], doc["sys_info"]
    mem, proc = si["mem"], si["proc"]
    mpaths = {path: {"l": mp["mountpath_label"],
                     "f": {"f": mp["fs"]["Fs"], "t": mp["fs"]["FsType"], "i": [0, 0]},
                     "d": mp["disks"],
                     "Capacity": {"u": int(mp["used"]), "a": int(mp["avail"]),
                                  "p": mp["pct_used"]}}
              for path, mp in (cap["mountpaths"] or {}).items()}
    prim = cl["smap"]["Primary"]
    return {
        "s": doc["status"], "d": doc["deployment"], "v": doc["ais_version"],
        "b": doc["build_time"], "k": doc["k8s_pod_name"],
        "n": {"p": _net_mp(sn["public_net"]), "d": _net_mp(sn["intra_data_net"]),
              "c": _net_mp(sn["intra_control_net"]), "t": sn["daemon_type"],
              "i": sn["daemon_id"], "name": f"{sn['daemon_type'][0]}[{sn['daemon_id']}]",
              "f": sn["flags"], "g": sn["id_digest"]},
        "t": doc["tracker"],
        "x": {"m": mpaths, "e": cap["cs_err"], "u": int(cap["total_used"]),
              "a": int(cap["total_avail"]), "x": cap["pct_max"], "v": cap["pct_avg"],
              "n": cap["pct_min"]},
        "c": {"s": {"Primary": {"PubURL": prim["pub_url"], "CtrlURL": prim["control_url"],
                                "ID": prim["id"]},
                    "UUID": cl["smap"]["uuid"], "Version": int(cl["smap"]["version"])},
              "b": {"UUID": cl["bmd"]["uuid"], "Version": int(cl["bmd"]["version"])},
              "r": {"Version": 0}, "c": {"Version": int(cl["config"]["version"])},
              "e": {"Version": 0}, "f": cl["flags"]},
        "y": {"u": si["mem_used"], "a": si["mem_avail"], "p": si["pct_mem_used"],
              "c": si["pct_cpu_used"],
              "l": {"o": si["load_avg"]["One"], "f": si["load_avg"]["Five"],
                    "t": si["load_avg"]["Fifteen"]},
              "t": si["cpu_util"],
              "m": {"t": mem["Total"], "u": mem["Used"], "f": mem["Free"],
                    "b": mem["BuffCache"], "af": mem["ActualFree"], "au": mem["ActualUsed"],
                    "st": mem["SwapTotal"], "sf": mem["SwapFree"], "su": mem["SwapUsed"]},
              "r": {"c": {"u": proc["CPU"]["User"], "s": proc["CPU"]["System"],
                          "t": proc["CPU"]["Total"], "l": proc["CPU"]["LastTime"],
                          "p": proc["CPU"]["Percent"]},
                    "m": {"s": proc["Mem"]["Size"], "r": proc["Mem"]["Resident"],
                          "h": proc["Mem"]["Share"]}}},
        "w": int(doc["smap_version"]),
    }


# -- cluster-wide views on GET /v1/cluster ----------------------------------------------


def cluster_sysinfo(emu) -> dict:
    """``what=sysinfo``: per role, per node (the target adds its capacity)."""
    cap = _capacity("target")
    used, avail = int(cap["total_used"]), int(cap["total_avail"])
    target = {**sys_info(), "fs_used": str(used), "fs_capacity": str(used + avail),
              "pct_fs_used": cap["pct_max"]}
    return {"proxy": {emu.identity.proxy_id: sys_info()},
            "target": {emu.identity.target_id: target}}


__all__ = ["AIS_VERSION", "cluster_config", "cluster_sysinfo", "node_status",
           "node_status_msgpack", "node_what", "sys_info"]
