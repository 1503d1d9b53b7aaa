"""The pytest plugin: fixtures, backend parametrisation and markers (run through pytester)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SAMPLE = '''
import pytest

def test_backend(ais_backend):
    bck = ais_backend.bucket("pl")
    bck.object("o").get_writer().put_content(b"x")
    assert bck.object("o").get_reader().read_all() == b"x"
    assert ais_backend.is_emulator
    assert ais_backend.emulator.get_object(bck.name, "o") == b"x"
    assert bck.name.startswith("pl-")

def test_state_is_fresh(ais_backend):
    assert ais_backend.client.cluster().list_buckets() == []

@pytest.mark.emulator_only("seeding")
def test_emulator_only(ais_backend):
    ais_backend.emulator.create_bucket("seeded")

@pytest.mark.live_deviation("emulator answers differently", on="emulator")
def test_live_side(ais_backend):
    raise AssertionError("must not run on the emulator")

@pytest.mark.live_deviation("live answers differently", on="live")
def test_emulator_side(ais_backend):
    assert ais_backend.kind in ("inprocess", "server")

def test_mock(ais_mock):
    ais_mock.client().bucket("m").create()
    assert ais_mock.emulator.list_buckets()[0].name == "m"

def test_server(ais_server):
    assert ais_server.url.startswith("http://127.0.0.1:")
'''


@pytest.fixture
def run(pytester, monkeypatch):
    def _run(*args, env=""):
        monkeypatch.setenv("AIS_ENDPOINT", env)
        pytester.makepyfile(test_sample=SAMPLE)
        return pytester.runpytest("-p", "no:cacheprovider", "-rs", "-v", *args)

    return _run


def test_offline_backends(run):
    result = run()
    result.assert_outcomes(passed=10, skipped=2)
    result.stdout.fnmatch_lines([
        "*test_backend?inprocess? PASSED*",
        "*test_backend?server? PASSED*",
        "*test_live_side?inprocess? SKIPPED*",
    ])
    result.stdout.fnmatch_lines(["*known deviation from AIStore*emulator answers differently*"])


def test_buckets_are_destroyed_at_teardown(pytester, monkeypatch):
    monkeypatch.setenv("AIS_ENDPOINT", "")
    pytester.makepyfile(test_td='''
seen = []

def test_make(ais_server, ais_backend):
    if ais_backend.kind == "server":
        seen.append(ais_backend.bucket().name)

def test_gone(ais_server):
    assert seen and ais_server.emulator.list_buckets() == []
''')
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)


def test_live_selection_skips_emulator_only(run):
    # nothing listens on this port: the live tests that do run fail, which proves they
    # targeted it; the markers' skips happen before any request
    result = run("-k", "emulator_only or live_side or emulator_side", env="http://127.0.0.1:1")
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped") == 2 and outcomes.get("failed") == 1
    result.stdout.fnmatch_lines(["*test_emulator_only?live? SKIPPED*",
                                 "*test_live_side?live? FAILED*",
                                 "*test_emulator_side?live? SKIPPED*"])


def test_ais_faults_fixture(pytester, monkeypatch):
    monkeypatch.setenv("AIS_ENDPOINT", "")
    pytester.makepyfile(test_faults='''
import pytest
import requests

def test_on_backend(ais_backend, ais_faults):
    bck = ais_backend.bucket()
    rule = ais_faults.add("503 op=list first=1 retry_after=0")
    assert bck.list_all_objects(props="name") == []  # the SDK's own retry got through
    assert (rule.matched, rule.fired) == (2, 1)
    assert ais_faults.emulator is ais_backend.emulator

def test_rules_are_gone(ais_server):
    assert ais_server.emulator.faults.rules() == []

def test_default_is_a_mock(ais_faults):
    rule = ais_faults.add("reset", op="cluster")
    with pytest.raises(requests.ConnectionError):
        requests.get("http://localhost:8080/v1/health")
    assert rule.fired == 1
''')
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=4)
