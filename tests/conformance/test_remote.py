"""Remote (aws) buckets backed by S3: listing, cold GET, presence, write-through, eviction.

The emulator serves ``aws`` buckets from moto's in-process S3 (``Emulator.attach_s3()``):
objects seeded with boto3 appear in ``client.bucket(name, provider="aws")`` with AIS's
remote-bucket semantics. Every test here runs on the in-process and the server transport;
none runs live, since the pinned cluster has no cloud backend.

moto's ``mock_aws`` must be entered before ``mock_ais`` (both patch ``requests``; the one
started last would take every request), which the autouse fixture below guarantees.
"""

from __future__ import annotations

import hashlib

import boto3
import pytest
from aistore.sdk.errors import AISError, ErrObjNotFound, ErrRemoteBckNotFound
from aistore.sdk.list_object_flag import ListObjectFlag
from moto import mock_aws

pytestmark = pytest.mark.ais_emulator_only(
    "needs an S3 backend; the live cluster is built without cloud backends")

SEED = {f"data/{i:03d}.bin": bytes([i]) * (i + 1) for i in range(7)}
SEED["top.txt"] = b"top level"
CREDS = {"region_name": "us-east-1", "aws_access_key_id": "k", "aws_secret_access_key": "s"}


@pytest.fixture(autouse=True)
def s3():
    """moto's S3, started before the AIS backend fixture (autouse fixtures come first)."""
    with mock_aws():
        yield boto3.session.Session().client("s3", **CREDS)


@pytest.fixture
def remote(ais_backend, s3, kit):
    """An S3 bucket seeded with SEED, served as an aws bucket; returns the SDK Bucket."""
    name = kit.unique_name("s3")
    s3.create_bucket(Bucket=name)
    for key, data in SEED.items():
        s3.put_object(Bucket=name, Key=key, Body=data)
    emu = ais_backend.emulator
    emu.attach_s3()
    yield ais_backend.client.bucket(name, provider="aws")
    emu.detach_backend("aws")


def names(entries) -> list[str]:
    return [e.name for e in entries]


def cached(bucket) -> list[str]:
    return names(bucket.list_all_objects(flags=[ListObjectFlag.CACHED]))


def wait_job(ais_backend, job_id: str):
    """``Job.wait`` as a client calls it (end-time kinds: polls what=status)."""
    return ais_backend.client.job(job_id).wait(timeout=5)


def succeeded(result) -> bool:
    return result.success and not result.error


# -- buckets ----------------------------------------------------------------------------


def test_remote_objects_are_listed(remote):
    entries = remote.list_all_objects()
    assert names(entries) == sorted(SEED)
    assert [e.size for e in entries] == [len(SEED[n]) for n in sorted(SEED)]
    assert not any(e.is_cached() for e in entries)


def present_buckets(wire) -> list[str]:
    """aws buckets in the cluster (presence=2, FltPresent), as the CLI lists them."""
    r = wire.get("/v1/buckets", params={"provider": "aws", "presence": "2"},
                 json=wire.act("list"))
    assert r.status_code == 200, r.text
    return [b["name"] for b in r.json()]


def test_list_buckets_shows_the_backend_buckets(remote, ais_backend, wire):
    listed = ais_backend.client.cluster().list_buckets(provider="aws")
    assert remote.name in [b.name for b in listed]
    assert all(b.provider == "aws" for b in listed)
    assert remote.name not in present_buckets(wire)
    everything = ais_backend.client.cluster().list_buckets(provider="")
    assert (remote.name, "aws") in [(b.name, b.provider) for b in everything]


def test_head_bucket_adds_it_to_the_cluster(remote, wire):
    props = remote.head()
    assert '"provider":"aws"' in props["Ais-Bucket-Props"]
    assert remote.name in present_buckets(wire)


def test_missing_remote_bucket(ais_backend, remote, kit, wire):
    name = kit.unique_name("nos3")
    with pytest.raises(ErrRemoteBckNotFound):
        ais_backend.client.bucket(name, provider="aws").list_all_objects()
    r = wire.get(wire.bck_path(name), params={"provider": "aws"},
                 json=wire.act("list", {"props": "name"}))
    assert r.status_code == 404
    assert r.json()["message"] == f'aws bucket "s3://{name}" does not exist'
    assert wire.head(wire.bck_path(name), params={"provider": "aws"}).status_code == 404


# -- cold GET and presence --------------------------------------------------------------


