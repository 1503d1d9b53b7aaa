"""List objects: order, prefix, pagination, props, flags, archives, directories, msgpack."""

from __future__ import annotations

import pytest
from aistore.sdk import ListObjectFlag

# Mixed case, digits, punctuation and non-ASCII: the expected order is by UTF-8 bytes.
# (Real AIS keeps objects as files: "a" and "a/b" cannot both exist, so no name here is
# a directory of another.)
MIXED = [
    "b", "B", "a", "A", "10", "9", "_x", "\u00fc", "z/\u00e9", "Z", "a0/x", "a.b", "a-b",
    "\u65e5\u672c", "~t", "a b",
]


def by_bytes(names):
    return sorted(names, key=lambda s: s.encode("utf-8"))


@pytest.fixture
def mixed(put):
    return put({name: name.encode() * 3 for name in MIXED})


def test_order_is_lexicographic_by_bytes(mixed):
    names = [e.name for e in mixed.list_all_objects()]
    assert names == by_bytes(MIXED)


def test_empty_bucket(bck, wire):
    assert bck.list_all_objects() == []
    page = bck.list_objects()
    assert page.entries == []
    assert page.continuation_token == ""
    r, body = wire.list_page(bck.name)
    assert r.status_code == 200
    assert not body.get("Entries")
    assert body["ContinuationToken"] == ""


@pytest.mark.parametrize("prefix", ["a", "a0/", "z/", "B", "nothing", "\u00fc"])
def test_prefix(mixed, prefix):
    names = [e.name for e in mixed.list_all_objects(prefix=prefix)]
    assert names == by_bytes(n for n in MIXED if n.startswith(prefix))


def test_start_after(mixed):
    names = [e.name for e in mixed.list_all_objects(start_after="a")]
    assert names == by_bytes(n for n in MIXED if n.encode() > b"a")


def test_start_after_with_prefix(mixed):
    names = [e.name for e in mixed.list_all_objects(prefix="a", start_after="a-b")]
    assert names == ["a.b", "a0/x"]


@pytest.fixture
def five(put):
    return put({f"obj-{i}": bytes([i]) * (i + 1) for i in range(5)})


def test_pages_short_last_page(five):
    names = [f"obj-{i}" for i in range(5)]
    p1 = five.list_objects(page_size=2)
    assert [e.name for e in p1.entries] == names[0:2]
    assert p1.continuation_token == names[1]
    assert p1.uuid

    p2 = five.list_objects(page_size=2, uuid=p1.uuid, continuation_token=p1.continuation_token)
    assert [e.name for e in p2.entries] == names[2:4]
    assert p2.continuation_token == names[3]

    p3 = five.list_objects(page_size=2, uuid=p2.uuid, continuation_token=p2.continuation_token)
    assert [e.name for e in p3.entries] == names[4:]
    assert p3.continuation_token == ""


def test_full_last_page_then_empty_page(put):
    b = put({f"k{i}": b"v" for i in range(4)})
    p1 = b.list_objects(page_size=2)
    p2 = b.list_objects(page_size=2, uuid=p1.uuid, continuation_token=p1.continuation_token)
    assert [e.name for e in p2.entries] == ["k2", "k3"]
    # a full page always hands out a token, even when nothing is left
    assert p2.continuation_token == "k3"
    p3 = b.list_objects(page_size=2, uuid=p2.uuid, continuation_token=p2.continuation_token)
    assert p3.entries == []
    assert p3.continuation_token == ""
    assert p3.uuid


def test_page_size_equal_to_count(put):
    b = put({"x": b"1", "y": b"2"})
    p1 = b.list_objects(page_size=2)
    assert [e.name for e in p1.entries] == ["x", "y"]
    assert p1.continuation_token == "y"


def test_page_size_larger_than_count(five):
    page = five.list_objects(page_size=100)
    assert len(page.entries) == 5
    assert page.continuation_token == ""


def test_token_is_exclusive(five):
    page = five.list_objects(page_size=10, continuation_token="obj-1")
    assert [e.name for e in page.entries] == ["obj-2", "obj-3", "obj-4"]


def test_list_all_objects_paged(five):
    entries = five.list_all_objects(page_size=2)
    assert [e.name for e in entries] == [f"obj-{i}" for i in range(5)]
    assert [e.size for e in entries] == [1, 2, 3, 4, 5]


def test_list_objects_iter_terminates(five):
    names = [e.name for e in five.list_objects_iter(page_size=2)]
    assert names == [f"obj-{i}" for i in range(5)]
    names = [e.name for e in five.list_objects_iter(page_size=5)]
    assert names == [f"obj-{i}" for i in range(5)]


