"""PUT (and overwrite), DELETE, append/flush, custom-metadata PATCH, and the name rules that
come from real AIS storing objects as files (an object is never a directory of another)."""

from __future__ import annotations

import hashlib
import json

import pytest
import xxhash
from aistore.sdk.errors import AISError, ErrBckNotFound, ErrObjNotFound

# Checksum types whose value the suite can compute on its own (hex of the digest).
_INDEPENDENT = {
    "xxhash": lambda b: xxhash.xxh64(b, seed=0).hexdigest(),
    "xxhash2": lambda b: xxhash.xxh64(b, seed=0).hexdigest(),
    "md5": lambda b: hashlib.md5(b).hexdigest(),
    "sha256": lambda b: hashlib.sha256(b).hexdigest(),
    "sha512": lambda b: hashlib.sha512(b).hexdigest(),
}


def _bucket_cksum_type(bck) -> str:
    return json.loads(bck.head()["Ais-Bucket-Props"])["checksum"]["type"]


def test_put_then_get(bck, kit):
    data = kit.payload("put", 4096)
    resp = bck.object("p/x.bin").get_writer().put_content(data)
    assert resp.status_code == 200
    assert bck.object("p/x.bin").get_reader().read_all() == data


def test_put_file(bck, tmp_path, kit):
    data = kit.payload("file", 10_000)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    bck.object("from-file").get_writer().put_file(path)
    assert bck.object("from-file").get_reader().read_all() == data


def test_versions_count_up(bck):
    o = bck.object("v")
    o.get_writer().put_content(b"one")
    assert o.props.obj_version == "1"
    o.get_writer().put_content(b"two")
    assert o.props.obj_version == "2"
    o.get_writer().put_content(b"three")
    assert o.props.obj_version == "3"
    assert o.get_reader().read_all() == b"three"
    assert [(e.name, e.version) for e in bck.list_all_objects(props="name,version")] == [
        ("v", "3")
    ]


def test_checksum_is_what_bucket_computes(bck, kit):
    ty = _bucket_cksum_type(bck)
    data = kit.payload("cksum", 3333)
    o = bck.object("ck")
    o.get_writer().put_content(data)
    props = o.props
    assert props.checksum_type == ty
    if ty == "none":
        assert props.checksum_value == ""
        return
    assert props.checksum_value
    if ty in _INDEPENDENT:
        assert props.checksum_value == _INDEPENDENT[ty](data)
    # the same bytes under another name give the same checksum
    bck.object("ck2").get_writer().put_content(data)
    assert bck.object("ck2").props.checksum_value == props.checksum_value


def test_put_response_headers(bck, wire):
    r = wire.put(wire.obj_path(bck.name, "raw-put"), params={"provider": "ais"},
                 data=b"raw bytes")
    assert r.status_code == 200
    assert bck.object("raw-put").get_reader().read_all() == b"raw bytes"


