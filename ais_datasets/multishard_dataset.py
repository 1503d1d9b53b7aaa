"""``AISMultiShardStream``: matching shards of several sources, zipped member by member.

Drop-in for ``aistore.pytorch.AISMultiShardStream``: each item is a tuple with one
member's bytes from each ``DataShard`` source::

    stream = AISMultiShardStream([DataShard(url, "images"), DataShard(url, "labels")])
    for image, label in stream: ...

How it reads. The shards of each source (its bucket under its prefix, archives only) are
listed once per process and paired by position: the i-th shard of every source forms
pair i. Each shard of a pair is read with **one streamed GET** and its members are taken
from the streams in step (upstream sends one GET per member). Plain ``.tar`` and gzip
``.tgz``/``.tar.gz`` shards stream; ``.zip`` and ``.tar.lz4`` shards fall back to upstream's
way (an ARCH_DIR listing, then one GET per member).

Member order: **archive (stream) order**. Upstream yields members in ARCH_DIR listing
order, which is sorted by member name; for shards written in sorted member order (the
usual case, and what WebDataset writers do) the two agree.

Pairs are dealt to rank x worker slots, so every item is yielded once per epoch across
ranks and workers (upstream splits neither); across ranks, ``even_ranks`` gives every
rank the same number of items (:mod:`ais_datasets.shares`; pad, the default, and drop
count each pair's members with one ARCH_DIR listing per source). Sources with different numbers of shards,
or a pair whose shards hold different numbers of members, are an error under
``on_error="raise"`` (upstream silently truncates and so mis-pairs the rest); with
``"warn"``/``"skip"`` the unmatched tail is dropped and counted. ``shuffle`` permutes the
pair order by (seed, epoch) and items within ``shuffle_buffer`` blocks. State, resume,
errors: :mod:`ais_datasets.shardstream` and :mod:`ais_datasets.resumable`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Optional, Union

from aistore.sdk import ArchiveConfig, DataShard, ListObjectFlag
from torch.utils.data import IterableDataset

from ais_datasets.errors import ShardReadError
from ais_datasets.failures import DEFAULT_BUDGET
from ais_datasets.reading import etl_config, on_policy, open_tar, uri
from ais_datasets.retry import RetryPolicy
from ais_datasets.shardstream import PREFETCH_SHARDS, READAHEAD_BYTES, ShardStream
from ais_datasets.shares import deal, visits
from ais_datasets.sources import (
    ARCHIVE_EXTENSIONS,
    STREAMABLE_EXTENSIONS,
    make_object,
    shard_member_names,
)
from ais_datasets.topology import Topology

_END = object()


class AISMultiShardStream(ShardStream, IterableDataset):
    """Iterable over tuples of matching members from several shard sources.

    Args:
        data_sources: ``DataShard`` objects (their ``bucket``, ``prefix`` and ``etl_name``).
        shuffle, seed, shuffle_buffer: seeded shuffling (keyword-only).
        on_error: ``"raise"`` | ``"warn"`` | ``"skip"``.
        readahead_bytes, prefetch_shards: bytes held and shards opened ahead of the
            reader, for all sources together (keyword-only; see ``AISShardReader``).
        error_budget, retry, verify_checksum: as ``AISShardReader``'s.
        rank, world_size, ranks_from_env, even_ranks: splitting across ranks and equal
            work (keyword-only): see :class:`~ais_datasets.AISBaseIterDataset`.
    """

    def __init__(self, data_sources: list[DataShard], *, shuffle: bool = False,
                 seed: int = 0, shuffle_buffer: int = 1000, on_error: str = "raise",
                 readahead_bytes: int = READAHEAD_BYTES,
                 prefetch_shards: int = PREFETCH_SHARDS,
                 error_budget: Union[int, float, None] = DEFAULT_BUDGET,
                 retry: Optional[RetryPolicy] = None, verify_checksum: bool = True,
                 rank: Optional[int] = None, world_size: Optional[int] = None,
                 ranks_from_env: bool = False, even_ranks: Optional[str] = "pad"):
        self._data_sources = list(data_sources)
        self._shard_names: Optional[list[list[str]]] = None
        self._member_counts: dict[tuple[int, str], int] = {}
        self._init_resumable(shuffle=shuffle, seed=seed, rank=rank, world_size=world_size,
                             ranks_from_env=ranks_from_env, even_ranks=even_ranks)
        self._init_shard_stream(on_error=on_error, shuffle_buffer=shuffle_buffer,
                                readahead_bytes=readahead_bytes,
                                prefetch_shards=prefetch_shards, error_budget=error_budget,
                                retry=retry, verify_checksum=verify_checksum)

    # ------------------------------------------------------------------ listing

    def _names(self) -> list[list[str]]:
        if self._shard_names is None:
            self._shard_names = [
                [entry.name for entry in ds.bucket.list_objects_iter(prefix=ds.prefix,
                                                                     props="name")
                 if entry.name.endswith(ARCHIVE_EXTENSIONS)]
                for ds in self._data_sources]
        return self._shard_names

    def _num_pairs(self) -> int:
        lengths = [len(names) for names in self._names()]
        return min(lengths) if lengths else 0

    def _slot_pairs(self, topo: Topology, epoch: Optional[int] = None
                    ) -> tuple[list[int], Optional[list[int]]]:
        """This slot's pairs, in order, and their quotas (``None``: whole pairs)."""
        epoch = self._epoch if epoch is None else epoch
        even = self._even_for(topo)
        n = self._num_pairs()
        how = {"shuffle": self._shuffle, "seed": self._seed, "epoch": epoch}
        dealt = deal(n, topo.rank, topo.world_size, topo.worker_id, topo.num_workers,
                     even, **how)
        if even is None:
            return [u for _, u in dealt], None
        rank_units = [u for _, u in deal(n, topo.rank, topo.world_size, even=even, **how)]
        reads = visits(dealt, self._pair_counts(range(n)), topo.world_size, even,
                       rank_units)
        return [u for u, _ in reads], [q for _, q in reads]

    def _check_pairing(self, topo: Topology) -> None:
        lengths = [len(names) for names in self._names()]
        if len(set(lengths)) <= 1:
            return
        err = ShardReadError(
            f"sources have different numbers of shards: {lengths} "
            f"({', '.join(f'{d.bucket.name}/{d.prefix}' for d in self._data_sources)})")
        if self._on_error == "raise":
            raise err
        if topo.slot == 0:  # report the unmatched shards once, not in every slot
            self._unit_failed(err, "sources", 0)  # counts one unmatched shard
            unmatched = sum(length - min(lengths) for length in lengths)
            self._stats.add("", shards_failed=unmatched - 1)

    # ------------------------------------------------------------------ iteration

    def __iter__(self) -> Iterator[tuple[bytes, ...]]:
        topo, state = self._start_epoch()
        self._check_pairing(topo)
        units, wanted = self._slot_pairs(topo, state["epoch"])
        return self._iterate_units(units, state, salt=topo.slot, quotas=wanted)

    def _objects(self, pair: int):
        return [make_object(ds.bucket, names[pair])
                for ds, names in zip(self._data_sources, self._names(), strict=True)]

    def _unit_name(self, unit) -> str:
        return " + ".join(uri(obj) for obj in self._objects(unit))

    def _unit_streams(self, unit) -> list[tuple[Any, Optional[str]]]:
        return [(obj, ds.etl_name)
                for obj, ds in zip(self._objects(unit), self._data_sources, strict=True)]

    def _streamable(self, obj) -> bool:
        return obj.name.endswith(STREAMABLE_EXTENSIONS)

    def _members(self, obj, etl_name, start: int, skip: int,
                 feed=None) -> Iterator[tuple[bytes, int]]:
        if not self._streamable(obj):
            yield from self._members_by_listing(obj, etl_name, skip)
            return
        tar = open_tar(obj, etl_name, start, chunks=feed, closer=getattr(feed, "close", None),
                       policy=self._retry, verify=self._verify)
        try:
            for _ in range(skip):
                if tar.next_member() is None:
                    self._finish_tar(tar, uri(obj))
                    return
            entry = tar.next_entry
            while True:
                item = entry()
                if item is None:
                    self._finish_tar(tar, uri(obj))
                    return
                yield item[1], tar.offset
        finally:
            tar.close()

    def _members_by_listing(self, obj, etl_name, skip: int) -> Iterator[tuple[bytes, int]]:
        entries = self._bucket_of(obj).list_objects_iter(
            prefix=obj.name, props="name", flags=[ListObjectFlag.ARCH_DIR])
        paths = [e.name[len(obj.name) + 1:] for e in entries if e.name != obj.name
                 and e.name.startswith(obj.name + "/")]
        obj, _ = on_policy(obj, self._retry)
        for path in paths[skip:]:
            yield obj.get_reader(etl=etl_config(etl_name),
                                 archive_config=ArchiveConfig(archpath=path)).read_all(), 0

    def _bucket_of(self, obj):
        for ds in self._data_sources:
            if ds.bucket.name == obj.bucket_name:
                return ds.bucket
        raise ValueError(f"no source holds {uri(obj)}")

    def _open_unit(self, unit, skip: int, offsets: list[int], status: dict[str, bool],
                   feeds=None) -> Iterator[tuple[Any, list[int]]]:
        streams_of = self._unit_streams(unit)
        objects = [obj for obj, _ in streams_of]
        starts = self._start_offsets(unit, offsets)
        streams = []
        for k, (obj, etl_name) in enumerate(streams_of):
            start = starts[k]
            streams.append(self._members(obj, etl_name, start, 0 if start else skip,
                                         feeds[k] if feeds else None))
        try:
            while True:
                datas, offs = [], []
                short = -1
                for k, stream in enumerate(streams):
                    item = next(stream, _END)
                    if item is _END:
                        if short < 0:
                            short = k
                        continue
                    if not datas:
                        status["open"] = True
                    datas.append(item[0])
                    offs.append(item[1])
                if short >= 0:
                    if not datas:
                        return
                    raise ShardReadError(
                        "shards of one pair hold different numbers of members "
                        f"({' + '.join(uri(o) for o in objects)})",
                        shard=uri(objects[short]), offset=None)
                status["open"] = False
                yield tuple(datas), offs
        finally:
            for stream in streams:
                stream.close()

    # ------------------------------------------------------------------ counting

    def _unit_sample_count(self, unit) -> Optional[int]:
        return self._pair_counts([unit])[0]

    def _pair_counts(self, pairs: Sequence[int]) -> list[int]:
        names = self._names()
        for src, ds in enumerate(self._data_sources):
            missing = [names[src][p] for p in pairs if (src, names[src][p])
                       not in self._member_counts]
            if missing:
                members = shard_member_names(ds.bucket, missing, [ds.prefix])
                for name in missing:
                    self._member_counts[(src, name)] = len(members[name])
        return [min(self._member_counts[(src, names[src][p])]
                    for src in range(len(self._data_sources))) for p in pairs]

    def _unit_counts(self, topo: Topology) -> list[int]:
        pairs, wanted = self._slot_pairs(topo)
        return list(wanted) if wanted is not None else self._pair_counts(pairs)

    def _slot_totals(self, topo: Topology, slots: list[int]) -> list[int]:
        return [sum(self._unit_counts(self._data_topology(topo, slot))) for slot in slots]

    def _cursor_after(self, topo: Topology, samples: int) -> dict[str, Any]:
        return self._cursor_from_counts(self._unit_counts(topo), samples)
