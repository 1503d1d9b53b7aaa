"""CLI-facing control plane at the protocol layer: node records, logs and counters, job
queries and lifetimes, rename, archive put, promote and GetBatch jobs."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import threading

import msgpack
import pytest

from ais_emulator import Emulator
from ais_emulator.api import Request, dispatch
from ais_emulator.jobs import IDLE_LINGER_NS
from ais_emulator.nodelog import NodeLog, parse_severity
from ais_emulator.nodestats import NodeStats
from ais_emulator.store import BucketId, ObjectBusy

from ._dispatch import BASE, act, call, content
from ._tars import shard


@pytest.fixture
def emu():
    e = Emulator()
    e.create_bucket("b")
    return e


# -- node log and counters ------------------------------------------------------------------


def test_node_log_lines_and_severities():
    log = NodeLog(max_lines=3)
    log.info("one")
    log.warning("two\nlines")
    log.error("three")
    log.info("four")
    text = log.text()
    assert text.startswith("Started up at ")
    lines = text.splitlines()[1:]
    assert [ln.split(" ", 2)[0] for ln in lines] == ["W", "E", "I"]  # the newest 3
    assert lines[0].endswith("two\\nlines")
    assert [ln[0] for ln in log.text("error").splitlines()[1:]] == ["W", "E"]
    with pytest.raises(ValueError):
        log.text("loud")
    assert parse_severity("") == "I" and parse_severity("WARNING") == "W"
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(log.archive("aistarget")))) as tf:
        (member,) = tf.getmembers()
        assert member.name.startswith("aistarget.") and ".INFO." in member.name
        assert tf.extractfile(member).read().decode() == log.text()


def test_node_stats_count_by_operation():
    stats = NodeStats()
    stats.observe("GET", "/v1/objects/b/o", 200, nbytes=10, elapsed_ns=100)
    stats.observe("GET", "/v1/objects/b/o", 404)
    stats.observe("PUT", "/s3/b/k", 200, nbytes=5)
    stats.observe("GET", "/s3/b", 200)
    stats.observe("GET", "/v1/health", 200)
    snap = stats.snapshot()
    assert snap["get.n"] == 1 and snap["get.size"] == 10 and snap["err.get.n"] == 1
    assert snap["get.ns"] == 100 and snap["put.n"] == 1 and snap["put.size"] == 5
    assert snap["lst.n"] == 1 and snap["up.ns.time"] >= 0
    assert not any(k.startswith("health") for k in snap)


def test_dispatch_counts_and_logs(emu):
    call(emu, "PUT", "/v1/objects/b/o", body=b"12345")
    call(emu, "GET", "/v1/objects/b/o")
    call(emu, "GET", "/v1/objects/b/missing")
    snap = emu.stats.snapshot()
    assert snap["put.n"] == 1 and snap["put.size"] == 5 and snap["get.n"] == 1
    assert snap["err.get.n"] == 1
    text = emu.log.text()
    assert "PUT /v1/objects/b/o -> 200" in text
    assert "W " in text and "GET /v1/objects/b/missing -> 404" in text
    assert "GET /v1/objects/b/o -> 200" not in text  # reads are not logged


def test_jobs_are_logged(emu):
    job = emu.jobs.start("lru", None)
    assert f"lru[{job.id}] started" in emu.log.text()
    assert f"lru[{job.id}] finished" in emu.log.text()


# -- node records on the wire -----------------------------------------------------------------


def test_daemon_and_reverse_node_status(emu):
    tid, pid = emu.identity.target_id, emu.identity.proxy_id
    own = json.loads(content(call(emu, "GET", "/v1/daemon", "what=node_status")))
    assert own["snode"]["daemon_id"] == pid and own["capacity"]["mountpaths"] is None
    resp = call(emu, "GET", "/v1/reverse/daemon", "what=node_status",
                headers={"Ais-Node-Id": tid, "Accept": "application/msgpack"})
    doc = msgpack.unpackb(content(resp), raw=False)
    assert resp.headers["Content-Type"] == "application/msgpack"
    assert doc["n"]["i"] == tid and doc["n"]["name"] == f"t[{tid}]"
    assert doc["n"]["p"]["tcpEndpoint"] == "emu.test:9999"
    assert doc["t"]["state.flags"] == 6 and doc["w"] == 1
    assert set(doc["x"]["m"]) == {"/ais/mp1"}
    assert isinstance(doc["c"]["b"]["Version"], int)


def test_reverse_errors(emu):
    assert call(emu, "GET", "/v1/reverse/daemon", "what=smap").status == 400
    resp = call(emu, "GET", "/v1/reverse/daemon", "what=smap", headers={"Ais-Node-Id": "x"})
    assert resp.status == 404 and json.loads(content(resp))["tcode"] == "errNodeNotFound"
    resp = call(emu, "GET", "/v1/daemon", "what=log&severity=loud")
    assert resp.status == 400 and b"loud" in content(resp)


def test_logs_on_the_wire(emu):
    tid = emu.identity.target_id
    resp = call(emu, "GET", "/v1/reverse/daemon", "what=log", headers={"Ais-Node-Id": tid})
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert content(resp).startswith(b"Started up at")
    resp = call(emu, "GET", "/v1/reverse/daemon", "what=log&all=true",
                headers={"Ais-Node-Id": tid})
    assert resp.headers["Content-Type"] == "application/x-gzip"
    assert content(resp)[:2] == b"\x1f\x8b"


def test_cluster_queries(emu):
    cfg = json.loads(content(call(emu, "GET", "/v1/cluster", "what=cluster_config")))
    assert cfg["uuid"] == emu.identity.uuid and cfg["proxy"]["primary_url"] == BASE
    bmd = json.loads(content(call(emu, "GET", "/v1/cluster", "what=bmd")))
    assert "b" in bmd["providers"]["ais"]["@#"]
    info = json.loads(content(call(emu, "GET", "/v1/cluster", "what=sysinfo")))
    assert emu.identity.target_id in info["target"]
    resp = call(emu, "GET", "/v1/cluster", "what=nope")
    assert resp.status == 400 and b"unexpected query [what=nope]" in content(resp)


# -- jobs -----------------------------------------------------------------------------------


def test_idle_kinds_stay_active_for_a_while(emu):
    job = emu.jobs.start("copy-listrange", None)
    assert job.finished and job.active()
    assert not job.active(job.end_ns + IDLE_LINGER_NS)
    assert not emu.jobs.start("lru", None).active()
    running = json.loads(content(call(emu, "GET", "/v1/cluster", "what=running_all",
                                      body={"kind": ""})))
    assert running == [f"copy-listrange[{job.id}]"]
    active = json.loads(content(call(emu, "GET", "/v1/cluster", "what=qryxstats",
                                     body={"show_active": True, "kind": "", "id": "",
                                           "bck": {"name": "", "provider": ""}})))
    assert [s["id"] for s in active[emu.identity.target_id]] == [job.id]


def test_aborting_an_idle_job_still_held(emu):
    job = emu.jobs.start("archive", None)
    emu.jobs.abort(job_id=job.id)
    assert job.aborted and job.err == "aborted" and not job.active()
    done = emu.jobs.start("lru", None)
    emu.jobs.abort(job_id=done.id)
    assert not done.aborted


def test_begin_and_end_jobs(emu):
    job = emu.jobs.begin("get-batch")
    assert not job.finished and job.active()
    emu.jobs.end(job, "")
    emu.jobs.end(job, "ignored: ended once")
    assert job.finished and job.err == ""
    other = emu.jobs.begin("get-batch")
    emu.jobs.abort(job_id=other.id)  # its stream may be stalled: it ends now
    assert other.finished and other.aborted


# -- GetBatch as a job --------------------------------------------------------------------


def _batch(emu, strm=True):
    emu.put_object("b", "x", b"x" * 3000)
    return call(emu, "GET", "/v1/ml/moss/b", body={"in": [{"objname": "x"}], "strm": strm})


@pytest.mark.parametrize("strm", [True, False])
def test_get_batch_job_ends_when_streamed(emu, strm):
    resp = _batch(emu, strm)
    (job,) = emu.jobs.find(kind="get-batch")
    assert not job.finished
    assert len(content(resp)) > 3000
    assert job.finished and not job.err and job.stats.objs == 1 and job.stats.bytes == 3000


def test_get_batch_job_ends_when_dropped_unread(emu):
    resp = _batch(emu)
    (job,) = emu.jobs.find(kind="get-batch")
    resp.close()
    assert job.finished and not job.aborted


def test_stopping_a_get_batch_cuts_its_stream(emu):
    resp = _batch(emu)
    (job,) = emu.jobs.find(kind="get-batch")
    chunks = iter(resp.body)
    emu.jobs.abort(job_id=job.id)
    with pytest.raises(Exception, match="aborted"):
        list(chunks)
    assert job.aborted


# -- rename and read-modify-write in the store -----------------------------------------------


def test_store_rename(emu):
    bck = BucketId.parse("ais", "b")
    emu.put_object("b", "a", b"A")
    emu.put_object("b", "a", b"AA", custom={"k": "v"})
    emu.put_object("b", "d/x", b"X")
    rec = emu.store.rename_object(bck, "a", "z")
    assert rec.name == "z" and rec.version == "2" and rec.custom == {"k": "v"}
    assert emu.store.object_names(bck) == ["d/x", "z"]
    with pytest.raises(Exception, match="virtual directory"):
        emu.store.rename_object(bck, "z", "d")
    assert emu.store.object_names(bck) == ["d/x", "z"]  # untouched by the failed rename


def test_update_object_retries_when_the_object_changes(emu):
    bck = BucketId.parse("ais", "b")
    emu.put_object("b", "o", b"0")
    calls = []

    def build(current):
        calls.append(current.data)
        if len(calls) == 1:
            emu.put_object("b", "o", b"changed meanwhile")
        return current.data + b"+"

    rec = emu.store.update_object(bck, "o", build)
    assert calls == [b"0", b"changed meanwhile"] and rec.data == b"changed meanwhile+"

    def always_changes(current):
        emu.put_object("b", "o", b"again")
        return b"never stored"

    with pytest.raises(ObjectBusy):
        emu.store.update_object(bck, "o", always_changes, attempts=3)
    assert emu.get_object("b", "o") == b"again"


def test_concurrent_appends_lose_nothing(emu):
    emu.put_object("b", "s.tar", shard([("first", b"1")]))
    errors = []

    def append(i):
        resp = call(emu, "PUT", "/v1/objects/b/s.tar", f"archpath=m{i}", body=b"x" * i,
                    headers={"Ais-Pine": "1"})
        if resp.status != 200:
            errors.append(content(resp))

    threads = [threading.Thread(target=append, args=(i,)) for i in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with tarfile.open(fileobj=io.BytesIO(emu.get_object("b", "s.tar"))) as tf:
        assert sorted(m.name for m in tf) == ["first"] + [f"m{i}" for i in range(1, 9)]


def test_archive_put_keeps_custom_metadata_and_versions(emu):
    emu.put_object("b", "s.tar", shard([("a", b"A")]), custom={"owner": "me"})
    resp = call(emu, "PUT", "/v1/objects/b/s.tar", "archpath=n", body=b"N",
                headers={"Ais-Pine": "2"})
    assert resp.status == 200
    rec = emu.store.head_object(BucketId.parse("ais", "b"), "s.tar")
    assert rec.version == "2" and rec.custom == {"owner": "me"}


def test_archive_put_lz4_is_501(emu):
    resp = call(emu, "PUT", "/v1/objects/b/s.tar.lz4", "archpath=n", body=b"N",
                headers={"Ais-Pine": "2"})
    assert resp.status == 501


# -- promote ------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path, emu):
    emu.promote_root = str(tmp_path / "root")
    os.makedirs(emu.promote_root)
    return tmp_path / "root"


def _promote(emu, src, **value):
    return call(emu, "POST", "/v1/objects/b", body=act("promote", {"obj": "p/", **value}, src))


def test_promote_refuses_symlinks_out_of_the_root(emu, root, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    (root / "d").mkdir()
    (root / "d" / "ok.txt").write_text("inside")
    (root / "d" / "link.txt").symlink_to(secret)
    (root / "escape").symlink_to(tmp_path)
    resp = _promote(emu, str(root / "escape"))
    assert resp.status == 403 and b"outside the promote root" in content(resp)
    resp = _promote(emu, str(root / "d"))
    assert resp.status == 200 and content(resp) == b""
    assert emu.store.object_names(BucketId.parse("ais", "b")) == ["p/ok.txt"]
    assert "skipped" in emu.log.text()


def test_promote_outside_the_root_and_disabled(emu, root, tmp_path):
    resp = _promote(emu, str(tmp_path))
    assert resp.status == 403 and b"must be under" in content(resp)
    emu.promote_root = None
    resp = _promote(emu, str(root))
    assert resp.status == 403 and b"promote is disabled" in content(resp)


def test_promote_many_files_is_a_job_and_keeps_kept_sources(emu, root):
    for i in range(20):
        (root / f"f{i:02d}").write_text(str(i))
    emu.put_object("b", "p/f00", b"already there")
    resp = _promote(emu, str(root), dls=True)
    job_id = content(resp).decode()
    assert resp.status == 200 and job_id
    job = emu.jobs.get(job_id)
    assert job.wait(10) and not job.err and job.kind == "promote"
    assert emu.get_object("b", "p/f00") == b"already there"
    assert emu.get_object("b", "p/f19") == b"19"
    assert sorted(os.listdir(root)) == ["f00"]  # kept object: its source stays


def test_metrics_and_disk_records(emu):
    tid = emu.identity.target_id
    kinds = json.loads(content(call(emu, "GET", "/v1/reverse/daemon", "what=metrics",
                                    headers={"Ais-Node-Id": tid})))
    assert kinds["get.n"] == "counter" and kinds["get.size"] == "size"
    assert kinds["up.ns.time"] == "special" and kinds["state.flags"] == "gauge"
    disk = json.loads(content(call(emu, "GET", "/v1/reverse/daemon", "what=disk",
                                   headers={"Ais-Node-Id": tid})))
    assert disk["AllDiskStats"] == {} and "/ais/mp1" in disk["mountpaths"]
    packed = msgpack.unpackb(content(call(emu, "GET", "/v1/reverse/daemon", "what=disk",
                                          headers={"Ais-Node-Id": tid,
                                                   "Accept": "application/msgpack"})))
    assert packed["AllDiskStats"] == {} and isinstance(packed["u"], int)


def test_bucket_properties_are_fixed(emu):
    resp = call(emu, "PATCH", "/v1/buckets/b", body=act("set-bprops", {"mirror": {}}))
    assert resp.status == 501 and b"set-bprops" in content(resp)
    assert call(emu, "PATCH", "/v1/buckets/nope", body=act("set-bprops", {})).status == 404


def test_archive_put_and_s3_put_take_streamed_bodies(emu):
    """Object data may reach a handler as an iterable of chunks (the server streams)."""
    resp = dispatch(emu, Request("PUT", "/v1/objects/b/s.tar", "archpath=x",
                                 {"Ais-Pine": "2"}, iter([b"ab", memoryview(b"cd")])))
    assert resp.status == 200
    with tarfile.open(fileobj=io.BytesIO(emu.get_object("b", "s.tar"))) as tf:
        assert tf.extractfile("x").read() == b"abcd"
    resp = dispatch(emu, Request("PUT", "/s3/b/k", "", {}, iter([b"ab", bytearray(b"cd")])))
    assert resp.status == 200 and emu.get_object("b", "k") == b"abcd"
