"""The S3-compatible API (``<endpoint>/s3``) through boto3, path-style addressing.

boto3 talks through urllib3, not ``requests``: on the in-process backend the client is
routed to the emulator with ``serve_boto3``. AIS answers object requests with a 307 to a
target, which plain botocore does not follow: the tests load AIS's
``aistore.botocore_patch`` (it changes nothing where there is no redirect); that plain
boto3 works against the emulator is checked in a separate process.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("wrapt")
from aistore.botocore_patch import botocore as _ais_redirects  # noqa: E402,F401
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

MIB = 1024 * 1024


def s3_client(endpoint: str):
    return boto3.client(
        "s3", endpoint_url=endpoint.rstrip("/") + "/s3", region_name="us-east-1",
        aws_access_key_id="ais", aws_secret_access_key="ais",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


@pytest.fixture
def s3(ais_backend):
    client = s3_client(ais_backend.endpoint)
    if ais_backend.kind == "inprocess":
        from ais_emulator.transports import serve_boto3

        serve_boto3(client, ais_backend.emulator)
    yield client
    client.close()


def code(exc: pytest.ExceptionInfo) -> tuple:
    err = exc.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"].get("Code")


# -- buckets ----------------------------------------------------------------------------------


def test_bucket_lifecycle(s3, fresh_name):
    s3.create_bucket(Bucket=fresh_name)
    head = s3.head_bucket(Bucket=fresh_name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "ais"
    assert fresh_name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=fresh_name)
    assert code(e) == (409, "BucketAlreadyExists")
    s3.put_object(Bucket=fresh_name, Key="k", Body=b"v")
    s3.delete_bucket(Bucket=fresh_name)  # as AIS: destroyed with its objects
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=fresh_name)
    assert code(e)[0] == 404
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=fresh_name)
    assert code(e) == (404, "NoSuchBucket")


def test_missing_bucket_errors(s3, fresh_name):
    for call in (lambda: s3.list_objects_v2(Bucket=fresh_name),
                 lambda: s3.get_object(Bucket=fresh_name, Key="k"),
                 lambda: s3.put_object(Bucket=fresh_name, Key="k", Body=b"x")):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == (404, "NoSuchBucket")


# -- objects ----------------------------------------------------------------------------------


def test_s3_and_native_see_the_same_object(s3, bck, wire):
    s3.put_object(Bucket=bck.name, Key="dir/a b.txt", Body=b"through s3")
    assert bck.object("dir/a b.txt").get_reader().read_all() == b"through s3"
    bck.object("native.bin").get_writer().put_content(b"through the native API")
    got = s3.get_object(Bucket=bck.name, Key="native.bin")
    assert got["Body"].read() == b"through the native API"
    assert got["ContentLength"] == len(b"through the native API")
    r = wire.head(wire.obj_path(bck.name, "native.bin"),
                  params={"provider": "ais", "props": "etag,last-modified"})
    assert got["ETag"] == r.headers["ETag"]
    assert got["ResponseMetadata"]["HTTPHeaders"]["last-modified"] == r.headers["Last-Modified"]


def test_put_get_head_attributes(s3, bck):
    data = os.urandom(3000)
    put = s3.put_object(Bucket=bck.name, Key="obj.bin", Body=data)
    assert put["ETag"].startswith('"') and put["ETag"].endswith('"')
    got = s3.get_object(Bucket=bck.name, Key="obj.bin")
    assert got["Body"].read() == data and got["ETag"] == put["ETag"]
    assert got["ContentType"] == "application/octet-stream"
    head = s3.head_object(Bucket=bck.name, Key="obj.bin")
    assert head["ContentLength"] == 3000 and head["ETag"] == put["ETag"]
    assert head["LastModified"] == got["LastModified"]
    meta = {k.lower(): v for k, v in head["Metadata"].items()}
    assert meta["ais-cksum-type"] == "xxhash2" and len(meta["ais-cksum-val"]) == 16


def test_overwrite_makes_a_new_version(s3, bck):
    s3.put_object(Bucket=bck.name, Key="v", Body=b"one")
    s3.put_object(Bucket=bck.name, Key="v", Body=b"two")
    assert s3.get_object(Bucket=bck.name, Key="v")["Body"].read() == b"two"
    assert bck.object("v").get_reader().read_all() == b"two"


def test_range_reads(s3, bck):
    s3.put_object(Bucket=bck.name, Key="r", Body=b"hello world")
    got = s3.get_object(Bucket=bck.name, Key="r", Range="bytes=2-5")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == b"llo " and got["ContentRange"] == "bytes 2-5/11"
    assert s3.get_object(Bucket=bck.name, Key="r", Range="bytes=-3")["Body"].read() == b"rld"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bck.name, Key="r", Range="bytes=100-200")
    assert code(e) == (416, "ErrRangeNotSatisfiable")


def test_missing_key_errors(s3, bck):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bck.name, Key="nope")
    assert code(e) == (404, "NoSuchKey")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bck.name, Key="nope")
    assert code(e)[0] == 404
    with pytest.raises(ClientError) as e:  # AIS: not S3's silent success
        s3.delete_object(Bucket=bck.name, Key="nope")
    assert code(e) == (404, "NoSuchKey")


def test_delete_object(s3, bck):
    s3.put_object(Bucket=bck.name, Key="gone", Body=b"x")
    s3.delete_object(Bucket=bck.name, Key="gone")
    assert [e.name for e in bck.list_all_objects()] == []


def test_copy_object(s3, bck, fresh_name, ais_backend):
    s3.put_object(Bucket=bck.name, Key="src", Body=b"copy me")
    s3.copy_object(Bucket=bck.name, Key="dst", CopySource={"Bucket": bck.name, "Key": "src"})
    assert s3.get_object(Bucket=bck.name, Key="dst")["Body"].read() == b"copy me"
    other = ais_backend.client.bucket(fresh_name).create()
    s3.copy_object(Bucket=other.name, Key="x/y", CopySource=f"{bck.name}/src")
    assert other.object("x/y").get_reader().read_all() == b"copy me"
    with pytest.raises(ClientError) as e:  # AIS: 400 ErrNotFound; the emulator: 404
        s3.copy_object(Bucket=bck.name, Key="d2", CopySource={"Bucket": bck.name, "Key": "no"})
    assert code(e)[0] in (400, 404)
    assert sorted(e.name for e in bck.list_all_objects()) == ["dst", "src"]


# -- listing --------------------------------------------------------------------------------


KEYS = ["a/1.txt", "a/2.txt", "a/b/3.txt", "c.txt", "d/4.txt", "e.txt"]


@pytest.fixture
def listed(s3, bck):
    for key in KEYS:
        s3.put_object(Bucket=bck.name, Key=key, Body=key.encode())
    return bck


def test_list_v2_everything(s3, listed):
    got = s3.list_objects_v2(Bucket=listed.name)
    assert [o["Key"] for o in got["Contents"]] == KEYS
    assert [o["Size"] for o in got["Contents"]] == [len(k) for k in KEYS]
    assert got["KeyCount"] == len(KEYS) and got["IsTruncated"] is False
    assert all(o["LastModified"] for o in got["Contents"])


def test_list_v2_prefix_and_delimiter(s3, listed):
    got = s3.list_objects_v2(Bucket=listed.name, Delimiter="/")
    assert [o["Key"] for o in got["Contents"]] == ["c.txt", "e.txt"]
    assert [p["Prefix"] for p in got["CommonPrefixes"]] == ["a/", "d/"]
    got = s3.list_objects_v2(Bucket=listed.name, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in got["Contents"]] == ["a/1.txt", "a/2.txt"]
    assert [p["Prefix"] for p in got["CommonPrefixes"]] == ["a/b/"]
    got = s3.list_objects_v2(Bucket=listed.name, Prefix="a/")
    assert [o["Key"] for o in got["Contents"]] == ["a/1.txt", "a/2.txt", "a/b/3.txt"]
    assert "Contents" not in s3.list_objects_v2(Bucket=listed.name, Prefix="zzz")


def test_list_v2_start_after(s3, listed):
    got = s3.list_objects_v2(Bucket=listed.name, StartAfter="c.txt")
    assert [o["Key"] for o in got["Contents"]] == ["d/4.txt", "e.txt"]


def test_paginator_sees_every_key_once(s3, listed):
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=listed.name, PaginationConfig={"PageSize": 2})
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert keys == KEYS


@pytest.mark.ais_emulator_deviation("AIS lists every entry in one reply whatever max-keys says",
                            on="live")
def test_max_keys_and_continuation(s3, listed):
    first = s3.list_objects_v2(Bucket=listed.name, MaxKeys=3, Delimiter="/")
    assert first["IsTruncated"] is True and first["KeyCount"] == 3
    assert [o["Key"] for o in first["Contents"]] == ["c.txt"]
    assert [p["Prefix"] for p in first["CommonPrefixes"]] == ["a/", "d/"]
    rest = s3.list_objects_v2(Bucket=listed.name, MaxKeys=3, Delimiter="/",
                              ContinuationToken=first["NextContinuationToken"])
    assert rest["IsTruncated"] is False and [o["Key"] for o in rest["Contents"]] == ["e.txt"]
    whole = s3.list_objects_v2(Bucket=listed.name, MaxKeys=4, Delimiter="/")
    assert whole["IsTruncated"] is False and whole["KeyCount"] == 4
    got = s3.list_objects(Bucket=listed.name, MaxKeys=5)
    assert got["IsTruncated"] is True and len(got["Contents"]) == 5
    got = s3.list_objects(Bucket=listed.name, Marker=got["NextMarker"])
    assert [o["Key"] for o in got["Contents"]] == ["e.txt"]


def test_list_v1(s3, listed):
    got = s3.list_objects(Bucket=listed.name, Prefix="a/")
    assert [o["Key"] for o in got["Contents"]] == ["a/1.txt", "a/2.txt", "a/b/3.txt"]


def test_delete_objects(s3, listed):
    got = s3.delete_objects(Bucket=listed.name, Delete={
        "Objects": [{"Key": "a/1.txt"}, {"Key": "c.txt"}, {"Key": "never-there"}]})
    assert sorted(d["Key"] for d in got["Deleted"]) == ["a/1.txt", "c.txt", "never-there"]
    assert "Errors" not in got
    remaining = [o["Key"] for o in s3.list_objects_v2(Bucket=listed.name)["Contents"]]
    assert remaining == ["a/2.txt", "a/b/3.txt", "d/4.txt", "e.txt"]
    s3.delete_objects(Bucket=listed.name, Delete={"Objects": [{"Key": "e.txt"}], "Quiet": True})
    assert "e.txt" not in [o.name for o in listed.list_all_objects()]


# -- multipart ------------------------------------------------------------------------------


def test_multipart_upload(s3, bck):
    part1, part2 = os.urandom(5 * MIB), os.urandom(1000)
    up = s3.create_multipart_upload(Bucket=bck.name, Key="mp.bin")
    uid = up["UploadId"]
    assert up["Key"] == "mp.bin" and uid
    e1 = s3.upload_part(Bucket=bck.name, Key="mp.bin", UploadId=uid, PartNumber=1,
                        Body=part1)["ETag"]
    e2 = s3.upload_part(Bucket=bck.name, Key="mp.bin", UploadId=uid, PartNumber=2,
                        Body=part2)["ETag"]
    assert e1 == f'"{hashlib.md5(part1).hexdigest()}"'
    parts = s3.list_parts(Bucket=bck.name, Key="mp.bin", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, e1), (2, e2)]
    uploads = s3.list_multipart_uploads(Bucket=bck.name).get("Uploads", [])
    assert (uid, "mp.bin") in [(u["UploadId"], u["Key"]) for u in uploads]
    done = s3.complete_multipart_upload(
        Bucket=bck.name, Key="mp.bin", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1},
                                   {"PartNumber": 2, "ETag": e2}]})
    md5s = hashlib.md5(bytes.fromhex(e1.strip('"')) + bytes.fromhex(e2.strip('"')))
    assert done["ETag"] == f'"{md5s.hexdigest()}-2"'
    assert s3.head_object(Bucket=bck.name, Key="mp.bin")["ETag"] == done["ETag"]
    assert bck.object("mp.bin").get_reader().read_all() == part1 + part2
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bck.name, Key="mp.bin", UploadId=uid)
    assert code(e) == (404, "NoSuchUpload")


def test_multipart_abort_and_no_parts(s3, bck):
    uid = s3.create_multipart_upload(Bucket=bck.name, Key="m2")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bck.name, Key="m2", UploadId=uid,
                                     MultipartUpload={"Parts": []})
    assert code(e)[0] == 400 and "no parts" in e.value.response["Error"]["Message"]
    s3.abort_multipart_upload(Bucket=bck.name, Key="m2", UploadId=uid)
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bck.name, Key="m2", UploadId=uid, PartNumber=1, Body=b"x")
    assert code(e) == (404, "NoSuchUpload")
    assert [o.name for o in bck.list_all_objects()] == []


def test_upload_file_transfer_manager(s3, bck, tmp_path):
    """boto3's managed transfer: multipart above the threshold, plain PUT below."""
    from boto3.s3.transfer import TransferConfig

    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(6 * MIB + 123))
    cfg = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_file(str(big), bck.name, "big.bin", Config=cfg)
    out = tmp_path / "out.bin"
    s3.download_file(bck.name, "big.bin", str(out), Config=cfg)
    assert out.read_bytes() == big.read_bytes()


