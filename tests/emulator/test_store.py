"""The store layer on its own: buckets, objects, versions, checksums, appends, multipart."""

from __future__ import annotations

import threading

import pytest

from ais_emulator.store import (
    BucketAlreadyExists,
    BucketId,
    BucketNotFound,
    InvalidAppendHandle,
    InvalidBucketName,
    InvalidObjectName,
    InvalidPart,
    InvalidProvider,
    InvalidRequest,
    ObjectNotFound,
    ObjectPathConflict,
    Store,
    UploadNotFound,
    parse_uname,
)
from ais_emulator.store.disk import DiskStore
from ais_emulator.store.multipart import parse_part_number
from ais_emulator.store.objects import checksum, checksum_of, iter_slices


@pytest.fixture(params=["memory", "disk"])
def store(request, tmp_path):
    """Every store test runs on the in-memory store and on the durable one."""
    if request.param == "memory":
        yield Store()
        return
    disk = DiskStore(str(tmp_path / "data"))
    yield disk
    disk.close()


@pytest.fixture
def bck(store):
    b = BucketId.parse("ais", "data")
    store.create_bucket(b)
    return b


# -- bucket identity --------------------------------------------------------------------


@pytest.mark.parametrize("name, reason", [
    ("", "bucket name is missing"),
    (".", 'reserved bucket name "." (unknown system bucket)'),
    ("..", 'reserved bucket name ".." (unknown system bucket)'),
    (".hidden", 'reserved bucket name ".hidden" (unknown system bucket)'),
    ("x" * 65, "bucket name is too long: 65 > 64(max length)"),
    ("x" * 256, "bucket name is too long: 256 > 64(max length)"),
    *[(name, "bucket name is invalid: may only contain letters, numbers, dashes (-), "
             "underscores (_), and dots (.)")
      for name in (" ", "*", "a..b", "a/b", "#x", "$x", "~x", "a b", "ü")],
])
def test_invalid_bucket_names(name, reason):
    with pytest.raises(InvalidBucketName) as exc:
        BucketId.parse("ais", name)
    assert exc.value.message == reason


@pytest.mark.parametrize("name", ["a", "A-b_c.d", "0", "x.", "x" * 64, ".sys-inventory"])
def test_valid_bucket_names(name):
    assert BucketId.parse("ais", name).name == name


def test_namespace_name_length():
    assert BucketId.parse("ais", "b", "@#" + "n" * 64).ns_name == "n" * 64
    with pytest.raises(InvalidRequest, match=r"namespace is too long: 65 > 64\(max length\)"):
        BucketId.parse("ais", "b", "@#" + "n" * 65)


@pytest.mark.parametrize("given, want", [("", "ais"), ("ais", "ais"), ("s3", "aws"),
                                         ("gs", "gcp"), ("az", "azure"), ("oc", "oci"),
                                         ("AWS", "aws")])
def test_provider_aliases(given, want):
    assert BucketId.parse(given, "b").provider == want


def test_unknown_provider():
    with pytest.raises(InvalidProvider):
        BucketId.parse("dropbox", "b")


def test_namespace_forms():
    a = BucketId.parse("ais", "b", "@uu#ns")
    assert (a.ns_uuid, a.ns_name) == ("uu", "ns")
    assert str(a) == "ais://@uu#ns/b"
    assert a.uname() == "ais/@uu#ns/b/"
    assert BucketId.parse("ais", "b", ("", "ns")) == BucketId("ais", "b", "", "ns")
    assert BucketId.parse("ais", "b", "") == BucketId("ais", "b")
    assert a != BucketId.parse("ais", "b")


def test_parse_uname():
    bck, obj = parse_uname("ais/@#/dst/dir//o 2")
    assert bck == BucketId("ais", "dst") and obj == "dir//o 2"
    bck, obj = parse_uname("ais/@#/dst/")
    assert obj == ""


# -- buckets --------------------------------------------------------------------------


