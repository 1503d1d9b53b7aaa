"""Differential test: the same scenario on a real AIStore and on the emulator, compared.

Each scenario drives one side (the SDK and plain HTTP) and returns observations: status
codes, the headers the SDK reads, listing entries and tokens, archive members, GetBatch
entries, the exception classes the SDK raises. ``test_same_behaviour[<scenario>]`` runs
it on the live cluster (``--ais-live=URL``), then on an in-process emulator, and requires
equal observations, except for the fields in ``EXPECTED_DEVIATIONS``: those must still
differ exactly as recorded there, so a fix on either side is pointed out.

    .venv/bin/python -m pytest tests/parity -q --ais-live=http://127.0.0.1:51180

Part of the live tier: outside live mode the module is skipped. What legitimately
differs between two clusters is normalised in ``_parity`` (its docstring lists each
rule); error message wording is not compared beyond what the SDK reads from it.
Scenarios that show a known deviation use the smallest data that shows it, so that the
table below stays readable; ``docs/parity.md`` renders it (``make docs``).
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import sys
import tarfile
import zipfile
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from urllib.parse import quote

import pytest
from aistore.sdk.archive_config import ArchiveConfig, ArchiveMode
from aistore.sdk.list_object_flag import ListObjectFlag


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
PRESENT = kit.PRESENT

pytestmark = pytest.mark.usefixtures("live_endpoint")  # skipped unless in live mode

# -- the corpus -----------------------------------------------------------------------------

_MTIME = 1_700_000_000


def _tar(members, dirs=()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, _MTIME
            tf.addfile(info)
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, _MTIME
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _tgz(members) -> bytes:
    return gzip.compress(_tar(members), mtime=0)


def _zip(members) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2023, 11, 14, 22, 13, 20))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def _blob(seed: str, size: int) -> bytes:
    out = bytearray()
    while len(out) < size:
        out += seed.encode() + len(out).to_bytes(4, "big")
    return bytes(out[:size])


WDS = [("0001.jpg", b"jpeg-1" * 5), ("0001.cls", b"1"), ("0002.jpg", b"jpeg-2" * 6),
       ("0002.cls", b"2"), ("0003.jpg", b"jpeg-3" * 7), ("0003.json", b'{"k":3}')]
NESTED = [("a.txt", b"member A"), ("sub/b.txt", b"member BB"), ("sub/deep/c.bin", b"C" * 300)]

CORPUS = {
    "a.txt": b"alpha",
    "big.bin": _blob("big", 3000),
    "empty.bin": b"",
    "img/0001.jpg": _blob("i1", 101),
    "img/0002.jpg": _blob("i2", 202),
    "img/0003.jpg": _blob("i3", 303),
    "img/sub/deep.bin": _blob("deep", 44),
    "meta/x.json": b'{"x": 1}',
    "shards/dot.tar": _tar([("./a.jpg", b"dot-a"), ("./b/c.txt", b"dot-c")]),
    "shards/nested.tar": _tar(NESTED, dirs=["sub/", "sub/deep/"]),
    "shards/nested.tgz": _tgz(NESTED),
    "shards/nested.tar.gz": _tgz(NESTED),
    "shards/nested.zip": _zip(NESTED),
    "shards/wds.tar": _tar(WDS),
    "shards/wds.tgz": _tgz(WDS),
    "unicode/\u00e4 \u00f6+?.txt": "\u00fcnicode".encode(),
    "z-last": b"omega",
}
CORPUS_CUSTOM_MD = {"meta/x.json": {"owner": "team-a", "kind": "json"}}

# -- the expected deviations ---------------------------------------------------------------

# (scenario, {field: (live value, emulator value)}, kind, reason). ``kind``: "bug" (the
# emulator should change; then delete the entry), "deliberate" (documented in the
# emulator's docstrings), "ais-quirk" (AIS v1.5.0 misbehaves; the emulator does the
# intended thing). A fix on either side fails the test and names the entry to update.
EXPECTED_DEVIATIONS = (
    # -- objects: GET, HEAD, ranges ------------------------------------------------------
    # -- list objects --------------------------------------------------------------------
    Deviation("list/arch-dir-unreadable-shard",
              {"arch-dir.names": (["a.tar", "a.tar/x", "b.tar"],
                                  ["a.tar", "a.tar/x", "b.tar", "c.txt", "d.tar", "d.tar/y"]),
               "arch-dir.entries": ({"a.tar": {"f": 576, "s": 10240},
                                     "a.tar/x": {"f": 192, "s": 1},
                                     "b.tar": {"f": 64, "s": 680}},
                                    {"a.tar": {"f": 576, "s": 10240},
                                     "a.tar/x": {"f": 192, "s": 1},
                                     "b.tar": {"f": 64, "s": 680},
                                     "c.txt": {"f": 64, "s": 1},
                                     "d.tar": {"f": 576, "s": 10240},
                                     "d.tar/y": {"f": 192, "s": 2}})},
              "ais-quirk", "an ARCH_DIR listing on AIS ends silently (empty token) after a "
                           "shard it cannot read, losing every later object; the emulator "
                           "lists that shard as a plain object and goes on"),
    Deviation("list-pages/arch-dir",
              {"paging": ({"pages": 8, "lost": ["shards/nested.tar.gz/a.txt",
                                                "shards/nested.tar.gz/sub/b.txt",
                                                "shards/nested.tar.gz/sub/deep/c.bin"],
                           "repeated": [], "extra": [], "total": 33},
                          {"pages": 9, "lost": [], "repeated": [], "extra": [], "total": 33})},
              "ais-quirk", "paged ARCH_DIR listings on AIS lose the files of a shard whose "
                           "name sorts before an earlier shard's files (s.tar.gz after "
                           "s.tar) at a page boundary; the emulator's pages add up to the "
                           "one-page listing"),
    Deviation("list-pages/arch-dir-1",
              {"paging": ({"pages": 13, "lost": ["shards/nested.tar.gz",
                                                 "shards/nested.tar.gz/a.txt",
                                                 "shards/nested.tar.gz/sub/b.txt",
                                                 "shards/nested.tar.gz/sub/deep/c.bin"],
                           "repeated": [], "extra": [], "total": 16},
                          {"pages": 17, "lost": [], "repeated": [], "extra": [], "total": 16})},
              "ais-quirk", "with one entry per page, an ARCH_DIR listing on AIS skips the "
                           "shard s.tar.gz and its files after s.tar; the emulator does not"),
    # -- GetBatch ------------------------------------------------------------------------
    Deviation("batch-wire/stream-bad-range",
              {"status": (200, 400), "tcode": (None, "ErrRangeNotSatisfiable"),
               "content_type": ("application/x-tar", "application/json"),
               "archive": ([], None), "sdk_exception": (None, "AISError")},
              "deliberate", "streaming GetBatch with an item range beyond the object: AIS "
                            "has already answered 200 and sends an empty tar; the emulator "
                            "resolves every item first and fails up front with the 400 "
                            "(ErrRangeNotSatisfiable) that AIS sends without streaming"),
    # -- bucket and object lifecycle -------------------------------------------------------
    Deviation("lifecycle/bucket-name/dotdot", {"status": (400, 501)},
              "deliberate", "the client collapses /v1/buckets/.. to /v1/, which AIS answers "
                            "400 (invalid request URI) and the emulator, as every unknown "
                            "route, 501 naming the nearest routes"),
    Deviation("lifecycle/put-checksum", {"bad.status": (500, 400)},
              "deliberate", "a PUT whose body does not match Ais-Checksum-Value is a 500 on "
                            "AIS (which the SDK retries for about 90 s); the emulator "
                            "answers client mistakes with 4xx"),
)

# -- scenarios ------------------------------------------------------------------------------

SCENARIOS: dict = {}


def scenario(name: str):
    """Register ``fn(side, corpus_bucket) -> observations`` under ``name``."""

    def deco(fn):
        if name in SCENARIOS:
            raise ValueError(f"duplicate scenario {name!r}")
        SCENARIOS[name] = fn
        return fn

    return deco


def _get(side, bucket, obj, **kw):
    return side.request("GET", side.obj_path(bucket, obj), **kw)


def _head(side, bucket, obj, **kw):
    return side.request("HEAD", side.obj_path(bucket, obj), **kw)


# .. whole-object GET and HEAD ..............................................................

for _obj in ("a.txt", "big.bin", "empty.bin", "unicode/\u00e4 \u00f6+?.txt", "meta/x.json"):
    def _whole(side, corpus, _obj=_obj):
        out = kit.response_obs(_get(side, corpus, _obj))
        reader = side.client.bucket(corpus).object(_obj).get_reader()
        out.update(kit.sdk_obs(lambda: kit.sha(reader.read_all()), "sdk.read"))
        attrs = reader.attributes
        out["sdk.attrs"] = {"size": attrs.size, "checksum_type": attrs.checksum_type,
                            "checksum_value": attrs.checksum_value, "version": attrs.obj_version,
                            "custom": attrs.custom_metadata, "present": attrs.present,
                            "atime_set": bool(attrs.access_time)}
        return out

    scenario(f"get/{_obj}")(_whole)

HEAD_PROPS = ("", "name,size", "checksum,atime,version,copies,custom,location", "name",
              "size", "version", "checksum", "atime", "copies", "custom", "location",
              "last-modified", "etag", "ec", "chunked")
for _props in HEAD_PROPS:
    def _head_props(side, corpus, _props=_props):
        params = {"props": _props} if _props else {}
        return kit.response_obs(_head(side, corpus, "meta/x.json", params=params))

    scenario(f"head/props={_props or '(none)'}")(_head_props)


@scenario("head/custom-md-spelling")
def _custom_md_raw(side, corpus):
    """The raw Ais-Custom-Md header (pairs sorted: AIS writes them in Go map order)."""
    r = _head(side, corpus, "meta/x.json", params={"props": "custom"})
    raw = r.headers.get("Ais-Custom-Md") or ""
    sep = ", " if ", " in raw else ","
    return {"spelling": sep.join(sorted(raw.split(sep)))}


@scenario("head/props=bogus")
def _head_bogus(side, corpus):
    return kit.response_obs(_head(side, corpus, "a.txt", params={"props": "name,bogus"}))


@scenario("head/sdk-props")
def _sdk_props(side, corpus):
    p = side.client.bucket(corpus).object("meta/x.json").props
    return {"props": {"bucket": p.bucket_name, "provider": p.bucket_provider, "name": p.name,
                      "size": p.size, "checksum": [p.checksum_type, p.checksum_value],
                      "version": p.obj_version, "custom": p.custom_metadata,
                      "present": p.present, "copies": p.mirror_copies,
                      "mirror_paths": len(p.mirror_paths), "location_set": bool(p.location),
                      "atime_set": bool(p.access_time)}}


@scenario("head/sdk-default")
def _sdk_head(side, corpus):
    a = side.client.bucket(corpus).object("big.bin").head()
    return {"attrs": {"size": a.size, "present": a.present, "version": a.obj_version,
                      "checksum": [a.checksum_type, a.checksum_value],
                      "name": a.name, "bucket": a.bucket_name}}


@scenario("get/direct-from-target")
def _direct(side, corpus):
    obj = side.client.bucket(corpus).object("img/0003.jpg")
    return kit.sdk_obs(lambda: kit.sha(obj.get_reader(direct=True).read_all()), "sdk.direct")


@scenario("get/plain-url")
def _plain_url(side, corpus):
    """``Object.get_url()`` fetched with no SDK headers at all, as webdataset or curl do."""
    url = side.client.bucket(corpus).object("meta/x.json").get_url()
    r = side.http.get(url, timeout=30)
    return kit.response_obs(r, body="bytes", skip=("Ais-Atime",))


# .. cluster .................................................................................


def _shape(value, depth: int = 0):
    """The key structure of a JSON value (dict keys, recursively), not its values."""
    if isinstance(value, dict) and depth < 3:
        return {k: _shape(v, depth + 1) for k, v in sorted(value.items())}
    return type(value).__name__


@scenario("cluster/basics")
def _cluster(side, corpus):
    cluster = side.client.cluster()
    out = kit.sdk_obs(lambda: cluster.is_ready(), "sdk.is_ready")
    out.update(kit.sdk_obs(lambda: bool(cluster.get_uuid()), "sdk.uuid_set"))
    out.update(kit.sdk_obs(lambda: (lambda m: [len(m.pmap), len(m.tmap),
                                               m.proxy_si.daemon_type])(cluster.get_info()),
                           "sdk.smap"))
    out.update(kit.sdk_obs(lambda: corpus in [b.name for b in cluster.list_buckets()],
                           "sdk.list_buckets"))
    out.update(kit.response_obs(side.request("GET", "/v1/health"), prefix="health."))
    out.update(kit.response_obs(side.request("GET", "/v1/health", params={"prr": "true"}),
                                prefix="health-prr."))
    smap = side.request("GET", "/v1/daemon", params={"what": "smap"}).json()
    snode = next(iter(smap["tmap"].values()))
    out["smap.keys"] = sorted(smap)
    out["smap.snode.keys"] = sorted(snode)
    out["smap.net.keys"] = sorted(snode["public_net"])
    out["smap.types"] = [type(smap.get(k)).__name__ for k in ("version", "uuid", "creation_time")]
    return out


@scenario("bucket/props")
def _bucket_props(side, corpus):
    r = side.request("HEAD", side.bck_path(corpus))
    props = json.loads(r.headers.get("Ais-Bucket-Props") or "{}")
    out = {"keys": sorted(props)}
    # mirror, ec and lru defaults come from the cluster's configuration: not compared
    for section in ("checksum", "versioning", "write_policy"):
        out[section] = props.get(section)
    out["provider"] = props.get("provider")
    out["types"] = {k: type(props.get(k)).__name__ for k in ("created", "bid")}
    return out


# .. ranges ...............................................................................

RANGES = {
    "middle": "bytes=10-19",
    "first-byte": "bytes=0-0",
    "open-end": "bytes=2990-",
    "suffix": "bytes=-7",
    "whole": "bytes=0-2999",
    "clamped-end": "bytes=2990-5000",
    "suffix-longer-than-object": "bytes=-5000",
    "start-at-size": "bytes=3000-",
    "start-beyond-size": "bytes=4000-4010",
    "reversed": "bytes=20-10",
    "garbage": "bytes=abc",
    "no-unit": "10-20",
    "multi-range": "bytes=0-1,5-6",
}
RANGE_CHECKSUM = ("Ais-Checksum-Type", "Ais-Checksum-Value")  # see range/checksum-headers
for _rname, _rng in RANGES.items():
    def _range(side, corpus, _rng=_rng):
        return kit.response_obs(_get(side, corpus, "big.bin", headers={"Range": _rng}),
                                skip=RANGE_CHECKSUM)

    scenario(f"range/{_rname}")(_range)


@scenario("range/checksum-headers")
def _range_checksum(side, corpus):
    r = _get(side, corpus, "big.bin", headers={"Range": "bytes=10-19"})
    return {name: r.headers.get(name) for name in RANGE_CHECKSUM}


@scenario("range/empty-object")
def _range_empty(side, corpus):
    return kit.response_obs(_get(side, corpus, "empty.bin", headers={"Range": "bytes=0-0"}))


@scenario("range/sdk")
def _range_sdk(side, corpus):
    obj = side.client.bucket(corpus).object("big.bin")
    out = kit.sdk_obs(lambda: kit.sha(obj.get_reader(byte_range="bytes=100-199").read_all()),
                      "sdk.ok")
    out.update(kit.sdk_obs(lambda: obj.get_reader(byte_range="bytes=5000-").read_all(),
                           "sdk.unsatisfiable"))
    return out


# .. missing things and the SDK's exception classes .........................................


@scenario("missing/object")
def _missing_object(side, corpus):
    obj = side.client.bucket(corpus).object("no/such/object")
    out = kit.response_obs(_get(side, corpus, "no/such/object"), prefix="get.")
    out.update(kit.response_obs(_head(side, corpus, "no/such/object"), prefix="head."))
    out.update(kit.response_obs(side.request("DELETE", side.obj_path(corpus, "no/such/object")),
                                prefix="delete."))
    out.update(kit.sdk_obs(lambda: obj.get_reader().read_all(), "sdk.get"))
    out.update(kit.sdk_obs(lambda: obj.head(), "sdk.head"))
    out.update(kit.sdk_obs(lambda: obj.delete(), "sdk.delete"))
    return out


@scenario("missing/bucket")
def _missing_bucket(side, corpus):
    name = corpus + "-absent"
    bck = side.client.bucket(name)
    out = kit.response_obs(_get(side, name, "a.txt"), prefix="get.")
    out.update(kit.response_obs(_head(side, name, "a.txt"), prefix="head."))
    out.update(kit.response_obs(side.request("HEAD", side.bck_path(name)), prefix="head-bck."))
    out.update(kit.sdk_obs(lambda: bck.object("a.txt").get_reader().read_all(), "sdk.get"))
    out.update(kit.sdk_obs(lambda: bck.head(), "sdk.head-bck"))
    out.update(kit.sdk_obs(lambda: bck.delete(), "sdk.delete-bck"))
    out.update(kit.sdk_obs(lambda: bck.delete(missing_ok=True) and None, "sdk.delete-missing-ok"))
    out.update(kit.sdk_obs(lambda: bck.list_all_objects(), "sdk.list"))
    out.update(kit.sdk_obs(lambda: bck.object("x").get_writer().put_content(b"x") and None,
                           "sdk.put"))
    return out


# .. list objects (raw msgpack) ..............................................................

LISTINGS = {
    "default": {},
    "name-only": {"flags": kit.LS_NAME_ONLY, "props": "name"},
    "name-size": {"flags": kit.LS_NAME_SIZE, "props": "name,size"},
    "props-name": {"props": "name"},
    "props-name-size": {"props": "name,size"},
    "cached": {"flags": kit.LS_CACHED},
    "cached-props": {"flags": kit.LS_CACHED, "props": "name,size,checksum,version"},
    "props-all": {"props": "name,size,version,checksum,atime,location,copies,cached,status,ec",
                  "prefix": "img/"},
    "props-unknown": {"props": "name,bogus"},
    "prefix": {"prefix": "img/"},
    "prefix-partial-name": {"prefix": "img/000"},
    "prefix-nothing": {"prefix": "nothing-here/"},
    "start-after": {"start_after": "img/0002.jpg"},
    "start-after-prefix": {"start_after": "img/0001.jpg", "prefix": "img/"},
    "start-after-last": {"start_after": "z-last"},
    "arch-dir": {"flags": kit.LS_ARCH_DIR},
    "arch-dir-prefix": {"flags": kit.LS_ARCH_DIR, "prefix": "shards/"},
    "arch-dir-one-shard": {"flags": kit.LS_ARCH_DIR, "prefix": "shards/nested.tgz"},
    "arch-dir-inside-shard": {"flags": kit.LS_ARCH_DIR, "prefix": "shards/nested.tar/"},
    "arch-dir-name-only": {"flags": kit.LS_ARCH_DIR | kit.LS_NAME_ONLY, "props": "name",
                           "prefix": "shards/dot.tar"},
    "no-recursion": {"flags": kit.LS_NO_RECURSION},
    "no-recursion-prefix-slash": {"flags": kit.LS_NO_RECURSION, "prefix": "img/"},
    "no-recursion-prefix-dirname": {"flags": kit.LS_NO_RECURSION, "prefix": "img"},
    "no-recursion-prefix-partial": {"flags": kit.LS_NO_RECURSION, "prefix": "img/000"},
    "no-recursion-prefix-object": {"flags": kit.LS_NO_RECURSION, "prefix": "img/0001.jpg"},
    "no-recursion-prefix-partial-top": {"flags": kit.LS_NO_RECURSION, "prefix": "a."},
    "no-recursion-prefix-partial-dir": {"flags": kit.LS_NO_RECURSION, "prefix": "im"},
    "no-recursion-prefix-subdir": {"flags": kit.LS_NO_RECURSION, "prefix": "img/sub"},
    "no-recursion-prefix-partial-subdir": {"flags": kit.LS_NO_RECURSION, "prefix": "img/s"},
    "no-recursion-no-dirs": {"flags": kit.LS_NO_RECURSION | kit.LS_NO_DIRS},
    "no-recursion-pages": {"flags": kit.LS_NO_RECURSION, "pagesize": 3},
    "pages-of-2": {"pagesize": 2},
    "pages-of-3-prefix": {"pagesize": 3, "prefix": "img/"},
    "pages-exact-fit": {"pagesize": 4, "prefix": "img/"},
    "pages-of-1-start-after": {"pagesize": 1, "start_after": "shards/wds.tar"},
}
for _lname, _value in LISTINGS.items():
    def _listing(side, corpus, _value=_value):
        return kit.listing_obs(side, corpus, **_value)

    scenario(f"list/{_lname}")(_listing)


PAGINGS = {
    "plain": (3, {}),
    "plain-prefix": (2, {"prefix": "img/"}),
    "arch-dir": (4, {"flags": kit.LS_ARCH_DIR, "prefix": "shards/", "props": "name"}),
    "arch-dir-1": (1, {"flags": kit.LS_ARCH_DIR, "prefix": "shards/nested", "props": "name"}),
    "no-recursion": (2, {"flags": kit.LS_NO_RECURSION, "props": "name"}),
}
for _pname, (_size, _value) in PAGINGS.items():
    def _paging(side, corpus, _size=_size, _value=_value):
        return {"paging": kit.paging_obs(side, corpus, _size, **_value)}

    scenario(f"list-pages/{_pname}")(_paging)


@scenario("list/arch-dir-unreadable-shard")
def _list_corrupt_shard(side, corpus):
    name = f"{corpus}-ushard"
    side.bucket(name)
    side.put(name, {"a.tar": _tar([("x", b"x")]), "b.tar": b"not a tar archive" * 40,
                    "c.txt": b"c", "d.tar": _tar([("y", b"yy")])})
    out = kit.listing_obs(side, name, field_prefix="arch-dir.", flags=kit.LS_ARCH_DIR,
                          props="name,size")
    out.update(kit.listing_obs(side, name, field_prefix="plain.", props="name,size"))
    return out


@scenario("archive/unreadable")
def _unreadable_archive(side, corpus):
    name = f"{corpus}-bad-arch"
    side.bucket(name)
    side.put(name, {"b.tar": b"not a tar archive" * 40, "c.zip": b"PK not a zip" * 40})
    out = {}
    for obj in ("b.tar", "c.zip"):
        out.update(kit.response_obs(_get(side, name, obj, params={"archpath": "x"}),
                                    prefix=f"{obj}.archpath."))
    out.update(kit.response_obs(_get(side, name, "b.tar",
                                     params={"archregx": "x", "archmode": "prefix"}),
                                prefix="b.tar.archregx."))
    return out


@scenario("list/json-reply")
def _list_json(side, corpus):
    r, body = kit.list_page(side, corpus, accept_msgpack=False, prefix="img/")
    out = {"status": r.status_code, "content_type": r.headers.get("Content-Type")}
    if body is not None:
        out["keys"] = sorted(body)
        out["entries"] = body.get("entries")
        out["token"] = body.get("continuation_token")
    return out


@scenario("list/bad-token")
def _list_bad_token(side, corpus):
    r, body = kit.list_page(side, corpus, continuation_token="zzzz-after-everything")
    return {"status": r.status_code, "entries": (body or {}).get("Entries") or [],
            "token": (body or {}).get("ContinuationToken")}


# .. list objects through the SDK ...........................................................


def _entries(entries):
    return [[e.name, e.size, e.flags, bool(e.checksum), e.version] for e in entries]


SDK_LISTINGS = {
    "default": {},
    "prefix-page": {"prefix": "img/", "page_size": 2},
    "arch-dir": {"flags": [ListObjectFlag.ARCH_DIR], "prefix": "shards/"},
    "no-recursion": {"flags": [ListObjectFlag.NO_RECURSION], "prefix": "img/"},
    "name-only": {"flags": [ListObjectFlag.NAME_ONLY], "props": "name"},
    "cached": {"flags": [ListObjectFlag.CACHED]},
    "start-after": {"start_after": "meta/x.json"},
}
for _sname, _kw in SDK_LISTINGS.items():
    def _sdk_listing(side, corpus, _kw=_kw):
        bck = side.client.bucket(corpus)
        out = kit.sdk_obs(lambda: _entries(bck.list_all_objects(**_kw)), "sdk.all")
        out.update(kit.sdk_obs(lambda: _entries(bck.list_objects_iter(**_kw)), "sdk.iter"))
        first = {k: v for k, v in _kw.items() if k != "page_size"}
        out.update(kit.sdk_obs(
            lambda: (lambda p: [_entries(p.entries), bool(p.continuation_token)])(
                bck.list_objects(page_size=3, **first)), "sdk.page"))
        return out

    scenario(f"sdk-list/{_sname}")(_sdk_listing)


@scenario("sdk-list/list-archive")
def _sdk_list_archive(side, corpus):
    bck = side.client.bucket(corpus)
    out = {}
    for shard in ("shards/nested.tar", "shards/nested.zip", "shards/dot.tar"):
        out.update(kit.sdk_obs(lambda shard=shard: _entries(bck.list_archive(shard)),
                               f"sdk.{shard}"))
    return out


# .. archives ................................................................................

ARCHPATHS = {
    "tar": ("shards/nested.tar", "sub/b.txt"),
    "tar-deep": ("shards/nested.tar", "sub/deep/c.bin"),
    "tgz": ("shards/nested.tgz", "sub/deep/c.bin"),
    "tar.gz": ("shards/nested.tar.gz", "a.txt"),
    "zip": ("shards/nested.zip", "sub/b.txt"),
    "leading-slash": ("shards/nested.tar", "/a.txt"),
    "directory": ("shards/nested.tar", "sub/"),
    "missing-member": ("shards/nested.tar", "nope.txt"),
    "missing-member-zip": ("shards/nested.zip", "nope.txt"),
    "dot-stored-plain-asked": ("shards/dot.tar", "a.jpg"),
    "dot-stored-dot-asked": ("shards/dot.tar", "./a.jpg"),
    "unclean": ("shards/nested.tar", "sub/../a.txt"),
    "not-an-archive": ("a.txt", "x"),
    "missing-object": ("shards/absent.tar", "a.txt"),
}
for _aname, (_shard, _path) in ARCHPATHS.items():
    def _archpath(side, corpus, _shard=_shard, _path=_path):
        out = kit.response_obs(_get(side, corpus, _shard, params={"archpath": _path}))
        reader = side.client.bucket(corpus).object(_shard).get_reader(
            archive_config=ArchiveConfig(archpath=_path))
        out.update(kit.sdk_obs(lambda: kit.sha(reader.read_all()), "sdk"))
        return out

    scenario(f"archpath/{_aname}")(_archpath)


@scenario("archpath/with-range")
def _archpath_range(side, corpus):
    return kit.response_obs(_get(side, corpus, "shards/nested.tar",
                                 params={"archpath": "a.txt"}, headers={"Range": "bytes=0-2"}))


@scenario("archpath/with-archmode")
def _archpath_mode(side, corpus):
    return kit.response_obs(_get(side, corpus, "shards/wds.tar",
                                 params={"archpath": "0001.jpg", "archmode": "prefix",
                                         "archregx": "0001"}))


ARCHREGX = {
    "regexp": ("regexp", r"\.jpg$"),
    "regexp-anchored": ("regexp", r"^0002"),
    "prefix": ("prefix", "0001"),
    "suffix": ("suffix", ".cls"),
    "substr": ("substr", "00"),
    "wdskey": ("wdskey", "0002"),
    "wdskey-no-match": ("wdskey", "0009"),
    "empty-regx": ("prefix", ""),
    "no-match": ("substr", "nothing"),
}
for _fmt in ("tar", "tgz"):
    for _xname, (_mode, _regx) in ARCHREGX.items():
        def _archregx(side, corpus, _mode=_mode, _regx=_regx, _fmt=_fmt):
            shard = f"shards/wds.{_fmt}"
            out = kit.response_obs(_get(side, corpus, shard,
                                        params={"archregx": _regx, "archmode": _mode}),
                                   body="members")
            obj = side.client.bucket(corpus).object(shard)
            out.update(kit.sdk_obs(lambda: kit.archive_members(obj.get_reader(
                archive_config=ArchiveConfig(regex=_regx, mode=ArchiveMode(_mode))).read_all()),
                "sdk"))
            return out

        scenario(f"archregx/{_fmt}/{_xname}")(_archregx)


@scenario("archregx/nested-tar-substr")
def _archregx_nested(side, corpus):
    return kit.response_obs(_get(side, corpus, "shards/nested.tar",
                                 params={"archregx": "sub/", "archmode": "prefix"}),
                            body="members")


@scenario("archregx/without-archmode")
def _archregx_no_mode(side, corpus):
    return kit.response_obs(_get(side, corpus, "shards/wds.tar", params={"archregx": "0001"}))


@scenario("archregx/unknown-mode")
def _archregx_bad_mode(side, corpus):
    return kit.response_obs(_get(side, corpus, "shards/wds.tar",
                                 params={"archregx": "0001", "archmode": "glob"}))


@scenario("archregx/on-plain-object")
def _archregx_plain(side, corpus):
    return kit.response_obs(_get(side, corpus, "a.txt",
                                 params={"archregx": "a", "archmode": "prefix"}))


@scenario("archregx/with-range")
def _archregx_range(side, corpus):
    return kit.response_obs(_get(side, corpus, "shards/wds.tar",
                                 params={"archregx": "0001", "archmode": "prefix"},
                                 headers={"Range": "bytes=0-9"}))


# .. GetBatch ................................................................................


def _batch_obs(batch):
    got = []
    for out, data in batch.get():
        got.append({"name": out.obj_name, "archpath": out.archpath or "",
                    "bucket": out.bucket, "provider": out.provider, "size": out.size,
                    "len": len(data), "sha": kit.sha(data), "error": bool(out.err_msg),
                    "opaque": out.opaque.decode("latin-1") if out.opaque else None})
    return got


BATCHES = {
    "objects": {"items": [("img/0002.jpg", {}), ("a.txt", {}), ("img/0001.jpg", {})]},
    "same-twice": {"items": [("a.txt", {}), ("z-last", {}), ("a.txt", {})]},
    "archpaths": {"items": [("shards/nested.tar", {"archpath": "sub/b.txt"}),
                            ("big.bin", {}),
                            ("shards/nested.tgz", {"archpath": "a.txt"})]},
    "ranges": {"items": [("big.bin", {"start": 100, "length": 50}),
                         ("big.bin", {"start": 2990, "length": -1}),
                         ("big.bin", {"length": 7}),
                         ("shards/nested.tar", {"archpath": "a.txt", "start": 2, "length": 3})]},
    "opaque": {"items": [("a.txt", {"opaque": b"op-1"}), ("z-last", {})]},
    "empty-object": {"items": [("empty.bin", {}), ("a.txt", {})]},
    "coer-missing": {"items": [("a.txt", {}), ("does/not/exist", {}), ("z-last", {})],
                     "cont_on_err": True},
    "coer-missing-member": {"items": [("shards/nested.tar", {"archpath": "nope"}),
                                      ("a.txt", {})], "cont_on_err": True},
    "missing-no-coer": {"items": [("a.txt", {}), ("does/not/exist", {})]},
}
for _streaming in (True, False):
    for _fmt in (".tar", ".tgz", ".zip"):
        for _bname, _spec in BATCHES.items():
            if _bname == "missing-no-coer" and _streaming:
                continue  # AIS truncates the stream (see the conformance suite)

            def _batch(side, corpus, _spec=_spec, _streaming=_streaming, _fmt=_fmt):
                batch = side.client.batch(bucket=side.client.bucket(corpus),
                                          output_format=_fmt, streaming_get=_streaming,
                                          cont_on_err=_spec.get("cont_on_err", False))
                for obj, kw in _spec["items"]:
                    batch.add(obj, **kw)
                return kit.sdk_obs(lambda: _batch_obs(batch), "sdk")

            mode = "stream" if _streaming else "multipart"
            scenario(f"batch/{mode}/{_fmt[1:]}/{_bname}")(_batch)


def _moss(side, bucket, items, path_bucket=True, **opts):
    doc = {"in": items, "mime": ".tar", **opts}
    path = f"/v1/ml/moss/{bucket}" if path_bucket else "/v1/ml/moss"
    params = {"provider": "ais"} if path_bucket else {}
    return side.request("GET", path, params=params, json=doc)


def _multipart_obs(r) -> dict:
    ctype = r.headers.get("Content-Type", "")
    msg = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {ctype}\r\n\r\n".encode() + r.content)
    parts = list(msg.iter_parts()) if msg.is_multipart() else []
    out = {"content_type": ctype.split(";")[0], "parts": len(parts)}
    if parts:
        meta = json.loads(parts[0].get_payload(decode=True))
        out["meta.keys"] = sorted(meta)
        out["meta.out"] = [{k: (bool(v) if k == "err_msg" else v) for k, v in sorted(o.items())}
                           for o in meta.get("out") or []]
        out["meta.uuid_set"] = bool(meta.get("uuid"))
        out["part0.type"] = parts[0].get_content_type()
    if len(parts) > 1:
        out["archive"] = kit.archive_members(parts[1].get_payload(decode=True))
    return out


RAW_BATCHES = {
    "stream": ([{"objname": "a.txt"}, {"objname": "img/0001.jpg"}], {"strm": True}),
    "stream-onob": ([{"objname": "a.txt"}, {"objname": "shards/nested.tar", "archpath": "a.txt"}],
                    {"strm": True, "onob": True}),
    "stream-coer": ([{"objname": "a.txt"}, {"objname": "absent"},
                     {"objname": "shards/nested.tar", "archpath": "absent"}],
                    {"strm": True, "coer": True}),
    "multipart": ([{"objname": "a.txt"}, {"objname": "img/0001.jpg"}], {}),
    "multipart-coer": ([{"objname": "a.txt"}, {"objname": "absent"}], {"coer": True}),
    "multipart-no-coer": ([{"objname": "a.txt"}, {"objname": "absent"}], {}),
    "multipart-bad-range": ([{"objname": "a.txt", "start": 10, "length": 10}], {}),
    "stream-bad-range": ([{"objname": "a.txt", "start": 10, "length": 10}], {"strm": True}),
    "empty-in": ([], {"strm": True}),
    "unknown-mime": ([{"objname": "a.txt"}], {"strm": True, "mime": ".rar"}),
}
for _rbname, (_items, _opts) in RAW_BATCHES.items():
    def _raw_batch(side, corpus, _items=_items, _opts=_opts):
        r = _moss(side, corpus, _items, **_opts)
        out = kit.outcome_obs(r)
        if r.status_code >= 400:
            out[kit.INFO + "message"] = kit.error_message(r)
        elif _opts.get("strm"):
            out["archive"] = kit.archive_members(r.content)
        else:
            out.update(_multipart_obs(r))
        return out

    scenario(f"batch-wire/{_rbname}")(_raw_batch)


@scenario("batch-wire/missing-bucket")
def _raw_batch_no_bucket(side, corpus):
    out = kit.error_obs(_moss(side, corpus + "-absent", [{"objname": "a.txt"}], strm=True))
    items = [{"objname": "a.txt", "bucket": corpus + "-absent"}]
    out.update(kit.error_obs(_moss(side, corpus, items, coer=True, strm=True), "item."))
    return out


@scenario("batch-wire/no-default-bucket")
def _raw_batch_no_default(side, corpus):
    items = [{"objname": "a.txt", "bucket": corpus, "provider": "ais"},
             {"objname": "z-last", "bucket": corpus}]
    r = _moss(side, corpus, items, path_bucket=False, strm=True)
    if r.status_code >= 400:
        return kit.error_obs(r)
    return {"status": r.status_code, "archive": kit.archive_members(r.content)}


# .. bucket lifecycle (own buckets) ............................................................


@scenario("lifecycle/bucket")
def _bucket_lifecycle(side, corpus):
    name = f"{corpus}-lc"
    bck = side.client.bucket(name)
    side.owns(name)
    act = {"action": "create-bck", "name": "", "value": None}
    out = kit.response_obs(side.request("POST", side.bck_path(name), json=act), prefix="create.")
    out.update(kit.response_obs(side.request("POST", side.bck_path(name), json=act),
                                prefix="create-again."))
    out.update(kit.sdk_obs(lambda: bck.create() and None, "sdk.create-again"))
    out.update(kit.sdk_obs(lambda: bck.create(exist_ok=True) and None, "sdk.create-exist-ok"))
    head = side.request("HEAD", side.bck_path(name))
    out.update(kit.response_obs(head, prefix="head."))
    props = json.loads(head.headers.get("Ais-Bucket-Props") or "{}")
    out["head.props.checksum.type"] = props.get("checksum", {}).get("type")
    out["head.props.versioning.enabled"] = props.get("versioning", {}).get("enabled")
    out["head.props.provider"] = props.get("provider")
    out.update(kit.sdk_obs(lambda: sorted(b.name for b in side.client.cluster().list_buckets()
                                          if b.name == name), "sdk.list-buckets"))
    out.update(kit.sdk_obs(lambda: bck.list_all_objects(), "sdk.list-empty"))
    destroy = {"action": "destroy-bck", "name": "", "value": None}
    out.update(kit.response_obs(side.request("DELETE", side.bck_path(name), json=destroy),
                                prefix="destroy."))
    out.update(kit.response_obs(side.request("DELETE", side.bck_path(name), json=destroy),
                                prefix="destroy-again."))
    out.update(kit.sdk_obs(lambda: bck.delete(missing_ok=True) and None, "sdk.delete-missing-ok"))
    return out


@scenario("lifecycle/bucket-with-objects-destroyed")
def _bucket_destroy_full(side, corpus):
    name = f"{corpus}-full"
    bck = side.bucket(name)
    side.put(name, {"a": b"1", "d/b": b"22"})
    out = kit.sdk_obs(lambda: bck.delete() and None, "sdk.delete")
    out.update(kit.sdk_obs(lambda: bck.object("a").get_reader().read_all(), "sdk.get-after"))
    return out


INVALID_BUCKET_NAMES = {
    "space": "bad name",
    "at-sign": "bad@name",
    "hash": "bad#name",
    "colon": "bad:name",
    "dot": ".",
    "dotdot": "..",
    "long-64": "l" * 64,
    "long-65": "l" * 65,
    "long-200": "l" * 200,
}
for _iname, _bname in INVALID_BUCKET_NAMES.items():
    def _invalid_bucket(side, corpus, _bname=_bname):
        path = side.bck_path(quote(_bname, safe=""))
        r = side.request("POST", path, json={"action": "create-bck", "name": "", "value": None})
        out = kit.outcome_obs(r)
        out[kit.INFO + "message"] = kit.error_message(r) if r.status_code >= 400 else ""
        if r.status_code == 200:  # not rejected: remove it again
            side.request("DELETE", path, json={"action": "destroy-bck", "name": "", "value": None})
        return out

    scenario(f"lifecycle/bucket-name/{_iname}")(_invalid_bucket)


# .. object lifecycle (own buckets) ...........................................................


@scenario("lifecycle/object")
def _object_lifecycle(side, corpus):
    name = f"{corpus}-obj"
    side.bucket(name)
    obj = side.client.bucket(name).object("dir/o.bin")
    path = side.obj_path(name, "dir/o.bin")
    out = kit.response_obs(side.request("PUT", path, data=b"first"), prefix="put1.")
    out.update(kit.response_obs(side.request("GET", path), prefix="get1."))
    out.update(kit.response_obs(side.request("PUT", path, data=b"second!"), prefix="put2."))
    out.update(kit.response_obs(side.request("GET", path), prefix="get2."))
    out.update(kit.response_obs(side.request("HEAD", path, params={"props": "name,size,version"}),
                                prefix="head2."))
    out.update(kit.sdk_obs(lambda: obj.get_writer().put_content(b"third..") and None, "sdk.put3"))
    out.update(kit.sdk_obs(lambda: obj.props.version, "sdk.version3"))
    out.update(kit.response_obs(side.request("DELETE", path), prefix="delete."))
    out.update(kit.response_obs(side.request("GET", path), prefix="get-deleted."))
    out.update(kit.sdk_obs(lambda: obj.delete() and None, "sdk.delete-again"))
    out.update(kit.sdk_obs(lambda: [e.name for e in side.client.bucket(name).list_all_objects()],
                           "sdk.list-after"))
    return out


@scenario("lifecycle/object-sdk-roundtrip")
def _object_sdk(side, corpus):
    name = f"{corpus}-sdk"
    side.bucket(name)
    obj = side.client.bucket(name).object("x/y.bin")
    data = _blob("roundtrip", 70_000)
    out = kit.sdk_obs(lambda: dict(obj.get_writer().put_content(data).headers).keys()
                      >= {"Ais-Checksum-Type"}, "sdk.put")
    out.update(kit.sdk_obs(lambda: kit.sha(obj.get_reader().read_all()), "sdk.read"))
    out.update(kit.sdk_obs(lambda: kit.sha(b"".join(obj.get_reader(chunk_size=4096))),
                           "sdk.chunks"))
    out.update(kit.sdk_obs(lambda: kit.sha(obj.get_reader().raw().read()), "sdk.raw"))
    return out


@scenario("lifecycle/custom-metadata")
def _custom_md(side, corpus):
    name = f"{corpus}-md"
    side.bucket(name)
    obj = side.client.bucket(name).object("m")
    obj.get_writer().put_content(b"m")
    out = {}
    writer = obj.get_writer()
    out.update(kit.sdk_obs(lambda: writer.set_custom_props({"a": "1", "b": "2"}) and None,
                           "sdk.set"))
    out.update(kit.sdk_obs(lambda: obj.props.custom_metadata, "sdk.after-set"))
    out.update(kit.sdk_obs(lambda: writer.set_custom_props({"c": "3"}) and None, "sdk.merge"))
    out.update(kit.sdk_obs(lambda: obj.props.custom_metadata, "sdk.after-merge"))
    out.update(kit.sdk_obs(lambda: writer.set_custom_props({"d": "4"}, replace_existing=True)
                           and None, "sdk.replace"))
    out.update(kit.sdk_obs(lambda: obj.props.custom_metadata, "sdk.after-replace"))
    out.update(kit.response_obs(_get(side, name, "m"), prefix="get."))
    out["list.m"] = kit.list_all(side, name, props="name,custom")["entries"]["m"].get("m")
    out.update(kit.response_obs(side.request("PUT", side.obj_path(name, "n"), data=b"n",
                                             headers={"Ais-Custom-Md": "k1=v1,k2=v2"}),
                                prefix="put-with-md."))
    out.update(kit.sdk_obs(lambda: side.client.bucket(name).object("n").props.custom_metadata,
                           "sdk.put-with-md"))
    return out


INVALID_OBJECT_NAMES = {
    "dotdot": "../z",
    "dotdot-deep": "a/../../b",
    "trailing-slash": "dir/",
    "dot-only": ".",
    "dot-segment": "a/./b",
}
for _oname, _objname in INVALID_OBJECT_NAMES.items():
    def _invalid_object(side, corpus, _objname=_objname):
        name = f"{corpus}-bad"
        side.bucket(name)
        path = f"/v1/objects/{name}/{_objname}"
        out = kit.response_obs(side.request("PUT", path, data=b"x"), prefix="put.")
        out["list"] = kit.list_all(side, name, props="name")["names"]
        return out

    scenario(f"lifecycle/object-name/{_oname}")(_invalid_object)


@scenario("lifecycle/object-name/double-slash")
def _double_slash(side, corpus):
    name = f"{corpus}-dbl"
    side.bucket(name)
    out = kit.response_obs(side.request("PUT", side.obj_path(name, "x//y"), data=b"xy"),
                           prefix="put.")
    out.update(kit.response_obs(side.request("GET", side.obj_path(name, "x/y")), prefix="get."))
    out["list"] = kit.list_all(side, name, props="name")["names"]
    return out


@scenario("lifecycle/object-path-conflicts")
def _path_conflicts(side, corpus):
    name = f"{corpus}-cfl"
    side.bucket(name)
    out = kit.response_obs(side.request("PUT", side.obj_path(name, "a"), data=b"a"), prefix="a.")
    out.update(kit.response_obs(side.request("PUT", side.obj_path(name, "a/b"), data=b"b"),
                                prefix="a-slash-b."))
    out.update(kit.response_obs(side.request("PUT", side.obj_path(name, "d/e"), data=b"e"),
                                prefix="d-slash-e."))
    out.update(kit.response_obs(side.request("PUT", side.obj_path(name, "d"), data=b"d"),
                                prefix="d."))
    out["list"] = kit.list_all(side, name, props="name")["names"]
    return out


@scenario("lifecycle/put-checksum")
def _put_checksum(side, corpus):
    name = f"{corpus}-ck"
    side.bucket(name)
    path = side.obj_path(name, "c")
    good = {"Ais-Checksum-Type": "xxhash2", "Ais-Checksum-Value": "45ab6734b21e6968"}
    bad = {"Ais-Checksum-Type": "xxhash2", "Ais-Checksum-Value": "0000000000000000"}
    out = kit.response_obs(side.request("PUT", path, data=b"hello world", headers=good),
                           prefix="good.")
    out.update(kit.response_obs(side.request("PUT", path, data=b"hello world", headers=bad),
                                prefix="bad."))
    out.update(kit.response_obs(side.request("GET", path), prefix="get."))
    return out


@scenario("lifecycle/append-flush")
def _append(side, corpus):
    name = f"{corpus}-app"
    side.bucket(name)
    obj = side.client.bucket(name).object("log")
    w = obj.get_writer()
    out = {}

    def run():
        h = w.append_content(b"one,")
        h = w.append_content(b"two,", handle=h)
        w.append_content(b"", handle=h, flush=True)
        return kit.sha(obj.get_reader().read_all())

    out.update(kit.sdk_obs(run, "sdk.append"))
    out.update(kit.sdk_obs(lambda: obj.props.size, "sdk.size"))
    return out


@scenario("lifecycle/copy-object")
def _copy_object(side, corpus):
    name = f"{corpus}-cp"
    side.bucket(name)
    src = side.client.bucket(corpus).object("img/0002.jpg")
    dst = side.client.bucket(name).object("copied.jpg")
    out = kit.sdk_obs(lambda: src.copy(dst) and None, "sdk.copy")
    out.update(kit.sdk_obs(lambda: kit.sha(dst.get_reader().read_all()), "sdk.read"))
    missing = side.client.bucket(corpus).object("absent")
    out.update(kit.sdk_obs(lambda: missing.copy(dst) and None, "sdk.copy-missing"))
    return out


@scenario("lifecycle/multipart-upload")
def _mpu(side, corpus):
    name = f"{corpus}-mpu"
    side.bucket(name)
    obj = side.client.bucket(name).object("big")

    def run():
        mpu = obj.multipart_upload().create()
        mpu.add_part(b"a" * 5000).add_part(b"b" * 3000)
        mpu.complete()
        return kit.sha(obj.get_reader().read_all())

    return kit.sdk_obs(run, "sdk.mpu")


# -- the test -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_behaviour(name, sides, corpus):
    kit.run_scenario(name, SCENARIOS, sides, corpus, EXPECTED_DEVIATIONS)


def test_expected_deviations_name_scenarios():
    """Every table entry names a scenario that exists, and no field twice."""
    kit.validate_table(SCENARIOS, EXPECTED_DEVIATIONS)
