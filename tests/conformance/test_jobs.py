"""Jobs (xactions): status, snapshots, wait, listings, start and stop, through the SDK
and on the raw wire (``GET/PUT /v1/cluster``)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from aistore.sdk.errors import AISError

WAIT = 3  # Job.wait(timeout): polls every 0.375 s
IDLE_WAIT_LIVE = 20  # a real cluster declares an idle job idle after a few seconds

GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def job_args(job_id="", kind=""):
    return {"ID": job_id, "Kind": kind, "DaemonID": "", "Bck": None, "Buckets": None}


@pytest.fixture
def src(put, kit):
    return put({f"o-{i}.bin": kit.payload(f"job{i}", 100 + i) for i in range(4)})


@pytest.fixture
def dst(ais_backend, fresh_name):
    return ais_backend.client.bucket(fresh_name)


def test_copy_bucket_job_lifecycle(ais_backend, src, dst):
    client = ais_backend.client
    started = datetime.now(timezone.utc) - timedelta(seconds=5)
    job_id = src.copy(dst)
    assert job_id and isinstance(job_id, str) and "\n" not in job_id
    job = client.job(job_id=job_id)
    result = job.wait(timeout=WAIT)
    assert result.success and not result.error
    assert result.end_time is not None
    status = job.status()
    assert status.uuid == job_id and status.err == "" and not status.aborted
    assert status.end_time > 0
    snaps = job.get_details().list_snapshots()
    assert [s.id for s in snaps] == [job_id]
    snap = snaps[0]
    assert snap.kind == "copy-bck"
    assert snap.source_bck.name == src.name and snap.destination_bck.name == dst.name
    assert snap.stats.objects == 4 and snap.stats.bytes == sum(100 + i for i in range(4))
    assert snap.end_time != GO_ZERO_TIME and not snap.aborted
    assert job.get_total_time() >= timedelta(0)
    assert [s.id for s in job.get_within_timeframe(started)] == [job_id]


def test_wait_resolves_the_kind_from_the_id(ais_backend, src, dst):
    job_id = src.copy(dst, prefix_filter="o-1")
    assert ais_backend.client.job(job_id).wait(timeout=WAIT).success
    assert [e.name for e in dst.list_all_objects()] == ["o-1.bin"]


def test_idle_kind_is_waited_for_by_snapshots(ais_backend, src, dst):
    """copy-listrange idles when done: wait() polls qryxstats, and what=status does not
    know it (AIS tracks only some kinds there)."""
    ids = src.objects(obj_names=["o-0.bin", "o-2.bin"]).copy(dst)
    assert len(ids) == 1
    job = ais_backend.client.job(ids[0], "copy-listrange")
    assert job.wait(timeout=WAIT if ais_backend.is_emulator else IDLE_WAIT_LIVE).success
    snaps = job.get_details().list_snapshots()
    assert snaps and all(s.is_idle and s.kind == "copy-listrange" for s in snaps)
    assert snaps[0].stats.objects == 2
    with pytest.raises(AISError) as exc:
        job.status()
    assert exc.value.status_code == 404
    assert sorted(e.name for e in dst.list_all_objects()) == ["o-0.bin", "o-2.bin"]


def test_unknown_job_is_404(ais_backend):
    job = ais_backend.client.job("Nh_xtq1t9")
    for call in (job.status, job.get_details, lambda: job.wait(timeout=WAIT)):
        with pytest.raises(AISError) as exc:
            call()
        assert exc.value.status_code == 404


def test_list_jobs_status_and_running_jobs(ais_backend, src, dst):
    client = ais_backend.client
    job_id = src.copy(dst)
    assert client.job(job_id).wait(timeout=WAIT).success
    statuses = client.cluster().list_jobs_status(job_kind="copy-bck")
    assert job_id in [s.uuid for s in statuses]
    assert all(s.end_time > 0 for s in statuses if s.uuid == job_id)
    running = client.cluster().list_running_jobs()
    assert isinstance(running, list)
    assert all("[" in r and r.endswith("]") for r in running)
    assert f"copy-bck[{job_id}]" not in running


def test_start_lru_and_stop(ais_backend):
    client = ais_backend.client
    job_id = client.job(job_kind="lru").start()
    assert job_id and isinstance(job_id, str)
    assert client.job(job_id, "lru").wait(timeout=10).end_time is not None
    client.job(job_id, "lru").abort()  # stopping a finished job is fine


def test_start_needs_a_bucket_for_bucket_jobs(ais_backend, src):
    with pytest.raises(AISError) as exc:
        ais_backend.client.job(job_kind="copy-bck").start()
    assert exc.value.status_code == 400
    assert "requires a bucket" in exc.value.message


def test_stop_unknown_and_empty(ais_backend, wire):
    ais_backend.client.job("Nh_xtq1t9").abort()  # unknown ID: 200
    with pytest.raises(ValueError):
        ais_backend.client.job().abort()  # the SDK refuses to send it
    r = wire.put("/v1/cluster", json=wire.act("stop", job_args()))
    assert r.status_code == 400


@pytest.mark.ais_emulator_only("a job that blocks until released needs an emulator hook")
def test_abort_a_running_job(ais_backend, src, dst):
    gate, entered = threading.Event(), threading.Event()

    def slow(data, path, args):
        entered.set()
        gate.wait(10)
        return data

    ais_backend.emulator.etl.register("slow-etl", slow)
    job_id = src.transform("slow-etl", dst)
    job = ais_backend.client.job(job_id)
    assert entered.wait(5)
    assert job.status().end_time == 0
    assert f"etl-bck[{job_id}]" in ais_backend.client.cluster().list_running_jobs()
    job.abort()
    gate.set()
    result = job.wait(timeout=WAIT)
    assert not result.success and result.error == "aborted"
    assert job.status().aborted
    snap = job.get_details().list_snapshots()[0]
    assert snap.aborted and snap.abort_err
    assert len(dst.list_all_objects()) <= 1


# -- raw wire ------------------------------------------------------------------------------


def test_status_and_snapshot_wire_shapes(ais_backend, wire, src, dst):
    job_id = src.copy(dst)
    assert ais_backend.client.job(job_id).wait(timeout=WAIT).success
    r = wire.get("/v1/cluster", params={"what": "status"}, json=job_args(job_id))
    assert r.status_code == 200
    doc = r.json()
    assert doc["kind"] == "copy-bck" and doc["uuid"] == job_id
    assert isinstance(doc["end_time"], int) and doc["end_time"] > 0
    assert doc["err"] == "" and doc["aborted"] is False
    r = wire.get("/v1/cluster", params={"what": "qryxstats"}, json=job_args(job_id))
    assert r.status_code == 200
    per_target = r.json()
    assert len(per_target) == 1
    (snap,) = next(iter(per_target.values()))
    for key in ("id", "kind", "start-time", "end-time", "bck", "src-bck", "dst-bck", "stats",
                "aborted", "is_idle", "abort-err", "err", "glob.id"):
        assert key in snap, key
    assert snap["stats"]["loc-objs"] == "4"  # int64 counters travel as strings
    assert snap["dst-bck"]["name"] == dst.name
    assert snap["start-time"].endswith("Z") and snap["end-time"] != GO_ZERO_TIME
    r = wire.get("/v1/cluster", params={"what": "qryxstats"}, json=job_args("", "copy-bck"))
    assert r.status_code == 200
    assert job_id in [s["id"] for snaps in r.json().values() for s in snaps]


def test_status_query_needs_an_id_or_kind(wire):
    r = wire.get("/v1/cluster", params={"what": "status"}, json=job_args())
    assert r.status_code == 400


def test_running_all_is_a_list(wire):
    r = wire.get("/v1/cluster", params={"what": "running_all"},
                 json={"kind": "", "node": "", "show_active": True})
    assert r.status_code == 200 and isinstance(r.json(), list)
