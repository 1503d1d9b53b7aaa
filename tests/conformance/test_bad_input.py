"""Bad input: malformed bodies, ranges, names, props and params give a clear 4xx, the server
stays up, and nothing stored is lost."""

from __future__ import annotations

import pytest

WITNESS = {"w/a.bin": b"alpha" * 20, "w/b.bin": b"", "z": b"zulu"}


@pytest.fixture
def witness(put, wire, bck):
    """Objects stored before the bad request; ``check()`` proves they survived it."""
    put(WITNESS)

    def check():
        assert wire.get("/v1/health").status_code == 200
        assert [e.name for e in bck.list_all_objects()] == sorted(WITNESS)
        for name, data in WITNESS.items():
            assert bck.object(name).get_reader().read_all() == data

    return check


def _is_clear_4xx(r):
    assert 400 <= r.status_code < 500, (r.status_code, r.text)


BAD_JSON = [b"{not json", b"[1, 2", b"\xff\xfe\x00", b'{"action": 12}', b"null"]


@pytest.mark.parametrize("body", BAD_JSON, ids=repr)
def test_bad_json_list_objects(bck, wire, witness, body):
    r = wire.get(wire.bck_path(bck.name), params={"provider": "ais"}, data=body,
                 headers={"Content-Type": "application/json",
                          "Accept": "application/msgpack"})
    _is_clear_4xx(r)
    witness()


@pytest.mark.parametrize("body", BAD_JSON, ids=repr)
def test_bad_json_create_bucket(ais_backend, wire, witness, fresh_name, body):
    r = wire.post(wire.bck_path(fresh_name), params={"provider": "ais"}, data=body,
                  headers={"Content-Type": "application/json"})
    _is_clear_4xx(r)
    assert fresh_name not in {b.name for b in ais_backend.client.cluster().list_buckets()}
    witness()


@pytest.mark.parametrize("body", [b"{not json", b'{"action": "", "value": "not-a-map"}'],
                         ids=repr)
def test_bad_json_patch(bck, wire, witness, body):
    bck.object("z").get_writer().set_custom_props({"keep": "me"})
    r = wire.patch(wire.obj_path(bck.name, "z"), params={"provider": "ais"}, data=body,
                   headers={"Content-Type": "application/json"})
    _is_clear_4xx(r)
    assert bck.object("z").props.custom_metadata == {"keep": "me"}
    witness()


@pytest.mark.parametrize("body", [b"{not json", b'{"in": "nope"}', b'{"in": [{"objname": 5}]}'],
                         ids=repr)
def test_bad_json_batch(bck, wire, witness, body):
    r = wire.get(f"/v1/ml/moss/{bck.name}", params={"provider": "ais"}, data=body,
                 headers={"Content-Type": "application/json"})
    _is_clear_4xx(r)
    witness()


def test_bad_list_msg_values(bck, wire, witness):
    r, _ = wire.list_page(bck.name, pagesize="many")
    _is_clear_4xx(r)
    r, _ = wire.list_page(bck.name, flags="not-a-number")
    _is_clear_4xx(r)
    witness()


@pytest.mark.parametrize("header", ["bytes=abc", "bytes=5-2", "items=0-1", "bytes=--1",
                                    "bytes=1-2-3"])
def test_bad_range(bck, wire, witness, header):
    r = wire.get(wire.obj_path(bck.name, "z"), params={"provider": "ais"},
                 headers={"Range": header})
    _is_clear_4xx(r)
    witness()


@pytest.mark.parametrize("props", ["bogus", "name,bogus", "cached", "status"])
def test_unknown_head_props(bck, wire, witness, props):
    r = wire.head(wire.obj_path(bck.name, "z"), params={"provider": "ais", "props": props})
    assert r.status_code == 400, r.status_code
    witness()


def test_unknown_list_props_ignored(bck, wire, witness):
    # real AIS validates HEAD props (400) but lists with unknown props as if absent
    r, body = wire.list_page(bck.name, props="name,bogus")
    assert r.status_code == 200
    assert [e["n"] for e in body["Entries"]] == sorted(WITNESS)
    witness()


def test_unknown_provider(bck, wire, witness):
    r = wire.get(wire.obj_path(bck.name, "z"), params={"provider": "nosuchcloud"})
    _is_clear_4xx(r)
    witness()


def test_unknown_query_param_is_ignored_or_named(bck, wire, witness):
    r = wire.get(wire.obj_path(bck.name, "z"), params={"provider": "ais", "frobnicate": "1"})
    assert r.status_code < 500
    if r.status_code == 200:
        assert r.content == WITNESS["z"]
    else:
        _is_clear_4xx(r)
        assert "frobnicate" in r.text
    witness()


@pytest.mark.parametrize("path", ["/v1/objects/{b}/", "/v1/objects/{b}"])
def test_put_without_object_name(bck, wire, witness, path):
    r = wire.put(path.format(b=bck.name), params={"provider": "ais"}, data=b"orphan")
    _is_clear_4xx(r)
    witness()


@pytest.mark.parametrize("name", ["../z", "dir/", "a/../../b"])
def test_invalid_object_names(bck, wire, witness, name):
    r = wire.put(wire.obj_path(bck.name, name).replace(".", "%2E"), params={"provider": "ais"},
                 data=b"bad name")
    assert r.status_code == 400, (r.status_code, r.text)
    assert "invalid object name" in r.json()["message"]
    witness()


def test_get_without_object_name(bck, wire, witness):
    r = wire.get(f"/v1/objects/{bck.name}/", params={"provider": "ais"})
    _is_clear_4xx(r)
    witness()


def test_bad_append_handle(bck, wire, witness):
    r = wire.put(wire.obj_path(bck.name, "z"),
                 params={"provider": "ais", "append_type": "flush",
                         "append_handle": "definitely-not-a-handle"})
    _is_clear_4xx(r)
    r = wire.put(wire.obj_path(bck.name, "z"),
                 params={"provider": "ais", "append_type": "sideways", "append_handle": ""},
                 data=b"x")
    _is_clear_4xx(r)
    witness()


def test_bad_object_to(bck, wire, witness):
    r = wire.put(wire.obj_path(bck.name, "z"),
                 params={"provider": "ais", "object_to": "not a uname"})
    _is_clear_4xx(r)
    witness()


def test_destroy_with_wrong_action(bck, wire, witness):
    r = wire.delete(wire.bck_path(bck.name), params={"provider": "ais"},
                    json=wire.act("no-such-action"))
    _is_clear_4xx(r)
    witness()


@pytest.mark.ais_emulator_only("the 501 reply for unknown routes is an emulator feature")
def test_unknown_route_names_method_path_and_neighbours(wire):
    r = wire.get("/v1/bucketz/x")
    assert r.status_code == 501
    assert "GET" in r.text
    assert "/v1/bucketz/x" in r.text
    assert "/v1/buckets" in r.text
    assert wire.get("/v1/health").status_code == 200


@pytest.mark.ais_emulator_deviation(
    "real AIS answers an unknown /v1 route with a 4xx; the emulator answers 501",
    on="emulator",
)
def test_unknown_route_live(wire):
    r = wire.get("/v1/bucketz/x")
    _is_clear_4xx(r)
