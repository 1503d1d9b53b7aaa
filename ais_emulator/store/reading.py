"""Reads inside shards: one archived file (``archpath``) or all that match (``archregx``).

The shard's format comes from its extension, else from its magic bytes (as Go does).
Archive-level failures become store errors named after the AIS condition.

    data = read_archived(bck, record, "img/0001.jpg")
    first, rest = select_archived(bck, record, "0001", "wdskey")
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from itertools import chain

from ais_emulator.store.archives import (
    ArchiveError,
    MemberNotFound,
    detect_format,
    iter_matching,
    read_member,
)
from ais_emulator.store.errors import ArchiveMemberNotFound, ArchiveUnreadable, InvalidRequest


def validate_archpath(path: str) -> None:
    """Go's ValidateArchpath: the object-name rule (no trailing ``/``, no ``../`` or
    ``~/``), and a clean path (``./a``, ``a//b``, ``a/./b`` are rejected)."""
    body = path[1:] if path.startswith("/") else path
    if (not body or body.endswith("/") or "../" in path or "~/" in path
            or posixpath.normpath(body) != body):
        raise InvalidRequest(f'invalid archpath "{path}"')


def shard_format(bck, record, query: str = "") -> str:
    fmt = detect_format(record.name, record.head(512))
    if fmt is None:
        raise ArchiveUnreadable(bck, record.name, "not an archive (unknown format)",
                                query=query)
    return fmt


def read_archived(bck, record, archpath: str) -> bytes:
    """The bytes of ``archpath`` inside the shard ``record``."""
    validate_archpath(archpath)
    query = f"(archpath={archpath})"
    fmt = shard_format(bck, record, query)
    try:
        return read_member(record.data, fmt, archpath)
    except MemberNotFound:
        raise ArchiveMemberNotFound(bck, record.name, archpath) from None
    except ArchiveError as e:
        raise ArchiveUnreadable(bck, record.name, str(e), fmt, query) from None


def select_archived(bck, record, pattern: str, mode: str) -> Iterator[tuple[str, bytes]]:
    """``(name, bytes)`` of the members matching ``pattern`` under ``mode``, lazily; a
    tar's matching directories come as ``(name/, None)``, as AIS copies them too.

    The first match is found before returning, so "no match" (ArchiveMemberNotFound), a bad
    mode or pattern (InvalidRequest) and an unreadable shard surface before any streaming.
    """
    query = f"(archregx={pattern}, archmode={mode})"
    fmt = shard_format(bck, record, query)
    try:
        it = iter_matching(record.data, fmt, pattern, mode, dirs=True)
        first = next(it, None)
    except ValueError as e:
        raise InvalidRequest(str(e)) from None
    except ArchiveError as e:
        raise ArchiveUnreadable(bck, record.name, str(e), fmt, query) from None
    if first is None:
        raise ArchiveMemberNotFound(bck, record.name, query)
    return chain([first], it)
