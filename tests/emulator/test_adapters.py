"""The emulator's adapters to ``responses`` and ``moto`` internals: the versions they
support are checked, and another version fails loudly, naming the library."""

from __future__ import annotations

from importlib import metadata

import pytest
import requests

from ais_emulator import _moto_adapter, _versions, mock_ais
from ais_emulator._versions import UnsupportedDependencyError, parse
from ais_emulator.transports import _responses_adapter
from ais_emulator.transports.responses_mock import _INTERCEPTOR


def _installed(monkeypatch, library: str, version: str) -> None:
    """Make ``library`` look installed in ``version`` to the version checks."""
    real = metadata.version
    monkeypatch.setattr(_versions.metadata, "version",
                        lambda name: version if name == library else real(name))


def test_versions_are_read_by_their_numbers():
    assert parse("0.26.3") == (0, 26, 3)
    assert parse("5.2.6.dev1") == (5, 2, 6)
    assert parse("1.0rc2") == (1, 0)
    assert parse("2") == (2,)


def test_the_installed_versions_are_supported():
    assert _responses_adapter.check_responses_version() == metadata.version("responses")
    assert _moto_adapter.check_moto_version() == metadata.version("moto")


@pytest.mark.parametrize(("check", "library", "version", "supported"), [
    (_responses_adapter.check_responses_version, "responses", "0.24.1", ">=0.25,<0.27"),
    (_responses_adapter.check_responses_version, "responses", "0.27.0", ">=0.25,<0.27"),
    (_moto_adapter.check_moto_version, "moto", "4.2.14", ">=5,<6"),
    (_moto_adapter.check_moto_version, "moto", "6.0.0", ">=5,<6"),
])
def test_other_versions_fail_loudly(check, library, version, supported):
    with pytest.raises(UnsupportedDependencyError,
                       match=f"supports {library}{supported}, and {library} {version} is "
                             f"installed"):
        check(version)


def test_an_unsupported_responses_stops_the_mock_from_starting(monkeypatch):
    _installed(monkeypatch, "responses", "0.30.1")
    monkeypatch.setattr(_responses_adapter, "_checked", False)
    with pytest.raises(UnsupportedDependencyError, match="responses 0.30.1 is installed"):
        with mock_ais():
            pass
    assert _INTERCEPTOR.lookup("http://localhost:8080/v1/health") is None
    monkeypatch.undo()
    with mock_ais() as m:  # nothing was left half-installed
        assert m.client().cluster().is_ready()


def test_an_unsupported_moto_fails_loudly_where_it_is_used(monkeypatch):
    _installed(monkeypatch, "moto", "6.1.0")
    monkeypatch.setattr(_moto_adapter, "_models", None)
    with pytest.raises(UnsupportedDependencyError, match="moto 6.1.0 is installed"):
        _moto_adapter.mock_aws_active()
    monkeypatch.setattr(_moto_adapter, "_models", None)
    with pytest.raises(UnsupportedDependencyError, match="moto 6.1.0 is installed"):
        with mock_ais():  # the mock chains moto's own responses mock
            pass
    assert _INTERCEPTOR.lookup("http://localhost:8080/v1/health") is None


def test_the_mock_records_no_calls():
    with mock_ais() as m:
        client = m.client()
        client.bucket("b").create()
        for _ in range(3):
            requests.get(m.endpoint + "/v1/health", timeout=2)
        patch = _INTERCEPTOR._mock
        assert len(patch.calls) == 0
        assert all(len(route.calls) == 0 for route in patch.registered())
