"""The ``aistore`` SDK internals the datasets rely on, in one place, for the SDK version
they were written against.

The SDK keeps no public accessor for an ``Object``'s client and bucket, for a
``Client``'s ``RequestClient``, or for a ``RequestClient``'s retry settings, and no public
way to build a ``RequestClient`` that sends through another executor or retries with
another loop (what :mod:`ais_datasets.sessions` needs for its views of the user's
client). Those reads and writes of private attributes live here and nowhere else in
``ais_datasets``; every other module uses the SDK's public API and this module::

    client = object_client(obj)                        # obj._client
    Object(...) -> object_on(obj, view)                # the same object on a view

Supported: ``aistore`` ``SUPPORTED_AISTORE`` (the version pinned in ``pyproject.toml``).
Importing this module (so importing ``ais_datasets``) with another version installed
raises :class:`~ais_datasets.errors.UnsupportedDependencyError`, naming the installed
and the supported versions: an SDK release may rename what is read here, and a view
built on a renamed attribute would send requests the user's client would not.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from typing import Any, Optional

from aistore.sdk.obj.object import Object
from aistore.sdk.request_client import RequestClient
from aistore.sdk.request_executor import RequestExecutor

from ais_datasets.errors import UnsupportedDependencyError

SUPPORTED_AISTORE = ("2.0.0",)


def check_aistore_version(installed: Optional[str] = None) -> str:
    """The installed ``aistore`` version (or ``installed``) when it is supported; raises
    :class:`~ais_datasets.errors.UnsupportedDependencyError` otherwise."""
    if installed is None:
        installed = metadata.version("aistore")
    if installed not in SUPPORTED_AISTORE:
        raise UnsupportedDependencyError(
            f"ais_datasets supports aistore {' or '.join(SUPPORTED_AISTORE)}, and aistore "
            f"{installed} is installed: it reads SDK internals (a client's executor and "
            f"retry manager, an object's client) that other releases may change; install "
            f"aistore=={SUPPORTED_AISTORE[-1]}")
    return installed


check_aistore_version()


# -- reads ---------------------------------------------------------------------------------

def object_client(obj: Any) -> Any:
    """The ``RequestClient`` an SDK ``Object`` sends with (None for other objects)."""
    return getattr(obj, "_client", None)


def object_on(obj: Object, client: Any, name: Optional[str] = None) -> Object:
    """``obj`` (or ``name`` in its bucket) as an ``Object`` that sends with ``client``."""
    return Object(client, obj._bck_details, obj.name if name is None else name)


def request_client_of(client: Any) -> Optional[RequestClient]:
    """The ``RequestClient`` of an SDK ``Client`` (None for other objects)."""
    return getattr(client, "_request_client", None)


def retry_config_of(client: Any) -> Any:
    """The SDK ``RetryConfig`` a ``RequestClient`` retries with (None when unknown)."""
    return getattr(getattr(client, "_retry_manager", None), "retry_config", None)


# -- views ---------------------------------------------------------------------------------

def viewable(client: Any) -> bool:
    """Whether :func:`client_view` can be applied to ``client``: the SDK's own
    ``RequestClient`` with the SDK's own executor (not a subclass of either)."""
    return type(client) is RequestClient and \
        type(getattr(client, "_executor", None)) is RequestExecutor


def executor_of(client: RequestClient) -> RequestExecutor:
    """The executor of a :func:`viewable` client."""
    return client._executor


def client_view(client: RequestClient, executor: RequestExecutor,
                retries: Any = None) -> RequestClient:
    """A ``RequestClient`` sharing ``client``'s state (response handler, retry manager,
    cached smap) that sends through ``executor`` and, with ``retries`` (an object with
    the SDK ``RetryManager``'s ``retry_config`` and ``with_retry``), retries with it."""
    view = object.__new__(RequestClient)
    view.__dict__.update(client.__dict__)
    view._executor = executor
    if retries is not None:
        view._retry_manager = retries
    return view


class ExecutorView(RequestExecutor):
    """An executor that sends as ``origin`` does, through other sessions.

    Endpoint, token and timeout are read from ``origin`` on every request (a refreshed
    token is used at once; a token set here is set on ``origin``); ``timeout`` (not None)
    replaces ``origin``'s. Sessions come from ``sessions(origin.session_manager)``, made
    again when the user swaps ``origin``'s session manager.
    """

    def __init__(self, origin: RequestExecutor, sessions: Callable[[Any], Any],
                 timeout: Any = None) -> None:
        # no super().__init__: every attribute it would set is a view of ``origin``
        self._origin = origin
        self._make_sessions = sessions
        self._own_timeout = timeout
        manager = origin.session_manager
        self._sessions = (manager, sessions(manager))

    @property
    def origin(self) -> RequestExecutor:
        return self._origin

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
        return self._own_timeout if self._own_timeout is not None else self._origin.timeout

    @_timeout.setter
    def _timeout(self, value) -> None:
        self._origin.timeout = value

    @property
    def _session_manager(self) -> Any:
        manager = self._origin.session_manager
        pair = self._sessions
        if pair[0] is not manager:  # the user swapped their session manager
            pair = self._sessions = (manager, self._make_sessions(manager))
        return pair[1]

    @_session_manager.setter
    def _session_manager(self, value) -> None:
        self._origin.session_manager = value
