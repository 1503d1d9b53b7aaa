"""In-process transport: ``requests`` calls to an endpoint are served by an Emulator.

One ``responses`` patch is shared by every active ``mock_ais``; it routes by endpoint, so
mocks of different endpoints nest, and every other URL passes through to the network
(real local servers stay reachable). A nested ``mock_ais`` of an endpoint that is
already mocked re-uses its Emulator unless it is given one. Bodies stream: an iterable
response body is handed to ``requests`` as a raw file-like object, never joined.

    with mock_ais() as m:                      # http://localhost:8080
        m.client().bucket("b").create()
        m.emulator.get_object("b", ...)

    @mock_ais()                                 # functions, or test classes
    def test_x(): ...

Deviations: ``responses`` records no calls here (that would keep every body alive);
another ``responses`` mock activated inside this one takes precedence, except moto's
``mock_aws``, which is told to pass what it does not own through to this one.
"""

from __future__ import annotations

import functools
import http.client
import inspect
import io
import re
import threading
import unittest
from typing import Optional
from urllib.parse import urlsplit

import responses
from urllib3 import HTTPResponse
from urllib3._collections import HTTPHeaderDict

from ais_emulator.api import Request, dispatch
from ais_emulator.emulator import Emulator
from ais_emulator.transports import faultexec

DEFAULT_ENDPOINT = "http://localhost:8080"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _key(url: str) -> tuple[str, str, str]:
    """(scheme, host:port, path prefix) of an endpoint or a request URL."""
    parts = urlsplit(url)
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    return parts.scheme.lower(), f"{(parts.hostname or '').lower()}:{port}", parts.path


class _IterRaw(io.RawIOBase):
    """A readable raw stream over an iterable of bytes-like chunks."""

    def __init__(self, chunks):
        super().__init__()
        self._it = iter(chunks)
        self._chunks = chunks
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not len(self._buf):
            try:
                self._buf = memoryview(next(self._it)).cast("B")
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        closer = getattr(self._chunks, "close", None)
        if callable(closer):
            closer()
        super().close()


class _NoCalls(responses.CallList):
    def add(self, request, response) -> None:
        pass

    def add_call(self, call) -> None:
        pass


class _EmulatorRoute(responses.BaseResponse):
    """Matches every method on the registered endpoints and dispatches to the Emulator."""

    def __init__(self, interceptor: _Interceptor):
        super().__init__("ANY", re.compile(".*"))
        self._interceptor = interceptor
        self._calls = _NoCalls()

    def matches(self, request):
        if self._interceptor.lookup(str(request.url)) is None:
            return False, "not an emulated endpoint"
        return True, ""

    def get_response(self, request) -> HTTPResponse:
        found = self._interceptor.lookup(str(request.url))
        if found is None:  # the mock was stopped concurrently
            raise ConnectionError(f"no emulator serves {request.url}")
        base, prefix, emu = found
        parts = urlsplit(str(request.url))
        body = request.body
        if body is None:
            body = b""
        elif isinstance(body, str):
            body = body.encode("utf-8")
        elif hasattr(body, "read"):
            body = body.read()
        elif not isinstance(body, (bytes, bytearray, memoryview)):
            body = b"".join(bytes(c) if not isinstance(c, str) else c.encode() for c in body)
        req = Request(request.method, parts.path[len(prefix):] or "/", parts.query,
                      dict(request.headers), bytes(body), base_url=base + prefix,
                      remote_addr="in-process")
        resp = dispatch(emu, req)
        headers = HTTPHeaderDict()
        for name, value in resp.headers.items():
            headers.add(name, value)
        length = resp.length()
        if length is not None:
            headers["Content-Length"] = str(length)
        if resp.fault is not None:  # an injected reset, truncation or stall
            raw = faultexec.in_process(resp, request)
        elif request.method == "HEAD":
            resp.close()
            raw = io.BytesIO(b"")
        elif isinstance(resp.body, (bytes, bytearray, memoryview)):
            raw = io.BytesIO(resp.body)
        else:
            raw = io.BufferedReader(_IterRaw(resp.body), buffer_size=1 << 16)
        return HTTPResponse(body=raw, headers=headers, status=resp.status,
                            reason=http.client.responses.get(resp.status),
                            preload_content=False, decode_content=False,
                            request_method=request.method)


def _chain_moto(mock: Optional[responses.RequestsMock]) -> None:
    """Let moto's ``mock_aws`` (which patches ``requests`` the same way) pass the requests it
    does not own through to ``mock``, so the two nest in either order."""
    try:
        from moto.core.models import override_responses_real_send
    except ImportError:  # moto is optional
        return
    override_responses_real_send(mock)