def test_create_twice_and_destroy(store):
    b = BucketId.parse("ais", "x")
    store.create_bucket(b)
    with pytest.raises(BucketAlreadyExists):
        store.create_bucket(b)
    store.destroy_bucket(b)
    with pytest.raises(BucketNotFound):
        store.destroy_bucket(b)


def test_list_buckets_filters_and_order(store):
    for prov, name, ns in [("ais", "b", None), ("ais", "a", None), ("aws", "c", None),
                           ("ais", "d", "@#team")]:
        store.create_bucket(BucketId.parse(prov, name, ns))
    assert [b.name for b in store.list_buckets()] == ["a", "b", "d", "c"]
    assert [b.name for b in store.list_buckets("aws")] == ["c"]
    assert [b.name for b in store.list_buckets("ais", ("", ""))] == ["a", "b"]
    assert [b.name for b in store.list_buckets(None, ("", "team"))] == ["d"]


def test_namespaced_bucket_is_distinct(store, bck):
    other = BucketId.parse("ais", "data", "@#ns")
    store.create_bucket(other)
    store.put_object(bck, "o", b"global")
    store.put_object(other, "o", b"ns")
    assert store.head_object(bck, "o").data == b"global"
    assert store.head_object(other, "o").data == b"ns"


def test_destroy_drops_objects(store, bck):
    store.put_object(bck, "o", b"1")
    store.destroy_bucket(bck)
    store.create_bucket(bck)
    with pytest.raises(ObjectNotFound):
        store.head_object(bck, "o")


# -- objects ---------------------------------------------------------------------------


def test_checksum_is_xxh64_seed0_big_endian():
    # reference vectors of XXH64 with seed 0
    assert checksum(b"") == "ef46db3751d8e999"
    assert checksum(b"abc") == "44bc2cf5ad770999"
    assert checksum_of("xxhash2", b"abc") == checksum_of("xxhash", b"abc") == "44bc2cf5ad770999"
    assert checksum_of("md5", b"abc") == "900150983cd24fb0d6963f7d28e17f72"
    with pytest.raises(ValueError):
        checksum_of("nope", b"")


def test_put_get_versions_count_up(store, bck):
    r1 = store.put_object(bck, "o", b"one")
    r2 = store.put_object(bck, "o", b"two")
    r3 = store.put_object(bck, "o", b"three")
    assert [r1.version, r2.version, r3.version] == ["1", "2", "3"]
    got = store.get_object(bck, "o")
    assert got.data == b"three" and got.size == 5
    assert got.cksum_type == "xxhash2" and got.cksum_value == checksum(b"three")


def test_version_restarts_after_delete(store, bck):
    store.put_object(bck, "o", b"1")
    store.put_object(bck, "o", b"2")
    store.delete_object(bck, "o")
    assert store.put_object(bck, "o", b"3").version == "1"


def test_get_updates_atime_head_does_not(store, bck):
    rec = store.put_object(bck, "o", b"x")
    assert store.head_object(bck, "o").atime_ns == rec.atime_ns
    later = store.get_object(bck, "o")
    assert later.atime_ns >= rec.atime_ns
    assert store.head_object(bck, "o").atime_ns == later.atime_ns
    assert later.body is rec.body  # same immutable buffer (or file), no copy


def test_missing_things(store, bck):
    with pytest.raises(ObjectNotFound):
        store.get_object(bck, "nope")
    with pytest.raises(ObjectNotFound):
        store.delete_object(bck, "nope")
    with pytest.raises(BucketNotFound):
        store.put_object(BucketId.parse("ais", "ghost"), "o", b"")


def test_object_paths_are_cleaned(store, bck):
    store.put_object(bck, "a//b", b"1")
    assert store.head_object(bck, "a/b").data == b"1"
    assert store.head_object(bck, "./a//b").data == b"1"
    store.put_object(bck, "/lead", b"2")
    store.put_object(bck, "sp ace+?.x", b"3")
    assert store.object_names(bck) == ["a/b", "lead", "sp ace+?.x"]
    assert store.put_object(bck, "x/y/..", b"4").name == "x"


