"""Error replies: the JSON body, the texts that pick the SDK exception class, 4xx not 5xx."""

from __future__ import annotations

import json

import pytest
from aistore.sdk.errors import (
    AISError,
    ErrBckAlreadyExists,
    ErrBckNotFound,
    ErrObjNotFound,
)


def _error_json(r):
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body, dict)
    return body


def test_missing_object_error_json(bck, wire):
    path = wire.obj_path(bck.name, "no/such")
    r = wire.get(path, params={"provider": "ais"})
    assert r.status_code == 404
    body = _error_json(r)
    assert body["status"] == 404
    assert body["method"] == "GET"
    assert body["url_path"] == path
    assert f"ais://{bck.name}/no/such" in body["message"]
    assert "does not exist" in body["message"]


def test_missing_bucket_error_json(wire, fresh_name):
    path = wire.obj_path(fresh_name, "obj")
    r = wire.get(path, params={"provider": "ais"})
    assert r.status_code == 404
    body = _error_json(r)
    assert body["status"] == 404
    assert body["method"] == "GET"
    assert f'bucket "ais://{fresh_name}" does not exist' in body["message"]


def test_existing_bucket_error_json(bck, wire):
    path = wire.bck_path(bck.name)
    r = wire.post(path, params={"provider": "ais"}, json=wire.act("create-bck"))
    assert r.status_code == 409
    body = _error_json(r)
    assert body["status"] == 409
    assert body["method"] == "POST"
    assert body["url_path"] == path
    assert f'bucket "ais://{bck.name}" already exists' in body["message"]


def test_delete_missing_object_error_json(bck, wire):
    r = wire.delete(wire.obj_path(bck.name, "ghost"), params={"provider": "ais"})
    assert r.status_code == 404
    body = _error_json(r)
    assert body["method"] == "DELETE"
    assert f"ais://{bck.name}/ghost" in body["message"]


def test_head_error_in_header_not_body(bck, wire):
    r = wire.head(wire.obj_path(bck.name, "ghost"), params={"provider": "ais",
                                                            "props": "name,size"})
    assert r.status_code == 404
    assert r.content == b""
    detail = json.loads(r.headers["Hdr-Error"])
    assert detail["status"] == 404
    assert f"ais://{bck.name}/ghost" in detail["message"]


# ---------------------------------------------------------------------------------------
# exception classes raised by the SDK


def test_sdk_err_obj_not_found(bck):
    with pytest.raises(ErrObjNotFound) as exc:
        bck.object("x").get_reader().read_all()
    assert exc.value.status_code == 404


def test_sdk_err_bck_not_found_on_get(ais_backend, fresh_name):
    with pytest.raises(ErrBckNotFound):
        ais_backend.client.bucket(fresh_name).object("x").get_reader().read_all()


def test_sdk_err_bck_not_found_on_list(ais_backend, fresh_name):
    with pytest.raises(ErrBckNotFound) as exc:
        ais_backend.client.bucket(fresh_name).list_objects()
    assert exc.value.status_code == 404


def test_sdk_err_bck_not_found_on_put(ais_backend, fresh_name):
    with pytest.raises(ErrBckNotFound):
        ais_backend.client.bucket(fresh_name).object("x").get_writer().put_content(b"x")


def test_sdk_err_bck_already_exists(ais_backend, bck):
    with pytest.raises(ErrBckAlreadyExists) as exc:
        ais_backend.client.bucket(bck.name).create()
    assert exc.value.status_code == 409


def test_sdk_err_obj_not_found_on_delete(bck):
    with pytest.raises(ErrObjNotFound):
        bck.object("x").delete()


def test_sdk_head_errors_are_plain(ais_backend, bck, fresh_name):
    for call in (lambda: bck.object("x").head(),
                 lambda: ais_backend.client.bucket(fresh_name).head()):
        with pytest.raises(AISError) as exc:
            call()
        assert exc.value.status_code == 404
        assert type(exc.value) is AISError


# ---------------------------------------------------------------------------------------
# client mistakes are 4xx


