"""In-process transport: ``requests`` calls to an endpoint are served by an Emulator.

One ``responses`` patch is shared by every active ``mock_ais``; it routes by endpoint, so
mocks of different endpoints nest. The endpoint's host may be spelled ``localhost``,
``127.0.0.1`` or ``[::1]``: all three reach the mock. Any other request fails at once with
``BlockedRequestError`` (never retried by the SDK), unless a ``passthrough`` of an active
mock lets it reach the network (see :mod:`ais_emulator.transports.mock_routing`). A
process started with ``spawn``/``forkserver`` while a mock is active fails the same way,
with a message pointing to the server transport, when it calls a mocked endpoint. A nested
``mock_ais`` of an endpoint that is already mocked re-uses its Emulator unless it is given
one. Bodies stream: an iterable response body is handed to ``requests`` as a raw
file-like object, never joined (:mod:`ais_emulator.transports.mock_exchange`).

    with mock_ais() as m:                      # http://localhost:8080
        m.client().bucket("b").create()
        m.emulator.get_object("b", ...)

    with mock_ais(passthrough=["http://127.0.0.1:51180"]):   # a real cluster too
        ...

    @mock_ais()                                 # functions, or test classes
    def test_x(): ...

What this needs of ``responses`` and ``moto`` beyond their public API is in their
adapters (:mod:`ais_emulator.transports._responses_adapter`,
:mod:`ais_emulator._moto_adapter`), which check the installed versions.

Deviations: ``responses`` records no calls here (that would keep every body alive);
another ``responses`` mock activated inside this one takes precedence, except moto's
``mock_aws``, which is told to pass what it does not own through to this one.
"""

from __future__ import annotations

import functools
import inspect
import re
import threading
import unittest
from typing import Optional
from urllib.parse import urljoin, urlsplit

import responses

from ais_emulator._moto_adapter import chain_responses
from ais_emulator.emulator import Emulator
from ais_emulator.transports._responses_adapter import quiet_mock, real_send
from ais_emulator.transports.mock_exchange import EmulatorRoute
from ais_emulator.transports.mock_routing import (
    BlockRoute,
    Passthrough,
    PassthroughSpec,
    ProcessHook,
    blocked_message,
    endpoint_key,
    spell,
    url_key,
)

DEFAULT_ENDPOINT = "http://localhost:8080"


class _Interceptor:
    """Process-wide: endpoint -> stack of active mocks, and the one ``responses`` patch."""

    def __init__(self):
        self._lock = threading.RLock()
        self._stacks: dict[tuple[str, str, int, str], list[MockAis]] = {}
        self._mock: Optional[responses.RequestsMock] = None
        self._processes = ProcessHook(self.snapshot)
        # servers a let-through server redirected to (AIS proxies redirect to targets)
        self._redirected: set[tuple[str, str, int]] = set()

    def lookup(self, url: str):
        scheme, host, port, path = url_key(url)
        with self._lock:
            for (s, h, p, prefix), stack in self._stacks.items():
                if s == scheme and h == host and p == port and \
                        path.startswith(prefix + "/") and stack:
                    return f"{s}://{urlsplit(url).netloc}", prefix, stack[-1].emulator
        return None

    def current(self, endpoint: str) -> Optional[Emulator]:
        with self._lock:
            stack = self._stacks.get(endpoint_key(endpoint))
            return stack[-1].emulator if stack else None

    def snapshot(self) -> tuple[list[str], Passthrough]:
        """The mocked endpoints and the union of the active mocks' passthroughs."""
        with self._lock:
            allowed = Passthrough()
            for stack in self._stacks.values():
                for mock in stack:
                    for spec in mock.passthrough_spec:
                        allowed.add(spec)
            return [spell(k) for k, stack in self._stacks.items() if stack], allowed

    def blocked(self, method: str, url: str) -> Optional[str]:
        """Why ``url`` may not be sent, or None when a mock serves it or it may pass."""
        if self.lookup(url) is not None:
            return None
        mocked, allowed = self.snapshot()
        if allowed.allows(url) or url_key(url)[:3] in self._redirected:
            return None
        return blocked_message(method, url, mocked, allowed.describe())

    def _send_through(self, adapter, request, **kwargs):
        """Send a let-through request; a redirect it answers lets its target through too."""
        response = real_send(adapter, request, **kwargs)
        location = response.headers.get("Location") if response.is_redirect else None
        if location:
            target = url_key(urljoin(str(request.url), location))[:3]
            with self._lock:
                if self._mock is not None:
                    self._redirected.add(target)
        return response

    def push(self, endpoint: str, mock: MockAis) -> None:
        with self._lock:
            if self._mock is None:  # (an unsupported responses or moto raises here)
                # the emulator's route, then the one that blocks what may not pass
                patch = quiet_mock(self._send_through, EmulatorRoute(self.lookup),
                                   BlockRoute(self.blocked))
                try:
                    chain_responses(patch)
                except BaseException:
                    patch.stop(allow_assert=False)
                    raise
                self._mock = patch
                self._processes.install()
            self._stacks.setdefault(endpoint_key(endpoint), []).append(mock)

    def pop(self, endpoint: str, mock: MockAis) -> None:
        with self._lock:
            key = endpoint_key(endpoint)
            stack = self._stacks.get(key, [])
            for i in range(len(stack) - 1, -1, -1):
                if stack[i] is mock:
                    del stack[i]
                    break
            if not stack:
                self._stacks.pop(key, None)
            if not self._stacks and self._mock is not None:
                self._mock.stop(allow_assert=False)
                self._mock = None
                self._redirected.clear()
                chain_responses(None)
                self._processes.uninstall()