@pytest.mark.parametrize("name", ["", "dir/", "../z", "a/../../b", "~/x", "a/~/b", ".", "n\x00ul"])
def test_invalid_object_names(store, bck, name):
    with pytest.raises(InvalidObjectName) as exc:
        store.put_object(bck, name, b"")
    assert "invalid object name" in str(exc.value)


def test_objects_are_files(store, bck):
    store.put_object(bck, "a", b"file")
    with pytest.raises(ObjectPathConflict, match="contains an object in its path"):
        store.put_object(bck, "a/b/c", b"x")
    store.put_object(bck, "d/e", b"inside")
    with pytest.raises(ObjectPathConflict, match="is a virtual directory"):
        store.put_object(bck, "d", b"x")
    store.put_object(bck, "d-e", b"sibling")  # only "d/" counts as the directory
    store.put_object(bck, "a", b"overwrite is fine")
    h = store.append(bck, "d", "", b"x")
    with pytest.raises(ObjectPathConflict):
        store.flush(bck, "d", h)
    assert store.object_names(bck) == ["a", "d-e", "d/e"]


def test_custom_metadata_merge_and_replace(store, bck):
    store.put_object(bck, "o", b"x", custom={"a": "1"})
    assert store.set_custom(bck, "o", {"b": "2"}).custom == {"a": "1", "b": "2"}
    assert store.set_custom(bck, "o", {"a": "9"}).custom == {"a": "9", "b": "2"}
    assert store.set_custom(bck, "o", {"c": "3"}, replace=True).custom == {"c": "3"}
    assert store.head_object(bck, "o").version == "1"
    with pytest.raises(ObjectNotFound):
        store.set_custom(bck, "nope", {})


def test_copy_object(store, bck):
    dst = BucketId.parse("ais", "dst")
    store.create_bucket(dst)
    store.put_object(bck, "src", b"payload", custom={"k": "v"})
    rec = store.copy_object(bck, "src", dst, "copied")
    assert rec.data == b"payload" and rec.custom == {"k": "v"} and rec.version == "1"
    rec = store.copy_object(bck, "src", dst, "copied", transform=lambda r: bytes(r.data).upper())
    assert rec.data == b"PAYLOAD" and rec.version == "2"
    assert rec.cksum_value == checksum(b"PAYLOAD")
    with pytest.raises(BucketNotFound):
        store.copy_object(bck, "src", BucketId.parse("ais", "ghost"), "x")
    with pytest.raises(ObjectNotFound):
        store.copy_object(bck, "nope", dst, "x")


# -- slices ------------------------------------------------------------------------------


def test_iter_slices_are_views_of_the_data():
    data = bytes(range(256)) * 10
    parts = list(iter_slices(data, 5, 2000, chunk=512))
    assert [len(p) for p in parts] == [512, 512, 512, 459]
    assert all(isinstance(p, memoryview) for p in parts)
    assert b"".join(parts) == data[5:2000]


# -- append ------------------------------------------------------------------------------


def test_append_flush_creates_object(store, bck):
    h = store.append(bck, "log", "", b"ab")
    h = store.append(bck, "log", h, b"cd")
    with pytest.raises(ObjectNotFound):
        store.head_object(bck, "log")  # not visible before flush
    rec = store.flush(bck, "log", h)
    assert rec.data == b"abcd" and rec.version == "1"


def test_append_extends_existing_object(store, bck):
    store.put_object(bck, "log", b"head:")
    h = store.append(bck, "log", "", b"tail")
    assert store.flush(bck, "log", h, b"!").data == b"head:tail!"
    assert store.head_object(bck, "log").version == "2"