def test_put_ignores_content_type(bck, wire):
    body = b'{"this": "is stored as bytes"}'
    r = wire.put(wire.obj_path(bck.name, "j.json"), params={"provider": "ais"},
                 data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    assert bck.object("j.json").get_reader().read_all() == body


def test_put_missing_bucket(ais_backend, fresh_name):
    with pytest.raises(ErrBckNotFound) as exc:
        ais_backend.client.bucket(fresh_name).object("x").get_writer().put_content(b"x")
    assert exc.value.status_code == 404
    # PUT does not create ais buckets
    names = {b.name for b in ais_backend.client.cluster().list_buckets()}
    assert fresh_name not in names


def test_delete(bck):
    o = bck.object("gone")
    o.get_writer().put_content(b"x")
    bck.object("stays").get_writer().put_content(b"y")
    assert o.delete().status_code == 200
    with pytest.raises(ErrObjNotFound):
        o.get_reader().read_all()
    assert [e.name for e in bck.list_all_objects()] == ["stays"]


def test_delete_missing(bck):
    with pytest.raises(ErrObjNotFound) as exc:
        bck.object("never/was").delete()
    assert exc.value.status_code == 404
    assert f"ais://{bck.name}/never/was" in exc.value.message


def test_delete_then_recreate_restarts_content(bck):
    o = bck.object("again")
    o.get_writer().put_content(b"first")
    o.delete()
    o.get_writer().put_content(b"second")
    assert o.get_reader().read_all() == b"second"


def test_object_cannot_sit_under_another_object(bck, wire):
    # objects are files on the targets: "a" blocks "a/b"
    bck.object("a").get_writer().put_content(b"file")
    r = wire.put(wire.obj_path(bck.name, "a/b"), params={"provider": "ais"}, data=b"x")
    assert r.status_code == 400, (r.status_code, r.text)
    assert "destination contains an object in its path" in r.json()["message"]
    assert [e.name for e in bck.list_all_objects()] == ["a"]


def test_object_cannot_replace_a_virtual_directory(bck, wire):
    bck.object("d/e").get_writer().put_content(b"inside")
    r = wire.put(wire.obj_path(bck.name, "d"), params={"provider": "ais"}, data=b"x")
    assert r.status_code == 400, (r.status_code, r.text)
    assert "destination exists and is a virtual directory" in r.json()["message"]
    assert [e.name for e in bck.list_all_objects()] == ["d/e"]


def test_repeated_slashes_collapse(bck):
    bck.object("x//y").get_writer().put_content(b"slashes")
    assert bck.object("x/y").get_reader().read_all() == b"slashes"
    assert bck.object("x//y").get_reader().read_all() == b"slashes"
    assert [e.name for e in bck.list_all_objects()] == ["x/y"]


# ---------------------------------------------------------------------------------------
# append / flush


def test_append_flush_new_object(bck, wire):
    o = bck.object("log.txt")
    w = o.get_writer()
    handle = w.append_content(b"line 1\n")
    assert handle
    handle = w.append_content(b"line 2\n", handle=handle)
    assert handle
    # a new object is not visible until the flush
    r = wire.head(wire.obj_path(bck.name, "log.txt"), params={"provider": "ais",
                                                              "props": "name,size"})
    assert r.status_code == 404
    w.append_content(b"", handle=handle, flush=True)
    assert o.get_reader().read_all() == b"line 1\nline 2\n"
    assert o.head().size == 14


def test_append_raw_handle_header(bck, wire):
    path = wire.obj_path(bck.name, "raw-append")
    r = wire.put(path, params={"provider": "ais", "append_type": "append", "append_handle": ""},
                 data=b"abc")
    assert r.status_code == 200
    handle = r.headers["Ais-Append-Handle"]
    assert handle
    r = wire.put(path, params={"provider": "ais", "append_type": "append",
                               "append_handle": handle}, data=b"def")
    assert r.status_code == 200
    handle = r.headers["Ais-Append-Handle"] or handle
    r = wire.put(path, params={"provider": "ais", "append_type": "flush",
                               "append_handle": handle})
    assert r.status_code == 200
    assert bck.object("raw-append").get_reader().read_all() == b"abcdef"


def test_append_to_existing_object(bck):
    o = bck.object("grow")
    o.get_writer().put_content(b"base-")
    w = o.get_writer()
    h = w.append_content(b"more")
    w.append_content(b"", handle=h, flush=True)
    assert o.get_reader().read_all() == b"base-more"


def test_object_file_writer_append_mode(bck):
    o = bck.object("file-a")
    o.get_writer().put_content(b"start:")
    with o.get_writer().as_file(mode="a") as f:
        assert f.write(b"one,") == 4
        f.write(b"two")
    assert o.get_reader().read_all() == b"start:one,two"


def test_object_file_writer_write_mode_truncates(bck):
    o = bck.object("file-w")
    o.get_writer().put_content(b"old content")
    with o.get_writer().as_file(mode="w") as f:
        f.write(b"new")
    assert o.get_reader().read_all() == b"new"


def test_object_file_writer_flush_midway(bck):
    o = bck.object("file-f")
    f = o.get_writer().as_file(mode="w")
    f.write(b"part1")
    f.flush()
    assert o.get_reader().read_all() == b"part1"
    f.write(b"+part2")
    f.close()
    assert o.get_reader().read_all() == b"part1+part2"


# ---------------------------------------------------------------------------------------
# custom metadata (PATCH)


def test_custom_metadata_merge(bck):
    o = bck.object("md")
    o.get_writer().put_content(b"x")
    o.get_writer().set_custom_props({"a": "1", "b": "2"})
    o.get_writer().set_custom_props({"b": "3", "c": "4"})
    assert o.props.custom_metadata == {"a": "1", "b": "3", "c": "4"}


def test_custom_metadata_replace(bck):
    o = bck.object("md-r")
    o.get_writer().put_content(b"x")
    o.get_writer().set_custom_props({"a": "1", "b": "2"})
    o.get_writer().set_custom_props({"z": "9"}, replace_existing=True)
    assert o.props.custom_metadata == {"z": "9"}
    assert o.get_reader().read_all() == b"x"


def test_custom_metadata_raw_patch(bck, wire):
    bck.object("md-raw").get_writer().put_content(b"x")
    r = wire.patch(wire.obj_path(bck.name, "md-raw"), params={"provider": "ais"},
                   json=wire.act("", {"k": "v"}))
    assert r.status_code == 200
    r = wire.head(wire.obj_path(bck.name, "md-raw"),
                  params={"provider": "ais", "props": "custom"})
    assert "k=v" in r.headers["Ais-Custom-Md"]


def test_custom_metadata_missing_object(bck):
    with pytest.raises(AISError) as exc:
        bck.object("absent").get_writer().set_custom_props({"a": "1"})
    assert exc.value.status_code == 404


def test_custom_metadata_survives_get(bck):
    o = bck.object("md-keep")
    o.get_writer().put_content(b"payload")
    o.get_writer().set_custom_props({"label": "cat"})
    reader = o.get_reader()
    assert reader.read_all() == b"payload"
    assert reader.attributes.custom_metadata == {"label": "cat"}


def test_put_with_custom_md_header(bck, wire):
    path = wire.obj_path(bck.name, "md-put")
    r = wire.put(path, params={"provider": "ais"}, data=b"x",
                 headers={"Ais-Custom-Md": "k1=v1,k2=v2"})
    assert r.status_code == 200
    assert r.headers["Ais-Custom-Md"] == "k1=v1,k2=v2"  # the reply repeats what is stored
    # one header line is one pair, split at its first "=": k1 -> "v1,k2=v2"
    raw = wire.list_all_raw(bck.name, props="name,custom")
    assert [e.get("m") for e in raw] == ["[k1:v1,k2=v2]"]
    assert bck.object("md-put").props.custom_metadata == {"k1": "v1", "k2": "v2"}
    r = wire.put(path, params={"provider": "ais"}, data=b"x",
                 headers={"Ais-Custom-Md": "no-equals-sign"})
    assert r.status_code == 400


def test_custom_metadata_spellings(bck, wire):
    o = bck.object("md-spell")
    o.get_writer().put_content(b"x")
    o.get_writer().set_custom_props({"a": "1", "b": "2"})
    r = wire.head(wire.obj_path(bck.name, "md-spell"),
                  params={"provider": "ais", "props": "custom"})
    # one header line per pair (in Go map order), which clients join with ", "
    assert sorted(r.headers["Ais-Custom-Md"].split(", ")) == ["a=1", "b=2"]
    m = wire.list_all_raw(bck.name, props="name,custom")[0]["m"]
    assert m.startswith("[") and m.endswith("]")
    assert sorted(m[1:-1].split(" ")) == ["a:1", "b:2"]
