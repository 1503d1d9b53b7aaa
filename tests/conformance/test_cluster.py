"""Cluster-level endpoints: health, the cluster map (smap), list buckets, direct reads."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from aistore.sdk.provider import Provider


def test_health_plain_is_200(wire):
    r = wire.get("/v1/health")
    assert r.status_code == 200
    assert r.content == b""


def test_health_primary_ready(wire):
    r = wire.get("/v1/health", params={"prr": "true"})
    assert r.status_code == 200


def test_is_ready(ais_backend):
    assert ais_backend.client.cluster().is_ready() is True


def test_smap_shape(ais_backend):
    smap = ais_backend.client.cluster().get_info()

    assert smap.proxy_si.daemon_type == "proxy"
    assert smap.proxy_si.daemon_id in smap.pmap
    primary_url = smap.proxy_si.public_net.direct_url
    assert urlparse(primary_url).scheme in ("http", "https")
    assert urlparse(primary_url).port is not None

    assert len(smap.tmap) >= 1
    for tid, snode in smap.tmap.items():
        assert snode.daemon_id == tid
        assert snode.daemon_type == "target"
        assert urlparse(snode.public_net.direct_url).scheme in ("http", "https")
    for pid, snode in smap.pmap.items():
        assert snode.daemon_id == pid
        assert snode.daemon_type == "proxy"


def test_smap_raw_json_has_required_keys(wire):
    r = wire.get("/v1/daemon", params={"what": "smap"})
    assert r.status_code == 200
    body = r.json()
    for key in ("tmap", "pmap", "proxy_si"):
        assert key in body, f"smap lacks {key!r}: {sorted(body)}"
    assert int(body["version"]) > 0


def test_uuid_matches_smap(ais_backend):
    cluster = ais_backend.client.cluster()
    uuid = cluster.get_uuid()
    assert isinstance(uuid, str) and uuid
    assert uuid == cluster.get_info().uuid


def test_primary_url_serves_health(ais_backend, wire):
    primary = ais_backend.client.cluster().get_primary_url()
    r = wire.session.get(primary.rstrip("/") + "/v1/health", timeout=30)
    assert r.status_code == 200


def test_direct_read_through_target(ais_backend, bck):
    data = b"direct read payload\n" * 100
    obj = bck.object("direct/obj.bin")
    obj.get_writer().put_content(data)

    smap = ais_backend.client.cluster().get_info()
    target = smap.get_target_for_object(obj.uname)
    assert target.daemon_id in smap.tmap
    assert obj.get_reader(direct=True).read_all() == data


def test_target_direct_url_serves_objects(ais_backend, bck, wire):
    data = b"served by a target"
    bck.object("t.bin").get_writer().put_content(data)
    smap = ais_backend.client.cluster().get_info()
    target = smap.get_target_for_object(bck.object("t.bin").uname)
    url = target.public_net.direct_url.rstrip("/") + wire.obj_path(bck.name, "t.bin")
    r = wire.session.get(url, params={"provider": "ais"}, timeout=30)
    assert r.status_code == 200
    assert r.content == data


def test_list_buckets_contains_ours(ais_backend, bck):
    buckets = ais_backend.client.cluster().list_buckets()
    mine = [b for b in buckets if b.name == bck.name]
    assert len(mine) == 1
    assert mine[0].provider == "ais"
    assert all(b.provider == "ais" for b in buckets)


@pytest.mark.parametrize("provider", ["", Provider.AIS, "ais"])
def test_list_buckets_provider_filter(ais_backend, bck, provider):
    names = {b.name for b in ais_backend.client.cluster().list_buckets(provider=provider)}
    assert bck.name in names


def test_list_buckets_raw_is_json_array(wire, bck):
    r = wire.get("/v1/buckets", params={"provider": "ais"}, json=wire.act("list"))
    assert r.status_code == 200
    body = r.json()
    assert isinstance(body, list)
    entry = next(b for b in body if b["name"] == bck.name)
    assert entry["provider"] == "ais"


def test_destroyed_bucket_leaves_listing(ais_backend, fresh_name):
    b = ais_backend.client.bucket(fresh_name).create()
    assert fresh_name in {x.name for x in ais_backend.client.cluster().list_buckets()}
    b.delete()
    assert fresh_name not in {x.name for x in ais_backend.client.cluster().list_buckets()}
