"""Bucket lifecycle: create, destroy, HEAD properties, name validation, namespaces."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from aistore.sdk import Namespace
from aistore.sdk.errors import AISError, ErrBckAlreadyExists, ErrBckNotFound


def test_create_then_head(ais_backend, fresh_name):
    b = ais_backend.client.bucket(fresh_name)
    assert b.create() is b
    headers = b.head()
    props = json.loads(headers["Ais-Bucket-Props"])
    assert isinstance(props, dict)
    assert props["provider"] == "ais"
    assert props["checksum"]["type"] in {
        "none", "xxhash", "xxhash2", "md5", "crc32c", "sha256", "sha512"
    }


def test_create_existing_raises(ais_backend, bck):
    with pytest.raises(ErrBckAlreadyExists) as exc:
        ais_backend.client.bucket(bck.name).create()
    assert exc.value.status_code == 409
    assert f"ais://{bck.name}" in exc.value.message
    assert "already exists" in exc.value.message


def test_create_existing_exist_ok_keeps_content(ais_backend, bck):
    bck.object("keep").get_writer().put_content(b"kept")
    again = ais_backend.client.bucket(bck.name).create(exist_ok=True)
    assert again.name == bck.name
    assert bck.object("keep").get_reader().read_all() == b"kept"


def test_create_existing_raw_409(wire, bck):
    r = wire.post(wire.bck_path(bck.name), params={"provider": "ais"},
                  json=wire.act("create-bck"))
    assert r.status_code == 409
    body = r.json()
    assert body["status"] == 409
    assert f'bucket "ais://{bck.name}" already exists' in body["message"]


def test_destroy_removes_bucket_and_objects(ais_backend, fresh_name):
    b = ais_backend.client.bucket(fresh_name).create()
    b.object("x").get_writer().put_content(b"x")
    b.delete()
    with pytest.raises(AISError) as exc:
        b.head()
    assert exc.value.status_code == 404
    # a bucket re-created under the same name starts empty
    b.create()
    assert b.list_all_objects() == []


def test_destroy_missing_raises(ais_backend, fresh_name):
    b = ais_backend.client.bucket(fresh_name)
    with pytest.raises(ErrBckNotFound) as exc:
        b.delete()
    assert exc.value.status_code == 404
    assert f"ais://{fresh_name}" in exc.value.message
    b.delete(missing_ok=True)  # no exception


def test_head_returns_props_json(bck, wire):
    r = wire.head(wire.bck_path(bck.name), params={"provider": "ais"})
    assert r.status_code == 200
    assert r.content == b""
    assert "Content-Length" not in r.headers  # Go's net/http adds none to a HEAD reply
    props = json.loads(r.headers["Ais-Bucket-Props"])
    assert props["provider"] == "ais"
    assert "versioning" in props


def test_head_missing_bucket_is_404_without_body(ais_backend, fresh_name, wire):
    with pytest.raises(AISError) as exc:
        ais_backend.client.bucket(fresh_name).head()
    assert exc.value.status_code == 404
    assert not isinstance(exc.value, ErrBckNotFound)  # HEAD errors carry no text

    r = wire.head(wire.bck_path(fresh_name), params={"provider": "ais"})
    assert r.status_code == 404
    assert r.content == b""
    assert "Content-Length" not in r.headers
    assert json.loads(r.headers["Hdr-Error"])["tcode"] == "ErrBckNotFound"


def test_bucket_name_length_limit(ais_backend, wire):
    ok = ais_backend.bucket("l" * 51)  # with the fixture's suffix: 64 characters
    assert len(ok.name) == 64 and ok.list_all_objects() == []
    name = "l" * 65
    r = wire.post(wire.bck_path(name), params={"provider": "ais"}, json=wire.act("create-bck"))
    assert r.status_code == 400
    assert r.json()["message"] == "bucket name is too long: 65 > 64(max length)"
    r = wire.get(wire.obj_path(name, "x"), params={"provider": "ais"})
    assert r.status_code == 400 and "too long" in r.json()["message"]


INVALID_NAMES = ["", " ", "*", ".", "a/b", "#x", "$x", "~x", "a b"]


def _encoded(name: str) -> str:
    # "." must reach the server as the name itself, not as a dot path segment
    return "%2E" if name == "." else quote(name, safe="/")


@pytest.mark.parametrize("name", INVALID_NAMES, ids=repr)
def test_invalid_bucket_name_rejected(ais_backend, bck, wire, name):
    bck.object("witness").get_writer().put_content(b"still here")

    r = wire.post("/v1/buckets/" + _encoded(name), params={"provider": "ais"},
                  json=wire.act("create-bck"), allow_redirects=False)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)

    # (the cluster may be shared: look only at the names this test is about)
    names = {b.name for b in ais_backend.client.cluster().list_buckets()}
    assert bck.name in names
    assert name not in names
    assert bck.object("witness").get_reader().read_all() == b"still here"


@pytest.mark.parametrize("name", [" ", "*", "$x", "~x"], ids=repr)
def test_invalid_bucket_name_via_sdk(ais_backend, name):
    with pytest.raises(AISError) as exc:
        ais_backend.client.bucket(name).create()
    assert 400 <= exc.value.status_code < 500


def _drop(bucket):
    try:
        bucket.delete(missing_ok=True)
    except AISError:
        pass


def test_namespace_bucket_is_distinct(ais_backend, fresh_name, kit):
    client = ais_backend.client
    ns = Namespace(name=kit.unique_name("ns").replace("-", ""))
    plain = client.bucket(fresh_name).create()
    scoped = client.bucket(fresh_name, namespace=ns)
    try:
        scoped.create()
        plain.object("o").get_writer().put_content(b"global namespace")
        scoped.object("o").get_writer().put_content(b"named namespace")
        scoped.object("only-ns").get_writer().put_content(b"x")

        assert plain.object("o").get_reader().read_all() == b"global namespace"
        assert scoped.object("o").get_reader().read_all() == b"named namespace"
        assert [e.name for e in plain.list_all_objects()] == ["o"]
        assert [e.name for e in scoped.list_all_objects()] == ["o", "only-ns"]

        scoped.delete()
        assert plain.object("o").get_reader().read_all() == b"global namespace"
        with pytest.raises(AISError) as exc:
            scoped.head()
        assert exc.value.status_code == 404
    finally:
        _drop(scoped)


def test_namespace_bucket_needs_own_create(ais_backend, bck, kit):
    ns = Namespace(name=kit.unique_name("ns").replace("-", ""))
    scoped = ais_backend.client.bucket(bck.name, namespace=ns)
    with pytest.raises(AISError) as exc:
        scoped.head()
    assert exc.value.status_code == 404
    with pytest.raises(AISError) as exc:
        scoped.object("o").get_writer().put_content(b"x")
    assert exc.value.status_code == 404
