"""``AISShardReader``: WebDataset-style samples streamed out of tar shards.

Drop-in for ``aistore.pytorch.AISShardReader``: same arguments, and samples are
``(key, ZeroDict(extension -> bytes))`` tuples::

    reader = AISShardReader(bucket, prefix_map={bucket: "shards/"}, shuffle=True)
    for key, fields in reader:
        image, label = fields["jpg"], fields["cls"]

Differences from upstream (on purpose):

* **Sample keys follow WebDataset.** The key is the member path up to the first dot of
  its last component, directory included; the extension is everything after that dot.
  Upstream keeps only the last component before its first dot and the text after the
  *last* dot, so ``a/x.jpg`` and ``b/x.jpg`` collide as ``x`` there, and ``x.seg.png`` and
  ``x.png`` both become extension ``png`` of one sample. Here they are two samples
  (``a/x``, ``b/x``) and two fields (``seg.png``, ``png``). Consecutive members with the
  same key form one sample, as in WebDataset.
* **Streaming.** Shards are read as streams, in 1 MiB pieces, and parsed while they
  arrive (:mod:`ais_datasets.tario`); samples are yielded as their members arrive and no
  shard is held in memory, so per-process memory does not grow with shard size. Up to 16
  consecutive shards come from one GetBatch request (``use_batch``, default True; see
  :mod:`ais_datasets.shardbatch` for when a shard gets its own GET instead, and how
  failures stay in place). Plain ``.tar`` and gzip ``.tgz``/``.tar.gz`` shards are read.
  Optional bounded read-ahead on a background thread (``readahead_bytes``,
  ``prefetch_shards``; it replaces GetBatch): see :mod:`ais_datasets.shardstream`.
* **ZeroDict keys.** ``ZeroDict`` fills ``b""`` for the extensions this process has seen so
  far (upstream pre-scans each whole shard, which needs the whole shard in memory). With
  ``shuffle=True`` all extensions of the current shuffle block are seen before its first
  sample is yielded.
* **Exactly once across ranks and workers**: shards are dealt whole to rank x worker
  slots (upstream splits workers only, and not ranks); with fewer shards than slots some
  workers read nothing. When the data is split across ranks, every rank yields the same
  number of samples (``even_ranks="pad"``, the default, repeats samples of a rank's own
  shards; ``"drop"`` leaves some out; ``None`` lets ranks differ): see
  :mod:`ais_datasets.shares`. Equal work needs each shard's sample count, from one
  ARCH_DIR listing per source and prefix in each reading process; ``len(reader)`` in the
  main process before the DataLoader starts lists once there instead (the counts pickle
  with the reader).
* **Shuffle, resume, error policy**: ``shuffle`` (shard order from (seed, epoch), plus a
  ``shuffle_buffer`` block of samples), ``state_dict``/``load_state_dict``, ``on_error``,
  ``error_budget`` and ``error_stats`` (summed over DataLoader workers): see
  :mod:`ais_datasets.shardstream` and :mod:`ais_datasets.resumable`.
* **Faults**: requests are retried and cut shards resumed with a Range GET under one
  ``retry`` policy (:mod:`ais_datasets.retry`); a shard read with its own GET is checked
  against the cluster's checksum at its end (``verify_checksum``; see
  :mod:`ais_datasets.shardstream` for the samples already yielded by then).
* ``len()`` is the number of samples this rank yields in an epoch (upstream counts the
  archive members of all shards), from one ARCH_DIR listing per source and prefix
  (upstream lists each shard separately). It counts the distinct sample keys of each
  shard; iteration agrees because a shard whose members interleave keys raises
  (:func:`ais_datasets.samples.iter_samples`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Optional, Union

from aistore.sdk import Bucket

from ais_datasets.base_iter_dataset import AISBaseIterDataset
from ais_datasets.failures import DEFAULT_BUDGET
from ais_datasets.progress import progress
from ais_datasets.reading import open_tar, uri
from ais_datasets.retry import RetryPolicy
from ais_datasets.samples import iter_samples
from ais_datasets.shardbatch import BatchLane
from ais_datasets.shardstream import PREFETCH_SHARDS, READAHEAD_BYTES, ShardStream
from ais_datasets.shares import deal, quotas, rank_total, spread, visits
from ais_datasets.sources import ObjectIndex, count_samples, prefixes_for, shard_member_names
from ais_datasets.topology import Topology, permutation


class AISShardReader(ShardStream, AISBaseIterDataset):
    """Iterable dataset of WebDataset samples from tar shards in AIS buckets.

    Args:
        bucket_list: a ``Bucket`` (or other ``AISSource``) or a list; every listed object
            is read as a shard.
        prefix_map: per source, prefix(es) selecting the shards.
        etl_name: an ETL already running on the cluster, applied to each whole shard.
        show_progress: a tqdm bar (samples) per reading process.
        partition_sources_by_worker: deal whole sources to slots instead of shards.
        shuffle, seed: shuffle shard order by (seed, epoch) and samples within blocks of
            ``shuffle_buffer`` samples (keyword-only).
        on_error: ``"raise"`` | ``"warn"`` | ``"skip"`` for unreadable shards.
        readahead_bytes: bytes a background thread of each reading process may hold
            ahead of the sample being parsed (keyword-only, default 0: no read-ahead).
        prefetch_shards: with read-ahead, shards it may open beyond the one being read
            (keyword-only, default 1).
        use_batch: without read-ahead, fetch up to 16 consecutive shards with one GetBatch
            request where the cluster serves it (keyword-only, default True); see
            :mod:`ais_datasets.shardbatch`.
        error_budget: with ``on_error`` "warn"/"skip", the failed shards one reading
            process may skip per epoch: a count, or a fraction of its shards (default
            0.1); None: no limit (:mod:`ais_datasets.failures`).
        retry: the :class:`~ais_datasets.retry.RetryPolicy` (None: the default for the
            client, see :mod:`ais_datasets.retry`).
        verify_checksum: check each shard read from its start against the checksum the
            cluster sends (default True).
        rank, world_size, ranks_from_env, even_ranks: splitting across ranks and equal
            work (keyword-only): see :class:`~ais_datasets.AISBaseIterDataset`.
    """

    class ZeroDict(dict):
        """A sample's fields, with ``b""`` for every extension seen so far but missing.

        The default ``collate_fn`` needs every sample of a batch to have the keys of the
        batch's first sample; filling known extensions keeps collation working without
        a custom ``collate_fn``. (A plain ``dict`` subclass: it pickles across workers.)
        """

        def __init__(self, dict=(), keys=()):  # noqa: A002 - upstream's parameter name
            super().__init__(dict)
            for key in keys:
                if key not in self:
                    self[key] = b""

        def __copy__(self):
            # what ``copy.copy`` (the DataLoader's ``default_convert``) does, minus its
            # generic reduce protocol
            clone = dict.__new__(type(self))
            dict.update(clone, self)
            if self.__dict__:
                clone.__dict__.update(self.__dict__)
            return clone

    def __init__(
        self,
        bucket_list: Union[Bucket, list[Bucket]],
        prefix_map: dict[Bucket, Union[str, list[str]]] = {},  # noqa: B006 - upstream
        etl_name: str = None,
        show_progress: bool = False,
        partition_sources_by_worker: bool = False,
        *,
        shuffle: bool = False,
        seed: int = 0,
        shuffle_buffer: int = 1000,
        on_error: str = "raise",
        readahead_bytes: int = READAHEAD_BYTES,
        prefetch_shards: int = PREFETCH_SHARDS,
        use_batch: bool = True,
        error_budget: Union[int, float, None] = DEFAULT_BUDGET,
        retry: Optional[RetryPolicy] = None,
        verify_checksum: bool = True,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        ranks_from_env: bool = False,
        even_ranks: Optional[str] = "pad",
    ):
        super().__init__(bucket_list, prefix_map, partition_sources_by_worker,
                         shuffle=shuffle, seed=seed, rank=rank, world_size=world_size,
                         ranks_from_env=ranks_from_env, even_ranks=even_ranks)
        self._init_shard_stream(on_error=on_error, shuffle_buffer=shuffle_buffer,
                                readahead_bytes=readahead_bytes,
                                prefetch_shards=prefetch_shards, error_budget=error_budget,
                                retry=retry, verify_checksum=verify_checksum)
        self._etl_name = etl_name
        self._use_batch = bool(use_batch)
        self._show_progress = show_progress
        self._observed_keys: set[str] = set()
        self._sample_counts: dict[tuple[int, str], int] = {}

    # ------------------------------------------------------------------ iteration

    def __iter__(self) -> Iterator[tuple[str, AISShardReader.ZeroDict]]:
        topo, state = self._start_epoch()
        units, wanted = self._slot_units(topo, state["epoch"])
        samples = self._iterate_units(units, state, salt=topo.slot, quotas=wanted)
        return progress(samples, enabled=self._show_progress, desc="AISShardReader",
                        topo=topo)

    def _unit_streams(self, unit) -> list[tuple[Any, Optional[str]]]:
        index, pos = unit
        return [(index.object(pos), self._etl_name)]

    def _open_unit(self, unit, skip: int, offsets: list[int], status: dict[str, bool],
                   feeds=None) -> Iterator[tuple[Any, list[int]]]:
        ((obj, etl_name),) = self._unit_streams(unit)
        start = self._start_offsets(unit, offsets)[0]
        feed = feeds[0] if feeds else None
        tar = open_tar(obj, etl_name, start, chunks=feed,
                       closer=getattr(feed, "close", None), policy=self._retry,
                       verify=self._verify)
        observed = self._observed_keys
        try:
            for sample in iter_samples(tar, 0 if start else skip, status, self.ZeroDict):
                fields = sample.fields
                if len(fields) > len(observed) or not observed.issuperset(fields):
                    observed.update(fields)
                yield (sample.key, fields), [sample.next_offset]
            self._finish_tar(tar, uri(obj))
        finally:
            tar.close()

    def _unit_name(self, unit) -> str:
        index, pos = unit
        return uri(index.object(pos))

    def _batch_lanes(self, units, first: int, offsets: list[int]) -> Optional[list[BatchLane]]:
        if not self._use_batch or self._etl_name:
            return None
        return [BatchLane(self._unit_specs(units, first, offsets), policy=self._retry,
                          verify=self._verify)]

    def _emit(self, item):
        key, fields = item  # fields: a ZeroDict already
        observed = self._observed_keys
        if len(fields) < len(observed):
            for ext in observed:
                if ext not in fields:
                    fields[ext] = b""
        return key, fields

    # ------------------------------------------------------------------ counting

    def _unit_sample_count(self, unit) -> Optional[int]:
        index, pos = unit
        return self._counts(index, [pos])[0]

    def _counts(self, index: ObjectIndex, positions) -> list[int]:
        """Samples in each shard at ``positions`` (ARCH_DIR listings, cached)."""
        missing: dict[int, list[str]] = {}
        for pos in positions:
            key = (index.source_no(pos), index.name(pos))
            if key not in self._sample_counts:
                missing.setdefault(key[0], []).append(key[1])
        for source_no, names in missing.items():
            source = index.sources[source_no]
            members = shard_member_names(source, names,
                                         prefixes_for(source, self._prefix_map))
            for name in names:
                self._sample_counts[(source_no, name)] = count_samples(members[name])
        return [self._sample_counts[(index.source_no(p), index.name(p))] for p in positions]

    def _all_counts(self) -> list[int]:
        index = self._full_index()
        return self._counts(index, range(len(index)))

    def _counts_for(self, even: str) -> list[int]:
        """Every shard's sample count, which equal work across ranks needs."""
        try:
            return self._all_counts()
        except ValueError as err:
            raise ValueError(f"even_ranks={even!r} needs the sample count of every shard: "
                             f"{err}; pass even_ranks=None to read shards whole (ranks may "
                             f"then yield different numbers)") from err

    def _slot_units(self, topo: Topology, epoch: Optional[int] = None
                    ) -> tuple[list[tuple[ObjectIndex, int]], Optional[list[int]]]:
        """This slot's ``(index, shard position)`` units and their quotas (or ``None``)."""
        epoch = self._epoch if epoch is None else epoch
        even = self._even_for(topo)
        if not self._partitioned(topo):
            index = self._full_index()
            how = {"shuffle": self._shuffle, "seed": self._seed, "epoch": epoch}
            pairs = deal(len(index), topo.rank, topo.world_size, topo.worker_id,
                         topo.num_workers, even, **how)
            if even is None:
                return [(index, u) for _, u in pairs], None
            rank_units = [u for _, u in deal(len(index), topo.rank, topo.world_size,
                                             even=even, **how)]
            reads = visits(pairs, self._counts_for(even), topo.world_size, even, rank_units)
            return [(index, u) for u, _ in reads], [q for _, q in reads]
        # whole sources are the units, dealt in listing order
        pairs = deal(len(self._ais_source_list), topo.rank, topo.world_size,
                     topo.worker_id, topo.num_workers, even)
        if even is None:
            index = self._index_of_sources([u for _, u in pairs])
            n = len(index)
            order = permutation(n, self._seed, epoch) if self._shuffle else range(n)
            return [(index, p) for p in order], None
        index, counts, ranges = self._full_index(), self._counts_for(even), self._source_ranges()
        sizes = [sum(counts[a:b]) for a, b in ranges]
        units, wanted = [], []
        for (_, src), q in zip(pairs, quotas([k for k, _ in pairs], sizes,
                                             topo.world_size, even), strict=True):
            first, n = ranges[src][0], ranges[src][1] - ranges[src][0]
            order = permutation(n, self._seed, epoch, src) if self._shuffle else range(n)
            shards = [first + i for i in order]
            for i, take in spread(q, [counts[p] for p in shards]):
                units.append((index, shards[i]))
                wanted.append(take)
        return units, wanted

    def _source_sizes(self) -> list[int]:
        counts = self._all_counts()
        return [sum(counts[a:b]) for a, b in self._source_ranges()]

    def __len__(self) -> int:
        """Samples this rank yields in an epoch (all its workers together)."""
        topo = self._topology()
        even = self._even_for(topo)
        if self._partition_sources_by_worker and topo.world_size > 1:
            sizes = self._source_sizes()
        else:
            sizes = self._all_counts()
        return rank_total(sizes, topo.world_size, even, topo.rank)

    def _unit_counts(self, units, wanted) -> list[int]:
        if wanted is not None:
            return list(wanted)
        return [self._counts(index, [pos])[0] for index, pos in units]

    def _slot_totals(self, topo: Topology, slots: list[int]) -> list[int]:
        return [sum(self._unit_counts(*self._slot_units(self._data_topology(topo, slot))))
                for slot in slots]

    def _cursor_after(self, topo: Topology, samples: int) -> dict[str, Any]:
        return self._cursor_from_counts(self._unit_counts(*self._slot_units(topo)), samples)
