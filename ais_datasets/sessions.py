"""The user's SDK client, minus ``requests``' per-request environment lookups.

The SDK sends every request through a ``requests.Session`` with ``trust_env=True``. Such
a session looks at the process environment on *every* request: it scans ``os.environ``
for proxy variables (twice) and checks for a netrc file, which costs tens of
microseconds per request (~75 us with a few dozen variables), a tenth of a small GET. When the
environment names no proxy and no netrc file, those lookups always find nothing, and a
session with ``trust_env=False`` sends exactly the same requests (a CA bundle named by
``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` is applied once, as ``requests`` would apply
it to each request).

:func:`lean_client` gives, for a user's ``RequestClient``, a client that differs only in
that: same endpoint, retry configuration and response handling; token and timeout read
from the user's client on every request (a refreshed token is used at once); requests go
through a per-process view of the user's own session (its adapters and connection
pools, headers, auth, cookies, verify and cert settings, all shared, not copied) with
``trust_env`` off::

    obj = Object(lean_client(bucket.client), details, name)   # reads as bucket.object(name)

Where the environment is not inert (a ``*_proxy`` variable, a netrc file, or a platform
whose proxy settings live outside the environment, as on macOS and Windows), or the SDK
is not the one this was written against, the user's client is returned unchanged. The
environment is read once per process and client, when the first lean client is made for
it: proxy variables set later in the process do not reach the datasets' reads.
"""

from __future__ import annotations

import os
import threading
import urllib.request
import weakref
from typing import Any, Optional

from aistore.sdk.request_client import RequestClient
from aistore.sdk.request_executor import RequestExecutor
from requests import Session

_NETRC_FILES = ("~/.netrc", "~/_netrc")


def environment_is_inert() -> bool:
    """Whether ``trust_env=True`` would find no proxy and no netrc file here.

    (A CA bundle variable is the one setting it would apply; :func:`lean_session`
    applies it too.)
    """
    if urllib.request.getproxies is not urllib.request.getproxies_environment:
        return False  # proxies from the system configuration (macOS, Windows)
    if urllib.request.getproxies_environment():
        return False
    netrc = os.environ.get("NETRC")
    for path in (netrc,) if netrc else _NETRC_FILES:
        if os.path.exists(os.path.expanduser(path)):
            return False
    return True


def lean_session(session: Session) -> Session:
    """A session sharing ``session``'s settings and connection pools, ``trust_env`` off.

    For an inert environment (:func:`environment_is_inert`) it sends what ``session``
    sends: ``requests`` with ``trust_env`` replaces the verify setting of every request
    the caller leaves unset (the SDK does) by ``REQUESTS_CA_BUNDLE`` or
    ``CURL_CA_BUNDLE`` when one is set, and so does this session's ``verify``.
    """
    lean = Session()
    lean.close()  # its own default adapters are replaced by the shared ones
    for attr in ("headers", "auth", "proxies", "hooks", "params", "stream", "verify",
                 "cert", "max_redirects", "cookies", "adapters"):
        setattr(lean, attr, getattr(session, attr))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        lean.verify = bundle
    lean.trust_env = False
    return lean


class LeanSessions:
    """Session source for :class:`_LeanExecutor`: a lean view of the user's session.

    The user's ``SessionManager`` keeps one session per process; this keeps one lean view
    per such session, so a forked or spawned process gets its own.
    """

    def __init__(self, origin: Any) -> None:
        self._origin = origin
        self._lock = threading.Lock()
        self._for: Optional[Session] = None
        self._lean: Optional[Session] = None

    @property
    def session(self) -> Session:
        session = self._origin.session
        if session is not self._for:
            with self._lock:
                if session is not self._for:
                    self._lean, self._for = lean_session(session), session
        return self._lean

    def __getattr__(self, name: str) -> Any:  # retry, ca_cert, ...: the user's settings
        return getattr(self._origin, name)


class _LeanExecutor(RequestExecutor):
    """The user's executor (URL, token, timeout, header rules) over a lean session."""

    def __init__(self, origin: RequestExecutor) -> None:
        # no super().__init__: every attribute it would set is a view of ``origin``
        self._origin = origin
        self._lean = LeanSessions(origin.session_manager)

    @property
    def _base_url(self) -> str:
        return self._origin.base_url

    @property
    def _token(self) -> str:
        return self._origin.token

    @_token.setter
    def _token(self, value: str) -> None:
        self._origin.token = value

    @property
    def _timeout(self):
        return self._origin.timeout

    @_timeout.setter
    def _timeout(self, value) -> None:
        self._origin.timeout = value

    @property
    def _session_manager(self) -> LeanSessions:
        origin = self._origin.session_manager
        if self._lean._origin is not origin:  # the user swapped their session manager
            self._lean = LeanSessions(origin)
        return self._lean

    @_session_manager.setter
    def _session_manager(self, value) -> None:
        self._origin.session_manager = value


_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def lean_client(client: RequestClient) -> RequestClient:
    """``client`` without per-request environment lookups (see the module docstring).

    Cached per process and client (for as long as ``client`` lives); returns ``client``
    itself where that is not safe.
    """
    pid = os.getpid()
    try:
        hit = _cache.get(client)
    except TypeError:  # not weakly referenceable: nothing to cache against
        return client
    if hit is not None and hit[0] == pid:
        return hit[1]
    with _cache_lock:
        lean = _make(client)
        _cache[client] = (pid, lean)
    return lean


def _make(client: RequestClient) -> RequestClient:
    executor = getattr(client, "_executor", None)
    if type(client) is not RequestClient or type(executor) is not RequestExecutor \
            or not environment_is_inert():
        return client
    clone = object.__new__(RequestClient)
    clone.__dict__.update(client.__dict__)  # response handler, retry manager, smap
    clone._executor = _LeanExecutor(executor)  # noqa: SLF001
    return clone