# -- emulator only: plain boto3, digests ---------------------------------------------------


@pytest.mark.ais_emulator_only("real AIS redirects object requests, which plain boto3 does "
                           "not follow")
def test_plain_boto3_without_the_patch(ais_backend, bck):
    if ais_backend.kind != "server":
        pytest.skip("needs the server transport (a separate process calls it)")
    script = textwrap.dedent(f"""
        import sys, boto3
        from botocore.config import Config
        assert "aistore.botocore_patch" not in sys.modules
        s3 = boto3.client("s3", endpoint_url={ais_backend.endpoint + '/s3'!r},
                          region_name="us-east-1", aws_access_key_id="a",
                          aws_secret_access_key="b",
                          config=Config(s3={{"addressing_style": "path"}}))
        s3.put_object(Bucket={bck.name!r}, Key="plain", Body=b"plain boto3")
        assert s3.get_object(Bucket={bck.name!r}, Key="plain")["Body"].read() == b"plain boto3"
        assert s3.head_object(Bucket={bck.name!r}, Key="plain")["ContentLength"] == 11
        up = s3.create_multipart_upload(Bucket={bck.name!r}, Key="mp")["UploadId"]
        tag = s3.upload_part(Bucket={bck.name!r}, Key="mp", UploadId=up, PartNumber=1,
                             Body=b"part")["ETag"]
        s3.complete_multipart_upload(Bucket={bck.name!r}, Key="mp", UploadId=up,
            MultipartUpload={{"Parts": [{{"PartNumber": 1, "ETag": tag}}]}})
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket={bck.name!r})["Contents"]]
        assert keys == ["mp", "plain"], keys
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert bck.object("plain").get_reader().read_all() == b"plain boto3"


@pytest.mark.ais_emulator_deviation("AIS stores a body whatever its Content-MD5 says", on="live")
def test_bad_content_md5_is_refused(wire, bck, s3):
    r = wire.put(f"/s3/{bck.name}/bad", data=b"payload",
                 headers={"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="})  # md5 of b""
    assert r.status_code == 400 and b"<Code>BadDigest</Code>" in r.content
    assert [o.name for o in bck.list_all_objects()] == []
