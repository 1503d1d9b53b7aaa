"""Where a request under ``mock_ais`` goes: the mocked endpoint, a passthrough, or an error.

The in-process mock serves its endpoints and lets a request elsewhere reach the network
only where the user allowed it; anything else fails at once with ``BlockedRequestError``
(the SDK does not retry it: a stray request costs microseconds, not 25-55 s of connection
retries). One host has several spellings: ``localhost``, ``127.0.0.1`` and ``[::1]`` are
the same host here, so a client built with any of them reaches a mock of any of them::

    key = endpoint_key("http://127.0.0.1:8080/")      # ("http", "localhost", 8080, "")
    Passthrough(["http://localhost:51180"]).allows("http://127.0.0.1:51180/v1/health")

A spawned (``spawn``/``forkserver``) process does not inherit the mock; a process started
while a mock is active carries a guard into the child (``SpawnGuard``), so that its
requests to a mocked endpoint fail at once with an error saying to use the server
transport, instead of going to whatever listens on that port (usually nothing, and the
SDK retries for half a minute).
"""

from __future__ import annotations

import ipaddress
import multiprocessing
import multiprocessing.process
import re
import threading
from collections.abc import Iterable
from typing import Optional, Union
from urllib.parse import urljoin, urlsplit

from ais_emulator.transports._responses_adapter import QuietRoute, quiet_mock, real_send

_DEFAULT_PORTS = {"http": 80, "https": 443}
# the spellings of this machine's own loopback host that name the same listener
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_LOOPBACK_IPS = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"),
                 ipaddress.ip_address("::ffff:127.0.0.1")}

PassthroughSpec = Union[bool, str, "re.Pattern[str]", Iterable[Union[str, "re.Pattern[str]"]]]


class BlockedRequestError(RuntimeError):
    """A request under ``mock_ais`` that no mock serves and no passthrough allows.

    Not a ``requests.ConnectionError`` on purpose: the SDK retries those for tens of
    seconds, and this is a mistake in the test set-up, not a network fault.
    """


def canonical_host(hostname: Optional[str]) -> str:
    """``localhost`` for every spelling of the loopback host, else the lower-case name."""
    host = (hostname or "").lower().rstrip(".")
    if host in _LOOPBACK_NAMES:
        return "localhost"
    try:
        if ipaddress.ip_address(host) in _LOOPBACK_IPS:
            return "localhost"
    except ValueError:
        pass
    return host


