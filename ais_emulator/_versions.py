"""Version gates for the third-party internals the emulator relies on.

The emulator reaches into two libraries where they offer no public way to do what it
needs: ``responses`` (:mod:`ais_emulator.transports._responses_adapter`) and ``moto``
(:mod:`ais_emulator._moto_adapter`). Each adapter states the versions it was written
against and, on first use, checks the installed one with :func:`require`: another
version fails loudly with :class:`UnsupportedDependencyError`, naming the library, the
installed and the supported versions, rather than silently doing something else.
"""

from __future__ import annotations

import re
from importlib import metadata
from typing import Optional

Version = tuple[int, ...]


class UnsupportedDependencyError(RuntimeError):
    """A library the emulator reaches into is installed in a version it does not support."""


def parse(version: str) -> Version:
    """The leading numeric components of a version string (``"0.26.3rc1"`` -> (0, 26, 3))."""
    numbers = []
    for part in version.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        numbers.append(int(digits.group()))
        if digits.end() < len(part):
            break
    return tuple(numbers)


def spell(version: Version) -> str:
    return ".".join(map(str, version))


def require(library: str, minimum: Version, below: Version,
            installed: Optional[str] = None, why: str = "") -> str:
    """The installed version of ``library`` (or ``installed``) when
    ``minimum <= version < below``; raises :class:`UnsupportedDependencyError` otherwise."""
    if installed is None:
        installed = metadata.version(library)
    if not minimum <= parse(installed) < below:
        raise UnsupportedDependencyError(
            f"ais_emulator supports {library}>={spell(minimum)},<{spell(below)}, and "
            f"{library} {installed} is installed{': ' + why if why else ''}; install a "
            f"supported {library}")
    return installed