_INTERCEPTOR = _Interceptor()


class MockAis:
    """A started-or-stopped interception of one endpoint (see ``mock_ais``)."""

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, emulator: Optional[Emulator] = None,
                 passthrough: PassthroughSpec = ()):
        self.endpoint = endpoint
        self._given = emulator
        self._emulator = emulator
        self._active = False
        self._lock = threading.Lock()
        self._passthrough: list = []
        self.add_passthrough(passthrough)

    @property
    def passthrough_spec(self) -> list:
        """What this mock lets through to the network (see ``add_passthrough``)."""
        return list(self._passthrough)

    def add_passthrough(self, spec: PassthroughSpec) -> MockAis:
        """Also let ``spec`` through: a URL (``"http://127.0.0.1:51180"``: that server,
        any spelling of the loopback host), a compiled regex, a list of those, or True."""
        if spec is None or spec is False:
            return self
        if not isinstance(spec, (bool, str, re.Pattern)):
            spec = list(spec)  # (a generator is read once)
        Passthrough(spec)  # checked now: a typo fails here, not at the first request
        if spec != []:
            self._passthrough.append(spec)
        return self

    @property
    def emulator(self) -> Emulator:
        if self._emulator is None:
            self._emulator = _INTERCEPTOR.current(self.endpoint) or Emulator()
        return self._emulator

    @property
    def started(self) -> bool:
        return self._active

    def start(self) -> MockAis:
        with self._lock:
            if not self._active:
                if self._given is None and not self._active:
                    self._emulator = _INTERCEPTOR.current(self.endpoint) or self._emulator
                if self._emulator is None:  # resolved before the interceptor reads it
                    self._emulator = Emulator()
                _INTERCEPTOR.push(self.endpoint, self)
                self._active = True
        return self

    def stop(self) -> None:
        with self._lock:
            if self._active:
                _INTERCEPTOR.pop(self.endpoint, self)
                self._active = False

    def client(self, **kwargs):
        """An ``aistore.sdk.Client`` for this endpoint."""
        from aistore.sdk import Client

        return Client(self.endpoint, **kwargs)

    def __enter__(self) -> MockAis:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __call__(self, target):
        """Decorate a function (fresh state per call) or a test class."""
        args = (self.endpoint, self._given, self._passthrough)
        if inspect.isclass(target):
            return _decorate_class(target, *args)
        return _decorate_function(target, *args)

    def __repr__(self) -> str:
        state = "started" if self._active else "stopped"
        return f"mock_ais({self.endpoint!r}, {state})"


def _fresh(endpoint: str, emulator: Optional[Emulator], passthrough: list) -> MockAis:
    m = MockAis(endpoint, emulator)
    for spec in passthrough:
        m.add_passthrough(spec)
    return m


def _decorate_function(fn, endpoint: str, emulator: Optional[Emulator], passthrough: list):
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def async_wrapper(*args, **kwargs):
            with _fresh(endpoint, emulator, passthrough):
                return await fn(*args, **kwargs)

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _fresh(endpoint, emulator, passthrough):
            return fn(*args, **kwargs)

    return wrapper


def _decorate_class(cls, endpoint: str, emulator: Optional[Emulator], passthrough: list):
    if issubclass(cls, unittest.TestCase):
        original = cls.setUp

        @functools.wraps(original)
        def setUp(self, *args, **kwargs):
            m = _fresh(endpoint, emulator, passthrough).start()
            self.addCleanup(m.stop)
            return original(self, *args, **kwargs)

        cls.setUp = setUp
        return cls
    for name, attr in list(vars(cls).items()):
        if name.startswith("test") and callable(attr):
            setattr(cls, name, _decorate_function(attr, endpoint, emulator, passthrough))
    return cls


def mock_ais(endpoint=DEFAULT_ENDPOINT, emulator: Optional[Emulator] = None, *,
             passthrough: PassthroughSpec = ()):
    """Intercept ``requests`` to ``endpoint`` with an in-process Emulator.

    A context manager, a decorator (``@mock_ais()`` or bare ``@mock_ais``), or an object
    with idempotent ``start()``/``stop()``. While any mock is active, a request that no
    mock serves fails at once with ``BlockedRequestError``, unless ``passthrough`` (of
    this or another active mock) lets it through to the network: a URL of a server
    (``"http://127.0.0.1:51180"``), a compiled regex, a list of those, or ``True``.
    """
    if callable(endpoint) and not isinstance(endpoint, str):
        return MockAis(DEFAULT_ENDPOINT, emulator, passthrough)(endpoint)
    return MockAis(endpoint, emulator, passthrough)
