"""Remote buckets below the REST layer: the S3 adapter over moto, and the Emulator API.

``S3Backend`` is exercised against moto's in-process S3 (and once against a moto server
through ``endpoint_url``); the store's remote-bucket rules are in ``test_backed_store``.
"""

from __future__ import annotations

import hashlib

import boto3
import pytest
from moto import mock_aws

from ais_emulator import Emulator
from ais_emulator.remote import S3Backend, moto_active
from ais_emulator.store import BucketId
from ais_emulator.store.backend import (
    NoSuchRemoteBucket,
    NoSuchRemoteObject,
    RemoteBackendError,
)

AWS = BucketId.parse("aws", "remote")
CREDS = {"region_name": "us-east-1", "aws_access_key_id": "k", "aws_secret_access_key": "s"}


@pytest.fixture
def s3():
    """moto's in-process S3 and a boto3 client for seeding it."""
    with mock_aws():
        yield boto3.session.Session().client("s3", **CREDS)


@pytest.fixture
def seeded(s3):
    s3.create_bucket(Bucket="remote")
    for name in ("a/1", "a/2", "b", "c/d/e"):
        s3.put_object(Bucket="remote", Key=name, Body=name.encode() * 3)
    return s3


# -- S3Backend over moto --------------------------------------------------------------------


def test_bucket_exists(seeded):
    be = S3Backend()
    assert be.list_buckets() == ["remote"]
    assert be.bucket_exists("remote") is True
    assert be.bucket_exists("no-such-bucket") is False


def test_list_pages_follow_the_s3_token(seeded):
    be = S3Backend()
    first = be.list_page("remote", "", "", 3)
    assert [o.name for o in first.objects] == ["a/1", "a/2", "b"]
    assert first.token
    rest = be.list_page("remote", "", first.token, 3)
    assert [o.name for o in rest.objects] == ["c/d/e"]
    assert rest.token == ""
    o = first.objects[0]
    assert o.size == 9
    assert o.etag == hashlib.md5(b"a/1" * 3).hexdigest()
    assert o.mtime_ns > 0


def test_list_with_delimiter_and_prefix(seeded):
    page = S3Backend().list_page("remote", "", "", 100, delimiter="/")
    assert [o.name for o in page.objects] == ["b"]
    assert page.dirs == ["a/", "c/"]
    page = S3Backend().list_page("remote", "a/", "", 100)
    assert [o.name for o in page.objects] == ["a/1", "a/2"]


def test_page_size_is_clamped_to_the_s3_limit():
    class Recorder:
        def list_objects_v2(self, **kwargs):
            self.kwargs = kwargs
            return {"Contents": [], "IsTruncated": False}

    client = Recorder()
    be = S3Backend(client)
    assert be.max_page_size == 1000
    be.list_page("remote", "p/", "tok", 10**6, delimiter="/")
    assert client.kwargs == {"Bucket": "remote", "MaxKeys": 1000, "Prefix": "p/",
                             "ContinuationToken": "tok", "Delimiter": "/"}


def test_head_get_put_delete(seeded):
    be = S3Backend()
    put = be.put("remote", "new", b"payload", {"ais-cksum-type": "xxhash2", "ais-cksum-val": "1"})
    assert put.etag == hashlib.md5(b"payload").hexdigest()
    assert put.version == ""  # not a versioned bucket
    head = be.head("remote", "new")
    assert head.size == 7
    assert head.metadata == {"ais-cksum-type": "xxhash2", "ais-cksum-val": "1"}
    obj, data = be.get("remote", "new")
    assert data == b"payload" and obj.size == 7 and obj.etag == put.etag
    be.delete("remote", "new")
    with pytest.raises(NoSuchRemoteObject):
        be.head("remote", "new")
    with pytest.raises(NoSuchRemoteObject):
        be.get("remote", "new")


def test_versioned_bucket_reports_version_ids(s3):
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    be = S3Backend()
    first = be.put("versioned", "k", b"1", {})
    second = be.put("versioned", "k", b"2", {})
    assert first.version and second.version and first.version != second.version
    assert be.head("versioned", "k").version == second.version


def test_missing_bucket_and_other_errors(s3):
    be = S3Backend()
    with pytest.raises(NoSuchRemoteBucket):
        be.list_page("no-such-bucket", "", "", 10)
    with pytest.raises(RemoteBackendError) as info:
        be.create_bucket("x")  # too short for S3
    assert info.value.code == "InvalidBucketName"
    assert info.value.remote_status == 400
    assert info.value.message.startswith("aws-error[InvalidBucketName: ")


def test_create_bucket(s3):
    S3Backend().create_bucket("made-here")
    assert "made-here" in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_default_client_refuses_without_the_mock():
    be = S3Backend()
    assert be.require_mock is True
    assert not moto_active()
    with pytest.raises(RemoteBackendError) as info:
        be.bucket_exists("remote")
    assert info.value.code == "MockNotActive"


def test_backend_outliving_its_mock_fails_loudly():
    with mock_aws():
        be = S3Backend()
        assert be.bucket_exists("nothing-here") is False
    with pytest.raises(RemoteBackendError):
        be.bucket_exists("nothing-here")


def test_given_client_is_used_as_is(seeded):
    be = S3Backend(seeded)
    assert be.require_mock is False
    assert be.client is seeded
    assert [o.name for o in be.list_page("remote", "a/", "", 10).objects] == ["a/1", "a/2"]


def test_endpoint_url_against_a_moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        be = S3Backend(endpoint_url=f"http://{host}:{port}")
        be.create_bucket("over-http")
        be.put("over-http", "k", b"v", {})
        assert be.get("over-http", "k")[1] == b"v"
        assert be.bucket_exists("over-http")
    finally:
        server.stop()


# -- Emulator API ----------------------------------------------------------------------------


class StubBackend:
    """Enough of a RemoteBackend to be attached (never called here)."""

    provider = "aws"
    max_page_size = 1

    def list_page(self, *args):
        raise AssertionError("not expected")



def test_constructor_backend_survives_reset(seeded):
    emu = Emulator(remote_s3=True)
    assert isinstance(emu.remote["aws"], S3Backend)
    emu.store.get_object(AWS, "b")
    emu.reset()
    assert "aws" in emu.remote
    assert emu.list_buckets() == []                      # cached copies dropped
    assert emu.store.head_object(AWS, "b").present is False


def test_reset_restores_the_constructor_backend(seeded):
    emu = Emulator(remote_s3=True)
    pinned = emu.remote["aws"]
    emu.attach_backend(StubBackend())
    emu.reset()
    assert emu.remote == {"aws": pinned}


def test_attached_backend_is_detached_on_reset(seeded):
    emu = Emulator()
    backend = emu.attach_s3()
    assert emu.remote == {"aws": backend}
    emu.reset()
    assert emu.remote == {}
    assert emu.detach_backend("aws") is None


def test_attach_s3_accepts_a_client_or_a_backend(seeded):
    emu = Emulator()
    assert emu.attach_s3(seeded).client is seeded
    stub = StubBackend()
    assert emu.attach_s3(stub) is stub


def test_get_object_helper_does_not_cache(seeded):
    emu = Emulator(remote_s3=True)
    assert emu.get_object("remote", "b", provider="aws") == b"bbb"
    assert emu.store.head_object(AWS, "b").present is False
    emu.put_object("remote", "seeded-here", b"v", provider="aws")
    assert seeded.get_object(Bucket="remote", Key="seeded-here")["Body"].read() == b"v"
