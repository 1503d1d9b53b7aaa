"""The ``responses`` internals the in-process mock relies on, in one place, for the
versions it supports.

Two things the mock needs have no public API in ``responses``:

* a mock that records no calls: a recorded call keeps its request and response (and
  so every streamed body) alive for as long as the mock runs. Routes stop recording
  through the public ``calls`` property (:class:`QuietRoute`); the ``RequestsMock``
  itself keeps its list in the private ``_calls``, replaced by :func:`quiet_mock`;
* the real ``HTTPAdapter.send`` that ``responses`` saved before patching it, to send a
  request let through to the network (:func:`real_send`; ``responses._real_send``).

Every other use of ``responses`` in the emulator is its public API. Supported:
``responses>=0.25,<0.27`` (``SUPPORTED``, the range ``pyproject.toml`` allows). The
first mock started, or request let through, checks the installed version: another
raises :class:`~ais_emulator._versions.UnsupportedDependencyError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Optional

import responses

from ais_emulator._versions import require

SUPPORTED = ((0, 25), (0, 27))

_checked = False


def check_responses_version(installed: Optional[str] = None) -> str:
    """The installed ``responses`` version (or ``installed``) when it is supported;
    raises ``UnsupportedDependencyError`` otherwise."""
    return require("responses", *SUPPORTED, installed,
                   why="the emulator's in-process mock reads its internals "
                       "(RequestsMock._calls, responses._real_send)")


def _check() -> None:
    global _checked
    if not _checked:
        check_responses_version()
        _checked = True


class NoCalls(responses.CallList):
    """A call list that records nothing."""

    def add(self, request, response) -> None:
        pass

    def add_call(self, call) -> None:
        pass


class QuietRoute(responses.BaseResponse):
    """A route that matches any method and URL its ``matches`` accepts, and records no
    calls (subclasses give ``matches`` and ``get_response``)."""

    _quiet = NoCalls()

    def __init__(self) -> None:
        super().__init__("ANY", re.compile(".*"))

    @property
    def calls(self) -> responses.CallList:
        return self._quiet


def quiet_mock(real_adapter_send: Callable[..., Any], *routes: responses.BaseResponse
               ) -> responses.RequestsMock:
    """A started ``RequestsMock`` that records no calls, serves ``routes`` in order, lets
    whatever they do not match through (sent by ``real_adapter_send``)."""
    _check()
    mock = responses.RequestsMock(assert_all_requests_are_fired=False,
                                  real_adapter_send=real_adapter_send)
    if not isinstance(getattr(mock, "_calls", None), responses.CallList):
        raise RuntimeError("responses.RequestsMock keeps no _calls list: unsupported "
                           "responses version")
    mock._calls = NoCalls()
    for route in routes:
        mock.add(route)
    mock.add_passthru(re.compile(".*"))  # what no route matched
    mock.start()
    return mock


def real_send(adapter, request, **kwargs):
    """Send ``request`` with ``requests``' own ``HTTPAdapter.send`` (not the mock's)."""
    _check()
    return responses._real_send(adapter, request, **kwargs)
