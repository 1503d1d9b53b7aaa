"""pytest plugin (registered under ``pytest11`` as ``ais_emulator``): fixtures, backends, markers.

Fixtures (``pytest --fixtures`` shows each one's contract):

* ``ais_mock``: a started ``mock_ais()`` on ``http://localhost:8080`` with a fresh Emulator.
* ``ais_server``: a running ``EmulatorServer`` on a free loopback port, for other processes
  (DataLoader workers) and plain HTTP clients. One server per session, its state reset
  before every test (``ais_server_session``: the same server without the reset, for
  fixtures of a wider scope).
* ``ais_backend``: one test body on several backends: ``inprocess`` and ``server``, or,
  in live mode only, ``live`` (a real cluster). Test ids read ``test_x[inprocess]``,
  ``test_x[server]``, ``test_x[live]``.

Live mode is an explicit opt-in: ``pytest --ais-live=http://host:port`` or the
``AIS_EMULATOR_LIVE`` variable (the option wins). ``AIS_ENDPOINT`` alone changes nothing:
a test suite never creates buckets on a cluster because a shell happened to export it.

Markers (prefixed with the package name):

* ``@pytest.mark.ais_emulator_only(reason)``: skipped on ``live``.
* ``@pytest.mark.ais_emulator_deviation(reason, on="emulator")``: a documented difference
  from real AIStore; skipped on the side named by ``on`` (``"emulator"`` or ``"live"``).

WebDataset shards for tests: :mod:`ais_emulator.shards`.

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
LIVE_OPTION = "--ais-live"
LIVE_VARIABLE = "AIS_EMULATOR_LIVE"
MARK_ONLY = "ais_emulator_only"
MARK_DEVIATION = "ais_emulator_deviation"
_RENAMED = {"emulator_only": MARK_ONLY, "live_deviation": MARK_DEVIATION}


def live_endpoint(config) -> str:
    """The real cluster this run opted into (``--ais-live`` / ``AIS_EMULATOR_LIVE``), or ""."""
    value = config.getoption("ais_live", None) if config is not None else None
    if value is None:
        value = os.environ.get(LIVE_VARIABLE, "")
    return value.strip()


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


# -- options, markers, parametrisation ---------------------------------------------------


def pytest_addoption(parser) -> None:
    group = parser.getgroup("ais_emulator")
    group.addoption(
        LIVE_OPTION, dest="ais_live", default=None, metavar="URL",
        help="run the ais_backend tests against the real AIStore at URL instead of the "
             f"emulator (creates and removes its own buckets there); also ${LIVE_VARIABLE}")


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", f"{MARK_ONLY}(reason): runs on the emulator backends only (skipped in "
                   "live mode)")
    config.addinivalue_line(
        "markers", f"{MARK_DEVIATION}(reason, on='emulator'): a documented difference from "
                   "real AIStore; skipped on the side named by on= ('emulator' or 'live')")


def pytest_report_header(config) -> str:
    endpoint = live_endpoint(config)
    if endpoint:
        return f"ais_emulator: live mode, ais_backend runs against {endpoint}"
    if os.environ.get("AIS_ENDPOINT", "").strip():
        return (f"ais_emulator: ais_backend runs on the emulator; AIS_ENDPOINT is set but "
                f"live mode is opt-in ({LIVE_OPTION}=URL or {LIVE_VARIABLE}=URL)")
    return ""


def pytest_generate_tests(metafunc) -> None:
    if "ais_backend" in metafunc.fixturenames:
        kinds = ("live",) if live_endpoint(metafunc.config) else KINDS_OFFLINE
        metafunc.parametrize("ais_backend", kinds, indirect=True, ids=list(kinds))


def pytest_collection_modifyitems(config, items) -> None:
    """A backend test marked with an old, unprefixed marker name is a usage error (it
    would otherwise run where it was meant to be skipped), unless the project registers
    that marker itself."""
    registered = {line.split("(")[0].split(":")[0].strip() for line in config.getini("markers")}
    for item in items:
        if "ais_backend" not in getattr(item, "fixturenames", ()):
            continue
        for old, new in _RENAMED.items():
            if old not in registered and item.get_closest_marker(old) is not None:
                raise pytest.UsageError(f"{item.nodeid}: the marker {old!r} is now {new!r}")


def _reason(mark, default: str = "") -> str:
    return (mark.args[0] if mark.args else mark.kwargs.get("reason")) or default


def _skip_for(node, kind: str) -> None:
    mark = node.get_closest_marker(MARK_ONLY)
    if mark is not None and kind == "live":
        pytest.skip(f"emulator only: {_reason(mark, 'emulator only')}")
    mark = node.get_closest_marker(MARK_DEVIATION)
    if mark is not None:
        on = mark.kwargs.get("on", "emulator")
        if on not in ("emulator", "live"):
            raise pytest.UsageError(f"{MARK_DEVIATION}(on={on!r}): expecting 'emulator' or "
                                    "'live'")
        side = "live" if kind == "live" else "emulator"
        if side == on:
            pytest.skip(f"known deviation from AIStore ({on} side skipped): {_reason(mark)}")


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def ais_mock():
    """A started ``mock_ais()`` on ``http://localhost:8080`` with a fresh Emulator.

    In-process: ``requests`` in this process only (a forked worker gets a copy; a spawned
    one an error). ``.client()`` is an SDK ``Client``; ``.emulator`` seeds or inspects the
    state. Any request no mock serves fails at once (``BlockedRequestError``); let a
    server through with ``ais_mock.add_passthrough(url)``.
    """
    with mock_ais(emulator=Emulator()) as m:
        yield m


@pytest.fixture(scope="session")
def ais_server_session():
    """The session's ``EmulatorServer`` (127.0.0.1, a free port), without any reset.

    For fixtures of module or session scope; tests normally take ``ais_server``.
    """
    with EmulatorServer(host="127.0.0.1", port=0) as srv:
        yield srv


@pytest.fixture
def ais_server(ais_server_session):
    """A running ``EmulatorServer`` with empty state: ``.url`` for clients in any process,
    ``.emulator`` to seed or inspect.

    One server per session (starting one per test would cost a thread and a port each);
    ``emulator.reset()`` before every test drops the buckets, objects, jobs and ETLs an
    earlier test left, so tests do not see each other.
    """
    ais_server_session.emulator.reset()
    return ais_server_session


@pytest.fixture
def ais_backend(request):
    """A ``Backend`` to run one test body on several AIStores; parametrised by the plugin.

    Offline: ``inprocess`` (``mock_ais``) and ``server`` (``EmulatorServer``), each with
    empty state. In live mode (``--ais-live=URL`` / ``AIS_EMULATOR_LIVE``): ``live`` only,
    the real cluster at URL. ``.client`` is an SDK ``Client``; ``.bucket(prefix)`` creates
    a uniquely named bucket that is destroyed after the test (the only buckets the
    fixture touches on a real cluster); ``.emulator`` is the state behind the emulator
    kinds (None on ``live``); ``.kind`` and ``.is_emulator`` say where it runs. Honours
    the ``ais_emulator_only`` and ``ais_emulator_deviation`` markers.
    """
    kind = getattr(request, "param", None) or (
        "live" if live_endpoint(request.config) else "inprocess")
    _skip_for(request.node, kind)
    from aistore.sdk import Client

    if kind == "live":
        endpoint = live_endpoint(request.config)
        if not endpoint:
            pytest.skip(f"live mode is off ({LIVE_OPTION}=URL or {LIVE_VARIABLE}=URL)")
        backend = Backend("live", endpoint, Client(endpoint))
        yield backend
        backend.cleanup()
    elif kind == "server":
        srv = request.getfixturevalue("ais_server")
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
