"""ETL classes run in-process (``etl_runtime``), the ETL registry, and who may send code."""

from __future__ import annotations

import base64
import logging
import os
import re
import resource
import signal
import subprocess
import sys

import cloudpickle
import pytest
import requests
from aistore.sdk import Client
from aistore.sdk.errors import AISError
from aistore.sdk.etl.webserver.fastapi_server import FastAPIServer
from aistore.sdk.etl.webserver.http_multi_threaded_server import HTTPMultiThreadedServer

from ais_emulator import Emulator, EmulatorServer
from ais_emulator.etl import (
    ABORTED,
    RUNNING,
    EtlAlreadyExists,
    EtlBadStage,
    EtlCodeRefused,
    EtlJobNotFound,
    EtlNoRuntime,
    EtlNotFound,
    EtlNotRunning,
    EtlRegistry,
    EtlTransformFailed,
)
from ais_emulator.etl_runtime import ClassRunner, EtlCodeError, decode_class
from ais_emulator.store import InvalidRequest

URL = "http://emu.test:8080"


def payload(obj) -> str:
    return base64.b64encode(cloudpickle.dumps(obj)).decode()


def init_msg(name: str, cls=None, **env) -> dict:
    pairs = [{"name": k, "value": str(v)} for k, v in env.items()]
    if cls is not None:
        pairs.append({"name": "ETL_CLASS_PAYLOAD", "value": payload(cls)})
    return {"name": name, "communication": "hpush://",
            "runtime": {"image": "aistorage/runtime_python:3.11", "env": pairs}}


class Upper(FastAPIServer):
    def transform(self, data, path, etl_args):
        return data.upper()


class Chunks(HTTPMultiThreadedServer):
    def transform_stream(self, reader, path, etl_args):
        while chunk := reader.read(2):
            yield chunk + b"|"


class SeesFile(FastAPIServer):
    seen: list = []

    def transform(self, data, path, etl_args):
        SeesFile.seen.append(data)
        if isinstance(data, str):
            with open(data, "rb") as f:
                return f.read()[::-1]
        return data


# -- ClassRunner ---------------------------------------------------------------------------


def test_buffered_and_streaming_classes():
    assert ClassRunner.from_env({"ETL_CLASS_PAYLOAD": payload(Upper)}, URL)(
        b"abc", "b/o", "") == b"ABC"
    runner = ClassRunner.from_env({"ETL_CLASS_PAYLOAD": payload(Chunks)}, URL)
    assert runner.streaming and runner(b"abcde", "b/o", "") == b"ab|cd|e|"


def test_direct_file_access_gets_a_temporary_file_on_the_first_stage():
    SeesFile.seen.clear()
    runner = ClassRunner(SeesFile, {"ETL_DIRECT_FQN": "true"}, URL)
    assert runner(b"xyz", "b/o", "", first=True) == b"zyx"
    (fqn,) = SeesFile.seen
    assert isinstance(fqn, str) and not os.path.exists(fqn)  # removed afterwards
    assert runner(b"xyz", "b/o", "", first=False) == b"xyz"  # later stages get bytes
    assert SeesFile.seen[-1] == b"xyz"


def test_instantiation_leaves_the_process_as_it_was(monkeypatch):
    monkeypatch.setenv("KEEP_ME", "before")
    monkeypatch.delenv("AIS_TARGET_URL", raising=False)
    seen = {}

    class Probe(FastAPIServer):
        def __init__(self):
            super().__init__()
            seen.update(target=os.environ["AIS_TARGET_URL"], keep=os.environ["KEEP_ME"],
                        fqn=os.environ["ETL_DIRECT_FQN"])

        def transform(self, data, path, etl_args):
            return data

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    ClassRunner(Probe, {"KEEP_ME": "during"}, URL)
    assert seen == {"target": URL, "keep": "during", "fqn": "false"}
    assert os.environ["KEEP_ME"] == "before" and "AIS_TARGET_URL" not in os.environ
    assert root.handlers == []  # the base class's logging.basicConfig is undone
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == limits


def test_bad_payloads():
    with pytest.raises(EtlCodeError, match="cannot decode"):
        decode_class("not base64 pickle")
    with pytest.raises(EtlCodeError, match="not an ETLServer subclass"):
        decode_class(payload(dict))

    class Raises(FastAPIServer):
        def __init__(self):
            raise OSError("no GPU")

    with pytest.raises(EtlCodeError, match="no GPU"):
        ClassRunner(Raises, {}, URL)


# -- EtlRegistry ---------------------------------------------------------------------------


