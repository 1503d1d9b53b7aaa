"""GetBatch (``/v1/ml/moss``): resolution, naming, errors, output formats, through the SDK."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile

import pytest
from aistore.sdk.errors import AISError, ErrBckNotFound, ErrObjNotFound

from ais_emulator import Emulator, EmulatorServer, mock_ais
from ais_emulator.api import Request, dispatch

from ._tars import shard


@pytest.fixture
def emu():
    e = Emulator()
    e.create_bucket("b")
    e.create_bucket("c")
    for i in range(3):
        e.put_object("b", f"o{i}", f"object-{i}".encode())
    e.put_object("c", "other", b"from c")
    e.put_object("b", "s.tar", shard([("x/1.jpg", b"JPEG1"), ("x/1.cls", b"7")]))
    return e


def moss(emu, items, path="/v1/ml/moss", query="", **opts):
    body = json.dumps({"in": items, **opts}).encode()
    return dispatch(emu, Request("GET", path, query, {"Content-Type": "application/json"}, body))


def members(resp):
    data = b"".join(bytes(c) for c in resp.iter_body())
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as tf:
        return [(m.name, tf.extractfile(m).read() if m.isfile() else None) for m in tf]


def item(name, bucket="b", **kw):
    return {"objname": name, "bucket": bucket, "provider": "ais", **kw}


def test_one_entry_per_item_in_order(emu):
    resp = moss(emu, [item("o2"), item("other", "c"), item("o0"), item("o2")], strm=True)
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/x-tar"
    assert members(resp) == [("b/o2", b"object-2"), ("c/other", b"from c"),
                             ("b/o0", b"object-0"), ("b/o2", b"object-2")]


def test_only_obj_name_and_archpath_naming(emu):
    resp = moss(emu, [item("s.tar", archpath="x/1.jpg"), item("s.tar", archpath="/x/1.cls"),
                      item("o1")], strm=True, onob=True)
    assert members(resp) == [("s.tar/x/1.jpg", b"JPEG1"), ("s.tar/x/1.cls", b"7"),
                             ("o1", b"object-1")]


def test_byte_ranges(emu):
    resp = moss(emu, [item("o1", start=2, length=4), item("o1", start=7, length=-1),
                      item("s.tar", archpath="x/1.jpg", start=1, length=3)], strm=True)
    assert [d for _, d in members(resp)] == [b"ject", b"1", b"PEG"]


@pytest.mark.parametrize("extra", [{"start": 100, "length": 1}, {"start": 2, "length": 100}])
@pytest.mark.parametrize("strm", [True, False])
def test_range_beyond_an_item_is_400(emu, extra, strm):
    resp = moss(emu, [item("o1", **extra)], strm=strm)
    doc = json.loads(resp.body)
    assert resp.status == 400 and doc["tcode"] == "ErrRangeNotSatisfiable"
    assert doc["message"] == (f"size=8: not satisfiable range "
                              f"[start={extra['start']},length={extra['length']}]")
    assert "Content-Range" not in resp.headers


def test_multipart_metadata_part_has_no_content_type(emu):
    resp = moss(emu, [item("o1")])
    body = b"".join(resp.iter_body())
    meta_part = body.split(b"\r\n\r\n", 1)[0]
    assert b'name="metadata"' in meta_part and b"Content-Type" not in meta_part


def test_missing_items_with_coer(emu):
    resp = moss(emu, [item("o0"), item("nope"), item("s.tar", archpath="zz")], strm=True,
                coer=True)
    assert members(resp) == [("b/o0", b"object-0"), ("__404__/b/nope", b""),
                             ("__404__/b/s.tar/zz", b"")]


def test_missing_item_without_coer_is_404_up_front(emu):
    resp = moss(emu, [item("o0"), item("nope")], strm=True, coer=False)
    assert resp.status == 404 and b"ais://b/nope" in resp.body


def test_unknown_bucket_is_404_even_with_coer(emu):
    assert moss(emu, [item("o0", "ghost")], strm=True, coer=True).status == 404
    assert moss(emu, [{"objname": "o0"}], path="/v1/ml/moss/ghost", strm=True).status == 404


def test_default_bucket_from_path(emu):
    resp = moss(emu, [{"objname": "o1"}, item("other", "c")], path="/v1/ml/moss/b",
                query="provider=ais", strm=True)
    assert members(resp) == [("b/o1", b"object-1"), ("c/other", b"from c")]


@pytest.mark.parametrize("body", [b"", b"{bad", b"[]", b'{"in": []}', b'{"in": [{"bucket": "b"}]}',
                                  b'{"in": [{"objname": "o0"}]}', b'{"in": [1]}',
                                  b'{"in": [{"objname": "o0", "bucket": "b"}], "mime": ".rar"}',
                                  b'{"in": [{"objname": "o0", "bucket": "b"}], "coer": "yes"}'])
def test_malformed_requests_are_400(emu, body):
    resp = dispatch(emu, Request("GET", "/v1/ml/moss", "", {}, body))
    assert resp.status == 400


def test_multipart_form(emu):
    resp = moss(emu, [item("o1", opaque="b3Ax"), item("nope")], coer=True, strm=False)
    ctype = resp.headers["Content-Type"]
    assert ctype.startswith("multipart/mixed; boundary=")
    boundary = ctype.split("boundary=")[1].encode()
    body = b"".join(bytes(c) for c in resp.iter_body())
    parts = [p for p in body.split(b"--" + boundary) if p.strip(b"-\r\n")]
    assert len(parts) == 2
    meta = json.loads(parts[0].split(b"\r\n\r\n", 1)[1])
    assert meta["uuid"]
    assert meta["out"][0] == {"objname": "o1", "bucket": "b", "provider": "ais",
                              "opaque": "b3Ax", "size": 8}
    assert meta["out"][1]["err_msg"] and meta["out"][1]["size"] == 0
    archive = parts[1].split(b"\r\n\r\n", 1)[1][:-2]
    with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
        assert tf.getnames() == ["b/o1", "__404__/b/nope"]


def test_zip_output(emu):
    resp = moss(emu, [item("o0"), item("o1")], strm=True, mime=".zip")
    assert resp.headers["Content-Type"] == "application/zip"
    data = b"".join(bytes(c) for c in resp.iter_body())
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == ["b/o0", "b/o1"] and zf.read("b/o1") == b"object-1"


# -- through the SDK, both transports ----------------------------------------------------


@pytest.fixture(params=["inprocess", "server"])
def client(request, emu):
    if request.param == "inprocess":
        with mock_ais(emulator=emu) as m:
            yield m.client()
    else:
        with EmulatorServer(emulator=emu) as srv:
            from aistore.sdk import Client

            yield Client(srv.url)


@pytest.mark.parametrize("fmt", [".tar", ".tgz", ".zip"])
@pytest.mark.parametrize("streaming", [True, False])
def test_sdk_batch(client, fmt, streaming):
    bck = client.bucket("b")
    batch = client.batch(bucket=bck, output_format=fmt, streaming_get=streaming)
    batch.add("o2", opaque=b"\x00id")
    batch.add("s.tar", archpath="x/1.cls")
    batch.add("missing")
    batch.add(client.bucket("c").object("other"))
    got = [(o.obj_name, o.opaque, o.err_msg is not None, data) for o, data in batch.get()]
    assert got == [("o2", b"\x00id", False, b"object-2"), ("s.tar", None, False, b"7"),
                   ("missing", None, True, b""), ("other", None, False, b"from c")]


def test_sdk_batch_errors(client):
    batch = client.batch(["o0", "missing"], bucket=client.bucket("b"), cont_on_err=False)
    with pytest.raises(ErrObjNotFound):
        list(batch.get())
    batch = client.batch(["o0"], bucket=client.bucket("ghost"))
    with pytest.raises(ErrBckNotFound):
        list(batch.get())
    batch = client.batch(bucket=client.bucket("b"))
    batch.add("o0", start=50, length=2)
    with pytest.raises(AISError) as exc:
        list(batch.get())
    assert exc.value.status_code == 400
