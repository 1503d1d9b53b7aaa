"""The pytest plugin: fixtures, backend parametrisation, live opt-in, reset and markers
(run through pytester)."""

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

@pytest.mark.ais_emulator_only("seeding")
def test_emulator_only(ais_backend):
    ais_backend.emulator.create_bucket("seeded")

@pytest.mark.ais_emulator_deviation("emulator answers differently", on="emulator")
def test_live_side(ais_backend):
    raise AssertionError("must not run on the emulator")

@pytest.mark.ais_emulator_deviation("live answers differently", on="live")
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
    def _run(*args, endpoint="", live=None):
        monkeypatch.setenv("AIS_ENDPOINT", endpoint)
        if live is None:
            monkeypatch.delenv("AIS_EMULATOR_LIVE", raising=False)
        else:
            monkeypatch.setenv("AIS_EMULATOR_LIVE", live)
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


def test_ais_endpoint_alone_does_not_switch_to_live(run):
    # an exported AIS_ENDPOINT (nothing listens there) changes nothing without the opt-in
    result = run(endpoint="http://127.0.0.1:1")
    result.assert_outcomes(passed=10, skipped=2)
    result.stdout.fnmatch_lines(["*AIS_ENDPOINT is set but live mode is opt-in (--ais-live=URL*"])
    assert "[live]" not in result.stdout.str()


@pytest.mark.parametrize("how", ["option", "variable"])
def test_live_opt_in_skips_emulator_only(run, how):
    # nothing listens on this port: the live tests that do run fail, which proves they
    # targeted it; the markers' skips happen before any request
    url = "http://127.0.0.1:1"
    args = ("-k", "emulator_only or live_side or emulator_side")
    result = run(f"--ais-live={url}", *args) if how == "option" else run(*args, live=url)
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped") == 2 and outcomes.get("failed") == 1
    result.stdout.fnmatch_lines([f"*live mode, ais_backend runs against {url}*",
                                 "*test_emulator_only?live? SKIPPED*",
                                 "*test_live_side?live? FAILED*",
                                 "*test_emulator_side?live? SKIPPED*"])


def test_the_option_wins_over_the_variable(run):
    result = run("--ais-live=", "-k", "test_state_is_fresh", live="http://127.0.0.1:1")
    result.assert_outcomes(passed=2)


def test_buckets_are_destroyed_at_teardown(pytester, monkeypatch):
    monkeypatch.delenv("AIS_EMULATOR_LIVE", raising=False)
    pytester.makepyfile(test_td='''
seen = []

def test_make(ais_server_session, ais_backend):
    if ais_backend.kind == "server":
        seen.append(ais_backend.bucket().name)

def test_gone(ais_server_session):
    assert seen and ais_server_session.emulator.list_buckets() == []
''')
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)


def test_server_state_is_reset_for_every_test(pytester, monkeypatch):
    monkeypatch.delenv("AIS_EMULATOR_LIVE", raising=False)
    pytester.makepyfile(test_reset='''
import pytest
from aistore.sdk import Client

urls = set()

@pytest.mark.parametrize("i", range(3))
def test_same_bucket_every_time(ais_server, i):
    urls.add(ais_server.url)
    Client(ais_server.url).bucket("same").create()   # 409 if an earlier test's were left
    ais_server.emulator.put_object("same", f"o{i}", b"x")
    assert [b.name for b in ais_server.emulator.list_buckets()] == ["same"]

def test_one_server_for_the_session():
    assert len(urls) == 1
''')
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=4)


def test_old_marker_names_are_a_usage_error(pytester, monkeypatch):
    monkeypatch.delenv("AIS_EMULATOR_LIVE", raising=False)
    pytester.makepyfile(test_old='''
import pytest

@pytest.mark.emulator_only("old name")
def test_x(ais_backend):
    pass
''')
    result = pytester.runpytest("-p", "no:cacheprovider",
                                "-W", "ignore::pytest.PytestUnknownMarkWarning")
    result.stderr.fnmatch_lines(["*the marker 'emulator_only' is now 'ais_emulator_only'*"])
    assert result.ret != 0


def test_a_project_may_keep_its_own_marker_of_an_old_name(pytester, monkeypatch):
    monkeypatch.delenv("AIS_EMULATOR_LIVE", raising=False)
    pytester.makeini("[pytest]\nmarkers =\n    emulator_only: this project's own marker\n")
    pytester.makepyfile(test_own='''
import pytest

@pytest.mark.emulator_only
def test_x(ais_backend):
    pass
''')
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_every_fixture_has_a_docstring(pytester):
    result = pytester.runpytest("--fixtures", "-p", "no:cacheprovider")
    out = result.stdout.str()
    for name in ("ais_mock", "ais_server", "ais_server_session", "ais_backend"):
        block = out.split(f"\n{name}", 1)[1].split("\n\n", 1)[0]
        assert "no docstring available" not in block, name
        assert len(block.splitlines()) >= 2, name


def test_markers_are_registered_with_the_package_prefix(pytester):
    out = pytester.runpytest("--markers", "-p", "no:cacheprovider").stdout.str()
    assert "@pytest.mark.ais_emulator_only(reason)" in out
    assert "@pytest.mark.ais_emulator_deviation(reason, on='emulator')" in out
    assert "mark.emulator_only" not in out and "mark.live_deviation" not in out


def test_ais_faults_fixture(pytester, monkeypatch):
    monkeypatch.delenv("AIS_EMULATOR_LIVE", raising=False)
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
