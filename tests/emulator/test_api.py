"""The sans-IO protocol layer: ``dispatch(emulator, Request) -> Response``."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from urllib.parse import quote

import msgpack
import pytest

from ais_emulator import Emulator
from ais_emulator.api import Response, route
from ais_emulator.api.routes import ROUTES

from ._dispatch import BASE, act, call, content
from ._tars import shard


@pytest.fixture
def emu():
    e = Emulator()
    e.create_bucket("b")
    return e


# -- cluster -----------------------------------------------------------------------------


def test_health(emu):
    assert call(emu, "GET", "/v1/health").status == 200
    assert call(emu, "GET", "/v1/health", "prr=true").status == 200


def test_smap_points_back_at_the_caller(emu):
    resp = call(emu, "GET", "/v1/daemon", "what=smap")
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert resp.status == 200 and content(resp).endswith(b"}\n")
    smap = json.loads(content(resp))
    ident = emu.identity
    assert set(smap["pmap"]) == {ident.proxy_id} and set(smap["tmap"]) == {ident.target_id}
    target = smap["tmap"][ident.target_id]
    assert target["daemon_type"] == "target"
    assert target["public_net"]["direct_url"] == BASE
    assert target["public_net"]["daemon_port"] == "9999"
    assert target["id_digest"] == ident.digest(ident.target_id)
    assert smap["proxy_si"]["daemon_id"] == ident.proxy_id
    assert smap["uuid"] == ident.uuid and int(smap["version"]) > 0


def test_daemon_unknown_what(emu):
    resp = call(emu, "GET", "/v1/daemon", "what=bogus")
    assert resp.status == 400 and b"bogus" in content(resp)


def test_reset_route(emu):
    emu.put_object("b", "o", b"x")
    assert call(emu, "POST", "/v1/__emulator__/reset").status == 200
    assert emu.list_buckets() == []


# -- errors ------------------------------------------------------------------------------


def test_error_body_shape(emu):
    resp = call(emu, "GET", "/v1/objects/b/missing", "provider=ais")
    assert resp.status == 404
    doc = json.loads(content(resp))
    assert doc["message"] == f"t[{emu.identity.target_id}]: ais://b/missing does not exist"
    assert doc["method"] == "GET" and doc["url_path"] == "/v1/objects/b/missing"
    assert doc["remote_addr"] == "1.2.3.4:5" and doc["caller"] == ""
    assert doc["node"] == f"t[{emu.identity.target_id}]" and doc["status"] == 404
    assert doc["tcode"] == "ErrNotFound"


@pytest.mark.parametrize("method, path, body, status, message", [
    ("GET", "/v1/objects/nob/o", b"", 404, 'bucket "ais://nob" does not exist'),
    ("POST", "/v1/buckets/b", act("create-bck"), 409, 'bucket "ais://b" already exists'),
    ("DELETE", "/v1/buckets/nob", act("destroy-bck"), 404, 'bucket "ais://nob" does not exist'),
    ("DELETE", "/v1/objects/b/o", b"", 404, "ais://b/o doesn't exist"),
])
def test_error_wording(emu, method, path, body, status, message):
    resp = call(emu, method, path, "provider=ais", body)
    assert resp.status == status
    assert json.loads(content(resp))["message"] == message


def test_remote_bucket_wording(emu):
    resp = call(emu, "GET", "/v1/objects/nob/o", "provider=aws")
    doc = json.loads(content(resp))
    assert doc["message"] == 'aws bucket "s3://nob" does not exist'
    assert doc["tcode"] == "ErrRemoteBckNotFound"


def test_namespaced_bucket_wording(emu):
    resp = call(emu, "GET", "/v1/objects/nob/o", "provider=ais&namespace=%40u%23n")
    assert json.loads(content(resp))["message"] == 'bucket "ais://@u#n/nob" does not exist'


def test_head_errors_have_no_body(emu):
    resp = call(emu, "HEAD", "/v1/objects/b/missing", "provider=ais")
    assert resp.status == 404 and content(resp) == b""
    assert resp.length() is None  # no Content-Length, as Go's net/http on HEAD
    assert json.loads(resp.headers["Hdr-Error"])["status"] == 404


def test_error_replies_as_ais_writes_them(emu):
    resp = call(emu, "GET", "/v1/objects/b/missing", "provider=ais")
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    body = content(resp)
    assert body.endswith(b"}\n") and json.loads(body)["tcode"] == "ErrNotFound"


@pytest.mark.parametrize("method, path, query, body, status, tcode", [
    ("DELETE", "/v1/objects/b/missing", "", b"", 404, None),
    ("HEAD", "/v1/buckets/nob", "", b"", 404, "ErrBckNotFound"),
    ("POST", "/v1/buckets/b", "", act("create-bck"), 409, "ErrBucketAlreadyExists"),
    ("PUT", "/v1/objects/b/dir/", "", b"x", 400, "errInvalidPath"),
    ("PUT", "/v1/objects/b/f/g", "", b"x", 400, "ErrMv"),
    ("PUT", "/v1/objects/b/d", "", b"x", 400, "ErrMv"),
    ("GET", "/v1/ml/moss/b", "", {"in": [{"objname": "f"}], "mime": ".rar"}, 400,
     "errUnknownMime"),
])
def test_error_tcodes(emu, method, path, query, body, status, tcode):
    emu.put_object("b", "f", b"f")
    emu.put_object("b", "d/e", b"e")
    resp = call(emu, method, path, query, body)
    doc = json.loads(resp.headers["Hdr-Error"] if method == "HEAD" else content(resp))
    assert resp.status == status and doc.get("tcode") == tcode


def test_unknown_route_is_501_with_suggestions(emu):
    resp = call(emu, "GET", "/v1/bukets/b")
    assert resp.status == 501
    msg = json.loads(content(resp))["message"]
    assert "GET /v1/bukets/b" in msg and "/v1/buckets" in msg


@pytest.mark.parametrize("body", [b"{not json", b"[1,2", b'"just a string"', b"\xff\xfe"])
def test_malformed_action_bodies_are_400(emu, body):
    resp = call(emu, "POST", "/v1/buckets/new", "provider=ais", body)
    assert resp.status == 400
    assert "new" not in [b.name for b in emu.list_buckets()]


def test_bad_percent_encoding_is_400(emu):
    assert call(emu, "GET", "/v1/objects/b/%ff%fe").status == 400


def test_handler_bug_becomes_500(emu, monkeypatch):
    def broken(emu, req):
        raise RuntimeError("boom")

    route("GET", "/v1/__test__/broken")(broken)
    try:
        resp = call(emu, "GET", "/v1/__test__/broken")
        assert resp.status == 500 and b"boom" in content(resp)
    finally:
        ROUTES._routes = [r for r in ROUTES._routes if r.template != "/v1/__test__/broken"]


def test_reregistering_a_route_replaces_it(emu):
    route("GET", "/v1/__test__/x")(lambda emu, req: Response(201))
    route("GET", "/v1/__test__/x")(lambda emu, req: Response(202))
    try:
        assert call(emu, "GET", "/v1/__test__/x").status == 202
        assert sum(r.template == "/v1/__test__/x" for r in ROUTES._routes) == 1
    finally:
        ROUTES._routes = [r for r in ROUTES._routes if r.template != "/v1/__test__/x"]


# -- buckets -----------------------------------------------------------------------------


def test_bucket_lifecycle(emu):
    assert call(emu, "POST", "/v1/buckets/nb", "provider=ais", act("create-bck")).status == 200
    listed = json.loads(content(call(emu, "GET", "/v1/buckets", "provider=ais", act("list"))))
    assert {"name": "nb", "provider": "ais", "namespace": {"uuid": "", "name": ""}} in listed
    head = call(emu, "HEAD", "/v1/buckets/nb", "provider=ais")
    props = json.loads(head.headers["Ais-Bucket-Props"])
    assert props["checksum"]["type"] == "xxhash2" and props["provider"] == "ais"
    assert call(emu, "DELETE", "/v1/buckets/nb", "provider=ais", act("destroy-bck")).status == 200
    assert call(emu, "HEAD", "/v1/buckets/nb", "provider=ais").status == 404


def test_list_buckets_empty_is_array():
    resp = call(Emulator(), "GET", "/v1/buckets", "provider=ais")
    assert resp.status == 200 and content(resp) == b"[]\n"


@pytest.mark.parametrize("name", ["%20", "*", "%2E", "a..b", "~x"])
def test_create_invalid_names(emu, name):
    resp = call(emu, "POST", f"/v1/buckets/{name}", "provider=ais", act("create-bck"))
    assert resp.status == 400
    assert [b.name for b in emu.list_buckets()] == ["b"]


@pytest.mark.parametrize("path", ["/v1/buckets", "/v1/buckets/", "/v1/buckets/a/b"])
def test_create_without_a_clean_name(emu, path):
    assert call(emu, "POST", path, "provider=ais", act("create-bck")).status == 400


def test_unknown_and_unimplemented_bucket_actions(emu):
    assert call(emu, "POST", "/v1/buckets/b", "provider=ais", act("frobnicate")).status == 400
    assert call(emu, "POST", "/v1/buckets/b", "provider=ais", act("make-n-copies")).status == 501


def test_create_remote_bucket_over_rest_refused(emu):
    assert call(emu, "POST", "/v1/buckets/x", "provider=aws", act("create-bck")).status == 400


# -- list objects ------------------------------------------------------------------------


def lso(emu, **value):
    msg = {"prefix": "", "pagesize": 0, "uuid": "", "props": "", "continuation_token": "",
           "flags": "0", "target": ""}
    msg.update(value)
    resp = call(emu, "GET", "/v1/buckets/b", "provider=ais", act("list", msg),
                {"Accept": "application/msgpack"})
    return resp, (msgpack.unpackb(content(resp)) if resp.status == 200 else None)


def test_list_objects_msgpack_shape(emu):
    for n in ("a", "b", "c"):
        emu.put_object("b", n, n.encode() * 3)
    resp, doc = lso(emu, props="name,size,version,checksum,atime,location,copies,custom",
                    pagesize=2)
    assert resp.headers["Content-Type"] == "application/msgpack"
    assert set(doc) == {"UUID", "ContinuationToken", "Flags", "Entries"}
    assert doc["UUID"] and doc["ContinuationToken"] == "b" and doc["Flags"] == 0
    first = doc["Entries"][0]
    assert first["n"] == "a" and first["s"] == 3 and first["v"] == "1" and first["f"] == 64
    assert first["cs"] == emu.store.head_object(emu.bucket_id("b"), "a").cksum_value
    assert first["t"].startswith("t[") and first["c"] == 1 and "m" not in first
    assert first["a"].endswith("UTC")
    _, doc2 = lso(emu, uuid=doc["UUID"], continuation_token="b", pagesize=2)
    assert doc2["UUID"] == doc["UUID"]
    assert [e["n"] for e in doc2["Entries"]] == ["c"] and doc2["ContinuationToken"] == ""


@pytest.mark.parametrize("props, flags, keys", [
    ("name", "0", {"n", "f"}),
    ("name,size", "0", {"n", "s", "f"}),
    ("", "0", {"n", "s", "f"}),
    ("", str(1 << 0), {"n", "s", "cs", "a", "f"}),
    ("checksum", str(1 << 4), {"n", "f"}),       # NAME_ONLY wins
    ("version", str(1 << 5), {"n", "s", "f"}),   # NAME_SIZE wins
])
def test_list_props_selection(emu, props, flags, keys):
    emu.put_object("b", "o", b"x")
    _, doc = lso(emu, props=props, flags=flags)
    assert set(doc["Entries"][0]) == keys


def test_list_flags_accept_int_and_empty_bucket_gives_an_empty_array(emu):
    _, doc = lso(emu, flags=0)
    assert doc["Entries"] == [] and doc["ContinuationToken"] == ""


def test_list_arch_dir_flags(emu):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("m.txt")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"hi"))
    emu.put_object("b", "s.tar", buf.getvalue())
    _, doc = lso(emu, props="name,size", flags=str(1 << 3))
    assert [(e["n"], e["f"]) for e in doc["Entries"]] == [("s.tar", 576), ("s.tar/m.txt", 192)]
    assert doc["Entries"][1]["s"] == 2
    # names only: in-shard files still carry their size, as in AIS
    _, doc = lso(emu, props="name", flags=str(1 << 3 | 1 << 4))
    assert [e.get("s") for e in doc["Entries"]] == [None, 2]


def test_list_no_recursion_dir_flag(emu):
    for n in ("d/a", "d/sub/x", "e"):
        emu.put_object("b", n, b"1")
    _, doc = lso(emu, flags=str(1 << 11))
    assert [(e["n"], e["f"]) for e in doc["Entries"]] == [("d/", 256), ("e", 64)]
    # NO_DIRS does not apply to ais buckets
    _, doc = lso(emu, flags=str(1 << 11 | 1 << 13))
    assert [e["n"] for e in doc["Entries"]] == ["d/", "e"]


def test_list_no_dirs_applies_to_remote_buckets(emu):
    emu.create_bucket("r", provider="aws")
    for n in ("d/a", "e"):
        emu.put_object("r", n, b"1", provider="aws")
    msg = {"flags": str(1 << 11 | 1 << 13), "props": "name"}
    resp = call(emu, "GET", "/v1/buckets/r", "provider=aws", act("list", msg),
                {"Accept": "application/msgpack"})
    assert [e["n"] for e in msgpack.unpackb(content(resp))["Entries"]] == ["e"]


def test_list_unknown_props_are_ignored(emu):
    emu.put_object("b", "o", b"x")
    resp, doc = lso(emu, props="name,bogus")
    assert resp.status == 200 and set(doc["Entries"][0]) == {"n", "f"}


@pytest.mark.parametrize("value", [
    {"flags": "x"}, {"pagesize": "many"}, {"pagesize": -1}, {"prefix": 5},
])
def test_list_bad_messages_are_400(emu, value):
    resp, _ = lso(emu, **value)
    assert resp.status == 400


def test_list_missing_bucket(emu):
    resp = call(emu, "GET", "/v1/buckets/nob", "provider=ais", act("list", {}))
    assert resp.status == 404


def test_list_json_without_msgpack_accept(emu):
    emu.put_object("b", "a", b"xyz")
    emu.put_object("b", "empty", b"")
    resp = call(emu, "GET", "/v1/buckets/b", "provider=ais",
                act("list", {"props": "name,size,version", "pagesize": 2}))
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    doc = json.loads(content(resp))
    assert doc["uuid"] and doc["continuation_token"] == "empty" and doc["flags"] == 0
    assert doc["entries"] == [{"name": "a", "size": "3", "version": "1", "flags": 64},
                              {"name": "empty", "version": "1", "flags": 64}]


def test_list_with_null_value_is_400(emu):
    assert call(emu, "GET", "/v1/buckets/b", "provider=ais", act("list")).status == 400


# -- objects -----------------------------------------------------------------------------


def test_put_get_headers(emu):
    resp = call(emu, "PUT", "/v1/objects/b/dir/a%20b%2Bc%3F.txt", "provider=ais", b"hello")
    assert resp.status == 200 and resp.headers["Ais-Version"] == "1"
    assert emu.get_object("b", "dir/a b+c?.txt") == b"hello"
    resp = call(emu, "GET", "/v1/objects/b/dir/a%20b%2Bc%3F.txt", "provider=ais")
    assert resp.status == 200 and content(resp) == b"hello" and resp.length() == 5
    h = resp.headers
    assert h["Content-Type"] == "application/octet-stream"
    assert h["Ais-Checksum-Type"] == "xxhash2" and len(h["Ais-Checksum-Value"]) == 16
    assert int(h["Ais-Atime"]) > 0 and h["Ais-Version"] == "1"


def test_get_without_provider_means_ais(emu):
    emu.put_object("b", "o", b"x")
    assert content(call(emu, "GET", "/v1/objects/b/o")) == b"x"


def test_large_get_streams_views(emu):
    data = bytes(range(256)) * (5 * 4096 + 7)  # > 1 MiB: not a single buffer
    emu.put_object("b", "big", data)
    resp = call(emu, "GET", "/v1/objects/b/big")
    assert not isinstance(resp.body, (bytes, bytearray)) and resp.length() == len(data)
    chunks = list(resp.iter_body())
    assert all(isinstance(c, memoryview) for c in chunks) and len(chunks) == 6
    assert b"".join(chunks) == data


@pytest.mark.parametrize("header, want, crange", [
    ("bytes=0-3", b"0123", "bytes 0-3/10"),
    ("bytes=7-", b"789", "bytes 7-9/10"),
    ("bytes=-2", b"89", "bytes 8-9/10"),
    ("bytes=-20", b"0123456789", "bytes 0-9/10"),
    ("bytes=5-100", b"56789", "bytes 5-9/10"),
    ("bytes= 2 - 3 ", b"23", "bytes 2-3/10"),
    ("bytes=0-1,30-40", b"01", "bytes 0-1/10"),  # Go drops a range beyond the object
])
def test_ranges(emu, header, want, crange):
    emu.put_object("b", "r", b"0123456789", custom={"k": "v"})
    resp = call(emu, "GET", "/v1/objects/b/r", "", b"", {"Range": header})
    assert resp.status == 206 and resp.headers["Content-Range"] == crange
    assert content(resp) == want and resp.length() == len(want)
    whole = call(emu, "GET", "/v1/objects/b/r")  # a 206 carries the whole object's attributes
    for name in ("Ais-Checksum-Type", "Ais-Checksum-Value", "Ais-Version", "Ais-Custom-Md"):
        assert resp.headers[name] == whole.headers[name]


@pytest.mark.parametrize("header, message", [
    ("bytes=10-", "size=10: not satisfiable range [10-]"),
    ("bytes=10-,20-30", "size=10: not satisfiable ranges [10- 20-30]"),
    ("bytes=-0", "size=10: not satisfiable range [-0]"),
])
def test_unsatisfiable_ranges(emu, header, message):
    emu.put_object("b", "r", b"0123456789")
    resp = call(emu, "GET", "/v1/objects/b/r", "", b"", {"Range": header})
    doc = json.loads(content(resp))
    assert resp.status == 416 and resp.headers["Content-Range"] == "bytes */10"
    assert doc["tcode"] == "ErrRangeNotSatisfiable" and doc["message"] == message


@pytest.mark.parametrize("header, message, tcode", [
    ("bytes=0-1,3-4", "cannot multi-range read ais://b/r - operation not supported",
     "ErrUnsupp"),
    ("bytes=4-2", 'read range "4-2" is invalid (end)', None),
    ("items=0-1", 'read range "items=0-1" is invalid (prefix)', None),
    ("bytes=abc", 'read range "bytes=abc" is invalid (-)', None),
    ("bytes=x-2", 'read range "x-2" is invalid (start)', None),
    ("bytes=-x", 'read range "-x" is invalid (see RFC 7233 Section 2.1)', None),
    ("bytes=--2", 'read range "--2" is invalid as per RFC 7233 Section 2.1', None),
    ("bytes=", 'read range "bytes=" is invalid (no range)', None),
])
def test_malformed_ranges(emu, header, message, tcode):
    emu.put_object("b", "r", b"0123456789")
    resp = call(emu, "GET", "/v1/objects/b/r", "", b"", {"Range": header})
    doc = json.loads(content(resp))
    assert resp.status == 416 and "Content-Range" not in resp.headers
    assert doc.get("tcode") == tcode and doc["message"] == message


def test_head_props(emu):
    emu.put_object("b", "o", b"12345", custom={"k": "v", "ETag": '"abc"'})
    resp = call(emu, "HEAD", "/v1/objects/b/o",
                "props=checksum,atime,version,copies,custom,location,last-modified,etag")
    h = resp.headers
    assert resp.status == 200 and resp.length() == 5 and content(resp) == b""
    assert h["Ais-Present"] == "true" and h["Ais-Version"] == "1"
    assert h["Ais-Custom-Md"] == 'ETag="abc", k=v' and h["ETag"] == '"abc"'
    assert h["Ais-Mirror-Copies"] == "1" and h["Ais-Location"].startswith("t[")
    assert h["Last-Modified"].endswith("GMT")
    minimal = call(emu, "HEAD", "/v1/objects/b/o", "props=name,size").headers
    assert set(minimal) == {"Ais-Present"}


def test_head_etag_is_derived_from_the_checksum(emu):
    rec = emu.put_object("b", "o", b"12345")
    tag = call(emu, "HEAD", "/v1/objects/b/o", "props=etag").headers["ETag"]
    n, digits = rec.mtime_ns, ""
    while n:
        n, r = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + digits
    assert tag == f'"v1-{rec.cksum_value}-{digits}"'
    assert call(emu, "HEAD", "/v1/objects/b/o", "props=etag").headers["ETag"] == tag
    assert "ETag" not in call(emu, "GET", "/v1/objects/b/o").headers


def test_head_without_props_is_the_whole_object_props(emu):
    emu.put_object("b", "d/o", b"12345", custom={"k": "v"})
    emu.put_object("b", "empty", b"")
    resp = call(emu, "HEAD", "/v1/objects/b/d/o")
    h = resp.headers
    assert resp.length() == 5
    assert (h["Ais-Name"], h["Ais-Bucket-Name"], h["Ais-Bucket-Provider"]) == ("d/o", "b", "ais")
    assert h["Ais-Present"] == "true" and h["Ais-Custom-Md"] == "k=v"
    assert h["Ais-Mirror-Copies"] == "1" and h["Ais-Mirror-Paths"].startswith("[")
    assert {"Ais-Checksum-Value", "Ais-Atime", "Ais-Version", "Ais-Location"} <= set(h)
    assert "Last-Modified" not in h and "ETag" not in h
    assert call(emu, "HEAD", "/v1/objects/b/empty").length() is None  # size 0: none


@pytest.mark.parametrize("props", ["cached", "status", "name,bogus"])
def test_head_rejects_unknown_props(emu, props):
    emu.put_object("b", "o", b"x")
    assert call(emu, "HEAD", "/v1/objects/b/o", f"props={props}").status == 400


def test_put_checksum_verification(emu):
    good = {"Ais-Checksum-Type": "xxhash2", "Ais-Checksum-Value": "44bc2cf5ad770999"}
    assert call(emu, "PUT", "/v1/objects/b/c", "", b"abc", good).status == 200
    bad = {"Ais-Checksum-Type": "xxhash2", "Ais-Checksum-Value": "0000000000000000"}
    resp = call(emu, "PUT", "/v1/objects/b/c", "", b"changed", bad)
    assert resp.status == 400 and b"BAD DATA CHECKSUM" in content(resp)
    assert json.loads(content(resp))["tcode"] == "ErrBadCksum"
    assert emu.get_object("b", "c") == b"abc"


def test_put_custom_md_header(emu):
    resp = call(emu, "PUT", "/v1/objects/b/c", "", b"x", {"Ais-Custom-Md": "a=1, b=2"})
    assert emu.store.head_object(emu.bucket_id("b"), "c").custom == {"a": "1", "b": "2"}
    assert resp.headers["Ais-Custom-Md"] == "a=1, b=2"  # the reply repeats what is stored
    # one header line is one pair, split at its first "=" (as Go parses it)
    call(emu, "PUT", "/v1/objects/b/d", "", b"x", {"Ais-Custom-Md": "k1=v1,k2=v2"})
    assert emu.store.head_object(emu.bucket_id("b"), "d").custom == {"k1": "v1,k2=v2"}
    bad = call(emu, "PUT", "/v1/objects/b/e", "", b"x", {"Ais-Custom-Md": "novalue"})
    assert bad.status == 400 and b"expecting key=value" in content(bad)


def test_custom_md_spellings(emu):
    md = {"zz": "1", "md5": "m", "aa": "2", "ETag": "e", "source": "s"}
    emu.put_object("b", "o", b"x", custom=md)
    head = call(emu, "HEAD", "/v1/objects/b/o", "props=custom").headers["Ais-Custom-Md"]
    assert head == "ETag=e, aa=2, md5=m, source=s, zz=1"
    resp = call(emu, "GET", "/v1/buckets/b", "", act("list", {"props": "name,custom"}),
                {"Accept": "application/msgpack"})
    entry = msgpack.unpackb(content(resp))["Entries"][0]
    assert entry["m"] == "[source:s ETag:e md5:m aa:2 zz:1]"  # AIS's standard keys first


def test_object_path_without_name(emu):
    assert call(emu, "PUT", "/v1/objects/b/", "", b"x").status == 400
    assert call(emu, "PUT", "/v1/objects/b", "", b"x").status == 400
    assert call(emu, "GET", "/v1/objects/b").status == 400


def test_patch_merge_and_replace(emu):
    emu.put_object("b", "o", b"x")
    assert call(emu, "PATCH", "/v1/objects/b/o", "", act("", {"a": "1"})).status == 200
    call(emu, "PATCH", "/v1/objects/b/o", "", act("", {"b": 2}))
    assert emu.store.head_object(emu.bucket_id("b"), "o").custom == {"a": "1", "b": "2"}
    call(emu, "PATCH", "/v1/objects/b/o", "set-new-custom=true", act("", {"c": "3"}))
    assert emu.store.head_object(emu.bucket_id("b"), "o").custom == {"c": "3"}
    assert call(emu, "PATCH", "/v1/objects/b/o", "", act("", [1, 2])).status == 400
    assert call(emu, "PATCH", "/v1/objects/b/nope", "", act("", {})).status == 404


def test_append_and_flush_over_the_wire(emu):
    r1 = call(emu, "PUT", "/v1/objects/b/ap", "append_type=append&append_handle=", b"ab")
    handle = r1.headers["Ais-Append-Handle"]
    r2 = call(emu, "PUT", "/v1/objects/b/ap", f"append_type=append&append_handle={handle}", b"cd")
    handle2 = r2.headers["Ais-Append-Handle"]
    assert call(emu, "PUT", "/v1/objects/b/ap",
                f"append_type=append&append_handle={handle}", b"x").status == 400  # stale
    assert call(emu, "PUT", "/v1/objects/b/ap", "append_type=flush&append_handle=").status == 400
    assert call(emu, "PUT", "/v1/objects/b/ap", "append_type=bogus").status == 400
    assert call(emu, "PUT", "/v1/objects/b/ap",
                f"append_type=flush&append_handle={handle2}").status == 200
    assert emu.get_object("b", "ap") == b"abcd"


def test_copy_object_to_uname(emu):
    emu.create_bucket("dst")
    emu.put_object("b", "src", b"data")
    resp = call(emu, "PUT", "/v1/objects/b/src",
                "provider=ais&object_to=ais%2F%40%23%2Fdst%2Fdir%2Fo2&latest-ver=false")
    assert resp.status == 200 and emu.get_object("dst", "dir/o2") == b"data"
    assert call(emu, "PUT", "/v1/objects/b/src", "object_to=ais%2F%40%23%2Fghost%2Fo").status == 404
    assert call(emu, "PUT", "/v1/objects/b/nope", "object_to=ais%2F%40%23%2Fdst%2Fo").status == 404
    assert call(emu, "PUT", "/v1/objects/b/src", "object_to=garbage").status == 400


def test_multipart_over_the_wire(emu):
    up = content(call(emu, "POST", "/v1/objects/b/m", "", act("mpt-upload"))).decode()
    assert up and '"' not in up
    for n, data in [(2, b"BB"), (1, b"A")]:
        resp = call(emu, "PUT", "/v1/objects/b/m", f"uploadId={up}&partNumber={n}", data)
        assert resp.status == 200
    assert call(emu, "PUT", "/v1/objects/b/m", f"uploadId={up}&partNumber=0", b"x").status == 400
    assert call(emu, "PUT", "/v1/objects/b/m", "uploadId=nope&partNumber=1", b"x").status == 404
    parts = [{"part-number": 1, "etag": ""}, {"part-number": 2, "etag": ""}]
    assert call(emu, "POST", "/v1/objects/b/m", "", act("mpt-complete", parts)).status == 400
    resp = call(emu, "POST", "/v1/objects/b/m", f"uploadId={up}", act("mpt-complete", parts[:1]))
    assert resp.status == 400  # partial completion
    resp = call(emu, "POST", "/v1/objects/b/m", f"uploadId={up}", act("mpt-complete", parts))
    assert resp.status == 200 and emu.get_object("b", "m") == b"ABB"
    head = call(emu, "HEAD", "/v1/objects/b/m", "props=chunked").headers
    assert head["Ais-Chunks-Count"] == "2" and head["Ais-Chunks-Max-Chunk-Size"] == "2"
    up2 = content(call(emu, "POST", "/v1/objects/b/m", "", act("mpt-upload"))).decode()
    assert call(emu, "DELETE", "/v1/objects/b/m", f"uploadId={up2}", act("mpt-abort")).status == 200
    assert call(emu, "DELETE", "/v1/objects/b/m", f"uploadId={up2}", act("mpt-abort")).status == 404


def test_etl_hook(emu):
    emu.put_object("b", "o", b"abc")
    assert call(emu, "GET", "/v1/objects/b/o", "etl_name=nope").status == 404
    emu.etl.register("upper", lambda data, path, args: data.upper() + path.encode() + args.encode(),
                     mime_type="text/plain")
    resp = call(emu, "GET", "/v1/objects/b/o", "etl_name=upper&etl_args=%7B%7D")
    assert content(resp) == b"ABCb/o{}" and resp.headers["Content-Type"] == "text/plain"
    emu.etl.register("twice", lambda data, path, args: data * 2)
    resp = call(emu, "GET", "/v1/objects/b/o", "etl_name=upper&etl_pipeline=twice")
    assert content(resp) == b"ABCb/oABCb/o"
    emu.create_bucket("dst")
    call(emu, "PUT", "/v1/objects/b/o", "object_to=ais%2F%40%23%2Fdst%2Fo&etl_name=twice")
    assert emu.get_object("dst", "o") == b"abcabc"
    unknown = call(emu, "GET", "/v1/objects/b/o", "etl_name=nope")
    assert b"etl job" not in content(unknown)  # AIS wording: the SDK raises plain AISError

    def boom(data, path, args):
        raise ValueError("bad input")

    emu.etl.register("boom", boom)
    failed = call(emu, "GET", "/v1/objects/b/o", "etl_name=boom")
    assert failed.status == 422 and b"ValueError: bad input" in content(failed)


def test_check_lock_and_unimplemented_object_actions(emu):
    emu.put_object("b", "o", b"x")
    assert call(emu, "POST", "/v1/objects/b/o", "", act("check-lock")).status == 200
    assert call(emu, "POST", "/v1/objects/b", "", act("blob-download", {}, "o")).status == 501
    assert call(emu, "POST", "/v1/objects/b/o", "", act("bogus")).status == 400


def test_promote_is_refused_without_a_promote_root(emu):
    resp = call(emu, "POST", "/v1/objects/b", "", act("promote", {"obj": "p/"}, "/tmp/x"))
    assert resp.status == 403
    assert b"promote is disabled" in content(resp)


# -- archives ----------------------------------------------------------------------------


@pytest.fixture
def sharded(emu):
    emu.put_object("b", "s.tar", shard([("a/1.jpg", b"J1"), ("a/1.cls", b"C1"),
                                        ("b/2.jpg", b"J2")]))
    return emu


def test_archpath(sharded):
    resp = call(sharded, "GET", "/v1/objects/b/s.tar", "archpath=a%2F1.jpg&archregx=")
    assert resp.status == 200 and content(resp) == b"J1"
    assert "Ais-Version" not in resp.headers
    resp = call(sharded, "GET", "/v1/objects/b/s.tar", "archpath=%2Fa%2F1.cls")
    assert content(resp) == b"C1"
    miss = call(sharded, "GET", "/v1/objects/b/s.tar", "archpath=zz")
    assert miss.status == 404 and b"ais://b/s.tar" in content(miss)


@pytest.mark.parametrize("query, names", [
    ("archregx=jpg&archmode=suffix", ["a/1.jpg", "b/2.jpg"]),
    ("archregx=a%2F&archmode=prefix", ["a/1.jpg", "a/1.cls"]),
    ("archregx=1%5C.&archmode=regexp", ["a/1.jpg", "a/1.cls"]),
    ("archregx=a%2F1&archmode=wdskey&archpath=", ["a/1.jpg", "a/1.cls"]),
    ("archregx=%2F2&archmode=substr", ["b/2.jpg"]),
    ("archregx=&archmode=regexp", ["a/1.jpg", "a/1.cls", "b/2.jpg"]),
])
def test_archregx_tar_stream(sharded, query, names):
    resp = call(sharded, "GET", "/v1/objects/b/s.tar", query)
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(content(resp))) as tf:
        assert [m.name for m in tf.getmembers()] == names


@pytest.mark.parametrize("query, status", [
    ("archregx=zzz&archmode=substr", 404),
    ("archregx=x&archmode=bogus", 400),
    ("archregx=(&archmode=regexp", 400),
    ("archpath=a%2F1.jpg&archmode=prefix", 400),
])
def test_archive_request_errors(sharded, query, status):
    assert call(sharded, "GET", "/v1/objects/b/s.tar", query).status == status


def test_archive_with_range_is_400(sharded):
    for query, what in (("archpath=a%2F1.jpg", "(archpath=a/1.jpg)"),
                        ("archregx=a&archmode=prefix", "(archregx=a, archmode=prefix)")):
        resp = call(sharded, "GET", "/v1/objects/b/s.tar", query, b"", {"Range": "bytes=0-0"})
        doc = json.loads(content(resp))
        assert resp.status == 400 and doc["tcode"] == "ErrUnsupp"
        assert doc["message"] == ("cannot range-read archived content range: bytes=0-0, "
                                  f"arch query: {what} - operation not supported")


@pytest.mark.parametrize("fmt", ["tar", "tgz"])
@pytest.mark.parametrize("query, want", [
    ("archregx=sub%2F&archmode=prefix", [("sub", "dir"), ("sub/deep", "dir"),
                                          ("sub/b.txt", b"BB"), ("sub/deep/c", b"C")]),
    ("archregx=deep&archmode=substr", [("sub/deep", "dir"), ("sub/deep/c", b"C")]),
    ("archregx=%2F%24&archmode=regexp", [("sub", "dir"), ("sub/deep", "dir")]),
])
def test_archregx_copies_matching_directories(emu, fmt, query, want):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name in ("sub/", "sub/deep/"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            tf.addfile(info)
        for name, data in (("a.txt", b"A"), ("sub/b.txt", b"BB"), ("sub/deep/c", b"C")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    data = buf.getvalue() if fmt == "tar" else gzip.compress(buf.getvalue())
    emu.put_object("b", f"n.{fmt}", data)
    resp = call(emu, "GET", f"/v1/objects/b/n.{fmt}", query)
    assert resp.status == 200
    with tarfile.open(fileobj=io.BytesIO(content(resp))) as tf:
        got = [(m.name, "dir" if m.isdir() else tf.extractfile(m).read()) for m in tf]
    assert got == want


def test_archregx_on_unreadable_shards(emu):
    emu.put_object("b", "bad.tar", b"not a tar archive" * 40)
    emu.put_object("b", "bad.zip", b"PK not a zip" * 40)
    want = {("bad.tar", "archregx=x&archmode=prefix"): "ErrFailedTo",
            ("bad.tar", "archpath=x"): None,
            ("bad.zip", "archpath=x"): "wrapError",
            ("bad.zip", "archregx=x&archmode=prefix"): "wrapError"}
    for (name, query), tcode in want.items():
        resp = call(emu, "GET", f"/v1/objects/b/{name}", query)
        assert resp.status == 400 and json.loads(content(resp)).get("tcode") == tcode


def test_archregx_without_archmode_is_ignored(sharded):
    resp = call(sharded, "GET", "/v1/objects/b/s.tar", "archregx=a%2F")
    assert resp.status == 200 and content(resp) == sharded.get_object("b", "s.tar")


@pytest.mark.parametrize("archpath", ["./a/1.jpg", "a//1.jpg", "a/../a/1.jpg", "a/", "~/x"])
def test_unclean_archpath_is_400(sharded, archpath):
    resp = call(sharded, "GET", "/v1/objects/b/s.tar", f"archpath={quote(archpath, safe='')}")
    assert resp.status == 400 and b"invalid archpath" in content(resp)


def test_archpath_on_a_non_archive(emu):
    emu.put_object("b", "plain.bin", b"not an archive at all")
    assert call(emu, "GET", "/v1/objects/b/plain.bin", "archpath=x").status == 400
    emu.put_object("b", "broken.tar", b"\x00garbage" * 100)
    assert call(emu, "GET", "/v1/objects/b/broken.tar", "archpath=x").status in (400, 404)
