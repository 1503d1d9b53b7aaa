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
whose proxy settings live outside the environment, as on macOS and Windows), or the
client is not the SDK's own ``RequestClient`` with its own executor (a subclass of
either), the user's client is returned unchanged. The
environment is read once per process and client, when the first lean client is made for
it: proxy variables set later in the process do not reach the datasets' reads.

Retry policy. ``lean_client(client, policy)`` gives the view a dataset reads through
under a :class:`~ais_datasets.retry.RetryPolicy` (see :mod:`ais_datasets.retry`): unless
the policy leaves retries to the client (``client_retries``), the view's requests are
retried by the policy alone: its session's adapters share the user's connection pools
but carry no urllib3 retries, and its retry manager is the policy's loop, not the SDK's
tenacity loop. A policy ``timeout`` replaces the user's timeout in the view. Such a view
is made whatever the environment (with ``trust_env`` kept where it is not inert); only a
client of another type than the SDK's ``RequestClient`` is returned unchanged (its own
retries then apply). The SDK internals a view is built from (the client's executor and
retry manager) are read and written in :mod:`ais_datasets._sdk_adapter` only.
"""

from __future__ import annotations

import os
import threading
import urllib.request
import weakref
from typing import Any, Optional

from aistore.sdk.request_client import RequestClient
from aistore.sdk.retry_config import RetryConfig
from requests import Session
from requests.adapters import HTTPAdapter
from tenacity import Retrying, stop_after_attempt
from urllib3.util.retry import Retry

from ais_datasets._sdk_adapter import ExecutorView, client_view, executor_of, viewable
from ais_datasets.retry import RetryPolicy, retrying

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


def lean_session(session: Session, *, inert: bool = True, retries: bool = True) -> Session:
    """A session sharing ``session``'s settings and connection pools, ``trust_env`` off.

    For an inert environment (:func:`environment_is_inert`) it sends what ``session``
    sends: ``requests`` with ``trust_env`` replaces the verify setting of every request
    the caller leaves unset (the SDK does) by ``REQUESTS_CA_BUNDLE`` or
    ``CURL_CA_BUNDLE`` when one is set, and so does this session's ``verify``. With
    ``inert=False`` it keeps ``session``'s ``trust_env`` (and reads the environment per
    request, as it does). With ``retries=False`` its adapters share ``session``'s
    connection pools without urllib3 retries.
    """
    lean = Session()
    lean.close()  # its own default adapters are replaced by the shared ones
    for attr in ("headers", "auth", "proxies", "hooks", "params", "stream", "verify",
                 "cert", "max_redirects", "cookies", "adapters"):
        setattr(lean, attr, getattr(session, attr))
    if not retries:
        lean.adapters = type(session.adapters)(
            (prefix, _without_retries(adapter)) for prefix, adapter in session.adapters.items())
    if not inert:
        lean.trust_env = session.trust_env
        return lean
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        lean.verify = bundle
    lean.trust_env = False
    return lean


_NO_RETRIES = Retry(0, read=False, status=None, raise_on_status=False)


def _without_retries(adapter):
    """An adapter sending through ``adapter``'s connection pools, without urllib3 retries."""
    if type(adapter) is not HTTPAdapter or adapter.max_retries.total == 0:
        return adapter
    clone = HTTPAdapter.__new__(HTTPAdapter)
    clone.__dict__.update(adapter.__dict__)  # pool manager, proxy managers, pool settings
    clone.max_retries = _NO_RETRIES
    return clone


class LeanSessions:
    """Session source for a view's executor (:class:`~ais_datasets._sdk_adapter.ExecutorView`):
    a lean view of the user's session.

    The user's ``SessionManager`` keeps one session per process; this keeps one lean view
    per such session, so a forked or spawned process gets its own.
    """

    def __init__(self, origin: Any, *, inert: bool = True, retries: bool = True) -> None:
        self._origin = origin
        self._inert = inert
        self._retries = retries
        self._lock = threading.Lock()
        self._for: Optional[Session] = None
        self._lean: Optional[Session] = None

    @property
    def session(self) -> Session:
        session = self._origin.session
        if session is not self._for:
            with self._lock:
                if session is not self._for:
                    self._lean = lean_session(session, inert=self._inert,
                                              retries=self._retries)
                    self._for = session
        return self._lean

    def __getattr__(self, name: str) -> Any:  # retry, ca_cert, ...: the user's settings
        return getattr(self._origin, name)


class _PolicyRetries:
    """A retry manager for the view: the policy's loop (:func:`~ais_datasets.retry.retrying`)."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy

    @property
    def retry_config(self) -> RetryConfig:
        """What a ``clone()`` of the view retries with: nothing (the view's loop is the
        policy; a clone made by the SDK, e.g. for a direct target URL, adds none)."""
        return RetryConfig(http_retry=_NO_RETRIES,
                           network_retry=Retrying(stop=stop_after_attempt(1), reraise=True))

    def with_retry(self, request_func, *args, **kwargs):
        return retrying(self._policy, lambda: request_func(*args, **kwargs))


_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def origin_client(client: Any) -> Any:
    """The user's client behind a view made here (``client`` itself otherwise)."""
    return getattr(client, "_ais_origin", client)


def lean_client(client: RequestClient, policy: Optional[RetryPolicy] = None) -> RequestClient:
    """``client`` without per-request environment lookups (see the module docstring),
    and, with ``policy``, retried by that policy alone.

    Cached per process, client and policy (for as long as ``client`` lives); returns
    ``client`` itself where no view is needed or none is safe. A view given back here
    stands for the user's client it was made from.
    """
    client = origin_client(client)
    pid = os.getpid()
    try:
        hit = _cache.get(client)
    except TypeError:  # not weakly referenceable: nothing to cache against
        return client
    if hit is not None and hit[0] == pid and policy in hit[1]:
        return hit[1][policy]
    with _cache_lock:
        hit = _cache.get(client)
        views = hit[1] if hit is not None and hit[0] == pid else {}
        view = views[policy] = _make(client, policy)
        _cache[client] = (pid, views)
    return view


def _make(client: RequestClient, policy: Optional[RetryPolicy]) -> RequestClient:
    if not viewable(client):
        return client
    own = policy is not None and not policy.client_retries
    timeout = policy.timeout if policy is not None else None
    inert = environment_is_inert()
    if not inert and not own and timeout is None:
        return client

    def sessions(manager) -> LeanSessions:
        return LeanSessions(manager, inert=inert, retries=not own)

    executor = ExecutorView(executor_of(client), sessions, timeout)
    view = client_view(client, executor, _PolicyRetries(policy) if own else None)
    view._ais_origin = client  # what origin_client() gives back
    return view
