"""Differential test of what the ``ais`` CLI and boto3 use: node records, logs, job
queries, rename, archive append, and the S3 API, on a real AIStore and on the emulator.

Same machinery as ``test_differential`` (``_parity``): each scenario returns
observations from one side; they must be equal except for the fields in
``EXPECTED_DEVIATIONS``, which must still differ exactly as recorded. boto3 reaches the
live cluster through AIS's ``aistore.botocore_patch`` (AIS redirects object requests)
and the in-process emulator through ``serve_boto3``. Values that differ between any two
clusters (times, IDs, the mtime part of ETags) are reduced to their shape.

    .venv/bin/python -m pytest tests/parity -q --ais-live=http://127.0.0.1:51180
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import re
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import msgpack
import pytest
from aistore.sdk.enums import LogSeverity


def _helpers():
    name = "ais_parity_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("_parity.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


kit = _helpers()
Deviation = kit.Deviation

pytestmark = pytest.mark.usefixtures("live_endpoint")  # skipped unless in live mode

CORPUS = {"a.txt": b"alpha", "d/b.txt": b"bravo"}
CORPUS_CUSTOM_MD: dict = {}

EXPECTED_DEVIATIONS = (
    Deviation("cli/node-status", {"deployment": ("dev", "emulator"),
                                  "msgpack.node": (["c", "d", "f", "g", "i", "name", "p", "t",
                                                    "v"],
                                                   ["c", "d", "f", "g", "i", "name", "p", "t"])},
              "deliberate", "the emulator names itself as the deployment (AIS: dev/linux) "
                            "and its nodes have no verifying key (v)"),
    Deviation("archive-append/tar", {"checksum": (None, "xxhash2")},
              "ais-quirk", "AIS leaves a tar it appended to in place without a checksum; "
                           "the emulator checksums the new version"),
    Deviation("archive-append/tar", {"second-get.status": (500, 200)},
              "ais-quirk", "after an in-place tar append, the second GET of the shard is a "
                           "500 on AIS (ErrLmetaCorrupted: stale size), and so is every "
                           "later read or write of it; the emulator serves it"),
    Deviation("archive-append/tar", {"version": ("1", "2")},
              "ais-quirk", "AIS keeps the version of a shard a member was appended to; the "
                           "emulator counts the append as a new version, as any write"),
    Deviation("archive-append/tgz", {"version": ("1", "2")},
              "ais-quirk", "AIS keeps the version of a shard a member was appended to; the "
                           "emulator counts the append as a new version, as any write"),
    Deviation("archive-append/zip", {"version": ("1", "2")},
              "ais-quirk", "AIS keeps the version of a shard a member was appended to; the "
                           "emulator counts the append as a new version, as any write"),
    Deviation("archive-append/bad-shard", {"tar.status": (500, 400), "zip.status": (500, 400),
                                           "tgz.status": (500, 400)},
              "deliberate", "appending to a shard that cannot be read is a 500 on AIS "
                            "(which the SDK retries); the emulator answers 400; both leave "
                            "the shard unchanged"),
    Deviation("s3/list-v2", {"max-keys.IsTruncated": ("false", "true"),
                             "max-keys.KeyCount": ("6", "2"),
                             "max-keys.MaxKeys": ("1000", "2"),
                             "max-keys.NextContinuationToken": (False, True),
                             "prefix.Prefix": ("", "d/"),
                             "delimiter.Delimiter": (None, "/")},
              "ais-quirk", "AIS lists every entry in one reply whatever max-keys says and "
                           "echoes neither Prefix nor Delimiter; the emulator pages by "
                           "max-keys and echoes them, as S3 does"),
    Deviation("s3/list-v1", {"Marker": (None, "")},
              "ais-quirk", "AIS answers V1 listings with V2's fields (ContinuationToken, no "
                           "Marker); the emulator sends V1's Marker"),
    Deviation("s3/copy", {"missing.status": (400, 404), "missing.code": ("ErrNotFound",
                                                                         "NoSuchKey")},
              "ais-quirk", "copying from a key that does not exist is a 400 ErrNotFound on "
                           "AIS; the emulator answers S3's 404 NoSuchKey"),
    Deviation("s3/multipart", {"parts.fields": (["ETag", "PartNumber"],
                                                ["ETag", "PartNumber", "Size"]),
                               "abort-again.code": ("wrapError", "NoSuchUpload")},
              "ais-quirk", "AIS's ListParts has no Size, and aborting an upload twice is a "
                           "404 wrapError; the emulator sends Size and NoSuchUpload"),
    Deviation("s3/multipart", {"wrong-etag.status": (200, 400)},
              "deliberate", "a completion naming a part by the wrong ETag completes on AIS "
                            "(ETags are ignored); the emulator refuses it (InvalidPart)"),
    Deviation("s3/bad-digest", {"status": (200, 400), "stored": (True, False)},
              "deliberate", "AIS stores a body that does not match its Content-MD5; the "
                            "emulator refuses it (BadDigest): nothing corrupt is stored"),
    Deviation("s3/unsupported", {"location.root": ("ListBucketResult", "LocationConstraint"),
                                 "tagging.status": (200, 501)},
              "deliberate", "AIS ignores ?location and ?tagging (a listing, the object); the "
                            "emulator answers GetBucketLocation and refuses tagging (501)"),
)

SCENARIOS: dict = {}


def scenario(name: str):
    def deco(fn):
        SCENARIOS[name] = fn
        return fn

    return deco


def _shape(value, depth=0):
    if isinstance(value, dict) and depth < 2:
        return {k: _shape(v, depth + 1) for k, v in sorted(value.items())}
    return type(value).__name__


def _nodes(side):
    smap = side.request("GET", "/v1/daemon", params={"what": "smap"}).json()
    return list(smap["tmap"]), list(smap["pmap"])


# -- cluster and node records ------------------------------------------------------------------


@scenario("cli/cluster-config")
def _cluster_config(side, corpus):
    doc = side.request("GET", "/v1/cluster", params={"what": "cluster_config"}).json()
    return {"keys": sorted(doc), "checksum": doc["checksum"], "versioning": doc["versioning"],
            "features": doc["features"], "ec.enabled": doc["ec"]["enabled"],
            "backends": side.request("GET", "/v1/cluster",
                                     params={"what": "backends"}).json()}


@scenario("cli/node-status")
def _node_status(side, corpus):
    targets, _ = _nodes(side)
    r = side.request("GET", "/v1/reverse/daemon", params={"what": "node_status"},
                     headers={"Ais-Node-Id": targets[0]})
    doc = r.json()
    mp = side.request("GET", "/v1/reverse/daemon", params={"what": "node_status"},
                      headers={"Ais-Node-Id": targets[0], "Accept": "application/msgpack"})
    packed = msgpack.unpackb(mp.content, raw=False, strict_map_key=False)
    return {"keys": sorted(doc), "ais_version": doc["ais_version"],
            "deployment": doc["deployment"], "cluster": _shape(doc["cluster"]),
            "sys_info.keys": sorted(doc["sys_info"]), "capacity.keys": sorted(doc["capacity"]),
            "state.flags": doc["tracker"]["state.flags"] & 0b110,
            "msgpack.content_type": mp.headers.get("Content-Type"),
            "msgpack.keys": sorted(packed), "msgpack.node": sorted(packed["n"]),
            "msgpack.types": {k: type(packed[k]).__name__ for k in ("v", "w", "n", "c", "y")}}


@scenario("cli/reverse-errors")
def _reverse_errors(side, corpus):
    targets, _ = _nodes(side)
    out = kit.outcome_obs(side.request("GET", "/v1/reverse/daemon",
                                       params={"what": "node_status"}), "no-id.")
    out.update(kit.outcome_obs(side.request("GET", "/v1/reverse/daemon",
                                            params={"what": "node_status"},
                                            headers={"Ais-Node-Id": "nope"}), "unknown."))
    for what, params in (("bogus-what", {"what": "bogus"}),
                         ("bogus-severity", {"what": "log", "severity": "loud"})):
        out.update(kit.outcome_obs(side.request("GET", "/v1/reverse/daemon", params=params,
                                                headers={"Ais-Node-Id": targets[0]}),
                                   what + "."))
    return out


@scenario("cli/logs-and-performance")
def _logs(side, corpus):
    cluster = side.client.cluster()
    targets = sorted(cluster.get_info().tmap)
    text = cluster.get_node_log(targets[0])
    archive = cluster.get_node_log_archive(targets[0])
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(archive))) as tf:
        files = [m.name.split(".")[2] for m in tf if m.isfile()]
    perf = cluster.get_performance()
    return {"log.header": text.startswith("Started up at "),
            "log.error-is-text": isinstance(cluster.get_node_log(
                targets[0], severity=LogSeverity.ERROR), str),
            "archive.levels": sorted(set(files)),
            "cluster-logs": sorted(cluster.get_cluster_logs()) == targets,
            "performance.nodes": sorted(perf) == targets,
            "performance.keys": sorted(next(iter(perf.values())))}


@scenario("cli/listings-and-jobs")
def _listings_and_jobs(side, corpus):
    r, body = kit.list_page(side, corpus, prefix="nomatch")
    raw = msgpack.unpackb(r.content, raw=False)
    json_r, json_body = kit.list_page(side, corpus, accept_msgpack=False, prefix="nomatch")
    empty = {"name": "", "provider": "", "namespace": {"uuid": "", "name": ""}}
    q = side.request("GET", "/v1/cluster", params={"what": "qryxstats"},
                     json={"show_active": True, "bck": empty, "id": "", "kind": "lru"})
    dl = side.request("GET", "/v1/download", json={"id": "", "regex": "",
                                                   "only_active_tasks": True})
    sort = side.request("GET", "/v1/sort", params={"only_active": "true", "regex": ""})
    return {"msgpack.Entries": raw["Entries"], "json.entries": json_body["entries"],
            "qryxstats.status": q.status_code, "download": [dl.status_code, dl.json()],
            "sort": [sort.status_code, sort.json()]}


@scenario("cli/rename")
def _rename(side, corpus):
    name = f"{corpus}-mv"
    bck = side.bucket(name)
    bck.object("a").get_writer().put_content(b"one")
    bck.object("a").get_writer().put_content(b"two")
    bck.object("d/x").get_writer().put_content(b"x")

    def mv(src, dst):
        return side.request("POST", side.obj_path(name, src),
                            json={"action": "rename-obj", "name": dst, "value": None})

    out = kit.outcome_obs(mv("a", "b"), "ok.")
    r = side.request("HEAD", side.obj_path(name, "b"), params={"props": "version,checksum"})
    out["renamed"] = [r.headers.get("Ais-Version"), r.headers.get("Ais-Checksum-Value")]
    for tag, args in (("self", ("b", "b")), ("missing", ("zz", "q")), ("onto-dir", ("b", "d")),
                      ("under-object", ("b", "d/x/y")), ("bad-name", ("b", "../q"))):
        out.update(kit.outcome_obs(mv(*args), f"{tag}."))
    out["names"] = sorted(e.name for e in bck.list_all_objects())
    return out


# -- archive append -----------------------------------------------------------------------------


def _tar(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name, date_time=(2023, 11, 14, 0, 0, 0)), data)
    return buf.getvalue()


BUILD = {"tar": _tar, "tgz": lambda m: gzip.compress(_tar(m), mtime=0), "zip": _zip}
BASE = [("a.txt", b"AAAA"), ("b/c.txt", b"CCC")]


def _append(side, bucket, obj, archpath, data, flags):
    headers = {"Ais-Pine": flags} if flags else {}
    return side.request("PUT", side.obj_path(bucket, obj),
                        params={"archpath": archpath}, data=data, headers=headers)


for _fmt in ("tar", "tgz", "zip"):
    def _append_fmt(side, corpus, _fmt=_fmt):
        """Each shard is read as little as possible: AIS v1.5.0 leaves a tar it appended to
        in place unreadable after one whole-object GET (recorded in ``second-get``)."""
        name = f"{corpus}-ap"
        side.bucket(name)
        obj, fmt = f"s.{_fmt}", ".zip" if _fmt == "zip" else ""
        side.put(name, {obj: BUILD[_fmt](BASE), f"p.{_fmt}": BUILD[_fmt](BASE)})
        out = kit.outcome_obs(_append(side, name, obj, "new.txt", b"NEW!", "1"), "append.")
        r = side.request("HEAD", side.obj_path(name, obj), params={"props": "checksum,version"})
        out["checksum"], out["version"] = (r.headers.get("Ais-Checksum-Type"),
                                           r.headers.get("Ais-Version"))
        get = side.request("GET", side.obj_path(name, obj), params={"archpath": "new.txt"})
        out["member"] = [get.status_code, get.content.decode("latin-1")]
        out["listing"] = kit.list_all(side, name, prefix=obj, flags=kit.LS_ARCH_DIR)["names"]
        whole = side.request("GET", side.obj_path(name, obj))
        out["members"] = kit.archive_members(whole.content, fmt)
        if _fmt == "tar":
            out["size"] = len(whole.content)
        out["second-get.status"] = side.request("GET", side.obj_path(name, obj)).status_code
        out.update(kit.outcome_obs(_append(side, name, f"fresh.{_fmt}", "n", b"1", "2"),
                                   "append-or-put."))
        out.update(kit.outcome_obs(_append(side, name, f"miss.{_fmt}", "n", b"1", "1"),
                                   "missing."))
        out.update(kit.outcome_obs(_append(side, name, f"p.{_fmt}", "only.txt", b"O", ""),
                                   "put."))
        after = side.request("GET", side.obj_path(name, f"p.{_fmt}")).content
        out["after-put"] = kit.archive_members(after, fmt)
        return out

    scenario(f"archive-append/{_fmt}")(_append_fmt)


@scenario("archive-append/bad-shard")
def _bad_shard(side, corpus):
    name = f"{corpus}-bad"
    side.bucket(name)
    junk = b"not an archive at all " * 30
    out = {}
    for fmt in ("tar", "tgz", "zip"):
        side.put(name, {f"x.{fmt}": junk})
        r = _append(side, name, f"x.{fmt}", "n.txt", b"N", "1")
        out[f"{fmt}.status"] = r.status_code
        out[f"{fmt}.unchanged"] = side.request("GET", side.obj_path(name, f"x.{fmt}")).content == junk
    for tag, archpath in (("dotdot", "../x"), ("dot", "./x"), ("dir", "d/")):
        side.put(name, {"t.tar": _tar(BASE)})
        out.update(kit.outcome_obs(_append(side, name, "t.tar", archpath, b"N", "1"), tag + "."))
    out.update(kit.outcome_obs(_append(side, name, "t.tar", "e", b"", "1"), "empty-body."))
    out.update(kit.outcome_obs(_append(side, name, "t.tar", "e", b"E", "x"), "bad-flags."))
    return out


@scenario("mpt/no-parts")
def _no_parts(side, corpus):
    name = f"{corpus}-mpt"
    bck = side.bucket(name)
    mpu = bck.object("m").multipart_upload().create()
    try:
        mpu.complete()
        return {"raised": None}
    except Exception as e:  # noqa: BLE001 - the class and message are the observation
        return {"raised": type(e).__name__, "no-chunks": "no chunks" in str(e)}


# -- S3 ------------------------------------------------------------------------------------------


def _s3(side):
    boto3 = pytest.importorskip("boto3")
    pytest.importorskip("wrapt")
    from aistore.botocore_patch import botocore as _redirects  # noqa: F401
    from botocore.config import Config

    client = boto3.client("s3", endpoint_url=side.endpoint + "/s3", region_name="us-east-1",
                          aws_access_key_id="a", aws_secret_access_key="b",
                          config=Config(s3={"addressing_style": "path"},
                                        retries={"max_attempts": 1}))
    if side.emulator is not None:
        from ais_emulator.transports import serve_boto3

        serve_boto3(client, side.emulator)
    return client


def _call(fn, *args, **kw):
    """(status, S3 error code or None, the result without metadata)."""
    from botocore.exceptions import ClientError

    try:
        res = fn(*args, **kw)
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Code"), None
    status = res.pop("ResponseMetadata")["HTTPStatusCode"]
    return status, None, res


_ETAG = re.compile(r'"v1-([0-9a-f]{16})-[0-9a-z]+"')


def _etag(tag: str) -> str:
    """An AIS ETag without the mtime part (per cluster)."""
    return _ETAG.sub(r'"v1-\1-<mtime>"', tag or "")


@scenario("s3/buckets")
def _s3_buckets(side, corpus):
    s3, name = _s3(side), f"{corpus}-s3b"
    side.owns(name)
    out = {"create": _call(s3.create_bucket, Bucket=name)[:2],
           "again": _call(s3.create_bucket, Bucket=name)[:2]}
    status, _, res = _call(s3.head_bucket, Bucket=name)
    out["head"] = [status, res.get("BucketRegion")]
    out["listed"] = name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.put_object(Bucket=name, Key="k", Body=b"v")
    out["delete-nonempty"] = _call(s3.delete_bucket, Bucket=name)[:2]
    out["head-missing"] = _call(s3.head_bucket, Bucket=name)[:2]
    out["delete-missing"] = _call(s3.delete_bucket, Bucket=name)[:2]
    return out


@scenario("s3/objects")
def _s3_objects(side, corpus):
    s3, name = _s3(side), f"{corpus}-s3o"
    side.bucket(name)
    status, _, put = _call(s3.put_object, Bucket=name, Key="k/x y", Body=b"hello world")
    out = {"put": [status, _etag(put["ETag"])]}
    status, _, got = _call(s3.get_object, Bucket=name, Key="k/x y")
    out["get"] = [status, got["Body"].read().decode(), got["ContentType"], _etag(got["ETag"]),
                  got["ContentLength"], sorted(got["Metadata"])]
    status, _, head = _call(s3.head_object, Bucket=name, Key="k/x y")
    out["head"] = [status, head["ContentLength"], sorted(head["Metadata"]),
                   head["ETag"] == got["ETag"], head["LastModified"] == got["LastModified"]]
    status, _, rng = _call(s3.get_object, Bucket=name, Key="k/x y", Range="bytes=2-5")
    out["range"] = [status, rng["Body"].read().decode(), rng["ContentRange"]]
    out["bad-range"] = _call(s3.get_object, Bucket=name, Key="k/x y", Range="bytes=99-")[:2]
    out["missing"] = _call(s3.get_object, Bucket=name, Key="nope")[:2]
    out["head-missing"] = _call(s3.head_object, Bucket=name, Key="nope")[:2]
    out["delete-missing"] = _call(s3.delete_object, Bucket=name, Key="nope")[:2]
    out["missing-bucket"] = _call(s3.get_object, Bucket=name + "-x", Key="k")[:2]
    out["native"] = side.client.bucket(name).object("k/x y").get_reader().read_all().decode()
    out["delete"] = _call(s3.delete_object, Bucket=name, Key="k/x y")[:2]
    return out


def _listing(res):
    if res is None:
        return None
    return {"keys": [o["Key"] for o in res.get("Contents", [])],
            "prefixes": [p["Prefix"] for p in res.get("CommonPrefixes", [])],
            "etags": sorted({o["ETag"] for o in res.get("Contents", [])})}


def _raw_list(side, bucket, **params):
    r = side.request("GET", f"/s3/{bucket}", params=params)
    doc = ET.fromstring(r.content)
    ns = "{http://s3.amazonaws.com/doc/2006-03-01}"
    field = {}
    for tag in ("Prefix", "Delimiter", "IsTruncated", "KeyCount", "MaxKeys", "Marker"):
        node = doc.find(ns + tag)
        field[tag] = None if node is None else (node.text or "")
    field["NextContinuationToken"] = doc.find(ns + "NextContinuationToken") is not None
    return field


LIST_KEYS = ["a/1", "a/2", "b", "d/x", "d/y", "e"]


@scenario("s3/list-v2")
def _s3_list_v2(side, corpus):
    s3, name = _s3(side), f"{corpus}-s3l"
    side.bucket(name)
    for key in LIST_KEYS:
        s3.put_object(Bucket=name, Key=key, Body=key.encode())
    out = {"all": _listing(_call(s3.list_objects_v2, Bucket=name)[2]),
           "delim": _listing(_call(s3.list_objects_v2, Bucket=name, Delimiter="/")[2]),
           "start-after": _listing(_call(s3.list_objects_v2, Bucket=name, StartAfter="b")[2])}
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=name,
                                                          PaginationConfig={"PageSize": 2})
    out["paginated"] = [o["Key"] for p in pages for o in p.get("Contents", [])]
    for tag, params in (("max-keys", {"max-keys": "2"}), ("prefix", {"prefix": "d/"}),
                        ("delimiter", {"delimiter": "/"})):
        for key, value in _raw_list(side, name, **{"list-type": "2", **params}).items():
            out[f"{tag}.{key}"] = value
    return out


@scenario("s3/list-v1")
def _s3_list_v1(side, corpus):
    s3, name = _s3(side), f"{corpus}-s3v"
    side.bucket(name)
    for key in LIST_KEYS:
        s3.put_object(Bucket=name, Key=key, Body=b"x")
    out = {"v1": _listing(_call(s3.list_objects, Bucket=name, Prefix="d/")[2])}
    out["Marker"] = _raw_list(side, name)["Marker"]
    return out


@scenario("s3/copy")
def _s3_copy(side, corpus):
    s3, name = _s3(side), f"{corpus}-s3c"
    side.bucket(name)
    s3.put_object(Bucket=name, Key="src", Body=b"copy me")
    status, _, res = _call(s3.copy_object, Bucket=name, Key="dst",
                           CopySource={"Bucket": name, "Key": "src"})
    out = {"copy": [status, res["CopyObjectResult"]["ETag"]],
           "copied": s3.get_object(Bucket=name, Key="dst")["Body"].read().decode()}
    status, code, _ = _call(s3.copy_object, Bucket=name, Key="d2",
                            CopySource={"Bucket": name, "Key": "nope"})
    out["missing.status"], out["missing.code"] = status, code
    return out


@scenario("s3/delete-objects")
def _s3_delete_objects(side, corpus):
    s3, name = _s3(side), f"{corpus}-s3d"
    side.bucket(name)
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=name, Key=key, Body=b"x")
    status, _, res = _call(s3.delete_objects, Bucket=name, Delete={
        "Objects": [{"Key": "a"}, {"Key": "nope"}], "Quiet": False})
    out = {"delete": [status, sorted(d["Key"] for d in res.get("Deleted", [])),
                      res.get("Errors")]}
    status, _, res = _call(s3.delete_objects, Bucket=name, Delete={
        "Objects": [{"Key": "b"}], "Quiet": True})
    out["quiet"] = [status, sorted(d["Key"] for d in res.get("Deleted", []))]
    out["left"] = sorted(e.name for e in side.client.bucket(name).list_all_objects())
    return out


@scenario("s3/multipart")
def _s3_multipart(side, corpus):
    s3, name = _s3(side), f"{corpus}-s3m"
    side.bucket(name)
    uid = s3.create_multipart_upload(Bucket=name, Key="m")["UploadId"]
    tags = [s3.upload_part(Bucket=name, Key="m", UploadId=uid, PartNumber=n,
                           Body=bytes([64 + n]) * (5 * 1024 * 1024 if n == 1 else 100))["ETag"]
            for n in (1, 2)]
    parts = s3.list_parts(Bucket=name, Key="m", UploadId=uid)["Parts"]
    out = {"part-etags": tags, "parts.fields": sorted(parts[0]),
           "uploads": [u["Key"] for u in s3.list_multipart_uploads(Bucket=name)["Uploads"]]}
    status, _, res = _call(s3.complete_multipart_upload, Bucket=name, Key="m", UploadId=uid,
                           MultipartUpload={"Parts": [{"PartNumber": n, "ETag": t}
                                                      for n, t in enumerate(tags, 1)]})
    out["complete"] = [status, res["ETag"]]
    out["head-etag"] = s3.head_object(Bucket=name, Key="m")["ETag"]
    uid2 = s3.create_multipart_upload(Bucket=name, Key="m2")["UploadId"]
    status, _, _ = _call(s3.complete_multipart_upload, Bucket=name, Key="m2", UploadId=uid2,
                         MultipartUpload={"Parts": []})
    out["no-parts.status"] = status
    s3.upload_part(Bucket=name, Key="m2", UploadId=uid2, PartNumber=1, Body=b"x")
    out["wrong-etag.status"] = _call(
        s3.complete_multipart_upload, Bucket=name, Key="m2", UploadId=uid2,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00"'}]})[0]
    uid3 = s3.create_multipart_upload(Bucket=name, Key="m3")["UploadId"]
    out["abort"] = _call(s3.abort_multipart_upload, Bucket=name, Key="m3", UploadId=uid3)[:2]
    out["abort-again.code"] = _call(s3.abort_multipart_upload, Bucket=name, Key="m3",
                                    UploadId=uid3)[1]
    out["part-after-abort"] = _call(s3.upload_part, Bucket=name, Key="m3", UploadId=uid3,
                                    PartNumber=1, Body=b"x")[:2]
    return out


@scenario("s3/bad-digest")
def _s3_bad_digest(side, corpus):
    name = f"{corpus}-s3x"
    side.bucket(name)
    r = side.request("PUT", f"/s3/{name}/k", data=b"payload",
                     headers={"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="})
    stored = [e.name for e in side.client.bucket(name).list_all_objects()] == ["k"]
    return {"status": r.status_code, "stored": stored}


@scenario("s3/unsupported")
def _s3_unsupported(side, corpus):
    name = f"{corpus}-s3u"
    side.bucket(name)
    side.request("PUT", f"/s3/{name}/k", data=b"v")
    loc = side.request("GET", f"/s3/{name}", params={"location": ""})
    tag = side.request("GET", f"/s3/{name}/k", params={"tagging": ""})
    return {"location.root": ET.fromstring(loc.content).tag.rsplit("}", 1)[-1],
            "tagging.status": tag.status_code,
            "patch": side.request("PATCH", f"/s3/{name}/k").status_code}


# -- the test -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_behaviour(name, sides, corpus):
    kit.run_scenario(name, SCENARIOS, sides, corpus, EXPECTED_DEVIATIONS)


def test_expected_deviations_name_scenarios():
    kit.validate_table(SCENARIOS, EXPECTED_DEVIATIONS)
