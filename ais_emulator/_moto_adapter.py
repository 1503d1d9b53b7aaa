"""The ``moto`` internals the emulator relies on, in one place, for the versions it supports.

moto has no public way to ask whether its in-process AWS mock (``mock_aws``) is started,
nor a public hook to hand the requests it does not own to another ``responses`` mock
(``override_responses_real_send`` lives in ``moto.core.models``). The remote S3 backend
(:mod:`ais_emulator.remote.s3`) and the in-process transport
(:mod:`ais_emulator.transports.responses_mock`) use these through this module only.

moto is optional (the ``test`` extra). Without it, :func:`mock_aws_active` is False and
:func:`chain_responses` does nothing. With it, the first call checks its version:
``moto>=5,<6`` (``SUPPORTED``); another raises
:class:`~ais_emulator._versions.UnsupportedDependencyError`.
"""

from __future__ import annotations

import threading
from typing import Any, Optional

from ais_emulator._versions import require

SUPPORTED = ((5,), (6,))  # moto>=5 (pyproject.toml), below the next major release

_models: Any = None  # moto.core.models once checked; False: moto is not installed
_lock = threading.Lock()


def check_moto_version(installed: Optional[str] = None) -> str:
    """The installed moto version (or ``installed``) when it is supported; raises
    ``UnsupportedDependencyError`` otherwise."""
    return require("moto", *SUPPORTED, installed,
                   why="the emulator reads moto internals (moto.core.models)")


def _moto_models() -> Any:
    """``moto.core.models``, after the version check (once); None without moto."""
    global _models
    if _models is None:
        with _lock:
            if _models is None:
                try:
                    from moto.core import models
                except ImportError:
                    _models = False
                else:
                    check_moto_version()
                    _models = models
    return _models or None


def mock_aws_active() -> bool:
    """Whether moto's ``mock_aws`` is currently started (False without moto)."""
    models = _moto_models()
    return models is not None and bool(getattr(models.botocore_stubber, "enabled", False))


def chain_responses(mock: Any) -> None:
    """Let ``mock_aws`` pass the requests it does not own through to the ``responses``
    mock ``mock`` (None: back to the network), so the two nest in either order."""
    models = _moto_models()
    if models is not None:
        models.override_responses_real_send(mock)
