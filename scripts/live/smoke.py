"""End-to-end smoke check of the `aistore` SDK against a running cluster.

    AIS_ENDPOINT=http://127.0.0.1:51180 .venv/bin/python scripts/live/smoke.py [-v]

Runs the SDK calls the datasets depend on (buckets, put/get/head/list, archive listing
and archpath reads, GetBatch in both delivery modes) and, with raw `requests`, records
the wire details (status codes, headers, error bodies) that an emulator has to match.
Prints one line per check and exits non-zero when any check fails. Works against the
emulator too (`ais-emulator serve`), which makes the two easy to compare.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tarfile
import time
import traceback
import uuid

import requests
from aistore.sdk import Client
from aistore.sdk.archive_config import ArchiveConfig, ArchiveMode
from aistore.sdk.errors import (
    AISError,
    ErrBckAlreadyExists,
    ErrBckNotFound,
    ErrObjNotFound,
)
from aistore.sdk.list_object_flag import ListObjectFlag

VERBOSE = "-v" in sys.argv
ENDPOINT = os.environ.get("AIS_ENDPOINT", "").rstrip("/")
RESULTS: list[tuple[str, bool, str]] = []
WIRE: dict[str, dict] = {}


def check(name: str):
    def deco(fn):
        try:
            detail = fn() or ""
            RESULTS.append((name, True, str(detail)))
        except Exception as exc:  # noqa: BLE001 - a smoke report, keep going
            msg = f"{type(exc).__name__}: {exc}"
            if VERBOSE:
                msg += "\n" + traceback.format_exc()
            RESULTS.append((name, False, msg))
        return fn

    return deco


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def raw(label: str, method: str, path: str, **kw) -> requests.Response:
    """One raw HTTP call; records status, selected headers and the body's head."""
    kw.setdefault("allow_redirects", True)
    resp = requests.request(method, ENDPOINT + path, timeout=20, **kw)
    hist = [{"status": r.status_code, "location": r.headers.get("Location")} for r in resp.history]
    hdrs = {
        k: v
        for k, v in resp.headers.items()
        if k.lower().startswith(("ais-", "hdr-", "content-", "accept-", "etag", "last-"))
    }
    body = resp.content[:300]
    try:
        body_repr = body.decode()
    except UnicodeDecodeError:
        body_repr = repr(body)
    WIRE[label] = {
        "request": f"{method} {path}",
        "redirects": hist,
        "status": resp.status_code,
        "headers": hdrs,
        "body": body_repr,
    }
    return resp


