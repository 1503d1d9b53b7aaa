"""Listing pages straight from the store: order, tokens, archives, directories."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from ais_emulator.store import BucketId, ListQuery, Store
from ais_emulator.store.listing import MAX_PAGE_SIZE


def tar_of(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_of(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def store():
    return Store()


@pytest.fixture
def bck(store):
    b = BucketId.parse("ais", "l")
    store.create_bucket(b)
    return b


def put(store, bck, *names):
    for n in names:
        store.put_object(bck, n, n.encode())


def names(page):
    return [e.name for e in page.entries]


def walk(store, bck, **kw):
    """Every page of a listing, following tokens the way the SDK does."""
    pages, token = [], ""
    while True:
        page = store.list_objects(bck, ListQuery(token=token, **kw))
        pages.append(names(page))
        token = page.token
        if not token:
            return pages


def test_lexicographic_by_code_point(store, bck):
    put(store, bck, "b", "a/z", "a0", "B", "a.b", "a-b", "é", "a~")
    page = store.list_objects(bck, ListQuery())
    assert names(page) == sorted(["b", "a/z", "a0", "B", "a.b", "a-b", "é", "a~"])
    assert page.token == ""
    assert [e.size for e in page.entries] == [len(n.encode()) for n in names(page)]


def test_full_page_carries_last_name_even_at_the_end(store, bck):
    put(store, bck, "o1", "o2", "o3", "o4")
    assert walk(store, bck, page_size=2) == [["o1", "o2"], ["o3", "o4"], []]
    assert walk(store, bck, page_size=3) == [["o1", "o2", "o3"], ["o4"]]


def test_prefix_and_start_after(store, bck):
    put(store, bck, "x/1", "x/2", "x/3", "x2", "y")
    assert names(store.list_objects(bck, ListQuery(prefix="x/"))) == ["x/1", "x/2", "x/3"]
    assert names(store.list_objects(bck, ListQuery(prefix="x"))) == ["x/1", "x/2", "x/3", "x2"]
    assert names(store.list_objects(bck, ListQuery(start_after="x/2"))) == ["x/3", "x2", "y"]
    assert names(store.list_objects(bck, ListQuery(prefix="x/", start_after="x/1", page_size=1))) == ["x/2"]
    assert names(store.list_objects(bck, ListQuery(prefix="zzz"))) == []


def test_page_size_is_capped(store, bck):
    put(store, bck, *[f"o{i:05d}" for i in range(MAX_PAGE_SIZE + 5)])
    page = store.list_objects(bck, ListQuery(page_size=MAX_PAGE_SIZE + 100))
    assert len(page.entries) == MAX_PAGE_SIZE and page.token == f"o{MAX_PAGE_SIZE - 1:05d}"
    page = store.list_objects(bck, ListQuery(token=page.token))
    assert len(page.entries) == 5 and page.token == ""


def test_arch_dir_expands_members_in_global_order(store, bck):
    store.put_object(bck, "s.tar", tar_of([("img/b.jpg", b"BB"), ("./a.jpg", b"A"),
                                           ("dir/", None), ("img/a.jpg", b"AAA")]))
    put(store, bck, "s.tar.gz", "s.tar0", "s.tar-x", "plain")
    page = store.list_objects(bck, ListQuery(arch_dir=True))
    got = [(e.name, e.size, e.in_archive, e.is_archive) for e in page.entries]
    assert got == [
        ("plain", 5, False, False),
        ("s.tar", got[1][1], False, True),
        ("s.tar-x", 7, False, False),
        ("s.tar.gz", 8, False, False),  # not a real archive: listed as a plain object
        ("s.tar/a.jpg", 1, True, False),
        ("s.tar/img/a.jpg", 3, True, False),
        ("s.tar/img/b.jpg", 2, True, False),
        ("s.tar0", 6, False, False),
    ]


def test_arch_dir_members_paginate(store, bck):
    store.put_object(bck, "a.zip", zip_of([(f"m{i}", b"x" * i) for i in range(5)]))
    put(store, bck, "b")
    pages = walk(store, bck, arch_dir=True, page_size=2)
    assert pages == [["a.zip", "a.zip/m0"], ["a.zip/m1", "a.zip/m2"], ["a.zip/m3", "a.zip/m4"],
                     ["b"]]


def test_arch_dir_token_inside_a_shard_after_a_sibling(store, bck):
    # the shard sorts before the token, its members after it
    store.put_object(bck, "s.tar", tar_of([("m1", b"1"), ("m2", b"2")]))
    put(store, bck, "s.tar.x")
    pages = walk(store, bck, arch_dir=True, page_size=2)
    assert pages == [["s.tar", "s.tar.x"], ["s.tar/m1", "s.tar/m2"], []]


def test_arch_dir_prefix_selects_objects_only(store, bck):
    store.put_object(bck, "s.tar", tar_of([("a/1", b"1"), ("b/2", b"2")]))
    assert names(store.list_objects(bck, ListQuery(prefix="s.tar/a", arch_dir=True))) == []
    assert names(store.list_objects(bck, ListQuery(prefix="s.t", arch_dir=True))) == [
        "s.tar", "s.tar/a/1", "s.tar/b/2"]


def test_without_arch_dir_shards_are_plain(store, bck):
    store.put_object(bck, "s.tar", tar_of([("m", b"1")]))
    page = store.list_objects(bck, ListQuery())
    assert names(page) == ["s.tar"] and not page.entries[0].is_archive


BUCKET = ["img001", "vid001", "img-test/obj1", "img-test/vid1", "img-test/pics/obj01",
          "img003", "img-test/pics/vid01"]


@pytest.mark.parametrize("prefix, want", [
    ("", ["img-test/", "img001", "img003", "vid001"]),
    ("img-test", ["img-test/obj1", "img-test/pics/", "img-test/vid1"]),
    ("img-test/", ["img-test/obj1", "img-test/pics/", "img-test/vid1"]),
    ("img-test/pics", ["img-test/pics/obj01", "img-test/pics/vid01"]),
    ("img-test/pics/", ["img-test/pics/obj01", "img-test/pics/vid01"]),
    ("img", ["img-test/", "img001", "img003"]),
    # a prefix with a "/" that names no directory: AIS's walk lists nothing
    ("img-test/o", []),
    ("img-test/obj1", []),
    ("img-test/p", []),
    ("img-test/pics/o", []),
    ("nothing/", []),
])
def test_no_recursion(store, bck, prefix, want):
    put(store, bck, *BUCKET)
    page = store.list_objects(bck, ListQuery(prefix=prefix, no_recursion=True))
    assert names(page) == want
    assert all(e.is_dir == e.name.endswith("/") for e in page.entries)


def test_no_recursion_with_no_dirs(store, bck):
    put(store, bck, *BUCKET)
    page = store.list_objects(bck, ListQuery(no_recursion=True, no_dirs=True))
    assert names(page) == ["img001", "img003", "vid001"]
    # NO_DIRS alone changes nothing for a recursive listing
    assert len(store.list_objects(bck, ListQuery(no_dirs=True)).entries) == len(BUCKET)


def test_no_recursion_pagination_never_repeats_dirs(store, bck):
    put(store, bck, "p/d1/f", "p/d2/f", "p/d3/f", "p/d4/f", "p/d5/f", "p/f1", "p/f2")
    pages = walk(store, bck, prefix="p/", no_recursion=True, page_size=3)
    assert pages == [["p/d1/", "p/d2/", "p/d3/"], ["p/d4/", "p/d5/", "p/f1"], ["p/f2"]]


def test_no_recursion_dir_name_prefix_of_file_name(store, bck):
    put(store, bck, "q/aaa/nested", "q/aaa111", "q/aaa222", "q/bbb/deep/f1", "q/bbb123", "q/zzz")
    flat = [n for page in walk(store, bck, prefix="q/", no_recursion=True, page_size=1) for n in page]
    assert flat == ["q/aaa/", "q/aaa111", "q/aaa222", "q/bbb/", "q/bbb123", "q/zzz"]


def test_members_are_cached_per_record(store, bck):
    store.put_object(bck, "s.tar", tar_of([("m", b"1")]))
    store.list_objects(bck, ListQuery(arch_dir=True))
    rec = store.head_object(bck, "s.tar")
    assert rec._members == [("m", 1)]
    store.put_object(bck, "s.tar", tar_of([("n", b"22")]))
    assert names(store.list_objects(bck, ListQuery(arch_dir=True))) == ["s.tar", "s.tar/n"]


def test_uncached_shards_are_read_outside_the_lock(store, bck):
    from ais_emulator.store.listing import NeedMembers, list_page

    store.put_object(bck, "s.tar", tar_of([("m", b"1")]))
    bucket = store.bucket(bck)
    with pytest.raises(NeedMembers) as exc:
        list_page(bucket.names, bucket.objects, ListQuery(arch_dir=True), parse=False)
    assert exc.value.record.name == "s.tar"
    assert names(store.list_objects(bck, ListQuery(arch_dir=True))) == ["s.tar", "s.tar/m"]
    page = list_page(bucket.names, bucket.objects, ListQuery(arch_dir=True), parse=False)
    assert names(page) == ["s.tar", "s.tar/m"]  # cached now
