"""The durable store on its own: what survives a reopen, crash leftovers, the data dir's
layout and lock, and streamed object data. (``test_store.py`` runs every store rule on it
too; ``test_crash_durable.py`` kills a real server.)"""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from ais_emulator import Emulator
from ais_emulator.store import BucketId, InvalidAppendHandle, ObjectNotFound, Store, UploadNotFound
from ais_emulator.store.catalog import LAYOUT_FILE, DataDirError
from ais_emulator.store.disk import DiskStore
from ais_emulator.store.objects import checksum
from emulator._durable import files_under, payload

BCK = BucketId.parse("ais", "data")


@pytest.fixture
def root(tmp_path):
    return str(tmp_path / "ais-data")


@pytest.fixture
def store(root):
    s = DiskStore(root)
    s.create_bucket(BCK)
    yield s
    s.close()


def reopen(store: DiskStore) -> DiskStore:
    store.close()
    return DiskStore(store.data_dir)


def blobs(root: str) -> int:
    return files_under(os.path.join(root, "objects"))


def content(rec) -> bytes:
    return b"".join(rec.iter_data())


# -- what survives a reopen ---------------------------------------------------------------


def test_everything_comes_back(store, root):
    ns = BucketId.parse("ais", "data", "@#team")
    store.create_bucket(ns)
    store.put_object(BCK, "a/1.bin", b"one", custom={"k": "v"})
    store.put_object(BCK, "a/1.bin", b"one again")
    store.put_object(ns, "x", b"namespaced")
    store.set_custom(BCK, "a/1.bin", {"src": "test"})
    up = store.mpt_create(BCK, "mp")
    store.mpt_put_part(BCK, "mp", up, 1, b"AAA")
    store.mpt_put_part(BCK, "mp", up, 2, b"BB")
    store.mpt_complete(BCK, "mp", up, [1, 2])
    before = {(b, n): store.head_object(b, n) for b in (BCK, ns)
              for n in store.object_names(b)}
    bids = {b: store.bucket(b).bid for b in (BCK, ns)}
    created = {b: store.bucket(b).created_ns for b in (BCK, ns)}

    store = reopen(store)
    try:
        assert store.list_buckets() == sorted([BCK, ns], key=lambda b: b.namespace_str)
        assert {b: store.bucket(b).bid for b in (BCK, ns)} == bids
        assert {b: store.bucket(b).created_ns for b in (BCK, ns)} == created
        for (b, n), old in before.items():
            rec = store.head_object(b, n)
            assert content(rec) == content(old)
            assert (rec.version, rec.cksum_type, rec.cksum_value, rec.custom, rec.chunks,
                    rec.mtime_ns, rec.atime_ns) == (old.version, old.cksum_type,
                                                   old.cksum_value, old.custom, old.chunks,
                                                   old.mtime_ns, old.atime_ns)
        rec = store.head_object(BCK, "a/1.bin")
        assert rec.version == "2" and rec.custom == {"src": "test"}
        assert store.head_object(BCK, "mp").chunks == (2, 3)
        assert store.put_object(BCK, "a/1.bin", b"3").version == "3"  # versions continue
        new = BucketId.parse("ais", "later")
        assert store.create_bucket(new).bid == max(bids.values()) + 1
    finally:
        store.close()


def test_access_times_are_written_at_close(store):
    store.put_object(BCK, "o", b"x")
    read = store.get_object(BCK, "o").atime_ns
    store = reopen(store)
    try:
        assert store.head_object(BCK, "o").atime_ns == read
    finally:
        store.close()


def test_delete_destroy_and_reset_are_durable(store, root):
    other = BucketId.parse("ais", "other")
    store.create_bucket(other)
    for i in range(3):
        store.put_object(BCK, f"o{i}", b"x" * i)
        store.put_object(other, f"o{i}", b"y")
    store.delete_object(BCK, "o1")
    store.destroy_bucket(other)
    assert blobs(root) == 2
    store = reopen(store)
    assert store.object_names(BCK) == ["o0", "o2"] and not store.has_bucket(other)
    store.reset()
    assert blobs(root) == 0
    store = reopen(store)
    try:
        assert store.list_buckets() == []
    finally:
        store.close()