def make_tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def main() -> int:
    if not ENDPOINT:
        print("smoke: AIS_ENDPOINT is not set", file=sys.stderr)
        return 2
    client = Client(ENDPOINT)
    bname = f"smoke-{uuid.uuid4().hex[:8]}"
    bck = client.bucket(bname)
    objs = {
        "a.txt": b"hello",
        "dir/b.bin": bytes(range(256)) * 40,
        "dir/c d+e?.txt": "ünïcode".encode(),
        "empty": b"",
    }
    members = {
        "0001.jpg": b"J" * 100,
        "0001.cls": b"3",
        "img/0002.jpg": b"K" * 50,
        "./dot.txt": b"dot",
    }

    @check("cluster: smap and is_ready")
    def _():
        info = client.cluster().get_info()
        expect(len(info.tmap) == 1 and len(info.pmap) == 1, f"tmap/pmap {info.tmap} {info.pmap}")
        expect(client.cluster().is_ready(), "is_ready() false")
        raw("health", "GET", "/v1/health")
        raw("health_prr", "GET", "/v1/health?prr=true")
        smap = raw("smap", "GET", "/v1/daemon?what=smap").json()
        WIRE["smap"]["body"] = json.dumps(
            {k: smap[k] for k in ("version", "uuid", "creation_time") if k in smap}
        )
        return f"targets={list(info.tmap)} proxy={list(info.pmap)}"

    @check("bucket: create, create again -> ErrBckAlreadyExists, head")
    def _():
        bck.create()
        try:
            bck.create()
            raise AssertionError("second create did not fail")
        except ErrBckAlreadyExists:
            pass
        bck.create(exist_ok=True)
        hdrs = bck.head()
        expect(
            "Ais-Bucket-Props" in hdrs or "ais-bucket-props" in {k.lower() for k in hdrs},
            "no Ais-Bucket-Props",
        )
        raw(
            "bucket_create_dup",
            "POST",
            f"/v1/buckets/{bname}",
            json={"action": "create-bck", "name": "", "value": None},
        )
        raw("bucket_head", "HEAD", f"/v1/buckets/{bname}?provider=ais")
        raw("bucket_head_missing", "HEAD", "/v1/buckets/no-such-bucket-xyz?provider=ais")
        names = [b.name for b in client.cluster().list_buckets()]
        expect(bname in names, f"{bname} not in {names}")

    @check("object: put and get (read_all)")
    def _():
        for name, data in objs.items():
            bck.object(name).get_writer().put_content(data)
        for name, data in objs.items():
            got = bck.object(name).get_reader().read_all()
            expect(got == data, f"{name}: {len(got)} bytes != {len(data)}")
        raw("put", "PUT", f"/v1/objects/{bname}/raw.bin?provider=ais", data=b"xyz")
        raw("get", "GET", f"/v1/objects/{bname}/a.txt?provider=ais")
        raw(
            "get_noredirect",
            "GET",
            f"/v1/objects/{bname}/a.txt?provider=ais",
            allow_redirects=False,
        )

    @check("object: streamed iteration and ranged reads")
    def _():
        data = objs["dir/b.bin"]
        got = b"".join(bck.object("dir/b.bin").get_reader(chunk_size=1000))
        expect(got == data, "iterated bytes differ")
        rng = bck.object("dir/b.bin").get_reader(byte_range="bytes=10-19").read_all()
        expect(rng == data[10:20], f"range got {rng!r}")
        raw(
            "get_range",
            "GET",
            f"/v1/objects/{bname}/dir/b.bin?provider=ais",
            headers={"Range": "bytes=10-19"},
        )
        raw(
            "get_range_suffix",
            "GET",
            f"/v1/objects/{bname}/dir/b.bin?provider=ais",
            headers={"Range": "bytes=-5"},
        )
        raw(
            "get_range_bad",
            "GET",
            f"/v1/objects/{bname}/dir/b.bin?provider=ais",
            headers={"Range": "bytes=99999-"},
        )
        raw(
            "get_range_multi",
            "GET",
            f"/v1/objects/{bname}/dir/b.bin?provider=ais",
            headers={"Range": "bytes=0-1,3-4"},
        )

    @check("object: head and props")
    def _():
        attrs = bck.object("dir/b.bin").head()
        expect(attrs.size == len(objs["dir/b.bin"]), f"size {attrs.size}")
        props = bck.object("a.txt").props
        expect(props.present, "not present")
        raw("head_name_size", "HEAD", f"/v1/objects/{bname}/a.txt?provider=ais&props=name,size")
        raw(
            "head_props",
            "HEAD",
            f"/v1/objects/{bname}/a.txt?provider=ais&props=checksum,atime,version,copies,custom,location",
        )
        raw("head_chunked", "HEAD", f"/v1/objects/{bname}/a.txt?provider=ais&props=chunked")
        raw("head_empty", "HEAD", f"/v1/objects/{bname}/empty?provider=ais&props=name,size")
        raw("head_bad_prop", "HEAD", f"/v1/objects/{bname}/a.txt?provider=ais&props=cached")
        return f"cksum={props.checksum_type}:{props.checksum_value} version={props.obj_version}"

    @check("object: errors (missing object/bucket)")
    def _():
        try:
            bck.object("nope").get_reader().read_all()
            raise AssertionError("no error")
        except ErrObjNotFound:
            pass
        try:
            client.bucket("no-such-bucket-xyz").object("x").get_reader().read_all()
            raise AssertionError("no error")
        except ErrBckNotFound:
            pass
        try:
            bck.object("nope").head()
            raise AssertionError("no error")
        except AISError as err:
            expect(err.status_code == 404, f"head status {err.status_code}")
        try:
            bck.object("nope").delete()
            raise AssertionError("no error")
        except ErrObjNotFound:
            pass
        raw("get_missing_obj", "GET", f"/v1/objects/{bname}/nope?provider=ais")
        raw("get_missing_bck", "GET", "/v1/objects/no-such-bucket-xyz/x?provider=ais")
        raw("head_missing_obj", "HEAD", f"/v1/objects/{bname}/nope?provider=ais&props=name,size")
        raw("delete_missing_obj", "DELETE", f"/v1/objects/{bname}/nope?provider=ais")
        raw("put_missing_bck", "PUT", "/v1/objects/no-such-bucket-xyz/x?provider=ais", data=b"1")

    @check("list: list_all_objects, pagination, props")
    def _():
        names = [e.name for e in bck.list_all_objects(page_size=2)]
        expect(names == sorted(list(objs) + ["raw.bin"]), f"names {names}")
        page = bck.list_objects(page_size=2)
        expect(len(page.entries) == 2 and page.continuation_token, "first page")
        it = [e.name for e in bck.list_objects_iter(prefix="dir/", props="name,size")]
        expect(it == ["dir/b.bin", "dir/c d+e?.txt"], f"iter {it}")
        e = next(
            iter(bck.list_objects_iter(prefix="a.txt", props="name,size,checksum,atime,version"))
        )
        return f"entry a.txt: size={e.size} flags={e.flags} cksum={e.checksum!r} atime={e.atime!r} version={e.version!r}"

    @check("archive: put .tar, list_archive (ARCH_DIR)")
    def _():
        bck.object("shards/s.tar").get_writer().put_content(make_tar(members))
        bck.object("shards/s.tar.idx").get_writer().put_content(b"idx")
        entries = bck.list_archive("shards/s.tar")
        names = [e.name for e in entries]
        flags = {e.name: e.flags for e in entries}
        sizes = {e.name: e.size for e in entries}
        full = bck.list_objects(
            prefix="shards/", props="name,size", flags=[ListObjectFlag.ARCH_DIR]
        )
        WIRE["arch_dir_listing"] = {"entries": [(e.name, e.size, e.flags) for e in full.entries]}
        expect("shards/s.tar/0001.jpg" in names, f"names {names}")
        return f"names={names} flags={flags} sizes={sizes}"

    @check("archive: GET archpath / archregx")
    def _():
        got = (
            bck.object("shards/s.tar")
            .get_reader(archive_config=ArchiveConfig(archpath="img/0002.jpg"))
            .read_all()
        )
        expect(got == members["img/0002.jpg"], "archpath bytes")
        tar_bytes = (
            bck.object("shards/s.tar")
            .get_reader(archive_config=ArchiveConfig(regex="0001", mode=ArchiveMode.WDSKEY))
            .read_all()
        )
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as t:
            got_names = t.getnames()
        expect(sorted(got_names) == ["0001.cls", "0001.jpg"], f"wdskey {got_names}")
        raw(
            "get_archpath",
            "GET",
            f"/v1/objects/{bname}/shards/s.tar?provider=ais&archpath=0001.jpg&archregx=",
        )
        raw(
            "get_archpath_missing",
            "GET",
            f"/v1/objects/{bname}/shards/s.tar?provider=ais&archpath=zzz.jpg&archregx=",
        )
        raw(
            "get_archpath_dot",
            "GET",
            f"/v1/objects/{bname}/shards/s.tar?provider=ais&archpath=dot.txt&archregx=",
        )
        raw(
            "get_archregx_nomatch",
            "GET",
            f"/v1/objects/{bname}/shards/s.tar?provider=ais&archmode=prefix&archpath=&archregx=zzz",
        )
        raw(
            "get_archpath_and_mode",
            "GET",
            f"/v1/objects/{bname}/shards/s.tar?provider=ais&archmode=prefix&archpath=0001.jpg&archregx=0",
        )
        raw(
            "get_archpath_range",
            "GET",
            f"/v1/objects/{bname}/shards/s.tar?provider=ais&archpath=0001.jpg",
            headers={"Range": "bytes=0-3"},
        )
        return f"wdskey members={got_names}"

    def batch_items():
        return ["a.txt", "dir/b.bin", "empty"]

    @check("getbatch: streaming (default)")
    def _():
        res = list(client.batch(batch_items(), bucket=bck).get())
        expect(
            [o.obj_name for o, _ in res] == batch_items(), f"order {[o.obj_name for o, _ in res]}"
        )
        expect([d for _, d in res] == [objs[n] for n in batch_items()], "bytes")

    @check("getbatch: multipart (streaming_get=False)")
    def _():
        res = list(client.batch(batch_items(), bucket=bck, streaming_get=False).get())
        expect([d for _, d in res] == [objs[n] for n in batch_items()], "bytes")
        return f"out={[(o.obj_name, o.size, o.err_msg) for o, _ in res]}"

    @check("getbatch: archpath, range, opaque, missing with cont_on_err")
    def _():
        b = client.batch(bucket=bck, streaming_get=False)
        b.add("shards/s.tar", archpath="img/0002.jpg")
        b.add("dir/b.bin", start=5, length=10, opaque=b"\x01\x02")
        b.add("missing-obj")
        b.add("a.txt")
        res = list(b.get())
        expect(res[0][1] == members["img/0002.jpg"], "archpath item")
        expect(res[1][1] == objs["dir/b.bin"][5:15], f"range item {res[1][1]!r}")
        expect(res[1][0].opaque == b"\x01\x02", f"opaque {res[1][0].opaque!r}")
        expect(res[2][1] == b"" and res[2][0].err_msg, f"missing item {res[2][0]}")
        expect(res[3][1] == b"hello", "last item")
        # the same, streamed
        b = client.batch(bucket=bck)
        b.add("shards/s.tar", archpath="img/0002.jpg")
        b.add("missing-obj")
        b.add("a.txt")
        sres = list(b.get())
        expect(sres[0][1] == members["img/0002.jpg"] and sres[2][1] == b"hello", "streamed")
        expect(sres[1][0].err_msg, "streamed missing has no err_msg")
        return f"multipart missing err_msg={res[2][0].err_msg!r}"

    @check("getbatch: raw wire")
    def _():
        body = {
            "in": [
                {"objname": "a.txt", "bucket": bname, "provider": "ais"},
                {"objname": "missing-obj", "bucket": bname, "provider": "ais"},
            ],
            "mime": ".tar",
            "coer": True,
            "onob": False,
            "strm": True,
        }
        r = raw("moss_stream", "GET", f"/v1/ml/moss/{bname}?provider=ais", json=body)
        with tarfile.open(fileobj=io.BytesIO(r.content)) as t:
            WIRE["moss_stream"]["tar_members"] = [(m.name, m.size) for m in t.getmembers()]
        raw(
            "moss_stream_noredirect",
            "GET",
            f"/v1/ml/moss/{bname}?provider=ais",
            json=body,
            allow_redirects=False,
        )
        body_mp = dict(body, strm=False)
        r = raw("moss_multipart", "GET", f"/v1/ml/moss/{bname}?provider=ais", json=body_mp)
        WIRE["moss_multipart"]["body"] = r.content[:600].decode("latin-1")
        body_strict = dict(body, coer=False, strm=False)
        raw(
            "moss_multipart_strict_missing",
            "GET",
            f"/v1/ml/moss/{bname}?provider=ais",
            json=body_strict,
        )
        body_strict_s = dict(body, coer=False, strm=True)
        r = raw(
            "moss_stream_strict_missing",
            "GET",
            f"/v1/ml/moss/{bname}?provider=ais",
            json=body_strict_s,
        )
        WIRE["moss_stream_strict_missing"]["body_len"] = len(r.content)
        raw("moss_nobucket_path", "GET", "/v1/ml/moss", json=body)
        raw("moss_bad_json", "GET", f"/v1/ml/moss/{bname}?provider=ais", data=b"{not json")

    @check("object: delete, bucket: delete")
    def _():
        bck.object("a.txt").delete()
        expect("a.txt" not in [e.name for e in bck.list_all_objects()], "a.txt still listed")
        raw(
            "bucket_delete_missing",
            "DELETE",
            "/v1/buckets/no-such-bucket-xyz?provider=ais",
            json={"action": "destroy-bck", "name": "", "value": None},
        )
        bck.delete()
        try:
            bck.delete()
            raise AssertionError("no error")
        except ErrBckNotFound:
            pass

    ok = True
    for name, passed, detail in RESULTS:
        ok &= passed
        print(f"{'PASS' if passed else 'FAIL'}  {name}" + (f"  [{detail}]" if detail else ""))
    out = os.environ.get("SMOKE_WIRE_OUT")
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(WIRE, fh, indent=1, ensure_ascii=False)
        print(f"wire details: {out}")
    elif VERBOSE:
        print(json.dumps(WIRE, indent=1, ensure_ascii=False))
    n_fail = sum(not p for _, p, _ in RESULTS)
    print(f"{len(RESULTS) - n_fail} passed, {n_fail} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    t0 = time.time()
    rc = main()
    print(f"smoke: {time.time() - t0:.1f}s", file=sys.stderr)
    sys.exit(rc)
