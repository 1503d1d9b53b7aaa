"""The S3 API at the protocol layer: XML in and out, listing pages against a brute-force
model, aws-chunked bodies, digests, errors, and the in-process boto3 route."""

from __future__ import annotations

import base64
import hashlib
import itertools
import random
import xml.etree.ElementTree as ET
import zlib

import pytest

from ais_emulator import Emulator
from ais_emulator.api import ApiError
from ais_emulator.api.handlers.s3 import collect
from ais_emulator.api.handlers.s3objects import decode_aws_chunked
from ais_emulator.api.s3xml import decode_token, el, encode_token, esc, parse_xml, xml_body
from ais_emulator.store import BucketId

from ._dispatch import call, content

NS = "{http://s3.amazonaws.com/doc/2006-03-01}"


def xml(resp):
    return ET.fromstring(content(resp))


@pytest.fixture
def emu():
    e = Emulator()
    e.create_bucket("b")
    return e


# -- XML ------------------------------------------------------------------------------------


def test_escaping_as_go_does():
    assert esc('a&b<c>"d\'e\tf\ng\rh') == "a&amp;b&lt;c&gt;&#34;d&#39;e&#x9;f&#xA;g&#xD;h"
    assert esc("bell\x07") == "bell\ufffd"
    body = xml_body(el("R", el("K", "x & y"), el("T", True), el("N", 3), None, ns="urn:x"))
    assert body == (b'<?xml version="1.0" encoding="UTF-8"?>\n'
                    b'<R xmlns="urn:x"><K>x &amp; y</K><T>true</T><N>3</N></R>')


def test_parse_refuses_dtds_oversize_and_wrong_roots():
    bomb = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><Delete>&a;</Delete>'
    for body in (bomb, b"<Delete>" + b" " * (3 << 20) + b"</Delete>", b"<Other/>", b"<Del"):
        with pytest.raises(ApiError) as e:
            parse_xml(body, "Delete")
        assert e.value.status == 400 and e.value.tcode == "MalformedXML"
    doc = parse_xml(b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object>'
                    b"<Key> spaced key </Key></Object></Delete>", "Delete")
    assert doc is not None


def test_tokens_round_trip_and_garbage_is_a_400():
    for cursor in ("", "a/b", "\u00fcber \U0001f600", "x\U0010ffff"):
        assert decode_token(encode_token(cursor)) == cursor
    with pytest.raises(ApiError):
        decode_token("!!not base64!!")


# -- listing pages against a model ------------------------------------------------------------


def _model(keys, prefix, delimiter):
    """Every S3 listing item in order: ("k", key) or ("p", common prefix)."""
    items, seen = [], set()
    for key in sorted(k for k in keys if k.startswith(prefix)):
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        if cut >= 0:
            common = key[: cut + len(delimiter)]
            if common not in seen:
                seen.add(common)
                items.append(("p", common))
        else:
            items.append(("k", key))
    return items


KEYS = ["a/1", "a/2", "a/b/3", "a/b/4", "ab", "b/c/d", "b/c/e", "c", "d/x", "e/f",
        "\u00fc/1", "z"]


@pytest.mark.parametrize("prefix, delimiter",
                         [("", ""), ("", "/"), ("a", "/"), ("a/", "/"), ("b/", "/"),
                          ("", "b"), ("a/b", ""), ("nomatch", "/")])
@pytest.mark.parametrize("max_keys", [1, 2, 3, 5, 1000])
def test_pages_add_up_to_the_model(emu, prefix, delimiter, max_keys):
    bck = BucketId.parse("ais", "b")
    for key in KEYS:
        emu.put_object("b", key, key.encode())
    want = _model(KEYS, prefix, delimiter)
    got, cursor = [], ""
    for _ in range(100):
        contents, prefixes, truncated, cursor = collect(emu, bck, prefix, delimiter, cursor,
                                                        max_keys)
        assert len(contents) + len(prefixes) <= max_keys
        got.extend(sorted([("k", n) for n, _ in contents] + [("p", p) for p in prefixes],
                          key=lambda item: item[1]))
        if not truncated:
            break
    assert got == want


def test_random_buckets_page_the_same_way(emu):
    rnd = random.Random(7)
    bck = BucketId.parse("ais", "b")
    keys = sorted({"/".join(rnd.choice("abc") for _ in range(rnd.randint(1, 4)))
                   + rnd.choice(["", ".txt"]) for _ in range(150)})
    keys = [k for k in keys if not any(o.startswith(k + "/") for o in keys)]
    for key in keys:
        emu.put_object("b", key, b"x")
    for prefix, delimiter, max_keys in itertools.product(["", "a", "a/", "b/c"], ["", "/"],
                                                         [1, 4, 7]):
        got, cursor = [], ""
        while True:
            contents, prefixes, truncated, cursor = collect(emu, bck, prefix, delimiter,
                                                            cursor, max_keys)
            got.extend(sorted([("k", n) for n, _ in contents] + [("p", p) for p in prefixes],
                              key=lambda item: item[1]))
            if not truncated:
                break
        assert got == _model(keys, prefix, delimiter), (prefix, delimiter, max_keys)


def test_list_v2_reply_shape(emu):
    for key in ("x/1", "x/2", "y"):
        emu.put_object("b", key, b"data")
    doc = xml(call(emu, "GET", "/s3/b", "list-type=2&delimiter=/&max-keys=1"))
    assert doc.tag == f"{NS}ListBucketResult"
    assert doc.find(f"{NS}IsTruncated").text == "true"
    assert doc.find(f"{NS}KeyCount").text == "1"
    token = doc.find(f"{NS}NextContinuationToken").text
    doc = xml(call(emu, "GET", "/s3/b", f"list-type=2&delimiter=/&continuation-token={token}"))
    assert [k.text for k in doc.iter(f"{NS}Key")] == ["y"]
    assert doc.find(f"{NS}ContinuationToken").text == token
    resp = call(emu, "GET", "/s3/b", "list-type=2&max-keys=-1")
    assert resp.status == 400 and b"InvalidArgument" in content(resp)


