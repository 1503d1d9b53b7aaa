"""List objects: lexicographic pages with AIS's token rule, archive and directory views.

Pages are computed from the bucket's sorted name index (bisection, then a lazy merge), so
a page costs O(page size + log n), not O(bucket size).

Rules reproduced from AIS (ais buckets):
* Order is by full name. An entry is listed when it starts with ``prefix`` and sorts
  after both ``token`` and ``start_after``.
* A full page (``len == page_size``) carries ``token = last name`` even when nothing
  remains; a short page carries "".
* ``arch_dir``: every object whose name has an archive extension (by extension only) is
  followed by its regular-file members, named ``path.Join(shard, member)``, sorted by
  member name, merged into the global order (so ``s.tar.gz`` sorts before ``s.tar/x``).
* ``no_recursion``: only direct children of the prefix's directory; deeper names become
  one virtual ``dir/`` entry each (omitted with ``no_dirs``).

    page = list_page(bucket.names, bucket.objects, ListQuery(prefix="img/", page_size=2))
    [e.name for e in page.entries], page.token

The prefix selects objects only: a prefix reaching inside a shard (``s.tar/sub/``)
selects nothing, as in AIS. With ``no_recursion`` the level listed is the one AIS's
directory walk lists: the prefix itself when it ends with ``/``; the directory it names
without the trailing ``/`` (``img``); else the top level, filtered by the prefix (``im``
lists ``img/``). A prefix with a ``/`` that names no directory (``img/000``,
``img/0001.jpg``, ``img/s``) lists nothing, as the walk skips every top-level directory.

Deviation: an unreadable archive is listed as a plain object.
"""

from __future__ import annotations

import bisect
import heapq
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Optional

from ais_emulator.store.archives import ArchiveError, detect_format, list_members

MAX_PAGE_SIZE = 10000  # apc.MaxPageSizeAIS
_HIGH = "\U0010ffff"


@dataclass
class ListQuery:
    prefix: str = ""
    page_size: int = 0  # 0: MAX_PAGE_SIZE
    token: str = ""
    start_after: str = ""
    arch_dir: bool = False
    no_recursion: bool = False
    no_dirs: bool = False
    cached_only: bool = False  # remote buckets: only objects in the cluster (LsCached)
    not_cached: bool = False   # remote buckets: only objects not in the cluster (LsNotCached)


@dataclass
class ListEntry:
    """One listed name: an object (``record``), a shard member, or a virtual directory."""

    name: str
    size: int = 0
    record: object = None  # the ObjectRecord of objects (and of shards)
    is_dir: bool = False
    in_archive: bool = False
    is_archive: bool = False


@dataclass
class ListPage:
    entries: list = field(default_factory=list)
    token: str = ""


class NeedMembers(Exception):
    """Raised by ``list_page(parse=False)`` when a shard's members are not cached yet."""

    def __init__(self, record):
        super().__init__(record.name)
        self.record = record


def list_page(names: list, objects: dict, query: ListQuery, parse: bool = True) -> ListPage:
    """One page. With ``parse=False`` an uncached shard raises NeedMembers instead of being
    read, so a caller holding a lock can read the shard outside it and retry."""
    limit = query.page_size if 0 < query.page_size <= MAX_PAGE_SIZE else MAX_PAGE_SIZE
    lower = max(query.token, query.start_after)
    members = archive_members if parse else _cached_members
    entries = list(islice(_merged(names, objects, query, lower, members), limit))
    return ListPage(entries, entries[-1].name if len(entries) == limit else "")


def _cached_members(record) -> Optional[list]:
    if record._members is None:
        raise NeedMembers(record)
    return record._members or None


def archive_members(record) -> Optional[list]:
    """Sorted ``(member name, size)`` of a shard record, cached on it; None if unreadable."""
    members = record._members
    if members is None:
        fmt = detect_format(record.name)
        try:
            found = list_members(record.data, fmt) if fmt else None
        except ArchiveError:
            found = None
        members = False if found is None else sorted((m.name, m.size) for m in found)
        record._members = members
    return members or None


def _member_entries(record, lower: str, prefix: str, members) -> Iterator[ListEntry]:
    seen = set()
    for member, size in members(record) or ():
        clean = posixpath.normpath("/" + member).lstrip("/")
        if not clean or clean == ".":
            continue
        name = f"{record.name}/{clean}"
        if name <= lower or name in seen:
            continue
        seen.add(name)
        yield ListEntry(name, size, in_archive=True)


def _merged(names, objects, q: ListQuery, lower: str, members) -> Iterator[ListEntry]:
    """All entries after ``lower`` in global order: objects/dirs merged with members."""
    base = _base(names, objects, q, lower)
    if not q.arch_dir:
        yield from base
        return
    heap, seq = [], 0

    def push(it):
        nonlocal seq
        first = next(it, None)
        if first is not None:
            heapq.heappush(heap, (first.name, seq, first, it))
            seq += 1

    push(base)
    for shard in _shards_reaching(names, objects, lower, q.prefix):
        if members(objects[shard]) is not None:
            push(_member_entries(objects[shard], lower, q.prefix, members))
    while heap:
        _, _, entry, it = heapq.heappop(heap)
        if entry.record is not None and detect_format(entry.name) and entry.name > lower:
            if members(entry.record) is not None:
                entry.is_archive = True
                push(_member_entries(entry.record, lower, q.prefix, members))
        if entry.name > lower:
            yield entry
        push(it)


def _shards_reaching(names, objects, lower: str, prefix: str) -> list:
    """Shards sorting at or before ``lower`` whose members sort after it (``lower`` then
    starts with the shard's name): the base walk, which starts after ``lower``, skips
    them."""
    found = []
    for i in range(1, len(lower) + 1):
        shard = lower[:i]
        if shard in objects and detect_format(shard) and shard.startswith(prefix):
            found.append(shard)
    return found


def _base(names, objects, q: ListQuery, lower: str) -> Iterator[ListEntry]:
    if q.no_recursion:
        yield from _non_recursive(names, objects, q, lower)
        return
    start = max(bisect.bisect_left(names, q.prefix), bisect.bisect_right(names, lower))
    prefix = q.prefix
    for i in range(start, len(names)):
        name = names[i]
        if not name.startswith(prefix):
            return
        rec = objects[name]
        yield ListEntry(name, rec.size, rec)


def _dir_level(names, prefix: str) -> Optional[str]:
    """The directory a non-recursive listing walks ("" is the top), or None for none."""
    if not prefix or prefix.endswith("/"):
        return prefix
    as_dir = prefix + "/"
    i = bisect.bisect_left(names, as_dir)
    if i < len(names) and names[i].startswith(as_dir):
        return as_dir
    return None if "/" in prefix else ""


def _non_recursive(names, objects, q: ListQuery, lower: str) -> Iterator[ListEntry]:
    level = _dir_level(names, q.prefix)
    if level is None:
        return
    match = level if len(level) > len(q.prefix) else q.prefix
    i = max(bisect.bisect_left(names, match), bisect.bisect_right(names, lower))
    n = len(names)
    while i < n:
        name = names[i]
        if not name.startswith(match):
            return
        rest = name[len(level):]
        slash = rest.find("/")
        if slash < 0:
            rec = objects[name]
            yield ListEntry(name, rec.size, rec)
            i += 1
            continue
        dirname = level + rest[: slash + 1]
        if not q.no_dirs and dirname > lower:
            yield ListEntry(dirname, is_dir=True)
        i = bisect.bisect_left(names, dirname + _HIGH, i)
