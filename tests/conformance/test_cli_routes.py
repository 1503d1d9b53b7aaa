"""What the ``ais`` CLI's everyday commands send (``show cluster``, ``show config``,
``bucket props``, ``ls``, ``object mv``, ``show job``), and the SDK's node calls
(``get_performance``, ``get_node_log``, ``get_cluster_logs``), on the raw wire.

The CLI is a Go program decoding with Go's generated msgpack and JSON decoders: the
checks below are on the keys and types it reads.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import msgpack
import pytest
from aistore.sdk.enums import LogSeverity


def _nodes(wire):
    smap = wire.get("/v1/daemon", params={"what": "smap"}).json()
    return smap, list(smap["tmap"]), list(smap["pmap"])


# -- cluster and node records --------------------------------------------------------------


def test_cluster_config_is_a_go_cluster_config(wire):
    r = wire.get("/v1/cluster", params={"what": "cluster_config"})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    for key in ("checksum", "versioning", "mirror", "ec", "lru", "chunks", "features",
                "uuid", "proxy", "net", "log", "space", "timeout", "client"):
        assert key in doc, key
    assert doc["checksum"]["type"] == "xxhash2"
    assert doc["versioning"]["enabled"] is True
    assert isinstance(doc["ec"]["enabled"], bool) and doc["ec"]["enabled"] is False
    assert doc["uuid"] == wire.get("/v1/daemon", params={"what": "smap"}).json()["uuid"]


def test_backends_and_remote_clusters(wire):
    assert wire.get("/v1/cluster", params={"what": "backends"}).json() == []
    r = wire.get("/v1/cluster", params={"what": "remote"})
    assert r.status_code == 200 and r.json()["ver"] == 0


def test_unknown_cluster_query_is_a_400(wire):
    r = wire.get("/v1/cluster", params={"what": "no-such-thing"})
    assert r.status_code == 400 and "no-such-thing" in r.json()["message"]


def test_node_status_json_names_the_version(wire):
    smap, targets, proxies = _nodes(wire)
    for node_id in targets + proxies:
        r = wire.get("/v1/reverse/daemon", params={"what": "node_status"},
                     headers={"Ais-Node-Id": node_id})
        assert r.status_code == 200
        doc = r.json()
        assert doc["ais_version"].startswith("5.0.")  # the CLI's version check: same minor
        assert doc["snode"]["daemon_id"] == node_id
        assert doc["cluster"]["smap"]["uuid"] == smap["uuid"]
        assert isinstance(doc["tracker"], dict) and doc["tracker"]["up.ns.time"] > 0
        assert doc["tracker"]["state.flags"] & 0b110 == 0b110  # cluster and node started
        for key in ("mem_used", "mem_avail", "load_avg", "mem", "proc"):
            assert key in doc["sys_info"], key


def test_node_status_msgpack_has_the_keys_go_decodes(wire):
    """``ais show cluster`` asks for msgpack and decodes Go's short keys."""
    _, targets, _ = _nodes(wire)
    r = wire.get("/v1/reverse/daemon", params={"what": "node_status"},
                 headers={"Ais-Node-Id": targets[0], "Accept": "application/msgpack"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/msgpack"
    doc = msgpack.unpackb(r.content, raw=False, strict_map_key=False)
    assert isinstance(doc["v"], str) and doc["v"].startswith("5.0.")
    node = doc["n"]
    assert node["i"] == targets[0] and node["t"] == "target"
    assert isinstance(node["g"], int) and isinstance(node["p"]["u"], str)
    assert isinstance(doc["w"], int) and doc["w"] > 0
    assert isinstance(doc["c"]["s"]["Version"], int)
    assert isinstance(doc["x"]["u"], int) and isinstance(doc["x"]["a"], int)
    assert isinstance(doc["y"]["m"]["t"], int)
    assert isinstance(doc["t"], dict)


@pytest.mark.parametrize("what", ["smap", "bmd", "snode", "config", "sysinfo"])
def test_reverse_records(wire, what):
    _, targets, _ = _nodes(wire)
    r = wire.get("/v1/reverse/daemon", params={"what": what},
                 headers={"Ais-Node-Id": targets[0]})
    assert r.status_code == 200 and isinstance(r.json(), dict)


def test_reverse_needs_a_known_node(wire):
    r = wire.get("/v1/reverse/daemon", params={"what": "node_status"})
    assert r.status_code == 400 and r.json()["message"] == "missing node ID"
    r = wire.get("/v1/reverse/daemon", params={"what": "node_status"},
                 headers={"Ais-Node-Id": "no-such-node"})
    assert r.status_code == 404 and r.json()["tcode"] == "errNodeNotFound"
    _, targets, _ = _nodes(wire)
    r = wire.get("/v1/reverse/daemon", params={"what": "bogus"},
                 headers={"Ais-Node-Id": targets[0]})
    assert r.status_code == 400


# -- logs and performance through the SDK -------------------------------------------------


def test_get_performance_has_every_target(ais_backend):
    cluster = ais_backend.client.cluster()
    perf = cluster.get_performance()
    assert set(perf) == set(cluster.get_info().tmap)
    for doc in perf.values():
        assert isinstance(doc, dict) and "tracker" in doc and "sys_info" in doc


def test_node_logs(ais_backend, bck):
    bck.object("logged.txt").get_writer().put_content(b"x")
    cluster = ais_backend.client.cluster()
    target = next(iter(cluster.get_info().tmap))
    text = cluster.get_node_log(target)
    assert isinstance(text, str) and text.startswith("Started up at ")
    assert isinstance(cluster.get_node_log(target, severity=LogSeverity.ERROR), str)
    logs = cluster.get_cluster_logs()
    assert set(logs) == set(cluster.get_info().tmap)
    assert all(isinstance(t, str) and t for t in logs.values())


def test_node_log_archive_is_a_gzipped_tar(ais_backend):
    cluster = ais_backend.client.cluster()
    target = next(iter(cluster.get_info().tmap))
    blob = cluster.get_node_log_archive(target)
    assert blob[:2] == b"\x1f\x8b"
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tf:
        files = [m for m in tf if m.isfile()]
        assert files and files[0].size > 0


def test_unknown_log_severity_is_a_400(wire):
    _, targets, _ = _nodes(wire)
    r = wire.get("/v1/reverse/daemon", params={"what": "log", "severity": "bogus"},
                 headers={"Ais-Node-Id": targets[0]})
    assert r.status_code == 400 and "bogus" in r.json()["message"]


# -- bucket props, listings, jobs as the CLI asks for them ----------------------------------


def test_bucket_props_carry_every_bprops_section(wire, bck):
    r = wire.head(wire.bck_path(bck.name), params={"provider": "ais",
                                                   "dont_add_remote_bck_md": "true"})
    assert r.status_code == 200
    props = json.loads(r.headers["Ais-Bucket-Props"])
    for key in ("access", "chunks", "checksum", "versioning", "mirror", "ec", "lru",
                "features", "created", "bid", "provider", "write_policy"):
        assert key in props, key
    assert int(props["access"]) > 0


def test_empty_listing_has_an_empty_entries_array(wire, bck, put):
    """Go's generated decoder takes an array at ``Entries``; nil fails ``ais ls``."""
    put({"a.txt": b"a"})
    r, body = wire.list_page(bck.name, prefix="nomatch", props="name,size,cached")
    assert r.status_code == 200
    raw = msgpack.unpackb(r.content, raw=False)
    assert raw["Entries"] == [] and body["ContinuationToken"] == ""


def test_job_queries_with_an_unnamed_bucket(wire, bck, fresh_name, ais_backend):
    """``ais show job`` and ``bucket cp --wait`` send an empty bucket in every query."""
    bck.object("o").get_writer().put_content(b"o")
    job_id = bck.copy(ais_backend.client.bucket(fresh_name))
    empty = {"name": "", "provider": "", "namespace": {"uuid": "", "name": ""}}
    for show_active in (None, False):
        body = {"show_active": show_active, "bck": empty, "id": job_id, "kind": "copy-bck"}
        r = wire.get("/v1/cluster", params={"what": "qryxstats"}, json=body)
        assert r.status_code == 200, r.text
        assert job_id in [s["id"] for snaps in r.json().values() for s in snaps]
    r = wire.get("/v1/cluster", params={"what": "status"},
                 json={"show_active": None, "bck": empty, "id": job_id, "kind": "copy-bck"})
    assert r.status_code == 200 and r.json()["uuid"] == job_id
    r = wire.get("/v1/cluster", params={"what": "qryxstats"},
                 json={"show_active": True, "bck": empty, "id": "", "kind": "lru"})
    assert r.status_code == 200 and all(isinstance(v, list) for v in r.json().values())


def test_download_and_dsort_listings(wire):
    r = wire.get("/v1/download", json={"id": "", "regex": "", "only_active_tasks": True})
    assert r.status_code == 200 and isinstance(r.json(), list)
    r = wire.get("/v1/sort", params={"only_active": "true", "regex": ""})
    assert r.status_code == 200 and isinstance(r.json(), list)


def test_running_jobs_list_an_idle_copy(ais_backend, bck, fresh_name):
    """An idle-kind job stays listed as running for a while (upstream's own test)."""
    bck.object("o").get_writer().put_content(b"any content")
    dst = ais_backend.client.bucket(fresh_name).create()
    job_id = bck.objects(obj_names=["o"]).copy(to_bck=dst)[0]
    cluster = ais_backend.client.cluster()
    expected = f"copy-listrange[{job_id}]"
    assert expected in cluster.list_running_jobs()
    assert expected in cluster.list_running_jobs(job_kind="copy-listrange")
    assert expected not in cluster.list_running_jobs(job_kind="lru")
