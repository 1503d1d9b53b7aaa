"""Multi-object operations (``bucket.objects(...)``): delete, copy and archive by name
list and by template, and the jobs they start."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest
from aistore.sdk.errors import AISError, ErrBckNotFound
from aistore.sdk.multiobj import ObjectRange


def wait(backend, job_id: str, kind: str = ""):
    """Job.wait with a timeout that suits the backend (a real cluster takes a few seconds
    to declare an idle-kind job idle)."""
    return backend.client.job(job_id, kind).wait(timeout=3 if backend.is_emulator else 20)


def names(bucket) -> list[str]:
    return sorted(e.name for e in bucket.list_all_objects())


def members(data: bytes, fmt: str) -> list[tuple[str, bytes]]:
    if fmt == ".zip":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return [(n, zf.read(n)) for n in zf.namelist()]
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
        return [(m.name, tf.extractfile(m).read()) for m in tf if m.isfile()]


@pytest.fixture
def src(put):
    return put({f"o-{i:02d}.txt": f"data-{i}".encode() for i in range(12)})


@pytest.fixture
def dst(ais_backend, fresh_name):
    return ais_backend.client.bucket(fresh_name)


# -- delete ----------------------------------------------------------------------------


def test_delete_by_names(ais_backend, src):
    job_id = src.objects(obj_names=["o-00.txt", "o-05.txt"]).delete()
    assert wait(ais_backend, job_id).success
    assert "o-00.txt" not in names(src) and "o-05.txt" not in names(src)
    assert len(names(src)) == 10
    snap = ais_backend.client.job(job_id).get_details().list_snapshots()[0]
    assert snap.kind == "delete-listrange" and snap.stats.objects == 2


def test_delete_missing_name_fails_the_job_but_deletes_the_rest(ais_backend, src):
    job_id = src.objects(obj_names=["o-01.txt", "nope.txt"]).delete()
    result = wait(ais_backend, job_id)
    assert not result.success
    assert f"ais://{src.name}/nope.txt" in result.error and "does not exist" in result.error
    assert "o-01.txt" not in names(src)


@pytest.mark.parametrize("template, left", [
    ("o-{00..05}.txt", [f"o-{i:02d}.txt" for i in range(6, 12)]),
    ("o-{00..11..3}.txt", [f"o-{i:02d}.txt" for i in range(12) if i % 3]),
    ("o-{08..20}.txt", [f"o-{i:02d}.txt" for i in range(8)]),  # missing names are skipped
    ("o-@03.txt", [f"o-{i:02d}.txt" for i in range(4, 12)]),  # "at" style: o-00 .. o-03
    ("o-@3.txt", [f"o-{i:02d}.txt" for i in range(12)]),  # unpadded: o-0.txt .. o-3.txt
    ("o-@11.txt", []),  # o-00.txt .. o-11.txt
    ("o-1", [f"o-{i:02d}.txt" for i in range(10)]),  # not a range: a prefix
])
def test_delete_by_template(ais_backend, src, template, left):
    job_id = src.objects(obj_template=template).delete()
    assert wait(ais_backend, job_id).success
    assert names(src) == sorted(left)


def test_delete_whole_bucket_with_wildcard(ais_backend, src):
    assert wait(ais_backend, src.objects(obj_template="*").delete()).success
    assert names(src) == []


def test_delete_by_object_range(ais_backend, src):
    rng = ObjectRange(prefix="o-", min_index=2, max_index=4, pad_width=2, suffix=".txt")
    assert wait(ais_backend, src.objects(obj_range=rng).delete()).success
    assert "o-03.txt" not in names(src) and len(names(src)) == 9


def test_delete_in_missing_bucket(ais_backend, fresh_name):
    with pytest.raises(ErrBckNotFound):
        ais_backend.client.bucket(fresh_name).objects(obj_names=["a"]).delete()


# -- copy --------------------------------------------------------------------------------


def test_copy_names_creates_the_destination(ais_backend, src, dst):
    ids = src.objects(obj_names=["o-00.txt", "o-03.txt"]).copy(dst, prepend="c/")
    assert len(ids) == 1
    assert wait(ais_backend, ids[0], "copy-listrange").success
    assert names(dst) == ["c/o-00.txt", "c/o-03.txt"]
    assert dst.object("c/o-03.txt").get_reader().read_all() == b"data-3"
    assert len(names(src)) == 12


def test_copy_template_with_step(ais_backend, src, dst):
    ids = src.objects(obj_template="o-{01..09..4}.txt").copy(dst)
    assert wait(ais_backend, ids[0]).success
    assert names(dst) == ["o-01.txt", "o-05.txt", "o-09.txt"]


def test_copy_skips_missing_names(ais_backend, src, dst):
    ids = src.objects(obj_names=["o-02.txt", "nope.txt"]).copy(dst, continue_on_error=True)
    assert wait(ais_backend, ids[0]).success
    assert names(dst) == ["o-02.txt"]


def test_copy_dry_run_writes_nothing(ais_backend, src, dst):
    dst.create()
    ids = src.objects(obj_template="o-").copy(dst, dry_run=True)
    assert wait(ais_backend, ids[0]).success
    assert names(dst) == []


# -- archive -----------------------------------------------------------------------------


@pytest.mark.parametrize("archname, fmt", [("a.tar", ".tar"), ("a.tgz", ".tgz"),
                                           ("a.tar.gz", ".tgz"), ("a.zip", ".zip")])
def test_archive_formats(ais_backend, src, archname, fmt):
    ids = src.objects(obj_names=["o-04.txt", "o-01.txt"]).archive(archname)
    assert wait(ais_backend, ids[0], "archive").success
    data = src.object(archname).get_reader().read_all()
    assert members(data, fmt) == [("o-04.txt", b"data-4"), ("o-01.txt", b"data-1")]


def test_archive_into_another_bucket_with_source_names(ais_backend, src, dst):
    dst.create()
    ids = src.objects(obj_template="o-{00..02}.txt").archive(
        "shards/s.tar", to_bck=dst, include_source_name=True)
    assert wait(ais_backend, ids[0]).success
    got = members(dst.object("shards/s.tar").get_reader().read_all(), ".tar")
    assert [n for n, _ in got] == [f"{src.name}/o-0{i}.txt" for i in range(3)]
    assert "shards/s.tar" not in names(src)


def test_archive_append_and_replace(ais_backend, src):
    assert wait(ais_backend, src.objects(obj_names=["o-00.txt"]).archive("a.tar")[0]).success
    ids = src.objects(obj_names=["o-01.txt"]).archive("a.tar", allow_append=True)
    assert wait(ais_backend, ids[0]).success
    got = members(src.object("a.tar").get_reader().read_all(), ".tar")
    assert [n for n, _ in got] == ["o-00.txt", "o-01.txt"]
    assert wait(ais_backend, src.objects(obj_names=["o-02.txt"]).archive("a.tar")[0]).success
    got = members(src.object("a.tar").get_reader().read_all(), ".tar")
    assert [n for n, _ in got] == ["o-02.txt"]


@pytest.mark.parametrize("archname", ["z.zip", "z.tgz"])
def test_archive_append_compressed(ais_backend, src, archname):
    fmt = ".zip" if archname.endswith(".zip") else ".tgz"
    assert wait(ais_backend, src.objects(obj_names=["o-00.txt"]).archive(archname)[0]).success
    ids = src.objects(obj_names=["o-01.txt"]).archive(archname, allow_append=True)
    assert wait(ais_backend, ids[0]).success
    got = members(src.object(archname).get_reader().read_all(), fmt)
    assert got == [("o-00.txt", b"data-0"), ("o-01.txt", b"data-1")]


def test_archive_append_to_missing_archive_creates_it(ais_backend, src):
    ids = src.objects(obj_names=["o-03.txt"]).archive("new.tar", allow_append=True)
    assert wait(ais_backend, ids[0]).success
    assert [n for n, _ in members(src.object("new.tar").get_reader().read_all(), ".tar")] == \
        ["o-03.txt"]


def test_archive_skips_missing_objects(ais_backend, wire, src):
    ids = src.objects(obj_names=["o-03.txt", "nope.txt", "o-01.txt"]).archive(
        "m.tar", continue_on_err=True)
    assert wait(ais_backend, ids[0]).success
    got = members(src.object("m.tar").get_reader().read_all(), ".tar")
    assert [n for n, _ in got] == ["o-03.txt", "o-01.txt"]
    r = wire.get("/v1/cluster", params={"what": "qryxstats"},
                 json={"ID": ids[0], "Kind": "", "DaemonID": "", "Bck": None, "Buckets": None})
    (snap,) = [s for snaps in r.json().values() for s in snaps]
    assert f"ais://{src.name}/nope.txt does not exist" in snap["err"] and not snap["aborted"]


@pytest.mark.parametrize("archname, mime, text", [
    ("x.txt", "", "unknown filename extension"),
    ("noext", ".tar", "unknown filename extension"),
    ("x.tar", ".zip", "mime mismatch"),
    ("x.tar.gz", ".tgz", "mime mismatch"),
])
def test_archive_name_and_mime_validation(src, archname, mime, text):
    with pytest.raises(AISError) as exc:
        src.objects(obj_names=["o-00.txt"]).archive(archname, mime=mime)
    assert exc.value.status_code == 400 and text in exc.value.message


def test_archive_mime_matching_the_name(ais_backend, src):
    ids = src.objects(obj_names=["o-00.txt"]).archive("m.zip", mime=".zip")
    assert wait(ais_backend, ids[0]).success
    assert members(src.object("m.zip").get_reader().read_all(), ".zip")[0][0] == "o-00.txt"


def test_archive_into_missing_bucket(ais_backend, src, fresh_name):
    with pytest.raises(ErrBckNotFound):
        src.objects(obj_names=["o-00.txt"]).archive(
            "a.tar", to_bck=ais_backend.client.bucket(fresh_name))
