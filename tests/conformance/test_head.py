"""HEAD object: every props selection the SDK sends, Content-Length on HEAD, presence."""

from __future__ import annotations

import re

import pytest
from aistore.sdk.errors import AISError, ErrObjNotFound

DATA = b"0123456789" * 37  # 370 bytes


@pytest.fixture
def obj(bck):
    o = bck.object("h/obj.bin")
    o.get_writer().put_content(DATA)
    return o


def test_head_default(obj, bck):
    props = obj.head()
    assert props.size == len(DATA)
    assert props.present is True
    # filled locally by the SDK, not read from the wire
    assert props.name == "h/obj.bin"
    assert props.bucket_name == bck.name
    assert props.bucket_provider == "ais"


def test_props_property(obj):
    p = obj.props
    assert p.present is True
    assert p.checksum_type
    assert p.checksum_value
    assert int(p.access_time) > 0
    assert p.obj_version == "1"
    assert p.mirror_copies >= 1
    assert re.match(r"^t\[[^\]]+\]:", p.location), p.location
    assert p.custom_metadata == {}
    assert obj.props_cached is p


def test_props_custom(obj):
    obj.get_writer().set_custom_props({"a": "1", "b": "two"})
    assert obj.props.custom_metadata == {"a": "1", "b": "two"}


def test_props_chunked_reports_size(obj):
    attrs = obj.head("chunked")
    assert attrs.size == len(DATA)


@pytest.mark.parametrize(
    "props",
    [
        "name,size",
        "checksum,atime,version,copies,custom,location",
        "checksum,atime,version,custom",
        "chunked",
        "size",
        "version",
    ],
)
def test_head_raw_keeps_content_length(obj, bck, wire, props):
    r = wire.head(wire.obj_path(bck.name, obj.name),
                  params={"provider": "ais", "props": props})
    assert r.status_code == 200
    assert r.headers["Content-Length"] == str(len(DATA))
    assert r.headers["Ais-Present"] == "true"
    assert r.content == b""


def test_head_raw_checksum_headers(obj, bck, wire):
    r = wire.head(wire.obj_path(bck.name, obj.name),
                  params={"provider": "ais", "props": "checksum,version,atime"})
    assert r.status_code == 200
    assert r.headers["Ais-Checksum-Type"]
    assert r.headers["Ais-Checksum-Value"]
    assert r.headers["Ais-Version"] == "1"
    assert r.headers["Ais-Atime"].isdigit()


def test_head_zero_length_object(bck, wire):
    bck.object("zero").get_writer().put_content(b"")
    r = wire.head(wire.obj_path(bck.name, "zero"), params={"provider": "ais",
                                                           "props": "name,size"})
    assert r.status_code == 200
    assert r.headers["Content-Length"] == "0"
    assert bck.object("zero").head().size == 0


def test_reader_head_matches_props(obj):
    attrs = obj.get_reader().head()
    props = obj.props
    assert attrs.size == len(DATA)
    assert attrs.present is True
    assert attrs.checksum_value == props.checksum_value
    assert attrs.obj_version == props.obj_version


def test_head_missing_object_plain_404(bck, wire):
    with pytest.raises(AISError) as exc:
        bck.object("absent").head()
    assert exc.value.status_code == 404
    assert not isinstance(exc.value, ErrObjNotFound)  # HEAD errors carry no body

    r = wire.head(wire.obj_path(bck.name, "absent"),
                  params={"provider": "ais", "props": "name,size"})
    assert r.status_code == 404
    assert r.content == b""


def test_head_tracks_overwrite(obj, kit):
    before = obj.props
    new = kit.payload("overwrite", 1234)
    obj.get_writer().put_content(new)
    after = obj.props
    assert obj.head().size == 1234
    assert after.obj_version == "2"
    assert after.checksum_value != before.checksum_value


def test_head_without_props_is_the_whole_object_props(obj, bck, wire):
    obj.get_writer().set_custom_props({"k": "v"})
    r = wire.head(wire.obj_path(bck.name, obj.name), params={"provider": "ais"})
    h = r.headers
    assert r.status_code == 200 and h["Content-Length"] == str(len(DATA))
    assert (h["Ais-Name"], h["Ais-Bucket-Name"], h["Ais-Bucket-Provider"]) == (
        obj.name, bck.name, "ais")
    assert h["Ais-Present"] == "true" and h["Ais-Custom-Md"] == "k=v"
    assert h["Ais-Mirror-Copies"] == "1" and h["Ais-Version"] == "1"
    assert {"Ais-Checksum-Value", "Ais-Atime", "Ais-Location", "Ais-Mirror-Paths"} <= set(h)
    assert "Last-Modified" not in h and "ETag" not in h


def test_head_etag(obj, bck, wire):
    path = wire.obj_path(bck.name, obj.name)
    r = wire.head(path, params={"provider": "ais", "props": "etag"})
    etag = r.headers["ETag"]
    cksum = wire.head(path, params={"provider": "ais", "props": "checksum"})
    assert re.fullmatch(r'"v1-([0-9a-f]+)-[0-9a-z]+"', etag), etag
    assert etag[4:].startswith(cksum.headers["Ais-Checksum-Value"] + "-")
    assert wire.head(path, params={"provider": "ais", "props": "etag"}).headers["ETag"] == etag
    obj.get_writer().set_custom_props({"ETag": "from-md"})
    r = wire.head(path, params={"provider": "ais", "props": "etag"})
    assert r.headers["ETag"] == '"from-md"'