def test_list_all_objects_iter_yields_objects(five):
    objs = list(five.list_all_objects_iter(prefix="obj-3"))
    assert [o.name for o in objs] == ["obj-3"]
    assert objs[0].props_cached.size == 4
    assert objs[0].get_reader().read_all() == b"\x03" * 4


# ---------------------------------------------------------------------------------------
# props and flags (raw msgpack: which keys each entry carries)


def test_props_name_only(five, wire):
    entries = wire.list_all_raw(five.name, props="name")
    assert [e["n"] for e in entries] == [f"obj-{i}" for i in range(5)]
    for e in entries:
        assert set(e) <= {"n", "f"}, e
        assert e.get("f", 0) & 64


def test_props_name_size(five, wire):
    entries = wire.list_all_raw(five.name, props="name,size")
    assert [(e["n"], e["s"]) for e in entries] == [(f"obj-{i}", i + 1) for i in range(5)]
    for e in entries:
        assert "cs" not in e and "a" not in e and "v" not in e


def test_props_default_has_size(five):
    entries = five.list_all_objects()
    assert [e.size for e in entries] == [1, 2, 3, 4, 5]
    assert all(e.is_cached() and e.is_ok() for e in entries)


def test_props_checksum_atime_version(five, wire):
    entries = wire.list_all_raw(five.name, props="name,size,checksum,atime,version")
    assert len(entries) == 5
    for e in entries:
        assert isinstance(e["cs"], str) and e["cs"]
        assert isinstance(e["a"], str) and e["a"]
        assert e["v"] == "1"


def test_props_checksum_matches_head(five, wire):
    entries = {e["n"]: e for e in wire.list_all_raw(five.name, props="name,checksum")}
    for name, e in entries.items():
        assert e["cs"] == five.object(name).props.checksum_value


def test_flag_cached(five):
    entries = five.list_all_objects(flags=[ListObjectFlag.CACHED])
    assert [e.name for e in entries] == [f"obj-{i}" for i in range(5)]
    assert all(e.is_cached() for e in entries)


def test_flag_name_only(five, wire):
    entries = five.list_all_objects(flags=[ListObjectFlag.NAME_ONLY])
    assert [e.name for e in entries] == [f"obj-{i}" for i in range(5)]
    raw = wire.list_all_raw(five.name, flags=1 << ListObjectFlag.NAME_ONLY.value)
    assert all("s" not in e for e in raw)


def test_flag_name_size(five):
    entries = five.list_all_objects(props="name,size", flags=[ListObjectFlag.NAME_SIZE])
    assert [(e.name, e.size) for e in entries] == [(f"obj-{i}", i + 1) for i in range(5)]


def test_flags_accepted_as_int(five, wire):
    r, body = wire.list_page(five.name, flags=1)  # sent as the decimal string "1"
    assert r.status_code == 200
    assert len(body["Entries"]) == 5


# ---------------------------------------------------------------------------------------
# msgpack reply shape


def test_msgpack_reply_keys(five, wire):
    r, body = wire.list_page(five.name, pagesize=2)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/msgpack"
    assert isinstance(body["UUID"], str) and body["UUID"]
    assert body["ContinuationToken"] == "obj-1"
    assert isinstance(body["Flags"], int)
    assert [e["n"] for e in body["Entries"]] == ["obj-0", "obj-1"]
    for e in body["Entries"]:
        assert isinstance(e["s"], int)
        assert isinstance(e.get("f", 0), int)


def test_msgpack_second_page_with_uuid(five, wire):
    _, first = wire.list_page(five.name, pagesize=3)
    r, second = wire.list_page(five.name, pagesize=3, uuid=first["UUID"],
                               continuation_token=first["ContinuationToken"])
    assert r.status_code == 200
    assert [e["n"] for e in second["Entries"]] == ["obj-3", "obj-4"]
    assert second["ContinuationToken"] == ""
    assert second["UUID"]


def test_json_reply_without_msgpack_accept(five, wire):
    r = wire.get(wire.bck_path(five.name), params={"provider": "ais"},
                 json=wire.act("list", {"props": "name,size", "pagesize": 3}))
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    body = r.json()
    assert body["uuid"]
    assert body["continuation_token"] == "obj-2"
    # Go encodes the uint64 size as a JSON string here
    assert [(e["name"], e["size"]) for e in body["entries"]] == [
        ("obj-0", "1"), ("obj-1", "2"), ("obj-2", "3")
    ]


