"""BackedStore: AIS's remote-bucket rules over a small in-memory backend.

The backend here is a dict, so page limits, tokens, remote changes and failures are under
the test's control; ``test_remote`` runs the real adapter against moto.
"""

from __future__ import annotations

import hashlib

import pytest

from ais_emulator.store import BucketId, BucketNotFound, InvalidRequest, ListQuery, ObjectNotFound
from ais_emulator.store.backed import BackedStore
from ais_emulator.store.backend import (
    NoSuchRemoteBucket,
    NoSuchRemoteObject,
    RemoteBackendError,
    RemoteObject,
    RemotePage,
)
from ais_emulator.store.objects import checksum


class FakeBackend:
    """A dict-backed RemoteBackend; tokens are the last name of a page."""

    provider = "aws"
    max_page_size = 4

    def __init__(self, buckets=None):
        self.buckets: dict[str, dict[str, bytes]] = {k: dict(v) for k, v in (buckets or {}).items()}
        self.versions: dict[tuple[str, str], int] = {}
        self.calls: list[tuple] = []

    def _bucket(self, bucket):
        if bucket not in self.buckets:
            raise NoSuchRemoteBucket(bucket)
        return self.buckets[bucket]

    def _obj(self, bucket, name, data, metadata=None):
        return RemoteObject(name, len(data), hashlib.md5(data).hexdigest(), 10**18,
                            str(self.versions.get((bucket, name), "")), metadata=metadata or {})

    def list_buckets(self):
        return sorted(self.buckets)

    def bucket_exists(self, bucket):
        self.calls.append(("exists", bucket))
        return bucket in self.buckets

    def create_bucket(self, bucket):
        self.buckets.setdefault(bucket, {})

    def list_page(self, bucket, prefix, token, page_size, delimiter=""):
        self.calls.append(("list", bucket, prefix, token, page_size, delimiter))
        names = sorted(n for n in self._bucket(bucket) if n.startswith(prefix) and n > token)
        objects, dirs = [], []
        for name in names:
            rest = name[len(prefix):]
            if delimiter and delimiter in rest:
                d = prefix + rest[:rest.index(delimiter) + 1]
                if d not in dirs and d > token:
                    dirs.append(d)
                continue
            objects.append(self._obj(bucket, name, self.buckets[bucket][name]))
        merged = sorted([(o.name, o) for o in objects] + [(d, None) for d in dirs])[:page_size]
        more = len(objects) + len(dirs) > page_size
        return RemotePage([o for _, o in merged if o is not None],
                          [n for n, o in merged if o is None], merged[-1][0] if more else "")

    def head(self, bucket, name):
        data = self._bucket(bucket).get(name)
        if data is None:
            raise NoSuchRemoteObject(name)
        return self._obj(bucket, name, data)

    def get(self, bucket, name):
        self.calls.append(("get", bucket, name))
        return self.head(bucket, name), self.buckets[bucket][name]

    def put(self, bucket, name, data, metadata):
        self._bucket(bucket)[name] = data
        return self._obj(bucket, name, data, metadata)

    def delete(self, bucket, name):
        self._bucket(bucket).pop(name, None)


AWS = BucketId.parse("aws", "remote")


@pytest.fixture
def fake():
    return FakeBackend({"remote": {f"o{i}": b"x" * i for i in range(1, 10)}})


@pytest.fixture
def store(fake):
    s = BackedStore()
    s.attach_backend(fake)
    return s


def test_bucket_joins_on_first_access(store, fake):
    assert not store.has_bucket(AWS)
    store.bucket(AWS)
    assert store.list_buckets("aws") == [AWS]
    with pytest.raises(BucketNotFound):
        store.bucket(BucketId.parse("aws", "elsewhere"))
    assert store.list_buckets("aws") == [AWS]


def test_list_buckets_with_and_without_the_backend(store):
    ais = BucketId.parse("ais", "local")
    store.create_bucket(ais)
    assert store.list_buckets() == [ais]
    assert store.list_buckets(remote=True) == [ais, AWS]
    assert store.list_buckets("aws", remote=True) == [AWS]
    assert store.list_buckets("aws", ("", "x"), remote=True) == []
    store.bucket(AWS)
    assert store.list_buckets("aws") == store.list_buckets("aws", remote=True) == [AWS]


def test_cold_get_caches_with_remote_metadata(store, fake):
    head = store.head_object(AWS, "o3")
    assert head.present is False and head.size == 3 and head.data == b""
    rec = store.get_object(AWS, "o3")
    assert rec.present is True and rec.data == b"xxx"
    assert rec.cksum_type == "xxhash2" and rec.cksum_value == checksum(b"xxx")
    md5 = hashlib.md5(b"xxx").hexdigest()
    assert rec.custom["source"] == "aws"
    assert rec.custom["ETag"] == rec.custom["md5"] == md5
    assert rec.custom["LastModified"].endswith("Z")
    assert store.head_object(AWS, "o3") is not head and store.head_object(AWS, "o3").present
    gets = [c for c in fake.calls if c[0] == "get"]
    store.get_object(AWS, "o3")
    assert [c for c in fake.calls if c[0] == "get"] == gets  # served from the cache


def test_missing_remote_object(store):
    with pytest.raises(ObjectNotFound):
        store.get_object(AWS, "nope")
    with pytest.raises(ObjectNotFound):
        store.head_object(AWS, "nope")
    with pytest.raises(ObjectNotFound):
        store.delete_object(AWS, "nope")


