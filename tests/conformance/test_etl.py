"""ETL: Python hooks, SDK ETLServer classes run in-process, the lifecycle endpoints, and
transforms on GET, object copy, bucket transform and multi-object transform."""

from __future__ import annotations

import os

import pytest
from aistore.sdk.errors import AISError, ErrETLAlreadyExists, ErrETLNotFound
from aistore.sdk.etl import ETLConfig
from aistore.sdk.etl.webserver.fastapi_server import FastAPIServer
from aistore.sdk.etl.webserver.flask_server import FlaskServer
from aistore.sdk.etl.webserver.http_multi_threaded_server import HTTPMultiThreadedServer

pytestmark = pytest.mark.ais_emulator_only("the live cluster has no Kubernetes, so no ETL")

WAIT = 3


class UpperServer(FastAPIServer):
    """Buffered: upper-cases, appends the args."""

    def transform(self, data, path, etl_args):
        return data.upper() + etl_args.encode()

    def get_mime_type(self):
        return "text/plain"


class ReverseServer(HTTPMultiThreadedServer):
    """Streaming: reverses the whole object."""

    def transform_stream(self, reader, path, etl_args):
        yield reader.read()[::-1]


class PathServer(FlaskServer):
    """Buffered, reports what it was given: ``<type>:<path>``."""

    def transform(self, data, path, etl_args):
        kind = "file" if isinstance(data, str) else "bytes"
        body = open(data, "rb").read() if isinstance(data, str) else data
        return f"{kind}:{path}:".encode() + body


class FailingServer(FastAPIServer):
    def transform(self, data, path, etl_args):
        if b"bad" in data:
            raise ValueError(f"cannot handle {path}")
        return data


@pytest.fixture
def code_allowed(ais_backend, request, monkeypatch):
    """The session's HTTP server runs client-sent ETL code only when allowed."""
    if ais_backend.kind == "server":
        monkeypatch.setattr(request.getfixturevalue("ais_server"), "allow_etl_code", True)


@pytest.fixture
def client(ais_backend, code_allowed):
    return ais_backend.client


@pytest.fixture
def src(put):
    return put({"a.txt": b"alpha", "b.txt": b"beta", "sub/c.txt": b"gamma"})


def read(bucket, name, etl=None, args=None):
    return bucket.object(name).get_reader(etl=ETLConfig(etl, args) if etl else None).read_all()


def names(bucket):
    return sorted(e.name for e in bucket.list_all_objects())


# -- hooks ---------------------------------------------------------------------------------


def test_hook_function_and_decorator(ais_backend, src):
    etl = ais_backend.emulator.etl
    etl.register("upper-hook", lambda data, path, args: data.upper() + path.encode())

    @etl.transform("args-hook", mime_type="application/json")
    def with_args(data, path, args):
        return args.encode()

    assert read(src, "a.txt", "upper-hook") == f"ALPHA{src.name}/a.txt".encode()
    assert read(src, "a.txt", "args-hook", {"k": 1}) == b'{"k":1}'
    assert read(src, "a.txt") == b"alpha"
    assert ais_backend.client.cluster().list_etls() == []  # hooks are not ETL jobs


# -- init_class: the SDK's server classes run in-process -------------------------------------


@pytest.mark.parametrize("cls, expected", [
    (UpperServer, b"ALPHAxyz"), (ReverseServer, b"ahpla"),
    (PathServer, None)])
def test_init_class_and_inline_get(client, src, cls, expected):
    client.etl("my-etl-1").init_class()(cls)
    got = read(src, "a.txt", "my-etl-1", "xyz")
    assert got == (expected or f"bytes:{src.name}/a.txt:alpha".encode())
    (info,) = client.cluster().list_etls()
    assert info.id == "my-etl-1" and info.stage == "Running" and info.xaction_id
    assert info.obj_count == 1 and info.in_bytes == 5


def test_class_defined_in_a_function_is_sent_by_value(client, src):
    suffix = b"-local"

    class Local(HTTPMultiThreadedServer):
        def transform(self, data, path, etl_args):
            return data + suffix

    client.etl("local-etl").init_class()(Local)
    assert read(src, "b.txt", "local-etl") == b"beta-local"


