"""From the SDK objects a user holds to the names of the objects a dataset reads.

This module owns listing: ``AISSource`` values (``Bucket``, ``ObjectGroup`` or any other
implementation) plus an upstream-style ``prefix_map`` become a compact, picklable
:class:`ObjectIndex`, and index entries become SDK ``Object`` handles again on demand::

    index = build_index(normalize_sources(bucket), {bucket: ["train/"]})
    obj = index.object(0)               # bucket.object(index.name(0))

Listing cost: a ``Bucket`` is listed page by page with ``props="name"``; an
``ObjectGroup`` is expanded locally from its names or template (no HEAD per object, unlike
``ObjectGroup.list_all_objects_iter``); any other ``AISSource`` goes through its
``list_all_objects_iter``. The index stores every name in one bytes blob plus an offset
array, so it costs a few bytes per object and no Python object per entry: a forked
DataLoader worker that reads it does not copy pages by touching reference counts.

The module also counts what is inside shards from one ARCH_DIR listing per
(bucket, prefix) (:func:`shard_member_names`), for lengths and for resuming a plain
DataLoader.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Optional, Union

from aistore.sdk import AISSource, Bucket, ListObjectFlag
from aistore.sdk.multiobj import ObjectGroup
from aistore.sdk.obj.object import Object

from ais_datasets._sdk_adapter import object_client, object_on
from ais_datasets.samples import split_key
from ais_datasets.sessions import lean_client

ARCHIVE_EXTENSIONS = (".tar", ".tgz", ".tar.gz", ".zip", ".tar.lz4")
STREAMABLE_EXTENSIONS = (".tar", ".tgz", ".tar.gz")
_ENTRY_IN_ARCH = 1 << 7
_ENTRY_IS_ARCHIVE = 1 << 9

PrefixMap = dict[AISSource, Union[str, list[str], None]]


def normalize_sources(sources, owner: str = "dataset") -> list[AISSource]:
    """A single source or a list of sources as a list; empty input raises ``ValueError``."""
    if not sources:
        raise ValueError(f"<{owner}> ais_source_list must be provided")
    if isinstance(sources, AISSource):
        return [sources]
    return list(sources)


def prefixes_for(source: AISSource, prefix_map: Optional[PrefixMap]) -> list[str]:
    """The prefixes to list for ``source`` (upstream rule: absent or ``None`` means all)."""
    if not prefix_map:
        return [""]
    try:
        value = prefix_map.get(source)
    except TypeError:  # an unhashable key elsewhere in a user mapping
        value = None
    if value is None:
        return [""]
    if isinstance(value, str):
        return [value]
    return list(value)


def iter_names(source: AISSource, prefix: str = "") -> Iterator[str]:
    """Names of the objects of ``source`` that start with ``prefix``, in listing order."""
    if isinstance(source, Bucket):
        for entry in source.list_objects_iter(prefix=prefix, props="name"):
            yield entry.name
    elif isinstance(source, ObjectGroup):
        for name in source.list_names():
            if name.startswith(prefix):
                yield name
    else:
        for obj in source.list_all_objects_iter(prefix=prefix):
            yield obj.name


def make_object(source: AISSource, name: str, template: Optional[Object] = None) -> Object:
    """An SDK ``Object`` handle for ``name`` in ``source``, on the user's client.

    The handle's client is :func:`~ais_datasets.sessions.lean_client` of the user's:
    the same requests, without ``requests``' per-request environment lookups.
    """
    if isinstance(source, Bucket):
        template = source.object(name)
    elif isinstance(source, ObjectGroup):
        template = source.bck.object(name)
    elif template is None:
        raise ValueError(f"cannot address objects of {type(source).__name__} by name")
    return lean_object(template, name)


def lean_object(template: Object, name: str) -> Object:
    """``name`` in ``template``'s bucket, on the lean view of ``template``'s client."""
    return object_on(template, lean_client(object_client(template)), name)


class ObjectIndex:
    """An append-only, picklable list of ``(source number, object name)``.

    Sources are kept by reference (they pickle with the index); names are packed.
    """

    def __init__(self, sources: Sequence[AISSource]) -> None:
        self.sources: list[AISSource] = list(sources)
        self._blob = bytearray()
        self._ends = array("q")
        self._src = array("I")
        self._templates: dict[int, Object] = {}

    def append(self, source_no: int, name: str) -> None:
        self._blob += name.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._blob))
        self._src.append(source_no)

    def freeze(self) -> ObjectIndex:
        """Make the name blob immutable (smaller to pickle, safe to share)."""
        self._blob = bytes(self._blob)
        return self

    def __len__(self) -> int:
        return len(self._ends)

    def name(self, i: int) -> str:
        start = self._ends[i - 1] if i > 0 else 0
        return self._blob[start:self._ends[i]].decode("utf-8", "surrogatepass")

    def source_no(self, i: int) -> int:
        return self._src[i]

    def source(self, i: int) -> AISSource:
        return self.sources[self._src[i]]

    def object(self, i: int) -> Object:
        no = self._src[i]
        return make_object(self.sources[no], self.name(i), self._templates.get(no))

    def names(self) -> Iterator[str]:
        for i in range(len(self)):
            yield self.name(i)

    def set_template(self, source_no: int, template: Object) -> None:
        self._templates.setdefault(source_no, template)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_blob"] = bytes(self._blob)
        return state


def build_index(sources: Sequence[AISSource], prefix_map: Optional[PrefixMap] = None,
                only: Optional[Iterable[int]] = None,
                extensions: Optional[tuple[str, ...]] = None) -> ObjectIndex:
    """List ``sources`` (those numbered in ``only``, or all) into an :class:`ObjectIndex`.

    With ``extensions``, keep only names ending with one of them.
    """
    index = ObjectIndex(sources)
    numbers = range(len(sources)) if only is None else only
    for no in numbers:
        source = sources[no]
        for prefix in prefixes_for(source, prefix_map):
            if isinstance(source, (Bucket, ObjectGroup)):
                names = iter_names(source, prefix)
            else:
                names = _names_keeping_template(index, no, source, prefix)
            for name in names:
                if extensions is None or name.endswith(extensions):
                    index.append(no, name)
    return index.freeze()


def _names_keeping_template(index: ObjectIndex, no: int, source: AISSource,
                            prefix: str) -> Iterator[str]:
    for obj in source.list_all_objects_iter(prefix=prefix):
        index.set_template(no, obj)
        yield obj.name


def shard_member_names(source: AISSource, shard_names: Sequence[str],
                       prefixes: Sequence[str]) -> dict[str, list[str]]:
    """Member names of each shard in ``shard_names``, as an ARCH_DIR listing gives them.

    A ``Bucket`` is listed once per prefix with the ARCH_DIR flag; other sources once
    per shard (through the bucket behind an ``ObjectGroup``). Members come back sorted
    by name, the order AIStore lists them in.
    """
    wanted = set(shard_names)
    members: dict[str, list[str]] = {name: [] for name in shard_names}
    if isinstance(source, Bucket):
        queries = [(source, prefix) for prefix in prefixes]
    elif isinstance(source, ObjectGroup):
        queries = [(source.bck, name) for name in shard_names]
    else:
        raise ValueError(f"cannot list archives of {type(source).__name__}")
    seen = set()
    for bucket, prefix in queries:
        for entry in bucket.list_objects_iter(prefix=prefix, props="name",
                                              flags=[ListObjectFlag.ARCH_DIR]):
            if not entry.flags & _ENTRY_IN_ARCH:
                continue
            shard = _owning_shard(entry.name, wanted)
            if shard is not None and (shard, entry.name) not in seen:
                seen.add((shard, entry.name))
                members[shard].append(entry.name[len(shard) + 1:])
    return members


def _owning_shard(entry_name: str, shards: set) -> Optional[str]:
    pos = entry_name.find("/")
    best = None
    while pos >= 0:
        if entry_name[:pos] in shards:
            best = entry_name[:pos]
        pos = entry_name.find("/", pos + 1)
    return best


def count_samples(member_names: Iterable[str]) -> int:
    """Number of samples the members form: their distinct keys, in any member order.

    Iteration yields exactly this many from the shard, since it groups each key's
    members into one sample and rejects a shard whose keys interleave
    (:func:`ais_datasets.tario.iter_samples`).
    """
    return len({key for key, _ in map(split_key, member_names) if key is not None})
