"""Bucket-level jobs: copy (copy-bck), rename (move-bck), summary and info."""

from __future__ import annotations

import json

import pytest
from aistore.sdk.errors import AISError, ErrBckNotFound

WAIT = 3


def names(bucket) -> list[str]:
    return sorted(e.name for e in bucket.list_all_objects())


@pytest.fixture
def src(put):
    return put({"img/a.jpg": b"A" * 10, "img/b.jpg": b"B" * 20, "txt/c.txt": b"C" * 30})


@pytest.fixture
def dst(ais_backend, fresh_name):
    return ais_backend.client.bucket(fresh_name)


# -- copy ----------------------------------------------------------------------------------


def test_copy_bucket_creates_the_destination(ais_backend, src, dst):
    job_id = src.copy(dst)
    assert ais_backend.client.job(job_id).wait(timeout=WAIT).success
    assert names(dst) == names(src)
    assert dst.object("txt/c.txt").get_reader().read_all() == b"C" * 30


def test_copy_bucket_prefix_prepend_and_ext(ais_backend, src, dst):
    job_id = src.copy(dst, prefix_filter="img/", prepend="copy/", ext={"jpg": "png"})
    assert ais_backend.client.job(job_id).wait(timeout=WAIT).success
    assert names(dst) == ["copy/img/a.png", "copy/img/b.png"]
    assert dst.object("copy/img/b.png").get_reader().read_all() == b"B" * 20


def test_copy_bucket_into_existing_keeps_other_objects(ais_backend, src, dst):
    dst.create()
    dst.object("keep").get_writer().put_content(b"k")
    assert ais_backend.client.job(src.copy(dst, prefix_filter="txt/")).wait(timeout=WAIT).success
    assert names(dst) == ["keep", "txt/c.txt"]


def test_copy_bucket_dry_run(ais_backend, src, dst):
    dst.create()
    job_id = src.copy(dst, dry_run=True)
    job = ais_backend.client.job(job_id)
    assert job.wait(timeout=WAIT).success
    assert names(dst) == []
    assert job.get_details().list_snapshots()[0].stats.objects == 3


def test_copy_bucket_onto_itself_is_400(src):
    with pytest.raises(AISError) as exc:
        src.copy(src)
    assert exc.value.status_code == 400 and "onto itself" in exc.value.message


def test_copy_missing_bucket(ais_backend, fresh_name, dst):
    with pytest.raises(ErrBckNotFound):
        ais_backend.client.bucket(fresh_name).copy(dst)


# -- rename --------------------------------------------------------------------------------


def test_rename(ais_backend, src, fresh_name):
    client = ais_backend.client
    old, before = src.name, names(src)
    job_id = src.rename(fresh_name)
    assert src.name == fresh_name  # the SDK renames its Bucket object
    job = client.job(job_id)
    assert job.wait(timeout=10).success
    assert job.get_details().list_snapshots()[0].kind == "move-bck"
    assert names(client.bucket(fresh_name)) == before
    assert old not in [b.name for b in client.cluster().list_buckets()]
    with pytest.raises(ErrBckNotFound):
        client.bucket(old).list_all_objects()


def test_rename_onto_existing_bucket_is_400(ais_backend, src):
    other = ais_backend.bucket("cfo")
    with pytest.raises(AISError) as exc:
        src.rename(other.name)
    assert exc.value.status_code == 400 and "already exists" in exc.value.message


def test_rename_missing_bucket(ais_backend, fresh_name):
    with pytest.raises(ErrBckNotFound):
        ais_backend.client.bucket(fresh_name).rename(fresh_name + "x")


# -- summary and info --------------------------------------------------------------------


def test_summary(src):
    summ = src.summary()
    assert summ["name"] == src.name and summ["provider"] == "ais"
    assert summ["ObjCount"]["obj_count_present"] == "3"
    assert summ["ObjSize"] == {"obj_min_size": 10, "obj_avg_size": 20, "obj_max_size": 30}
    assert summ["TotalSize"]["size_all_present_objs"] == "60"
    assert summ["is_present"] is False
    assert src.summary(prefix="img/")["ObjCount"]["obj_count_present"] == "2"


def test_summary_wire_protocol(wire, src):
    msg = {"uuid": "", "prefix": "", "cached": True, "present": True}
    r = wire.get(wire.bck_path(src.name), params={"provider": "ais"},
                 json=wire.act("summary-bck", msg))
    assert r.status_code == 202 and r.text and '"' not in r.text
    msg["uuid"] = r.text
    for _ in range(50):
        r = wire.get(wire.bck_path(src.name), params={"provider": "ais"},
                     json=wire.act("summary-bck", msg))
        if r.status_code == 200:
            break
        assert r.status_code in (202, 206)
    assert r.status_code == 200
    (summ,) = json.loads(r.content)
    assert summ["ObjCount"]["obj_count_present"] == "3"


def test_summary_of_missing_bucket(ais_backend, fresh_name):
    with pytest.raises(ErrBckNotFound):
        ais_backend.client.bucket(fresh_name).summary()


def test_info(src):
    props, summ = src.info(prefix="img/")
    assert json.loads(props)["provider"] == "ais"
    assert summ["ObjCount"]["obj_count_present"] == "2" and summ["is_present"] is True
    assert summ["TotalSize"]["size_all_present_objs"] == "30"


def test_info_wire_protocol(wire, src):
    params = {"provider": "ais", "presence": "0", "bsumm_remote": "True"}
    r = wire.head(wire.bck_path(src.name), params=params)
    assert r.status_code == 202 and "Ais-Bucket-Summ" not in r.headers
    xid = r.headers["Ais-Xaction-Id"]
    assert json.loads(r.headers["Ais-Bucket-Props"])["provider"] == "ais"
    for _ in range(50):
        r = wire.head(wire.bck_path(src.name), params={**params, "uuid": xid})
        if r.status_code == 200:
            break
        assert r.status_code in (202, 206)
    assert r.status_code == 200
    assert json.loads(r.headers["Ais-Bucket-Summ"])["ObjCount"]["obj_count_present"] == "3"
    r = wire.head(wire.bck_path(src.name) + "/txt/", params=params)
    assert r.status_code == 202 and r.headers["Ais-Xaction-Id"]


def test_info_of_missing_bucket(wire, fresh_name):
    r = wire.head(wire.bck_path(fresh_name), params={"provider": "ais", "presence": "0"})
    assert r.status_code == 404 and "ErrBckNotFound" in r.headers["Hdr-Error"]