def test_mime_type_of_the_class(ais_backend, client, src, wire):
    client.etl("upper-etl").init_class()(UpperServer)
    r = wire.get(wire.obj_path(src.name, "a.txt"), params={"etl_name": "upper-etl"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/plain"


def test_env_reaches_init_and_does_not_leak(client, src):
    class EnvServer(FastAPIServer):
        def __init__(self):
            super().__init__()
            self.greeting = os.environ.get("GREETING", "unset").encode()
            self.target = os.environ["AIS_TARGET_URL"].encode()

        def transform(self, data, path, etl_args):
            return self.greeting + b" " + data

    client.etl("env-etl1").init_class(GREETING="hello")(EnvServer)
    assert read(src, "a.txt", "env-etl1") == b"hello alpha"
    assert "GREETING" not in os.environ and "AIS_TARGET_URL" not in os.environ


def test_pipeline(client, src):
    client.etl("upper-etl").init_class()(UpperServer)
    client.etl("reverse-etl").init_class()(ReverseServer)
    pipeline = client.etl("upper-etl") >> client.etl("reverse-etl")
    assert src.object("a.txt").get_reader(etl=ETLConfig(pipeline, "!")).read_all() == b"!AHPLA"


def test_direct_file_access_first_stage_only(client, src):
    client.etl("path-etl1").init_class(direct_file_access=True)(PathServer)
    client.etl("path-etl2").init_class(direct_file_access=True)(PathServer)
    path = f"{src.name}/a.txt"
    assert read(src, "a.txt", "path-etl1") == f"file:{path}:alpha".encode()
    pipeline = client.etl("path-etl1") >> client.etl("path-etl2")
    got = src.object("a.txt").get_reader(etl=ETLConfig(pipeline)).read_all()
    assert got == f"bytes:{path}:file:{path}:alpha".encode()


def test_failing_transform_is_a_4xx_and_recorded(ais_backend, client, put):
    bck = put({"good": b"fine", "bad": b"bad data"})
    client.etl("fail-etl").init_class()(FailingServer)
    with pytest.raises(AISError) as exc:
        read(bck, "bad", "fail-etl")
    assert 400 <= exc.value.status_code < 500
    assert "fail-etl" in exc.value.message and "cannot handle" in exc.value.message
    assert read(bck, "good", "fail-etl") == b"fine"  # the emulator is still up
    errors = client.etl("fail-etl").view().obj_errors
    assert [e.obj_name for e in errors] == [f"ais://{bck.name}/bad"]
    assert "ValueError" in errors[0].msg


def test_class_whose_init_fails(client):
    class Broken(FastAPIServer):
        def __init__(self):
            super().__init__()
            raise RuntimeError("no model")

        def transform(self, data, path, etl_args):
            return data

    with pytest.raises(AISError) as exc:
        client.etl("broken-etl").init_class()(Broken)
    assert exc.value.status_code == 400 and "no model" in exc.value.message
    assert [e.id for e in client.cluster().list_etls(stages=["Aborted"])] == ["broken-etl"]


# -- init(image=...) --------------------------------------------------------------------------


def test_image_init_is_recorded_but_cannot_run(ais_backend, client, src):
    job_id = client.etl("image-etl").init(image="example/transformer:1", command="run.sh")
    assert job_id.startswith("etl-")
    details = client.etl("image-etl").view()
    assert details.init_msg.name == "image-etl"
    assert details.init_msg.runtime.image == "example/transformer:1"
    with pytest.raises(AISError) as exc:
        read(src, "a.txt", "image-etl")
    assert exc.value.status_code == 400 and "container image" in exc.value.message
    ais_backend.emulator.etl.register("image-etl", lambda data, path, args: data[::-1])
    assert read(src, "a.txt", "image-etl") == b"ahpla"


# -- lifecycle --------------------------------------------------------------------------------


def test_lifecycle(client, src):
    etl = client.etl("life-etl")
    etl.init_class()(UpperServer)
    with pytest.raises(ErrETLAlreadyExists):
        etl.init_class()(UpperServer)
    etl.stop()
    assert client.cluster().list_etls() == []
    assert [e.stage for e in client.cluster().list_etls(stages=["Aborted"])] == ["Aborted"]
    with pytest.raises(AISError) as exc:
        read(src, "a.txt", "life-etl")
    assert exc.value.status_code == 400 and "not running" in exc.value.message
    etl.start()
    assert read(src, "a.txt", "life-etl") == b"ALPHA"
    with pytest.raises(AISError) as exc:
        etl.start()
    assert exc.value.status_code == 400 and "Running" in exc.value.message
    logs = etl.logs()
    assert len(logs) == 1 and logs[0].target_id and "UpperServer" in logs[0].logs
    assert etl.logs(logs[0].target_id)[0].logs == logs[0].logs
    etl.delete()
    assert client.cluster().list_etls(stages=["Running", "Aborted"]) == []
    for call in (etl.view, etl.stop, etl.start, etl.delete, etl.logs):
        with pytest.raises(ErrETLNotFound):
            call()


def test_context_manager_stops_and_deletes(client, src):
    with client.etl("ctx-etl1") as etl:
        etl.init_class()(ReverseServer)
        assert read(src, "b.txt", "ctx-etl1") == b"ateb"
    assert client.cluster().list_etls(stages=["Running", "Aborted"]) == []


def test_unknown_etl_on_get(src):
    with pytest.raises(AISError) as exc:
        read(src, "a.txt", "no-such-etl")
    assert exc.value.status_code == 404 and not isinstance(exc.value, ErrETLNotFound)


@pytest.mark.parametrize("name", ["short", "Upper-Case", "-dash-first", "x" * 33])
def test_invalid_names_are_400(wire, name):
    body = {"name": name, "communication": "hpush://", "init_timeout": "5m",
            "obj_timeout": "45s", "support_direct_put": False, "runtime": {"image": "x"}}
    assert wire.put("/v1/etl", json=body).status_code == 400


def test_server_refuses_client_code_by_default(ais_backend, request, monkeypatch, src):
    if ais_backend.kind != "server":
        pytest.skip("in-process, client code is the test's own code")
    monkeypatch.setattr(request.getfixturevalue("ais_server"), "allow_etl_code", False)
    with pytest.raises(AISError) as exc:
        ais_backend.client.etl("refused-etl").init_class()(UpperServer)
    assert exc.value.status_code == 403 and "--allow-etl-code" in exc.value.message
    assert ais_backend.client.cluster().list_etls(stages=["Running", "Aborted"]) == []
    ais_backend.client.etl("image-only").init(image="example/x:1")  # no code: allowed


# -- offline transforms ----------------------------------------------------------------------


def test_object_copy_with_etl(client, src):
    client.etl("upper-etl").init_class()(UpperServer)
    src.object("a.txt").copy(src.object("copies/a.txt"), etl=ETLConfig("upper-etl", "+"))
    assert read(src, "copies/a.txt") == b"ALPHA+"
    client.etl("reverse-etl").init_class()(ReverseServer)
    pipeline = client.etl("upper-etl") >> client.etl("reverse-etl")
    src.object("b.txt").copy(src.object("copies/b.txt"), etl=ETLConfig(pipeline))
    assert read(src, "copies/b.txt") == b"ATEB"
    with pytest.raises(AISError) as exc:
        src.object("b.txt").copy(src.object("copies/c.txt"), etl=ETLConfig("no-such-etl"))
    assert exc.value.status_code == 404


def test_bucket_transform(ais_backend, client, src, fresh_name):
    client.etl("reverse-etl").init_class()(ReverseServer)
    dst = client.bucket(fresh_name)
    job_id = src.transform("reverse-etl", dst, prefix_filter="", prepend="t/",
                           ext={"txt": "rev"})
    assert client.job(job_id).wait(timeout=WAIT).success
    assert names(dst) == ["t/a.rev", "t/b.rev", "t/sub/c.rev"]
    assert read(dst, "t/sub/c.rev") == b"ammag"
    job_id = src.transform("reverse-etl", dst, prepend="dry/", dry_run=True)
    assert client.job(job_id).wait(timeout=WAIT).success
    assert not [n for n in names(dst) if n.startswith("dry/")]


def test_bucket_inspect_and_pipeline(client, src):
    client.etl("fail-etl").init_class()(FailingServer)
    src.object("bad.txt").get_writer().put_content(b"bad")
    job_id = src.inspect("fail-etl")
    assert client.job(job_id).wait(timeout=WAIT).success  # continue-on-error
    errors = client.etl("fail-etl").view(job_id=job_id).obj_errors
    assert [e.obj_name for e in errors] == [f"ais://{src.name}/bad.txt"]
    assert client.etl("fail-etl").view().obj_errors in (None, [])  # inline: none
    assert names(src) == ["a.txt", "b.txt", "bad.txt", "sub/c.txt"]


def test_multi_object_transform(client, src, fresh_name):
    client.etl("upper-etl").init_class()(UpperServer)
    client.etl("reverse-etl").init_class()(ReverseServer)
    dst = client.bucket(fresh_name)
    job_id = src.objects(obj_names=["a.txt", "sub/c.txt"]).transform(
        dst, "upper-etl", prepend="x/", ext={"txt": "up"}, etl_pipeline=["reverse-etl"])
    assert client.job(job_id, "etl-listrange").wait(timeout=WAIT).success
    assert names(dst) == ["x/a.up", "x/sub/c.up"]
    assert read(dst, "x/a.up") == b"AHPLA"


def test_multi_object_transform_errors(client, put, fresh_name):
    bck = put({"f-0": b"ok", "f-1": b"bad", "f-2": b"ok too"})
    client.etl("fail-etl").init_class()(FailingServer)
    dst = client.bucket(fresh_name)
    job_id = bck.objects(obj_template="f-{0..2}").transform(dst, "fail-etl",
                                                            continue_on_error=True)
    assert client.job(job_id).wait(timeout=WAIT).success
    assert names(dst) == ["f-0", "f-2"]
    assert [e.obj_name for e in client.etl("fail-etl").view(job_id).obj_errors] == \
        [f"ais://{bck.name}/f-1"]
    job_id = bck.objects(obj_template="f-{0..2}").transform(dst, "fail-etl", prepend="n/")
    client.job(job_id).wait(timeout=WAIT)
    snap = client.job(job_id).get_details().list_snapshots()[0]
    assert snap.is_idle and "n/f-2" not in names(dst)


def test_transform_with_unknown_etl(client, src, fresh_name):
    with pytest.raises(AISError) as exc:
        src.objects(obj_names=["a.txt"]).transform(client.bucket(fresh_name), "no-such-etl")
    assert exc.value.status_code == 404
