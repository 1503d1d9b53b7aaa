"""Object actions the CLI and SDK send: rename (``ais object mv``), promote
(``Object.promote``), and completing a multipart upload that has no parts.

Promote reads local files: on the emulator the test gives it a temporary promote root;
on a live cluster it needs AIS's promote root (``/var/lib/ais/promote``) writable on
this machine, else it is skipped.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from aistore.sdk.errors import AISError

AIS_PROMOTE_ROOT = "/var/lib/ais/promote"


def _rename(wire, bck, obj, new):
    return wire.post(wire.obj_path(bck.name, obj), params={"provider": "ais"},
                     json=wire.act("rename-obj", None, new))


# -- rename ---------------------------------------------------------------------------------


def test_rename_keeps_bytes_version_and_metadata(wire, bck):
    obj = bck.object("a.txt")
    obj.get_writer().put_content(b"one")
    obj.get_writer().put_content(b"two")
    obj.get_writer().set_custom_props({"k": "v"})
    r = _rename(wire, bck, "a.txt", "dir/b.txt")
    assert r.status_code == 200, r.text
    assert bck.object("dir/b.txt").get_reader().read_all() == b"two"
    r = wire.head(wire.obj_path(bck.name, "dir/b.txt"),
                  params={"provider": "ais", "props": "version,custom,checksum"})
    assert r.headers["Ais-Version"] == "2" and r.headers["Ais-Custom-Md"] == "k=v"
    assert [e.name for e in bck.list_all_objects()] == ["dir/b.txt"]


def test_rename_replaces_an_existing_destination(wire, bck, put):
    put({"src": b"SRC", "dst": b"DST"})
    assert _rename(wire, bck, "src", "dst").status_code == 200
    assert bck.object("dst").get_reader().read_all() == b"SRC"
    assert [e.name for e in bck.list_all_objects()] == ["dst"]


def test_rename_errors(wire, bck, put):
    put({"o": b"O", "dir/x": b"X"})
    r = _rename(wire, bck, "missing", "z")
    assert r.status_code == 404 and r.json()["tcode"] == "ErrNotFound"
    r = _rename(wire, bck, "o", "o")
    assert r.status_code == 400 and "to self" in r.json()["message"]
    for bad in ("", "../q"):
        r = _rename(wire, bck, "o", bad)
        assert r.status_code == 400 and r.json()["tcode"] == "errInvalidPath", bad
    r = _rename(wire, bck, "o", "dir")
    assert r.status_code == 400 and r.json()["tcode"] == "ErrMv"
    r = _rename(wire, bck, "o", "dir/x/y")
    assert r.status_code == 400 and r.json()["tcode"] == "ErrMv"
    r = wire.post(wire.obj_path(bck.name + "-nope", "o"), params={"provider": "ais"},
                  json=wire.act("rename-obj", None, "p"))
    assert r.status_code == 404 and r.json()["tcode"] == "ErrBckNotFound"
    assert sorted(e.name for e in bck.list_all_objects()) == ["dir/x", "o"]
    assert bck.object("o").get_reader().read_all() == b"O"


# -- promote ----------------------------------------------------------------------------------


@pytest.fixture
def promote_dir(ais_backend):
    """A fresh directory under the backend's promote root (and that root)."""
    if ais_backend.is_emulator:
        root = tempfile.mkdtemp(prefix="ais-promote-root-")
        ais_backend.emulator.promote_root = root
    else:
        root = AIS_PROMOTE_ROOT
        if not (os.path.isdir(root) and os.access(root, os.W_OK)):
            pytest.skip(f"the live cluster's promote root {root} is not writable here")
    path = tempfile.mkdtemp(prefix="prm-", dir=root)
    yield root, path
    shutil.rmtree(path, ignore_errors=True)
    if ais_backend.is_emulator:
        shutil.rmtree(root, ignore_errors=True)


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _wait(ais_backend, job_id):
    if job_id:
        assert ais_backend.client.job(job_id=job_id).wait(timeout=30).success


def test_promote_directory_then_recursive_overwrite_delete(ais_backend, bck, promote_dir):
    """Upstream's own promote test, step by step."""
    _, src = promote_dir
    _write(os.path.join(src, "top"), "top contents")
    _write(os.path.join(src, "inner", "deep"), "inner contents")
    obj = bck.object("promoted/")
    _wait(ais_backend, obj.promote(src))
    assert [e.name for e in bck.list_all_objects()] == ["promoted/top"]
    assert bck.object("promoted/top").get_reader().read_all() == b"top contents"

    _write(os.path.join(src, "top"), "new top")
    _wait(ais_backend, obj.promote(src, recursive=True, delete_source=True,
                                   overwrite_dest=True))
    assert sorted(e.name for e in bck.list_all_objects()) == ["promoted/inner/deep",
                                                              "promoted/top"]
    assert bck.object("promoted/top").get_reader().read_all() == b"new top"
    assert bck.object("promoted/inner/deep").get_reader().read_all() == b"inner contents"
    left = [f for _, _, files in os.walk(src) for f in files]
    assert left == []


def test_promote_single_file_and_no_overwrite(ais_backend, bck, promote_dir):
    _, src = promote_dir
    path = os.path.join(src, "f.txt")
    _write(path, "first")
    _wait(ais_backend, bck.object("single.txt").promote(path))
    assert bck.object("single.txt").get_reader().read_all() == b"first"
    _write(path, "second")
    _wait(ais_backend, bck.object("single.txt").promote(path))  # exists: kept
    assert bck.object("single.txt").get_reader().read_all() == b"first"
    _wait(ais_backend, bck.object("single.txt").promote(path, overwrite_dest=True))
    assert bck.object("single.txt").get_reader().read_all() == b"second"


def test_promote_source_rules(ais_backend, bck, promote_dir):
    root, src = promote_dir
    with pytest.raises(AISError) as e:
        bck.object("x/").promote(os.path.join(src, "missing"))
    assert e.value.status_code == 404
    with pytest.raises(AISError) as e:
        bck.object("x/").promote(src + "/../" + os.path.basename(src))
    assert e.value.status_code == 400
    with pytest.raises(AISError) as e:
        bck.object("x/").promote("relative/path")
    assert e.value.status_code == 400
    outside = tempfile.mkdtemp(prefix="prm-outside-")
    try:
        _write(os.path.join(outside, "secret"), "not for promote")
        with pytest.raises(AISError) as e:
            bck.object("x/").promote(outside)
        assert e.value.status_code in (400, 403)  # AIS: 400, the emulator: 403
    finally:
        shutil.rmtree(outside)
    assert list(bck.list_all_objects()) == []


# -- multipart ------------------------------------------------------------------------------


def test_completing_an_upload_without_parts_says_no_chunks(bck):
    mpu = bck.object("mp.bin").multipart_upload().create()
    with pytest.raises(AISError) as e:
        mpu.complete()
    assert e.value.status_code == 400 and "no chunks" in e.value.message