# -- streamed data ------------------------------------------------------------------------


def test_put_streams_chunks_of_unknown_length(store, root):
    parts = [payload(f"c{i}", 300_000 + i) for i in range(7)]
    rec = store.put_object(BCK, "big", iter(parts))
    whole = b"".join(parts)
    assert rec.size == len(whole) and rec.cksum_value == checksum(whole)
    assert max(len(c) for c in rec.iter_data()) <= 1 << 20
    assert b"".join(rec.iter_data(123_456, 1_500_000)) == whole[123_456:1_500_000]
    assert rec.head(5) == whole[:5] and rec.data == whole


def test_a_failing_stream_leaves_nothing(store, root):
    store.put_object(BCK, "o", b"old")

    def broken():
        yield b"new bytes"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.put_object(BCK, "o", broken())
    with pytest.raises(ConnectionResetError):
        store.put_object(BCK, "fresh", broken())
    assert content(store.head_object(BCK, "o")) == b"old"
    with pytest.raises(ObjectNotFound):
        store.head_object(BCK, "fresh")
    assert os.listdir(os.path.join(root, "tmp")) == [] and blobs(root) == 1


def test_memory_store_takes_chunks_too():
    s = Store()
    s.create_bucket(BCK)
    assert s.put_object(BCK, "o", iter([b"ab", memoryview(b"cd")])).data == b"abcd"
    h = s.append(BCK, "log", "", iter([b"x", b"y"]))
    assert s.flush(BCK, "log", h, iter([b"z"])).data == b"xyz"
    up = s.mpt_create(BCK, "mp")
    s.mpt_put_part(BCK, "mp", up, 1, iter([b"p", b"q"]))
    assert s.mpt_complete(BCK, "mp", up, [1]).data == b"pq"


def test_a_reader_keeps_the_version_it_got(store, root):
    store.put_object(BCK, "o", payload("v1", 3 << 20))
    got = store.get_object(BCK, "o")
    stream = got.iter_data()
    first = next(stream)  # the file is open now
    store.put_object(BCK, "o", payload("v2", 10))
    store.delete_object(BCK, "o")
    assert first + b"".join(stream) == payload("v1", 3 << 20)
    late = got.iter_data()  # not opened before the delete: the file is still there
    assert b"".join(late) == payload("v1", 3 << 20)
    assert blobs(root) == 1
    del got, stream, late
    assert blobs(root) == 0  # unlinked once the last reader let go


def test_copies_share_the_file(store, root):
    store.put_object(BCK, "src", b"shared bytes", custom={"a": "b"})
    rec = store.copy_object(BCK, "src", BCK, "dst")
    assert os.stat(rec.body.path).st_nlink == 2 and blobs(root) == 2
    store.delete_object(BCK, "src")
    store = reopen(store)
    try:
        assert content(store.head_object(BCK, "dst")) == b"shared bytes"
        assert store.head_object(BCK, "dst").custom == {"a": "b"}
    finally:
        store.close()


# -- pending writes -----------------------------------------------------------------------


def test_append_session_survives_and_torn_tail_is_cut(store):
    store.put_object(BCK, "log", b"base:")
    h = store.append(BCK, "log", "", b"one,")
    h = store.append(BCK, "log", h, b"two,")
    session = store._sessions.find(BCK, "log", h)
    with open(session.path, "ab") as f:  # what a crash mid-append leaves behind
        f.write(b"UNACKNOWLEDGED")
    store = reopen(store)
    try:
        with pytest.raises(InvalidAppendHandle):
            store.append(BCK, "log", h.rpartition(".")[0] + ".3", b"x")
        h = store.append(BCK, "log", h, b"three")
        rec = store.flush(BCK, "log", h)
        assert content(rec) == b"base:one,two,three" and rec.version == "2"
        assert rec.cksum_value == checksum(b"base:one,two,three")
        with pytest.raises(InvalidAppendHandle):
            store.flush(BCK, "log", h)
        assert os.listdir(os.path.join(store.data_dir, "appends")) == []
    finally:
        store.close()