def test_append_handle_validation(store, bck):
    h1 = store.append(bck, "log", "", b"ab")
    store.append(bck, "log", h1, b"cd")
    with pytest.raises(InvalidAppendHandle):
        store.append(bck, "log", h1, b"stale")  # offset moved on
    with pytest.raises(InvalidAppendHandle):
        store.flush(bck, "log", "bogus.0")
    with pytest.raises(InvalidAppendHandle):
        store.append(bck, "other", h1, b"x")  # handle of another object


# -- multipart --------------------------------------------------------------------------


@pytest.mark.parametrize("text, ok", [("1", 1), ("9999", 9999), ("0", None), ("-1", None),
                                      ("abc", None), ("", None), ("10000", None), ("1.5", None)])
def test_part_numbers(text, ok):
    if ok is None:
        with pytest.raises(InvalidPart):
            parse_part_number(text)
    else:
        assert parse_part_number(text) == ok


def test_multipart_roundtrip_any_order(store, bck):
    up = store.mpt_create(bck, "big")
    store.mpt_put_part(bck, "big", up, 3, b"C")
    store.mpt_put_part(bck, "big", up, 1, b"AAA")
    store.mpt_put_part(bck, "big", up, 2, b"xx")
    store.mpt_put_part(bck, "big", up, 2, b"BB")  # re-upload: last wins
    with pytest.raises(ObjectNotFound):
        store.head_object(bck, "big")
    rec = store.mpt_complete(bck, "big", up, [3, 1, 2])
    assert rec.data == b"AAABBC"
    assert rec.chunks == (3, 3)
    with pytest.raises(UploadNotFound):
        store.mpt_complete(bck, "big", up, [1, 2, 3])  # gone once completed


@pytest.mark.parametrize("uploaded, requested, fragment", [
    ([1, 2], [1], "partial completion"),
    ([1, 2], [1, 2, 3], "partial completion"),
    ([1, 3], [1, 3], "exactly 1..2"),
    ([1, 2], [1, 1], "exactly 1..2"),
    ([1], None, "nil parts"),
    ([], [], "no chunks"),
    ([], None, "no chunks"),
])
def test_multipart_completion_rules(store, bck, uploaded, requested, fragment):
    up = store.mpt_create(bck, "o")
    for n in uploaded:
        store.mpt_put_part(bck, "o", up, n, b"x")
    with pytest.raises(InvalidPart) as exc:
        store.mpt_complete(bck, "o", up, requested)
    assert fragment in str(exc.value)


def test_multipart_abort_and_unknown(store, bck):
    store.put_object(bck, "o", b"before")
    up = store.mpt_create(bck, "o")
    store.mpt_put_part(bck, "o", up, 1, b"new")
    store.mpt_abort(bck, "o", up)
    assert store.head_object(bck, "o").data == b"before"
    with pytest.raises(UploadNotFound):
        store.mpt_abort(bck, "o", up)
    with pytest.raises(UploadNotFound):
        store.mpt_put_part(bck, "o", "nope", 1, b"x")
    with pytest.raises(InvalidPart):
        store.mpt_put_part(bck, "o", store.mpt_create(bck, "o"), 1, b"")  # empty part


def test_upload_id_is_bound_to_its_object(store, bck):
    up = store.mpt_create(bck, "a")
    with pytest.raises(UploadNotFound):
        store.mpt_put_part(bck, "b", up, 1, b"x")


# -- concurrency ------------------------------------------------------------------------


def test_concurrent_writers_and_readers(store, bck):
    errors = []

    def writer(k):
        try:
            for i in range(200):
                store.put_object(bck, f"w{k}/{i % 10}", f"{k}:{i}".encode())
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    def reader():
        try:
            for _ in range(200):
                for name in store.object_names(bck, "w"):
                    rec = store.head_object(bck, name)
                    assert rec.cksum_value == checksum(rec.data)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.object_names(bck)) == 40
    assert store.head_object(bck, "w0/9").version == "20"
