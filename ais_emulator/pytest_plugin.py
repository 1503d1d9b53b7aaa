"""pytest plugin (registered under ``pytest11``): emulator fixtures and backend markers.

Fixtures:

* ``ais_mock`` (function): a started ``mock_ais()`` with a fresh Emulator.
* ``ais_server`` (session): a running ``EmulatorServer`` on a free loopback port.
* ``ais_backend`` (function, parametrised): a ``Backend`` for ``inprocess`` and ``server``,
  or only ``live`` when ``AIS_ENDPOINT`` is set (non-empty). Emulator state is fresh for
  every test. Test ids read ``test_x[inprocess]``, ``test_x[server]``, ``test_x[live]``.

Markers:

* ``@pytest.mark.emulator_only(reason)``: skipped on ``live``.
* ``@pytest.mark.live_deviation(reason, on="emulator")``: a documented difference from
  real AIStore; skipped on the side named by ``on`` (``"emulator"`` or ``"live"``).

    def test_roundtrip(ais_backend):
        bck = ais_backend.bucket()
        bck.object("a").get_writer().put_content(b"x")
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

import pytest

from ais_emulator.emulator import Emulator
from ais_emulator.transports.responses_mock import mock_ais
from ais_emulator.transports.server import EmulatorServer

KINDS_OFFLINE = ("inprocess", "server")


def live_endpoint() -> str:
    return os.environ.get("AIS_ENDPOINT", "").strip()


@dataclass
class Backend:
    """Where a test's SDK calls go, and (on the emulator) the state behind them."""

    kind: str
    endpoint: str
    client: Any
    emulator: Optional[Emulator] = None
    _buckets: list = field(default_factory=list, repr=False)

    @property
    def is_emulator(self) -> bool:
        return self.kind != "live"

    def bucket(self, prefix: str = "t"):
        """Create a uniquely named ais bucket, destroyed (missing_ok) at teardown."""
        bck = self.client.bucket(f"{prefix}-{uuid.uuid4().hex[:12]}")
        bck.create()
        self._buckets.append(bck)
        return bck

    def cleanup(self) -> None:
        errors = []
        while self._buckets:
            bck = self._buckets.pop()
            try:
                bck.delete(missing_ok=True)
            except Exception as e:  # keep going; report the first failure
                errors.append(e)
        if errors:
            raise errors[0]


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "emulator_only(reason): runs on the emulator backends only (skipped on live)")
    config.addinivalue_line(
        "markers", "live_deviation(reason, on='emulator'): a documented difference from real "
                   "AIStore; skipped on the side named by on= ('emulator' or 'live')")


def pytest_generate_tests(metafunc) -> None:
    if "ais_backend" in metafunc.fixturenames:
        kinds = ("live",) if live_endpoint() else KINDS_OFFLINE
        metafunc.parametrize("ais_backend", kinds, indirect=True, ids=list(kinds))


def _skip_for(node, kind: str) -> None:
    mark = node.get_closest_marker("emulator_only")
    if mark is not None and kind == "live":
        reason = (mark.args[0] if mark.args else mark.kwargs.get("reason")) or "emulator only"
        pytest.skip(f"emulator only: {reason}")
    mark = node.get_closest_marker("live_deviation")
    if mark is not None:
        on = mark.kwargs.get("on", "emulator")
        if on not in ("emulator", "live"):
            raise pytest.UsageError(f"live_deviation(on={on!r}): expecting 'emulator' or 'live'")
        side = "live" if kind == "live" else "emulator"
        if side == on:
            reason = (mark.args[0] if mark.args else mark.kwargs.get("reason")) or ""
            pytest.skip(f"known deviation from AIStore ({on} side skipped): {reason}")


@pytest.fixture
def ais_mock():
    """A started ``mock_ais()`` (http://localhost:8080) with a fresh Emulator."""
    with mock_ais(emulator=Emulator()) as m:
        yield m


@pytest.fixture(scope="session")
def ais_server():
    """One ``EmulatorServer`` for the session (loopback, free port)."""
    with EmulatorServer(host="127.0.0.1", port=0) as srv:
        yield srv


@pytest.fixture
def ais_backend(request):
    kind = getattr(request, "param", None) or ("live" if live_endpoint() else "inprocess")
    _skip_for(request.node, kind)
    from aistore.sdk import Client

    if kind == "live":
        endpoint = live_endpoint()
        if not endpoint:
            pytest.skip("AIS_ENDPOINT is not set")
        backend = Backend("live", endpoint, Client(endpoint))
        yield backend
        backend.cleanup()
    elif kind == "server":
        srv = request.getfixturevalue("ais_server")
        srv.emulator.reset()
        backend = Backend("server", srv.url, Client(srv.url), srv.emulator)
        yield backend
        backend.cleanup()
    elif kind == "inprocess":
        with mock_ais(emulator=Emulator()) as m:
            backend = Backend("inprocess", m.endpoint, m.client(), m.emulator)
            yield backend
            backend.cleanup()
    else:
        raise pytest.UsageError(f"unknown ais_backend kind {kind!r}")


# -- fault injection: the ``ais_faults`` fixture -----------------------------------------


class FaultInjector:
    """Fault rules on the emulator a test talks to (``ais_faults``); the rules added
    through it are removed when the test ends.

        def test_survives(ais_backend, ais_faults):
            ais_faults.add("503", p=0.1, seed=1)
            ais_faults.add("reset after=1000 p=0.05")
            ...
            assert ais_faults.rules()[0].fired > 0
    """

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._added: list = []

    def add(self, kind, **kwargs):
        """``emulator.faults.add``: a kind, status code or one-line spec; returns the rule."""
        rule = self.emulator.faults.add(kind, **kwargs)
        self._added.append(rule)
        return rule

    def inject(self, kind, **kwargs):
        """A context manager: the rule is removed when the ``with`` block ends."""
        return self.emulator.faults.inject(kind, **kwargs)

    def remove(self, rule) -> bool:
        return self.emulator.faults.remove(rule)

    def rules(self) -> list:
        """Every rule installed on the emulator (with ``matched``/``fired`` counters)."""
        return self.emulator.faults.rules()

    def stats(self) -> list[dict]:
        return self.emulator.faults.stats()

    def clear(self) -> None:
        """Remove every rule of the emulator, not only this fixture's."""
        self.emulator.faults.clear()

    def close(self) -> None:
        while self._added:
            self.emulator.faults.remove(self._added.pop())


def _faults_emulator(request) -> Emulator:
    """The emulator behind the backend fixture the test uses (``ais_mock`` if none)."""
    names = request.fixturenames
    if "ais_backend" in names:
        backend = request.getfixturevalue("ais_backend")
        if not backend.is_emulator:
            pytest.skip("fault injection needs the emulator (the backend is a live cluster)")
        return backend.emulator
    if "ais_server" in names and "ais_mock" not in names:
        return request.getfixturevalue("ais_server").emulator
    return request.getfixturevalue("ais_mock").emulator


@pytest.fixture
def ais_faults(request):
    """Fault injection on the emulator the test uses: ``ais_backend``'s (skipped on a
    live cluster), else ``ais_server``'s, else ``ais_mock``'s (started for the test).
    A :class:`FaultInjector`; its rules are removed after the test."""
    injector = FaultInjector(_faults_emulator(request))
    yield injector
    injector.close()