def url_key(url: str) -> tuple[str, str, int, str]:
    """(scheme, canonical host, port, path) of a URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    except ValueError:  # a port out of range: matches nothing
        port = -1
    return scheme, canonical_host(parts.hostname), port, parts.path


def endpoint_key(endpoint: str) -> tuple[str, str, int, str]:
    """The key of an endpoint: the SDK joins ``v1`` onto it, so a path survives only with
    a trailing ``/`` (``http://h:1/ais/`` serves ``/ais/v1/...``; ``http://h:1/ais``
    serves ``/v1/...``)."""
    scheme, host, port, path = url_key(endpoint)
    return scheme, host, port, path.rstrip("/") if path.endswith("/") else ""


def spell(key: tuple[str, str, int, str]) -> str:
    scheme, host, port, prefix = key
    return f"{scheme}://{host}:{port}{prefix}"


class Passthrough:
    """The URLs one mock lets through to the network.

    ``True``: everything. A string: an endpoint or URL prefix (host spellings of the
    loopback host are one host; ``http://h:1`` allows every path on that server). A
    compiled regular expression: matched against the whole request URL.
    """

    def __init__(self, spec: PassthroughSpec = ()):
        self.everything = False
        self._prefixes: list[tuple[str, str, int, str]] = []
        self._patterns: list[re.Pattern] = []
        self.add(spec)

    def add(self, spec: PassthroughSpec) -> None:
        if spec is True:
            self.everything = True
            return
        if spec is False or spec is None:
            return
        items = [spec] if isinstance(spec, (str, re.Pattern)) else list(spec)
        for item in items:
            if isinstance(item, re.Pattern):
                self._patterns.append(item)
            elif isinstance(item, str):
                key = url_key(item)
                if not key[0] or not key[1]:
                    raise ValueError(f"passthrough {item!r}: expecting a URL such as "
                                     "'http://127.0.0.1:51180' (or a compiled regex)")
                self._prefixes.append(key)
            else:
                raise TypeError(f"passthrough: expecting True, a URL string or a compiled "
                                f"regex, got {type(item).__name__}")

    def allows(self, url: str) -> bool:
        if self.everything:
            return True
        scheme, host, port, path = url_key(url)
        for s, h, p, prefix in self._prefixes:
            if s == scheme and h == host and p == port and path.startswith(prefix):
                return True
        return any(p.match(url) for p in self._patterns)

    def describe(self) -> list[str]:
        if self.everything:
            return ["everything"]
        return [spell(k) for k in self._prefixes] + [p.pattern for p in self._patterns]

    def __getstate__(self):
        return {"everything": self.everything, "prefixes": self._prefixes,
                "patterns": [(p.pattern, p.flags) for p in self._patterns]}

    def __setstate__(self, state):
        self.everything = state["everything"]
        self._prefixes = list(state["prefixes"])
        self._patterns = [re.compile(p, f) for p, f in state["patterns"]]


def blocked_message(method: str, url: str, mocked: list[str], allowed: list[str]) -> str:
    served = ", ".join(mocked) or "(none)"
    text = (f"mock_ais blocked {method} {url}: no mock serves it ({served}; localhost, "
            f"127.0.0.1 and [::1] are one host) and it was not allowed to pass through "
            f"to the network.")
    if allowed:
        text += f" Allowed through: {', '.join(allowed)}."
    return text + (" Point the client at the mocked endpoint, or let this server through: "
                   "mock_ais(..., passthrough=['<scheme>://<host>:<port>']) (or "
                   ".add_passthrough(url) on a started mock; passthrough=True lets "
                   "everything through).")


def spawned_message(method: str, url: str, endpoint: str) -> str:
    return (f"mock_ais blocked {method} {url}: this process was started with 'spawn' or "
            f"'forkserver' while mock_ais({endpoint!r}) was active in its parent, and an "
            "in-process mock does not reach other processes (a 'fork' child gets a copy "
            "of it). Serve the data over HTTP instead: EmulatorServer (or the ais_server "
            "fixture, or `ais-emulator serve`) and a client pointed at its URL.")


# -------------------------------------------------------------------- responses pieces


class BlockRoute(QuietRoute):
    """Matches every request that no mock serves and no passthrough allows, and fails it
    with ``BlockedRequestError`` (registered after the emulator's route)."""

    def __init__(self, message):
        super().__init__()
        self._message = message  # (method, url) -> str, or None where allowed

    def matches(self, request):
        if self._message(request.method, str(request.url)) is None:
            return False, "allowed through"
        return True, ""

    def get_response(self, request):
        message = self._message(request.method, str(request.url))
        raise BlockedRequestError(message or f"mock_ais blocked {request.url}")


# -------------------------------------------------------------------- spawned processes


def child_guard(mocked: list[str], passthrough: Passthrough) -> None:
    """In a ``spawn``/``forkserver`` child of a process with active mocks: requests to
    the mocked endpoints fail at once, saying why; the rest as in the parent."""
    keys = [endpoint_key(e) for e in mocked]
    redirected: set = set()

    def message(method: str, url: str) -> Optional[str]:
        scheme, host, port, path = url_key(url)
        for k in keys:
            if k[:3] == (scheme, host, port) and path.startswith(k[3] + "/"):
                return spawned_message(method, url, spell(k))
        if passthrough.allows(url) or (scheme, host, port) in redirected:
            return None
        return blocked_message(method, url, mocked, passthrough.describe())

    def send_through(adapter, request, **kwargs):
        response = real_send(adapter, request, **kwargs)
        if response.is_redirect and response.headers.get("Location"):
            redirected.add(url_key(urljoin(str(request.url), response.headers["Location"]))[:3])
        return response

    quiet_mock(send_through, BlockRoute(message))


class SpawnGuard:
    """A process target that, in a spawned child, installs ``child_guard`` first.

    Pickled with the process object (what it holds pickles by value).
    """

    def __init__(self, target, mocked: list[str], passthrough: Passthrough):
        self.target = target
        self.mocked = mocked
        self.passthrough = passthrough

    def __call__(self, *args, **kwargs):
        child_guard(self.mocked, self.passthrough)
        return self.target(*args, **kwargs)


def _start_method(process) -> Optional[str]:
    method = getattr(process, "_start_method", None)
    if method:
        return method
    method = multiprocessing.get_start_method(allow_none=True)
    if method:
        return method
    default = getattr(multiprocessing.context._default_context, "_default_context", None)
    return getattr(default, "_name", None)


class ProcessHook:
    """Wraps the target of each ``spawn``/``forkserver`` process started while active.

    ``state()`` gives ``(mocked endpoints, passthrough)`` at the moment of the start.
    """

    def __init__(self, state):
        self._state = state
        self._lock = threading.Lock()
        self._original = None

    def install(self) -> None:
        with self._lock:
            if self._original is not None:
                return
            original = multiprocessing.process.BaseProcess.start
            state = self._state

            def start(process):
                target = getattr(process, "_target", None)
                if target is not None and not isinstance(target, SpawnGuard) and \
                        _start_method(process) in ("spawn", "forkserver"):
                    mocked, passthrough = state()
                    if mocked:
                        process._target = SpawnGuard(target, mocked, passthrough)
                return original(process)

            start.__wrapped__ = original
            multiprocessing.process.BaseProcess.start = start
            self._original = original

    def uninstall(self) -> None:
        with self._lock:
            if self._original is None:
                return
            multiprocessing.process.BaseProcess.start = self._original
            self._original = None