def test_client_chosen_list_id_accepted(five, wire):
    r, body = wire.list_page(five.name, uuid="my-own-listing-id", pagesize=10)
    assert r.status_code == 200
    assert [e["n"] for e in body["Entries"]] == [f"obj-{i}" for i in range(5)]
    assert body["ContinuationToken"] == ""


def test_list_with_null_value_is_400(five, wire):
    # a null value means "list buckets", which a bucket path contradicts
    r = wire.get(wire.bck_path(five.name), params={"provider": "ais"},
                 headers={"Accept": "application/msgpack"}, json=wire.act("list"))
    assert r.status_code == 400


# ---------------------------------------------------------------------------------------
# ARCH_DIR: shards are opened and their files listed


@pytest.fixture
def archives(put, shards):
    tar_members = [("b.txt", b"bee"), ("a.txt", b"a"), ("sub/c.txt", b"seeee")]
    gz_members = [("y", b"yy"), ("x", b"x")]
    objects = {
        "plain.bin": b"plain",
        "shard.tar": shards.tar(tar_members, dirs=["sub/"]),
        "shard.tar.gz": shards.tgz(gz_members),
        "shard.tgz": shards.tgz([("t/1.cls", b"1"), ("t/0.cls", b"00")]),
        "shard.zip": shards.zip([("z2.json", b"{}"), ("z1.json", b"[1]")]),
    }
    bucket = put(objects)
    members = {
        "shard.tar": tar_members,
        "shard.tar.gz": gz_members,
        "shard.tgz": [("t/1.cls", b"1"), ("t/0.cls", b"00")],
        "shard.zip": [("z2.json", b"{}"), ("z1.json", b"[1]")],
    }
    return bucket, objects, members


def _expected_arch_listing(objects, members):
    rows = {}
    for name, data in objects.items():
        if name in members:
            rows[name] = (len(data), 576)
            for m, mdata in members[name]:
                rows[f"{name}/{m}"] = (len(mdata), 192)
        else:
            rows[name] = (len(data), 64)
    return [(n, *rows[n]) for n in by_bytes(rows)]


def test_arch_dir_expands_all_formats(archives, wire, kit):
    bucket, objects, members = archives
    raw = wire.list_all_raw(bucket.name, props="name,size", flags=kit.LS_ARCH_DIR)
    got = [(e["n"], e.get("s", 0), e.get("f", 0)) for e in raw]
    assert got == _expected_arch_listing(objects, members)


def test_arch_dir_names_only_keeps_member_sizes(archives, wire, kit):
    bucket, _, _ = archives
    for flags, props in ((kit.LS_ARCH_DIR | kit.LS_NAME_ONLY, "name"), (kit.LS_ARCH_DIR, "name")):
        raw = wire.list_all_raw(bucket.name, prefix="shard.zip", props=props, flags=flags)
        assert [(e["n"], e.get("s")) for e in raw] == [
            ("shard.zip", None), ("shard.zip/z1.json", 3), ("shard.zip/z2.json", 2)]


def test_arch_dir_sibling_order(archives, wire, kit):
    bucket, _, _ = archives
    names = [e["n"] for e in wire.list_all_raw(bucket.name, prefix="shard.tar",
                                                 props="name", flags=kit.LS_ARCH_DIR)]
    # "." sorts before "/": the sibling shard and its files come before shard.tar/...
    assert names == [
        "shard.tar", "shard.tar.gz", "shard.tar.gz/x", "shard.tar.gz/y",
        "shard.tar/a.txt", "shard.tar/b.txt", "shard.tar/sub/c.txt",
    ]


def test_arch_dir_via_sdk(archives):
    bucket, _, _ = archives
    entries = bucket.list_all_objects(prefix="shard.zip", props="name",
                                      flags=[ListObjectFlag.ARCH_DIR])
    assert [e.name for e in entries] == ["shard.zip", "shard.zip/z1.json", "shard.zip/z2.json"]
    assert entries[0].flags & 512
    assert [e.flags & 128 for e in entries] == [0, 128, 128]


def test_arch_dir_paginates_inside_shard(archives, kit, wire):
    bucket, _, _ = archives
    msg = {"prefix": "shard.tgz", "props": "name", "flags": kit.LS_ARCH_DIR, "pagesize": 2}
    r, first = wire.list_page(bucket.name, **msg)
    assert r.status_code == 200
    assert [e["n"] for e in first["Entries"]] == ["shard.tgz", "shard.tgz/t/0.cls"]
    assert first["ContinuationToken"] == "shard.tgz/t/0.cls"
    _, second = wire.list_page(bucket.name, uuid=first["UUID"],
                               continuation_token=first["ContinuationToken"], **msg)
    assert [e["n"] for e in second["Entries"]] == ["shard.tgz/t/1.cls"]