def test_listing_pages_are_capped_and_use_the_backend_token(store, fake):
    page = store.list_objects(AWS, ListQuery(page_size=100))
    assert [e.name for e in page.entries] == ["o1", "o2", "o3", "o4"]
    assert fake.calls[-1][4] == 4  # the provider's limit, not 100
    assert page.token == "o4"
    names = [e.name for e in page.entries]
    while page.token:
        page = store.list_objects(AWS, ListQuery(page_size=3, token=page.token))
        names += [e.name for e in page.entries]
    assert names == [f"o{i}" for i in range(1, 10)]


def test_listing_merges_cached_state(store):
    store.get_object(AWS, "o2")
    entries = store.list_objects(AWS, ListQuery(page_size=3)).entries
    assert [(e.name, e.record.present) for e in entries] == [
        ("o1", False), ("o2", True), ("o3", False)]
    cached = store.list_objects(AWS, ListQuery(cached_only=True)).entries
    assert [e.name for e in cached] == ["o2"]


def test_not_cached_skips_pages_left_empty(store, fake):
    for i in range(1, 9):
        store.get_object(AWS, f"o{i}")
    page = store.list_objects(AWS, ListQuery(not_cached=True, page_size=4))
    assert [e.name for e in page.entries] == ["o9"]
    assert page.token == ""


def test_no_recursion_lists_directories(fake):
    fake.buckets["tree"] = {"a/1": b"1", "a/2": b"2", "b": b"3", "c/d/e": b"4"}
    store = BackedStore()
    store.attach_backend(fake)
    bck = BucketId.parse("aws", "tree")
    entries = store.list_objects(bck, ListQuery(no_recursion=True)).entries
    assert [(e.name, e.is_dir) for e in entries] == [("a/", True), ("b", False), ("c/", True)]
    entries = store.list_objects(bck, ListQuery(no_recursion=True, no_dirs=True)).entries
    assert [e.name for e in entries] == ["b"]


def test_start_after_is_rejected_for_remote_buckets(store):
    with pytest.raises(InvalidRequest, match="start_after"):
        store.list_objects(AWS, ListQuery(start_after="o1"))


def test_put_writes_through_then_caches(store, fake):
    rec = store.put_object(AWS, "new", b"hello", custom={"k": "v", "ETag": "stale"})
    assert fake.buckets["remote"]["new"] == b"hello"
    assert rec.present and rec.custom["k"] == "v"
    assert rec.custom["ETag"] == hashlib.md5(b"hello").hexdigest()
    store.delete_object(AWS, "new")
    assert "new" not in fake.buckets["remote"]
    assert store.list_objects(AWS, ListQuery(cached_only=True)).entries == []


def test_delete_of_a_not_cached_object_removes_it_remotely(store, fake):
    store.delete_object(AWS, "o5")
    assert "o5" not in fake.buckets["remote"]


def test_fetch_and_latest(store, fake):
    rec, fetched = store.fetch(AWS, "o1")
    assert fetched and rec.data == b"x"
    assert store.fetch(AWS, "o1") == (rec, False)
    fake.buckets["remote"]["o1"] = b"changed"
    assert store.fetch(AWS, "o1")[1] is False                  # cached copy wins
    rec, fetched = store.fetch(AWS, "o1", latest=True)        # unless asked for the latest
    assert fetched and rec.data == b"changed"


def test_evict_object_and_bucket(store):
    store.get_object(AWS, "o1")
    store.get_object(AWS, "o2")
    assert store.evict_object(AWS, "o1") == 1
    assert store.evict_object(AWS, "o1") is None
    assert store.evict_bucket(AWS, keep_md=True) == (1, 2)
    assert store.has_bucket(AWS)
    assert store.evict_bucket(AWS, keep_md=False) == (0, 0)
    assert not store.has_bucket(AWS)
    assert store.head_object(AWS, "o1").present is False   # rejoins on access


def test_object_names_include_remote_ones(store):
    store.put_object(AWS, "p/cached", b"1")
    assert store.object_names(AWS, "o") == [f"o{i}" for i in range(1, 10)]
    assert store.object_names(AWS, "p/") == ["p/cached"]


def test_copy_from_and_to_remote(store, fake):
    ais = BucketId.parse("ais", "local")
    store.create_bucket(ais)
    store.copy_object(AWS, "o4", ais, "copied")
    assert store.get_object(ais, "copied").data == b"xxxx"
    store.copy_object(ais, "copied", AWS, "back")
    assert fake.buckets["remote"]["back"] == b"xxxx"


def test_create_bucket_seeds_the_backend(store, fake):
    store.create_bucket(BucketId.parse("aws", "seeded"))
    assert "seeded" in fake.buckets


def test_backend_failures_name_the_bucket(store, fake):
    def broken(*_):
        raise RemoteBackendError("remote", "aws-error[SlowDown: reduce your rate]", "SlowDown", 503)

    fake.head = broken
    with pytest.raises(RemoteBackendError) as info:
        store.head_object(AWS, "o1")
    assert info.value.bucket == AWS


def test_without_a_backend_remote_buckets_are_plain(fake):
    store = BackedStore()
    store.create_bucket(AWS)
    store.put_object(AWS, "x", b"1")
    assert store.head_object(AWS, "x").present
    assert fake.calls == []