def test_lifecycle_and_stages():
    reg = EtlRegistry()
    xid = reg.init(init_msg("upper-etl", Upper), allow_code=True, target_url=URL)
    assert xid.startswith("etl-") and reg.record("upper-etl").stage == RUNNING
    with pytest.raises(EtlAlreadyExists):
        reg.init(init_msg("upper-etl", Upper), allow_code=True, target_url=URL)
    assert reg.apply(["upper-etl"], b"x", "b/o") == b"X"
    with pytest.raises(EtlBadStage):
        reg.start("upper-etl", URL)
    reg.stop("upper-etl")
    assert reg.record("upper-etl").stage == ABORTED
    with pytest.raises(EtlNotRunning):
        reg.apply(["upper-etl"], b"x", "b/o")
    reg.start("upper-etl", URL)
    assert reg.apply(["upper-etl"], b"y", "b/o") == b"Y"
    assert reg.record("upper-etl").info()["obj_count"] == 2
    reg.delete("upper-etl")
    for call in (lambda: reg.record("upper-etl"), lambda: reg.stop("upper-etl")):
        with pytest.raises(EtlJobNotFound):
            call()
    with pytest.raises(EtlNotFound):
        reg.apply(["upper-etl"], b"x", "b/o")


def test_code_needs_permission():
    reg = EtlRegistry()
    with pytest.raises(EtlCodeRefused, match="--allow-etl-code"):
        reg.init(init_msg("upper-etl", Upper), allow_code=False, target_url=URL)
    assert reg.records() == []
    reg.init(init_msg("image-etl"), allow_code=False, target_url=URL)  # no code: fine


def test_image_only_etl_runs_a_hook_of_the_same_name():
    reg = EtlRegistry()
    reg.init(init_msg("image-etl"), allow_code=True, target_url=URL)
    with pytest.raises(EtlNoRuntime, match="container image"):
        reg.apply(["image-etl"], b"x", "b/o")
    reg.register("image-etl", lambda data, path, args: data + args.encode())
    assert reg.apply(["image-etl"], b"x", "b/o", "!") == b"x!"
    assert reg.record("image-etl").obj_count == 1


def test_failed_init_leaves_the_etl_aborted():
    class Broken(FastAPIServer):
        def __init__(self):
            raise ValueError("bad config")

    reg = EtlRegistry()
    with pytest.raises(InvalidRequest, match="bad config"):
        reg.init(init_msg("broken-etl", Broken), allow_code=True, target_url=URL)
    assert reg.record("broken-etl").stage == ABORTED
    assert "bad config" in reg.logs("broken-etl")


def test_transform_failures_are_recorded_per_job():
    reg = EtlRegistry()

    @reg.transform("half-etl")
    def half(data, path, args):
        if data == b"bad":
            raise KeyError("boom")
        return data

    reg.init(init_msg("half-etl"), allow_code=True, target_url=URL)
    with pytest.raises(EtlTransformFailed, match="KeyError"):
        reg.apply(["half-etl"], b"bad", "b/o", job_id="j1", cname="ais://b/o")
    with pytest.raises(EtlTransformFailed):
        reg.apply(["half-etl"], b"bad", "b/p")
    assert [e["obj_name"] for e in reg.obj_errors("half-etl", "j1")] == ["ais://b/o"]
    assert [e["obj_name"] for e in reg.obj_errors("half-etl")] == ["ais://b/p"]
    assert reg.obj_errors("half-etl", "other") == []


def test_non_bytes_results():
    reg = EtlRegistry()
    reg.register("text-etl", lambda data, path, args: "text")
    reg.register("none-etl", lambda data, path, args: None)
    assert reg.apply(["text-etl"], b"x", "b/o") == b"text"
    with pytest.raises(EtlTransformFailed):
        reg.apply(["none-etl"], b"x", "b/o")


# -- who may send code: the HTTP server and the CLI ------------------------------------------


def test_server_runs_client_code_only_when_allowed():
    with EmulatorServer(port=0, emulator=Emulator()) as srv:
        client = Client(srv.url)
        client.bucket("b").create().object("o").get_writer().put_content(b"abc")
        with pytest.raises(AISError) as exc:
            client.etl("upper-etl").init_class()(Upper)
        assert exc.value.status_code == 403 and "--allow-etl-code" in exc.value.message
        srv.allow_etl_code = True
        client.etl("upper-etl").init_class()(Upper)
        from aistore.sdk.etl import ETLConfig

        got = client.bucket("b").object("o").get_reader(etl=ETLConfig("upper-etl")).read_all()
        assert got == b"ABC"
    with EmulatorServer(port=0, allow_etl_code=True) as srv:
        Client(srv.url).etl("upper-etl").init_class()(Upper)


def test_cli_flag():
    class Local(FastAPIServer):  # a local class travels by value, as from a user's script
        def transform(self, data, path, etl_args):
            return data

    proc = subprocess.Popen([sys.executable, "-m", "ais_emulator", "serve", "--port", "0",
                             "--allow-etl-code"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline()).group(0)
        Client(url).etl("local-etl").init_class()(Local)
        assert requests.get(url + "/v1/etl", timeout=5).json()[0]["stage"] == RUNNING
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()
