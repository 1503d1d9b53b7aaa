"""GET object: whole, byte ranges, archive extraction, attributes, errors, plain URLs."""

from __future__ import annotations

import pytest
import requests
from aistore.sdk.errors import AISError, ErrBckNotFound, ErrObjNotFound

SIZE = 1000


@pytest.fixture
def data(kit):
    return kit.payload("get", SIZE)


@pytest.fixture
def obj(bck, data):
    o = bck.object("dir/blob.bin")
    o.get_writer().put_content(data)
    return o


def test_whole_object_sdk(obj, data):
    assert obj.get_reader().read_all() == data


def test_whole_object_streamed(obj, data):
    assert b"".join(obj.get_reader(chunk_size=64)) == data


def test_whole_object_raw(obj, bck, data, wire):
    r = wire.get(wire.obj_path(bck.name, obj.name), params={"provider": "ais"})
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["Content-Length"] == str(SIZE)
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert "Content-Encoding" not in r.headers


def test_plain_url_needs_no_headers(obj, data):
    url = obj.get_url()
    assert "provider=ais" in url
    r = requests.get(url, timeout=30)
    assert r.status_code == 200
    assert r.content == data


def test_provider_defaults_to_ais(obj, bck, data, wire):
    r = wire.get(wire.obj_path(bck.name, obj.name))
    assert r.status_code == 200
    assert r.content == data


def test_special_characters_in_name(bck):
    name = "dir/a b+c?.txt#x%20y\u00e9"
    bck.object(name).get_writer().put_content(b"odd name")
    assert bck.object(name).get_reader().read_all() == b"odd name"
    assert [e.name for e in bck.list_all_objects()] == [name]


def test_empty_object(bck, wire):
    bck.object("empty").get_writer().put_content(b"")
    assert bck.object("empty").get_reader().read_all() == b""
    r = wire.get(wire.obj_path(bck.name, "empty"), params={"provider": "ais"})
    assert r.status_code == 200
    assert r.headers["Content-Length"] == "0"


# ---------------------------------------------------------------------------------------
# ranges


@pytest.mark.parametrize(
    "header, start, end",
    [
        ("bytes=10-19", 10, 19),
        ("bytes=0-0", 0, 0),
        ("bytes=990-", 990, SIZE - 1),
        ("bytes=-7", SIZE - 7, SIZE - 1),
        ("bytes=995-5000", 995, SIZE - 1),
        ("bytes=0-", 0, SIZE - 1),
    ],
)
def test_range_raw(obj, bck, data, wire, header, start, end):
    r = wire.get(wire.obj_path(bck.name, obj.name), params={"provider": "ais"},
                 headers={"Range": header})
    assert r.status_code == 206
    assert r.content == data[start:end + 1]
    assert r.headers["Content-Length"] == str(end - start + 1)
    assert r.headers["Content-Range"] == f"bytes {start}-{end}/{SIZE}"
    assert r.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize(
    "header, expected",
    [("bytes=10-19", slice(10, 20)), ("bytes=990-", slice(990, None)),
     ("bytes=-7", slice(-7, None))],
)
def test_range_sdk(obj, data, header, expected):
    assert obj.get_reader(byte_range=header).read_all() == data[expected]


def test_range_sdk_streamed(obj, data):
    chunks = list(obj.get_reader(byte_range="bytes=100-899", chunk_size=128))
    assert b"".join(chunks) == data[100:900]


@pytest.mark.parametrize("header", ["bytes=1000-1001", "bytes=5000-"])
def test_range_unsatisfiable(obj, bck, wire, header):
    r = wire.get(wire.obj_path(bck.name, obj.name), params={"provider": "ais"},
                 headers={"Range": header})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{SIZE}"


def test_range_unsatisfiable_sdk(obj):
    with pytest.raises(AISError) as exc:
        obj.get_reader(byte_range="bytes=2000-3000").read_all()
    assert exc.value.status_code == 416


def test_multi_range_rejected(obj, bck, wire):
    r = wire.get(wire.obj_path(bck.name, obj.name), params={"provider": "ais"},
                 headers={"Range": "bytes=0-1,5-6"})
    assert r.status_code == 416
    assert "Content-Range" not in r.headers


@pytest.mark.parametrize("header", ["bytes=abc", "10-20", "bytes=20-10", "bytes=x-1"])
def test_malformed_range_has_no_content_range(obj, bck, wire, header):
    r = wire.get(wire.obj_path(bck.name, obj.name), params={"provider": "ais"},
                 headers={"Range": header})
    assert r.status_code == 416
    assert "Content-Range" not in r.headers  # AIS sends it with an unsatisfiable range only


def test_range_beyond_the_object_is_dropped_when_another_fits(obj, bck, data, wire):
    r = wire.get(wire.obj_path(bck.name, obj.name), params={"provider": "ais"},
                 headers={"Range": f"bytes=0-1,{SIZE + 10}-"})
    assert r.status_code == 206 and r.content == data[:2]


def test_range_reply_carries_whole_object_attributes(obj, bck, wire):
    path = wire.obj_path(bck.name, obj.name)
    whole = wire.get(path, params={"provider": "ais"})
    part = wire.get(path, params={"provider": "ais"}, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.headers["Content-Range"] == f"bytes 10-19/{SIZE}"
    for name in ("Ais-Checksum-Type", "Ais-Checksum-Value", "Ais-Version"):
        assert part.headers[name] == whole.headers[name]


def test_parallel_download(bck, kit):
    data = kit.payload("parallel", 300_000)
    o = bck.object("par.bin")
    o.get_writer().put_content(data)
    assert o.head("chunked").size == len(data)
    with o.get_reader(num_workers=2, chunk_size=64 * 1024).read_all() as buf:
        assert len(buf) == len(data)
        assert buf.tobytes() == data


# ---------------------------------------------------------------------------------------
# attributes and errors


def test_reader_attributes(obj, data):
    obj.get_writer().set_custom_props({"origin": "test", "k": "v"})
    reader = obj.get_reader()
    assert reader.read_all() == data
    attrs = reader.attributes
    assert attrs.size == SIZE
    assert attrs.checksum_type
    assert attrs.checksum_value
    assert attrs.obj_version == "1"
    assert int(attrs.access_time) > 0
    assert attrs.custom_metadata == {"origin": "test", "k": "v"}


def test_raw_get_headers(obj, bck, wire):
    r = wire.get(wire.obj_path(bck.name, obj.name), params={"provider": "ais"})
    head = obj.props
    assert r.headers["Ais-Checksum-Type"] == head.checksum_type
    assert r.headers["Ais-Checksum-Value"] == head.checksum_value
    assert r.headers["Ais-Version"] == "1"
    assert int(r.headers["Ais-Atime"]) > 0


def test_missing_object(bck):
    reader = bck.object("no/such/object").get_reader()  # lazy: nothing sent yet
    with pytest.raises(ErrObjNotFound) as exc:
        reader.read_all()
    assert exc.value.status_code == 404
    assert f"ais://{bck.name}/no/such/object" in exc.value.message


def test_missing_object_streamed(bck):
    with pytest.raises(ErrObjNotFound):
        list(bck.object("absent").get_reader())


def test_missing_bucket(ais_backend, fresh_name):
    with pytest.raises(ErrBckNotFound) as exc:
        ais_backend.client.bucket(fresh_name).object("x").get_reader().read_all()
    assert exc.value.status_code == 404
    assert f"ais://{fresh_name}" in exc.value.message