def test_multipart_upload_resumes_after_reopen(store, root):
    up = store.mpt_create(BCK, "mp")
    store.mpt_put_part(BCK, "mp", up, 2, b"-two")
    store.mpt_put_part(BCK, "mp", up, 1, b"first")
    store.mpt_put_part(BCK, "mp", up, 1, b"one")  # replaced: the old part's file goes
    assert blobs(root) == 2
    store = reopen(store)
    try:
        rec = store.mpt_complete(BCK, "mp", up, [2, 1])
        assert content(rec) == b"one-two" and rec.chunks == (2, 4)
        assert blobs(root) == 1  # the parts are gone, the object stays
        up = store.mpt_create(BCK, "mp")
        store.mpt_put_part(BCK, "mp", up, 1, b"x")
        store.mpt_abort(BCK, "mp", up)
        assert blobs(root) == 1
    finally:
        store.close()


def test_crash_leftovers_are_removed_at_start(store, root):
    store.put_object(BCK, "kept", b"kept")
    store.close()
    stray = os.path.join(root, "objects", "ab", "ab" + "0" * 30)
    for path in (stray, os.path.join(root, "tmp", "half-written"),
                 os.path.join(root, "appends", "no-session")):
        with open(path, "wb") as f:
            f.write(b"left by a crash")
    store = DiskStore(root)
    try:
        assert not os.path.exists(stray)
        assert os.listdir(os.path.join(root, "tmp")) == []
        assert os.listdir(os.path.join(root, "appends")) == []
        assert content(store.head_object(BCK, "kept")) == b"kept"
    finally:
        store.close()


def test_an_object_whose_file_was_removed_by_hand_is_dropped(store, root):
    path = store.put_object(BCK, "gone", b"x").body.path
    store.put_object(BCK, "kept", b"y")
    store.close()
    os.unlink(path)
    store = DiskStore(root)
    try:
        assert store.object_names(BCK) == ["kept"]
    finally:
        store.close()


# -- the data dir -------------------------------------------------------------------------


def test_new_dir_gets_a_layout(root):
    DiskStore(root).close()
    with open(os.path.join(root, LAYOUT_FILE)) as f:
        assert json.load(f) == {"format": "ais-emulator data dir", "layout": 1}


def test_foreign_directory_is_refused_untouched(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataDirError, match="not an ais-emulator data dir"):
        DiskStore(str(tmp_path))
    assert os.listdir(tmp_path) == ["notes.txt"]


@pytest.mark.parametrize("layout, message", [
    ({"format": "ais-emulator data dir", "layout": 99}, "layout 99, newer than this"),
    ({"format": "something else", "layout": 1}, "not an ais-emulator data dir layout"),
    ("not json", "unreadable layout file"),
])
def test_unknown_layout_is_refused_untouched(root, layout, message):
    DiskStore(root).close()
    path = os.path.join(root, LAYOUT_FILE)
    with open(path, "w") as f:
        f.write(layout if isinstance(layout, str) else json.dumps(layout))
    before = sorted(os.listdir(root))
    with pytest.raises(DataDirError, match=message):
        DiskStore(root)
    assert sorted(os.listdir(root)) == before
    with open(path) as f:
        assert f.read() == (layout if isinstance(layout, str) else json.dumps(layout))


def test_newer_catalog_schema_is_refused(root):
    import sqlite3

    DiskStore(root).close()
    conn = sqlite3.connect(os.path.join(root, "catalog.db"))
    conn.execute("PRAGMA user_version=7")
    conn.close()
    with pytest.raises(DataDirError, match="schema 7, newer"):
        DiskStore(root)


