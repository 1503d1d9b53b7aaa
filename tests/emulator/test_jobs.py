"""Job endpoints and the work behind multi-object jobs, at the sans-IO level."""

from __future__ import annotations

import json
import threading

import pytest

from ais_emulator import Emulator
from ais_emulator.api import Request, dispatch
from ais_emulator.api.errors import ApiError
from ais_emulator.api.handlers.jobs import rfc3339, snap_doc, status_doc
from ais_emulator.api.handlers.multiobj import archive_format
from ais_emulator.store.templates import Selection
from ais_emulator.xactions import TCSpec, copy_work, delete_work, summary


def call(emu, method, path, query="", body=None):
    raw = json.dumps(body).encode() if body is not None else b""
    return dispatch(emu, Request(method, path, query, {}, raw, base_url="http://emu.test"))


def args(job_id="", kind="", bck=None):
    return {"ID": job_id, "Kind": kind, "DaemonID": "", "Bck": bck, "Buckets": None}


@pytest.fixture
def emu():
    e = Emulator()
    e.create_bucket("b")
    for i in range(3):
        e.put_object("b", f"o{i}", b"x" * (i + 1))
    return e


def test_rfc3339():
    assert rfc3339(0) == "0001-01-01T00:00:00Z"
    assert rfc3339(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"
    assert rfc3339(1_700_000_000_500_000_000) == "2023-11-14T22:13:20.5Z"
    assert rfc3339(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"


def test_status_and_snap_of_running_finished_and_aborted_jobs(emu):
    gate = threading.Event()
    running = emu.jobs.start("copy-bck", lambda ctx: gate.wait(5), src_bck=emu.bucket_id("b"))
    assert status_doc(running)["end_time"] == 0
    snap = snap_doc(running)
    assert snap["end-time"] == "0001-01-01T00:00:00Z" and not snap["is_idle"]
    assert snap["src-bck"]["name"] == "b" and snap["dst-bck"]["name"] == ""
    emu.jobs.abort(running.id)
    gate.set()
    assert running.wait(5)
    snap = snap_doc(running)
    assert snap["aborted"] and snap["abort-err"] == "aborted" and snap["err"] == ""
    assert status_doc(running)["aborted"] and status_doc(running)["end_time"] > 0

    def fails(ctx):
        ctx.add(2, 10)
        raise ValueError("broken")

    failed = emu.jobs.start("archive", fails, sync=True)
    snap = snap_doc(failed)
    assert snap["err"] == "ValueError: broken" and snap["abort-err"] == "" and snap["is_idle"]
    assert snap["stats"]["loc-objs"] == "2" and snap["stats"]["loc-bytes"] == "10"


def test_status_knows_tracked_kinds_only(emu):
    idle = emu.jobs.start("copy-listrange", None)
    tracked = emu.jobs.start("delete-listrange", None)
    assert call(emu, "GET", "/v1/cluster", "what=status", args(idle.id)).status == 404
    assert call(emu, "GET", "/v1/cluster", "what=qryxstats", args(idle.id)).status == 200
    resp = call(emu, "GET", "/v1/cluster", "what=status", args(tracked.id))
    assert resp.status == 200 and json.loads(resp.body)["kind"] == "delete-listrange"
    resp = call(emu, "GET", "/v1/cluster", "what=status", args("", "delete-listrange"))
    assert json.loads(resp.body)["uuid"] == tracked.id
    resp = call(emu, "GET", "/v1/cluster", "what=status_all", {"kind": ""})
    assert [s["uuid"] for s in json.loads(resp.body)] == [tracked.id]


def test_snapshots_by_kind_and_bucket(emu):
    emu.create_bucket("c")
    on_b = emu.jobs.start("copy-bck", None, src_bck=emu.bucket_id("b"))
    emu.jobs.start("copy-bck", None, src_bck=emu.bucket_id("c"))
    bck = {"name": "b", "provider": "ais", "namespace": {"uuid": "", "name": ""}}
    resp = call(emu, "GET", "/v1/cluster", "what=qryxstats", args("", "copy-bck", bck))
    ((tid, snaps),) = json.loads(resp.body).items()
    assert tid == emu.identity.target_id and [s["id"] for s in snaps] == [on_b.id]
    resp = call(emu, "GET", "/v1/cluster", "what=qryxstats", args("", "etl-listrange"))
    assert json.loads(resp.body) == {emu.identity.target_id: []}
    assert call(emu, "GET", "/v1/cluster", "what=qryxstats", args("nope")).status == 404
    assert call(emu, "GET", "/v1/cluster", "what=bogus", args()).status == 400


@pytest.mark.parametrize("kind, bck, status", [
    ("lru", None, 200), ("cleanup", "b", 200), ("rebalance", None, 400),
    ("copy-bck", None, 400), ("copy-bck", "b", 501), ("frobnicate", None, 400),
    ("lru", "missing", 404),
])
def test_start(emu, kind, bck, status):
    doc = {"name": bck, "provider": "ais", "namespace": None} if bck else None
    resp = call(emu, "PUT", "/v1/cluster", "", {"action": "start", "name": "",
                                                 "value": args("", kind, doc)})
    assert resp.status == status
    if status == 200:
        assert emu.jobs.get(resp.body.decode()).kind == kind


def test_stop(emu):
    stop = {"action": "stop", "name": ""}
    assert call(emu, "PUT", "/v1/cluster", "", {**stop, "value": args("unknown")}).status == 200
    assert call(emu, "PUT", "/v1/cluster", "", {**stop, "value": args()}).status == 400
    assert call(emu, "PUT", "/v1/cluster", "", {"action": "bogus", "value": {}}).status == 400


# -- the work behind jobs ----------------------------------------------------------------


@pytest.mark.parametrize("name, ext, prepend, expected", [
    ("a/b.jpg", {"jpg": "png"}, "", "a/b.png"),
    ("a/b.jpg", {".jpg": ".png"}, "x/", "x/a/b.png"),
    ("a.tar.gz", {"gz": "zst"}, "", "a.tar.zst"),
    ("noext", {"jpg": "png"}, "p-", "p-noext"),
    ("a.JPG", {"jpg": "png"}, "", "a.JPG"),
])
def test_destination_names(name, ext, prepend, expected):
    assert TCSpec(prepend=prepend, ext=ext).to_name(name) == expected


def test_copy_and_delete_work(emu):
    src, dst = emu.bucket_id("b"), emu.create_bucket("d")
    listed = Selection(["o0", "gone", "o2"], ranged=False, listed=True)
    job = emu.jobs.start("copy-listrange", copy_work(emu, src, dst, listed, TCSpec()), sync=True)
    assert "ais://b/gone does not exist" in job.err and job.stats.objs == 2
    assert emu.store.object_names(dst) == ["o0", "o2"]
    job = emu.jobs.start("copy-listrange",
                         copy_work(emu, src, dst, listed, TCSpec(coer=True, prepend="c/")),
                         sync=True)
    assert job.err == "" and emu.store.object_names(dst, "c/") == ["c/o0", "c/o2"]
    ranged = Selection(["o1", "o9"], ranged=True, listed=False)
    job = emu.jobs.start("delete-listrange", delete_work(emu, src, ranged), sync=True)
    assert job.err == "" and emu.store.object_names(src) == ["o0", "o2"]


def test_summary(emu):
    doc = summary(emu, emu.bucket_id("b"), prefix="o")
    assert doc["ObjCount"]["obj_count_present"] == "3"
    assert doc["ObjSize"] == {"obj_min_size": 1, "obj_avg_size": 2, "obj_max_size": 3}
    assert doc["TotalSize"]["size_all_present_objs"] == "6"
    empty = summary(emu, emu.bucket_id("b"), prefix="zzz", present=True)
    assert empty["ObjSize"]["obj_max_size"] == 0 and empty["is_present"] is True


@pytest.mark.parametrize("name, mime, fmt", [
    ("a.tar", "", ".tar"), ("a.tgz", ".tgz", ".tgz"), ("a.tar.gz", "", ".tgz"),
    ("d/a.zip", ".zip", ".zip")])
def test_archive_formats(name, mime, fmt):
    assert archive_format(name, mime) == fmt


@pytest.mark.parametrize("name, mime, status", [
    ("a.txt", "", 400), ("a", "", 400), ("a.tar", ".zip", 400), ("a.tar.lz4", "", 501)])
def test_archive_format_errors(name, mime, status):
    with pytest.raises(ApiError) as exc:
        archive_format(name, mime)
    assert exc.value.status == status