# -- bodies and digests -------------------------------------------------------------------


def test_aws_chunked_bodies():
    body = b"5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:x\r\n\r\n"
    assert decode_aws_chunked(body) == b"hello world"
    for bad in (b"zz\r\nhello", b"5\r\nhel", b"5\r\nhello", b"nope"):
        with pytest.raises(ApiError):
            decode_aws_chunked(bad)


def test_put_with_aws_chunked_encoding(emu):
    body = b"4\r\ndata\r\n0\r\n\r\n"
    resp = call(emu, "PUT", "/s3/b/k", body=body,
                headers={"Content-Encoding": "aws-chunked",
                         "x-amz-decoded-content-length": "4"})
    assert resp.status == 200 and emu.get_object("b", "k") == b"data"


@pytest.mark.parametrize("header, good", [
    ("Content-MD5", lambda d: base64.b64encode(hashlib.md5(d).digest()).decode()),
    ("x-amz-checksum-crc32", lambda d: base64.b64encode(zlib.crc32(d).to_bytes(4, "big")).decode()),
    ("x-amz-checksum-sha256", lambda d: base64.b64encode(hashlib.sha256(d).digest()).decode()),
    ("x-amz-content-sha256", lambda d: hashlib.sha256(d).hexdigest()),
])
def test_digests_are_checked(emu, header, good):
    data = b"payload"
    assert call(emu, "PUT", "/s3/b/ok", body=data, headers={header: good(data)}).status == 200
    resp = call(emu, "PUT", "/s3/b/bad", body=data, headers={header: good(b"other")})
    assert resp.status == 400 and b"<Code>" in content(resp)
    assert emu.store.object_names(BucketId.parse("ais", "b")) == ["ok"]


def test_unsigned_payload_is_not_checked(emu):
    resp = call(emu, "PUT", "/s3/b/k", body=b"x",
                headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    assert resp.status == 200


# -- errors -----------------------------------------------------------------------------------


def test_errors_are_s3_xml(emu):
    resp = call(emu, "GET", "/s3/b/missing")
    doc = xml(resp)
    assert resp.status == 404 and doc.find("Code").text == "NoSuchKey"
    assert resp.headers["Content-Type"] == "application/xml"
    head = call(emu, "HEAD", "/s3/b/missing")
    assert head.status == 404 and content(head) == b""
    resp = call(emu, "GET", "/s3/nob/k")
    assert xml(resp).find("Code").text == "NoSuchBucket"
    assert xml(resp).find("Message").text == 'bucket "nob" does not exist'
    resp = call(emu, "PUT", "/s3/Bad!Name")
    assert resp.status == 400 and "bucket name is invalid" in xml(resp).find("Message").text
    resp = call(emu, "GET", "/s3/b", "acl")
    assert resp.status == 501 and xml(resp).find("Code").text == "NotImplemented"
    resp = call(emu, "PATCH", "/s3/b/k")
    assert resp.status == 405 and resp.headers["Allow"].startswith("DELETE")


def test_multipart_etag_is_the_md5_of_md5s(emu):
    up = xml(call(emu, "POST", "/s3/b/m", "uploads")).find("UploadId").text
    parts = [b"a" * 10, b"b" * 20]
    tags = []
    for n, data in enumerate(parts, 1):
        resp = call(emu, "PUT", "/s3/b/m", f"partNumber={n}&uploadId={up}", body=data)
        tags.append(resp.headers["ETag"])
    body = "<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{t}</ETag></Part>"
        for n, t in enumerate(tags, 1)) + "</CompleteMultipartUpload>"
    resp = call(emu, "POST", "/s3/b/m", f"uploadId={up}", body=body.encode())
    expect = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-2"
    assert xml(resp).find("ETag").text == f'"{expect}"'
    native = call(emu, "HEAD", "/v1/objects/b/m", "props=etag,custom")
    assert native.headers["ETag"] == f'"{expect}"'


def test_completion_with_a_wrong_etag_keeps_the_upload(emu):
    up = xml(call(emu, "POST", "/s3/b/m", "uploads")).find("UploadId").text
    call(emu, "PUT", "/s3/b/m", f"partNumber=1&uploadId={up}", body=b"data")
    body = b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"0\"</ETag>" \
           b"</Part></CompleteMultipartUpload>"
    resp = call(emu, "POST", "/s3/b/m", f"uploadId={up}", body=body)
    assert resp.status == 400 and xml(resp).find("Code").text == "InvalidPart"
    listed = xml(call(emu, "GET", "/s3/b/m", f"uploadId={up}"))
    assert [p.text for p in listed.iter("PartNumber")] == ["1"]


# -- the in-process boto3 route ------------------------------------------------------------


def test_serve_boto3_routes_one_client():
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    from ais_emulator.transports import serve_boto3

    emu = Emulator()
    s3 = boto3.client("s3", endpoint_url="http://nowhere.invalid:1/s3", region_name="us-east-1",
                      aws_access_key_id="a", aws_secret_access_key="b",
                      config=Config(s3={"addressing_style": "path"}))
    serve_boto3(s3, emu)
    s3.create_bucket(Bucket="bb")
    s3.put_object(Bucket="bb", Key="k", Body=b"in process")
    assert emu.get_object("bb", "k") == b"in process"
    assert s3.get_object(Bucket="bb", Key="k", Range="bytes=3-")["Body"].read() == b"process"
    assert s3.head_object(Bucket="bb", Key="k")["ContentLength"] == 10
    s3.close()