def test_cold_get_brings_the_object_in(remote):
    obj = remote.object("data/003.bin")
    before = obj.head()
    assert before.present is False
    assert before.size == 4
    assert obj.get_reader().read_all() == SEED["data/003.bin"]
    after = obj.props
    assert after.present is True
    md5 = hashlib.md5(SEED["data/003.bin"]).hexdigest()
    assert after.custom_metadata["source"] == "aws"
    assert after.custom_metadata["ETag"] == md5
    assert after.custom_metadata["md5"] == md5
    assert int(after.access_time) > 0
    assert cached(remote) == ["data/003.bin"]
    entry = {e.name: e for e in remote.list_all_objects()}["data/003.bin"]
    assert entry.is_cached() and entry.flags & 64


def test_head_of_a_not_cached_object_on_the_wire(remote, wire):
    path = wire.obj_path(remote.name, "top.txt")
    r = wire.head(path, params={"provider": "aws",
                                "props": "checksum,atime,version,copies,custom,location"})
    assert r.status_code == 200
    assert r.headers["Ais-Present"] == "false"
    assert r.headers["Content-Length"] == str(len(SEED["top.txt"]))
    for absent in ("Ais-Atime", "Ais-Location", "Ais-Mirror-Copies"):
        assert absent not in r.headers
    assert "source=aws" in r.headers["Ais-Custom-Md"]
    # presence=2 (FltPresent): only objects in the cluster
    r = wire.head(path, params={"provider": "aws", "props": "size", "presence": "2"})
    assert r.status_code == 404
    remote.object("top.txt").get_reader().read_all()
    r = wire.head(path, params={"provider": "aws", "props": "size", "presence": "2"})
    assert r.status_code == 200 and r.headers["Ais-Present"] == "true"


def test_list_entries_of_not_cached_objects_on_the_wire(remote, wire, kit):
    remote.object("top.txt").get_reader().read_all()
    r = wire.get(wire.bck_path(remote.name), params={"provider": "aws"},
                 headers={"Accept": "application/msgpack"},
                 json=wire.act("list", {"props": "name,size,checksum,atime,location",
                                        "flags": "0", "prefix": "", "uuid": "",
                                        "continuation_token": "", "pagesize": 0}))
    assert r.status_code == 200
    import msgpack

    entries = {e["n"]: e for e in msgpack.unpackb(r.content)["Entries"]}
    cold = entries["data/000.bin"]
    assert cold.get("f", 0) & 64 == 0
    assert cold["cs"] == hashlib.md5(SEED["data/000.bin"]).hexdigest()
    assert "a" not in cold and "t" not in cold
    warm = entries["top.txt"]
    assert warm["f"] & 64 and warm["a"] and warm["t"]


def test_missing_object_in_a_remote_bucket(remote):
    with pytest.raises(ErrObjNotFound):
        remote.object("no/such").get_reader().read_all()


# -- listing flags and pages ------------------------------------------------------------


def test_cached_and_not_cached_listings(remote):
    for name in ("data/001.bin", "top.txt"):
        remote.object(name).get_reader().read_all()
    assert cached(remote) == ["data/001.bin", "top.txt"]
    not_cached = names(remote.list_all_objects(flags=[ListObjectFlag.NOT_CACHED]))
    assert not_cached == sorted(set(SEED) - {"data/001.bin", "top.txt"})
    assert names(remote.list_all_objects()) == sorted(SEED)


def test_pages_and_tokens(remote):
    first = remote.list_objects(page_size=3)
    assert names(first.entries) == sorted(SEED)[:3]
    assert first.continuation_token
    seen, page = names(first.entries), first
    while page.continuation_token:
        page = remote.list_objects(page_size=3, uuid=page.uuid,
                                   continuation_token=page.continuation_token)
        seen += names(page.entries)
    assert seen == sorted(SEED)
    assert names(remote.list_objects_iter(page_size=2)) == sorted(SEED)
    assert names(remote.list_all_objects(prefix="data/00", page_size=4)) == \
        sorted(n for n in SEED if n.startswith("data/00"))


def test_no_recursion_lists_virtual_directories(remote):
    entries = remote.list_all_objects(flags=[ListObjectFlag.NO_RECURSION])
    assert [(e.name, bool(e.flags & 256)) for e in entries] == [("data/", True),
                                                                 ("top.txt", False)]


def test_start_after_is_not_supported_for_remote_buckets(remote, wire):
    r = wire.get(wire.bck_path(remote.name), params={"provider": "aws"},
                 json=wire.act("list", {"props": "name", "start_after": "data/"}))
    assert r.status_code == 400
    assert "start_after" in r.json()["message"]