def test_without_arch_dir_shards_are_plain(archives):
    bucket, objects, _ = archives
    entries = bucket.list_all_objects(props="name,size")
    assert [(e.name, e.size) for e in entries] == [
        (n, len(objects[n])) for n in by_bytes(objects)
    ]
    assert all(not e.flags & (512 | 128) for e in entries)


def test_list_archive(archives):
    bucket, _, _ = archives
    names = [e.name for e in bucket.list_archive("shard.tgz")]
    assert names == ["shard.tgz/t/0.cls", "shard.tgz/t/1.cls"]
    with_self = [e.name for e in bucket.list_archive("shard.tgz", include_archive_obj=True)]
    assert with_self == ["shard.tgz", "shard.tgz/t/0.cls", "shard.tgz/t/1.cls"]


def test_list_archive_prefix_also_matches_siblings(archives):
    bucket, _, _ = archives
    names = [e.name for e in bucket.list_archive("shard.tar")]
    assert names == [
        "shard.tar.gz", "shard.tar.gz/x", "shard.tar.gz/y",
        "shard.tar/a.txt", "shard.tar/b.txt", "shard.tar/sub/c.txt",
    ]


def test_list_archive_sizes(archives):
    bucket, _, _ = archives
    entries = bucket.list_archive("shard.zip", props="name,size")
    assert [(e.name, e.size) for e in entries] == [
        ("shard.zip/z1.json", 3), ("shard.zip/z2.json", 2)
    ]


# ---------------------------------------------------------------------------------------
# NO_RECURSION / NO_DIRS


@pytest.fixture
def tree(put):
    return put({n: n.encode() for n in ["a/1", "a/2", "a/b/3", "a/b/c/4", "c", "d/5", "e"]})


def test_no_recursion_top_level(tree, wire, kit):
    raw = wire.list_all_raw(tree.name, props="name", flags=kit.LS_NO_RECURSION)
    got = [(e["n"], bool(e.get("f", 0) & kit.ENTRY_IS_DIR)) for e in raw]
    assert got == [("a/", True), ("c", False), ("d/", True), ("e", False)]


def test_no_recursion_under_prefix(tree, wire, kit):
    raw = wire.list_all_raw(tree.name, prefix="a/", props="name",
                            flags=kit.LS_NO_RECURSION)
    got = [(e["n"], bool(e.get("f", 0) & kit.ENTRY_IS_DIR)) for e in raw]
    assert got == [("a/1", False), ("a/2", False), ("a/b/", True)]


@pytest.mark.parametrize("prefix, want", [
    ("a", ["a/1", "a/2", "a/b/"]),  # names a directory: its children
    ("a/b", ["a/b/3", "a/b/c/"]),
    ("", ["a/", "c", "d/", "e"]),
    ("d", ["d/5"]),
    ("e", ["e"]),  # names no directory: the top level, by prefix
    ("a/", ["a/1", "a/2", "a/b/"]),
    # a prefix with a "/" that names no directory lists nothing (AIS walks the top level
    # and skips every directory there)
    ("a/1", []),
    ("a/b/c/4", []),
    ("a/x", []),
    ("a/b/c/", ["a/b/c/4"]),
])
def test_no_recursion_prefixes(tree, wire, kit, prefix, want):
    raw = wire.list_all_raw(tree.name, prefix=prefix, props="name", flags=kit.LS_NO_RECURSION)
    assert [e["n"] for e in raw] == want


def test_no_dirs_alone_changes_nothing(tree, wire, kit):
    names = [e["n"] for e in wire.list_all_raw(tree.name, props="name", flags=kit.LS_NO_DIRS)]
    assert names == ["a/1", "a/2", "a/b/3", "a/b/c/4", "c", "d/5", "e"]


def test_no_dirs_ignored_for_ais_buckets(tree, wire, kit):
    # NO_DIRS filters the virtual directories a *remote* backend reports; real AIS does not
    # apply it to ais buckets, so NO_RECURSION still yields the dir entries
    flags = kit.LS_NO_RECURSION | kit.LS_NO_DIRS
    top = [e["n"] for e in wire.list_all_raw(tree.name, props="name", flags=flags)]
    assert top == ["a/", "c", "d/", "e"]


def test_no_recursion_via_sdk(tree):
    entries = tree.list_all_objects(prefix="a/b/", flags=[ListObjectFlag.NO_RECURSION])
    assert [e.name for e in entries] == ["a/b/3", "a/b/c/"]
    assert entries[1].flags & 256
    assert not entries[0].flags & 256