def test_a_dir_in_use_is_refused(store, root):
    with pytest.raises(DataDirError, match="in use"):
        DiskStore(root)
    store.close()
    DiskStore(root).close()  # released


def _put_in_child(store, conn):
    try:
        store.put_object(BCK, "child", b"x")
        conn.send("stored")
    except Exception as e:  # noqa: BLE001 - the message is the result
        conn.send(str(e))


def test_a_forked_child_cannot_write(store):
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_put_in_child, args=(store, child))
    proc.start()
    msg = parent.recv()
    proc.join(30)
    assert "belongs to process" in msg and "HTTP server" in msg
    with pytest.raises(ObjectNotFound):
        store.head_object(BCK, "child")


def test_without_a_data_dir_nothing_touches_the_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with Emulator() as emu:
        emu.create_bucket("b")
        emu.put_object("b", "o", b"x")
        assert emu.get_object("b", "o") == b"x"
        assert emu.data_dir is None and emu.store.in_memory
    assert os.listdir(tmp_path) == []


def test_emulator_with_a_data_dir(root):
    with Emulator(data_dir=root) as emu:
        emu.create_bucket("b")
        emu.put_object("b", "o", iter([b"chunk", b"ed"]))
        assert emu.get_object("b", "o") == b"chunked"
        assert "data_dir=" in repr(emu)
    with Emulator(data_dir=root) as emu:
        assert emu.get_object("b", "o") == b"chunked"
        emu.reset()
    with Emulator(data_dir=root) as emu:
        assert emu.list_buckets() == []


def test_destroying_a_bucket_ends_its_pending_writes(store, root):
    h = store.append(BCK, "log", "", b"pending")
    up = store.mpt_create(BCK, "mp")
    store.mpt_put_part(BCK, "mp", up, 1, b"part")
    store.destroy_bucket(BCK)
    store.create_bucket(BCK)
    with pytest.raises(InvalidAppendHandle):
        store.append(BCK, "log", h, b"more")
    with pytest.raises(UploadNotFound):
        store.mpt_put_part(BCK, "mp", up, 2, b"x")
    assert os.listdir(os.path.join(root, "appends")) == [] and blobs(root) == 0
    store = reopen(store)
    try:
        assert store.object_names(BCK) == [] and store._catalog.rows("parts") == []
    finally:
        store.close()


def test_rename_and_update_are_durable_and_keep_one_file_each(store, root):
    store.put_object(BCK, "old", b"renamed bytes", custom={"k": "v"})
    store.put_object(BCK, "dst", b"replaced by the rename")
    moved = store.rename_object(BCK, "old", "dst")
    store.put_object(BCK, "shard", b"v1")
    updated = store.update_object(BCK, "shard", lambda cur: bytes(cur.data) + b"+v2")
    assert blobs(root) == 2  # the renamed object and the updated one, nothing left behind
    store = reopen(store)
    try:
        assert store.object_names(BCK) == ["dst", "shard"]
        rec = store.head_object(BCK, "dst")
        assert content(rec) == b"renamed bytes" and rec.custom == {"k": "v"}
        assert (rec.version, rec.cksum_value) == (moved.version, checksum(b"renamed bytes"))
        rec = store.head_object(BCK, "shard")
        assert content(rec) == b"v1+v2" and rec.version == updated.version == "2"
        assert rec.cksum_value == checksum(b"v1+v2")
    finally:
        store.close()


def test_update_sees_a_concurrent_write_and_rebuilds(store):
    store.put_object(BCK, "shard", b"v1")
    seen = []

    def build(cur):
        seen.append(bytes(cur.data))
        if len(seen) == 1:  # another writer lands between the read and the write
            store.put_object(BCK, "shard", b"v2")
        return bytes(cur.data) + b"+appended"

    store.update_object(BCK, "shard", build)
    assert seen == [b"v1", b"v2"]
    assert content(store.get_object(BCK, "shard")) == b"v2+appended"