CLIENT_MISTAKES = [
    ("GET", "object missing", lambda b: (f"/v1/objects/{b}/missing", {}, None), 404),
    ("DELETE", "object missing", lambda b: (f"/v1/objects/{b}/missing", {}, None), 404),
    ("PATCH", "object missing",
     lambda b: (f"/v1/objects/{b}/missing", {}, {"action": "", "name": "", "value": {"a": "b"}}),
     404),
    ("GET", "bucket list missing bucket",
     lambda b: (f"/v1/buckets/{b}-nope",
                {}, {"action": "list", "name": "", "value": {"props": "name"}}), 404),
    ("POST", "unknown bucket action",
     lambda b: (f"/v1/buckets/{b}", {}, {"action": "no-such-action", "name": "", "value": None}),
     None),
    ("POST", "unknown object action",
     lambda b: (f"/v1/objects/{b}/o", {}, {"action": "no-such-action", "name": "",
                                           "value": None}),
     None),
]


@pytest.mark.parametrize("method, label, build, status", CLIENT_MISTAKES,
                         ids=[f"{m} {label}" for m, label, _, _ in CLIENT_MISTAKES])
def test_client_mistakes_are_4xx(bck, wire, method, label, build, status):
    bck.object("o").get_writer().put_content(b"o")
    path, params, body = build(bck.name)
    r = wire.request(method, path, params={"provider": "ais", **params}, json=body)
    if status is not None:
        assert r.status_code == status, (r.status_code, r.text)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert bck.object("o").get_reader().read_all() == b"o"


# ---------------------------------------------------------------------------------------
# tcode: the Go type of the error, as AIS names it in the JSON (absent where AIS sends none)


TCODES = [
    ("GET missing object", "GET", lambda b: (f"/v1/objects/{b}/missing", {}, None),
     404, "ErrNotFound"),
    ("DELETE missing object", "DELETE", lambda b: (f"/v1/objects/{b}/missing", {}, None),
     404, None),
    ("GET missing bucket", "GET", lambda b: (f"/v1/objects/{b}-nope/o", {}, None),
     404, "ErrBckNotFound"),
    ("create existing bucket", "POST",
     lambda b: (f"/v1/buckets/{b}", {}, {"action": "create-bck", "name": "", "value": None}),
     409, "ErrBucketAlreadyExists"),
    ("object name ending in /", "PUT", lambda b: (f"/v1/objects/{b}/dir/", {}, None),
     400, "errInvalidPath"),
    ("object under an object", "PUT", lambda b: (f"/v1/objects/{b}/o/x", {}, None),
     400, "ErrMv"),
    ("object over a directory", "PUT", lambda b: (f"/v1/objects/{b}/d", {}, None),
     400, "ErrMv"),
    ("range beyond the object", "GET",
     lambda b: (f"/v1/objects/{b}/o", {"Range": "bytes=10-"}, None),
     416, "ErrRangeNotSatisfiable"),
    ("multi-range", "GET", lambda b: (f"/v1/objects/{b}/o", {"Range": "bytes=0-0,0-0"}, None),
     416, "ErrUnsupp"),
    ("malformed range", "GET", lambda b: (f"/v1/objects/{b}/o", {"Range": "bytes=x"}, None),
     416, None),
    ("archpath with a range", "GET",
     lambda b: (f"/v1/objects/{b}/s.tar?archpath=a", {"Range": "bytes=0-0"}, None),
     400, "ErrUnsupp"),
    ("GetBatch unknown mime", "GET",
     lambda b: (f"/v1/ml/moss/{b}", {}, {"in": [{"objname": "o"}], "mime": ".rar",
                                          "strm": True}),
     400, "errUnknownMime"),
]


@pytest.mark.parametrize("label, method, build, status, tcode", TCODES,
                         ids=[t[0] for t in TCODES])
def test_error_tcodes(bck, wire, shards, label, method, build, status, tcode):
    bck.object("o").get_writer().put_content(b"o")
    bck.object("d/e").get_writer().put_content(b"e")
    bck.object("s.tar").get_writer().put_content(shards.tar([("a", b"a")]))
    path, headers, body = build(bck.name)
    data = b"x" if method == "PUT" else None
    r = wire.request(method, path, params={"provider": "ais"}, headers=headers, json=body,
                     data=data)
    assert r.status_code == status, (r.status_code, r.text)
    doc = _error_json(r)
    assert doc.get("tcode") == tcode, doc
    assert r.text.endswith("}\n")  # Go's JSON encoder ends the body with a newline