class _Interceptor:
    """Process-wide: endpoint -> stack of Emulators, and the one ``responses`` patch."""

    def __init__(self):
        self._lock = threading.Lock()
        self._stacks: dict[tuple[str, str, str], list[Emulator]] = {}
        self._mock: Optional[responses.RequestsMock] = None

    def lookup(self, url: str):
        scheme, netloc, path = _key(url)
        with self._lock:
            for (s, n, prefix), stack in self._stacks.items():
                if s == scheme and n == netloc and path.startswith(prefix + "/") and stack:
                    return f"{s}://{urlsplit(url).netloc}", prefix, stack[-1]
        return None

    def current(self, endpoint: str) -> Optional[Emulator]:
        with self._lock:
            stack = self._stacks.get(self._endpoint_key(endpoint))
            return stack[-1] if stack else None

    @staticmethod
    def _endpoint_key(endpoint: str) -> tuple[str, str, str]:
        scheme, netloc, path = _key(endpoint)
        # the SDK joins "v1" onto the endpoint: a path survives only with a trailing "/"
        return scheme, netloc, path.rstrip("/") if path.endswith("/") else ""

    def push(self, endpoint: str, emulator: Emulator) -> None:
        with self._lock:
            self._stacks.setdefault(self._endpoint_key(endpoint), []).append(emulator)
            if self._mock is None:
                mock = responses.RequestsMock(assert_all_requests_are_fired=False)
                mock._calls = _NoCalls()
                mock.add(_EmulatorRoute(self))
                mock.add_passthru(re.compile(".*"))
                mock.start()
                self._mock = mock
                _chain_moto(mock)

    def pop(self, endpoint: str, emulator: Emulator) -> None:
        with self._lock:
            key = self._endpoint_key(endpoint)
            stack = self._stacks.get(key, [])
            for i in range(len(stack) - 1, -1, -1):
                if stack[i] is emulator:
                    del stack[i]
                    break
            if not stack:
                self._stacks.pop(key, None)
            if not self._stacks and self._mock is not None:
                self._mock.stop(allow_assert=False)
                self._mock = None
                _chain_moto(None)


_INTERCEPTOR = _Interceptor()


class MockAis:
    """A started-or-stopped interception of one endpoint (see ``mock_ais``)."""

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, emulator: Optional[Emulator] = None):
        self.endpoint = endpoint
        self._given = emulator
        self._emulator = emulator
        self._active = False
        self._lock = threading.Lock()

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
                _INTERCEPTOR.push(self.endpoint, self.emulator)
                self._active = True
        return self

    def stop(self) -> None:
        with self._lock:
            if self._active:
                _INTERCEPTOR.pop(self.endpoint, self.emulator)
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
        if inspect.isclass(target):
            return _decorate_class(target, self.endpoint, self._given)
        return _decorate_function(target, self.endpoint, self._given)

    def __repr__(self) -> str:
        state = "started" if self._active else "stopped"
        return f"mock_ais({self.endpoint!r}, {state})"


def _decorate_function(fn, endpoint: str, emulator: Optional[Emulator]):
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def async_wrapper(*args, **kwargs):
            with MockAis(endpoint, emulator):
                return await fn(*args, **kwargs)

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with MockAis(endpoint, emulator):
            return fn(*args, **kwargs)

    return wrapper


def _decorate_class(cls, endpoint: str, emulator: Optional[Emulator]):
    if issubclass(cls, unittest.TestCase):
        original = cls.setUp

        @functools.wraps(original)
        def setUp(self, *args, **kwargs):
            m = MockAis(endpoint, emulator).start()
            self.addCleanup(m.stop)
            return original(self, *args, **kwargs)

        cls.setUp = setUp
        return cls
    for name, attr in list(vars(cls).items()):
        if name.startswith("test") and callable(attr):
            setattr(cls, name, _decorate_function(attr, endpoint, emulator))
    return cls


def mock_ais(endpoint=DEFAULT_ENDPOINT, emulator: Optional[Emulator] = None):
    """Intercept ``requests`` to ``endpoint`` with an in-process Emulator.

    A context manager, a decorator (``@mock_ais()`` or bare ``@mock_ais``), or an object
    with idempotent ``start()``/``stop()``.
    """
    if callable(endpoint) and not isinstance(endpoint, str):
        return MockAis(DEFAULT_ENDPOINT, emulator)(endpoint)
    return MockAis(endpoint, emulator)