# -- write-through ----------------------------------------------------------------------


def test_put_writes_through_and_is_cached(remote, s3):
    remote.object("new/obj").get_writer().put_content(b"written by ais")
    got = s3.get_object(Bucket=remote.name, Key="new/obj")
    assert got["Body"].read() == b"written by ais"
    assert got["Metadata"]["ais-cksum-type"] == "xxhash2"
    assert remote.object("new/obj").props.present is True
    assert "new/obj" in cached(remote)


def test_delete_removes_from_both(remote, s3):
    remote.object("data/002.bin").get_reader().read_all()
    remote.object("data/002.bin").delete()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=remote.name).get("Contents", [])]
    assert "data/002.bin" not in keys
    assert "data/002.bin" not in names(remote.list_all_objects())
    assert "data/002.bin" not in cached(remote)
    remote.object("top.txt").delete()  # never cached: deleted remotely all the same
    assert "top.txt" not in names(remote.list_all_objects())
    with pytest.raises(ErrObjNotFound):
        remote.object("top.txt").get_reader().read_all()


# -- prefetch and evict -----------------------------------------------------------------


def test_prefetch_and_evict_by_names(remote, ais_backend):
    group = remote.objects(obj_names=["data/000.bin", "top.txt"])
    assert succeeded(wait_job(ais_backend, group.prefetch(num_workers=2, blob_threshold=0)))
    assert cached(remote) == ["data/000.bin", "top.txt"]
    assert remote.object("top.txt").props.present is True
    assert succeeded(wait_job(ais_backend, remote.objects(obj_names=["top.txt"]).evict()))
    assert cached(remote) == ["data/000.bin"]
    assert remote.object("top.txt").head().present is False
    # the backend keeps what the cache drops
    assert remote.object("top.txt").get_reader().read_all() == SEED["top.txt"]


def test_prefetch_and_evict_by_template(remote, ais_backend):
    job_id = remote.objects(obj_template="data/{002..004}.bin").prefetch()
    assert succeeded(wait_job(ais_backend, job_id))
    assert cached(remote) == ["data/002.bin", "data/003.bin", "data/004.bin"]
    job = ais_backend.emulator.jobs.get(job_id)
    assert job.kind == "prefetch-listrange"
    assert (job.stats.objs, job.stats.bytes) == (3, 3 + 4 + 5)
    assert succeeded(wait_job(ais_backend, remote.objects(obj_template="data/").evict()))
    assert cached(remote) == []


def test_prefetch_of_a_missing_name(remote, ais_backend):
    failed = wait_job(ais_backend, remote.objects(obj_names=["top.txt", "gone"]).prefetch())
    assert not succeeded(failed)
    assert "gone" in failed.error
    assert succeeded(wait_job(ais_backend, remote.objects(obj_names=["gone", "top.txt"])
                              .prefetch(continue_on_error=True)))
    assert "top.txt" in cached(remote)


def test_bucket_evict_keeps_or_drops_the_bucket(remote, wire):
    for name in ("data/005.bin", "top.txt"):
        remote.object(name).get_reader().read_all()
    remote.evict(keep_md=True)
    assert cached(remote) == []
    assert remote.name in present_buckets(wire)
    remote.object("top.txt").get_reader().read_all()
    remote.evict(keep_md=False)
    assert remote.name not in present_buckets(wire)
    assert names(remote.list_all_objects()) == sorted(SEED)  # joins again on access
    assert remote.name in present_buckets(wire)
    assert cached(remote) == []


def test_remote_actions_on_an_ais_bucket_are_rejected(bck, wire):
    for method, action, value in (
        ("DELETE", "evict-remote-bck", None),
        ("DELETE", "evict-listrange", {"objnames": ["a"]}),
        ("POST", "prefetch-listrange", {"objnames": ["a"]}),
    ):
        r = wire.request(method, wire.bck_path(bck.name), params={"provider": "ais"},
                         json=wire.act(action, value))
        assert r.status_code == 400, (action, r.text)


def test_invalid_prefetch_messages(remote, wire):
    path = wire.bck_path(remote.name)
    for value in ({"objnames": "top.txt"}, {"template": "a{3..1}"},
                  {"objnames": ["top.txt"], "blob-threshold": -1}, None):
        r = wire.post(path, params={"provider": "aws"}, json=wire.act("prefetch-listrange", value))
        assert r.status_code == 400, (value, r.text)
    with pytest.raises(AISError):
        remote.objects(obj_names=["top.txt"]).prefetch(num_workers=-2)
