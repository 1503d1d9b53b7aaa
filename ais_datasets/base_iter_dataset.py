"""Base class of the object-level iterable datasets (``AISBaseIterDataset``).

Same constructor and the same protected helpers as ``aistore.pytorch``'s base class, so
subclasses written for upstream keep working, plus what upstream lacks::

    class Names(AISBaseIterDataset):
        def __iter__(self):
            self._reset_iterator()
            objects, _ = self._get_worker_iter_info()
            for obj in objects:
                yield obj.name

Splitting. Objects are dealt to *slots* (rank x DataLoader worker, see
:mod:`ais_datasets.shares`), so every object is read once per epoch across all workers
of all ranks; when the data is split across ranks (the rule is in
:mod:`ais_datasets.topology`), ``even_ranks`` gives every rank the same number of
samples (``"pad"``, the default: the ranks short of an object in the last round repeat
one of their own; ``"drop"``: the last, partial round is not read; ``None``: ranks may
differ by one). Upstream splits only DataLoader workers; every DDP rank reads everything
there.

Listing strategy. The object list is built once per process, lazily (first ``iter``,
``len``, or state computation), and kept for later epochs; it is a compact name table
(:class:`ais_datasets.sources.ObjectIndex`). It pickles with the dataset, so listing once
in the main process (e.g. ``len(ds)``) before the DataLoader starts means no worker lists
at all; otherwise each worker lists once and then uses only its share. With
``partition_sources_by_worker=True`` each slot lists only its own sources (sources are
dealt to slots), as upstream does for workers. The list is not refreshed:
objects added after the first listing are not seen by this dataset object.

Order. Listing order, or with ``shuffle=True`` an order drawn from (seed, epoch) that
every process computes alike. With ``partition_sources_by_worker=True`` whole sources
are dealt (in listing order, the same in every epoch) and each slot shuffles its own
objects; with equal work across ranks every source is then listed, to count it.

``len()`` is the number of samples this rank yields in an epoch (all of its DataLoader
workers together): the whole dataset when the data is not split across ranks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from typing import Optional, Union

import torch.utils.data as torch_utils
from aistore.sdk import AISSource
from aistore.sdk.obj.object import Object

from ais_datasets.resumable import Resumable
from ais_datasets.shares import deal, quotas, rank_total
from ais_datasets.sources import ObjectIndex, build_index, normalize_sources, prefixes_for
from ais_datasets.topology import Topology, permutation


class AISBaseIterDataset(Resumable, ABC, torch_utils.IterableDataset):
    """Base class for AIS iterable datasets; subclasses implement ``__iter__``.

    Args:
        ais_source_list: a single ``AISSource`` (``Bucket``, ``ObjectGroup``, ...) or a list.
        prefix_map: per source, a prefix or list of prefixes to read (absent/None: all).
        partition_sources_by_worker: deal whole sources to slots (each lists only its
            own) instead of dealing objects.
        shuffle, seed: seeded per-epoch shuffling (keyword-only); see ``set_epoch``.
        rank, world_size: split across these ranks (keyword-only; default: the
            ``torch.distributed`` process group, see :mod:`ais_datasets.topology`).
        ranks_from_env: also take ranks from ``RANK``/``WORLD_SIZE`` (keyword-only).
        even_ranks: ``"pad"`` (default), ``"drop"`` or ``None``: equal samples per rank
            when the data is split across ranks (keyword-only; :mod:`ais_datasets.shares`).
    """

    def __init__(
        self,
        ais_source_list: Union[AISSource, list[AISSource]],
        prefix_map: dict[AISSource, Union[str, list[str]]] = {},  # noqa: B006 - upstream
        partition_sources_by_worker: bool = False,
        *,
        shuffle: bool = False,
        seed: int = 0,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        ranks_from_env: bool = False,
        even_ranks: Optional[str] = "pad",
    ) -> None:
        self._ais_source_list = normalize_sources(ais_source_list, type(self).__name__)
        self._prefix_map = prefix_map
        self._obj_iterator = None
        self._partition_sources_by_worker = partition_sources_by_worker
        self._index: Optional[ObjectIndex] = None
        self._slot_index: dict[tuple[int, ...], ObjectIndex] = {}
        self._ranges: Optional[list[tuple[int, int]]] = None
        self._init_resumable(shuffle=shuffle, seed=seed, rank=rank, world_size=world_size,
                             ranks_from_env=ranks_from_env, even_ranks=even_ranks)

    # ------------------------------------------------------------- upstream helpers

    def _create_objects_iter(self, sources: Optional[list[AISSource]] = None
                             ) -> Iterable[Object]:
        """Objects of ``sources`` (default: all) under their prefixes, listed afresh.

        As upstream: each source's ``list_all_objects_iter`` (objects carry listed props).
        """
        for source in self._ais_source_list if sources is None else sources:
            for prefix in prefixes_for(source, self._prefix_map):
                yield from source.list_all_objects_iter(prefix=prefix)

    def _get_worker_iter_info(self) -> tuple[Iterator[Object], str]:
        """This slot's objects (rank x worker split) and a label for progress bars.

        Called once per iteration by upstream-style subclasses: it starts the epoch.
        """
        topo, _ = self._start_epoch()
        index, positions = self._slot_view(topo)
        label = f" (Worker {topo.worker_id})" if topo.in_worker else ""
        return (index.object(i) for i in positions), label

    def _reset_iterator(self) -> None:
        """Upstream hook, kept for subclasses: a fresh full-listing iterator."""
        self._obj_iterator = self._create_objects_iter()

    def __len__(self) -> int:
        """Samples this rank yields in an epoch (see the module docstring)."""
        topo = self._topology()
        even = self._even_for(topo)
        if self._partition_sources_by_worker and topo.world_size > 1:
            return rank_total(self._source_sizes(), topo.world_size, even, topo.rank)
        n = len(self._full_index())
        if even == "pad":
            return -(-n // topo.world_size)
        if even == "drop":
            return n // topo.world_size
        return len(range(topo.rank, n, topo.world_size))

    @abstractmethod
    def __iter__(self) -> Iterator:
        """Yield this slot's samples."""

    # ------------------------------------------------------------- index and split

    def _full_index(self) -> ObjectIndex:
        if self._index is None:
            self._index = build_index(self._ais_source_list, self._prefix_map)
        return self._index

    def _partitioned(self, topo: Topology) -> bool:
        return self._partition_sources_by_worker and topo.num_slots > 1

    def _index_of_sources(self, numbers: Sequence[int]) -> ObjectIndex:
        key = tuple(numbers)
        if key not in self._slot_index:
            self._slot_index[key] = build_index(self._ais_source_list, self._prefix_map,
                                                only=key)
        return self._slot_index[key]

    def _source_ranges(self) -> list[tuple[int, int]]:
        """``[start, end)`` of each source's objects in the full index (listed in order)."""
        if self._ranges is None:
            index = self._full_index()
            ranges = [(0, 0)] * len(self._ais_source_list)
            start = 0
            for i in range(1, len(index) + 1):
                if i == len(index) or index.source_no(i) != index.source_no(start):
                    ranges[index.source_no(start)] = (start, i)
                    start = i
            self._ranges = ranges
        return self._ranges

    def _source_sizes(self) -> list[int]:
        return [b - a for a, b in self._source_ranges()]

    def _slot_view(self, topo: Topology, epoch: Optional[int] = None
                   ) -> tuple[ObjectIndex, Sequence[int]]:
        """The index this process's slot reads from and the positions it reads, in order."""
        epoch = self._epoch if epoch is None else epoch
        even = self._even_for(topo)
        if not self._partitioned(topo):
            index = self._full_index()
            pairs = deal(len(index), topo.rank, topo.world_size, topo.worker_id,
                         topo.num_workers, even, shuffle=self._shuffle, seed=self._seed,
                         epoch=epoch)
            return index, [u for _, u in pairs]
        # whole sources are the units, dealt in listing order
        pairs = deal(len(self._ais_source_list), topo.rank, topo.world_size,
                     topo.worker_id, topo.num_workers, even)
        if even is None:
            index = self._index_of_sources([u for _, u in pairs])
            n = len(index)
            return index, (permutation(n, self._seed, epoch) if self._shuffle else range(n))
        return self._full_index(), self._spread_sources(pairs, even, epoch, topo.world_size)

    def _spread_sources(self, pairs, even: str, epoch: int, world_size: int) -> list[int]:
        """Positions that meet each source's quota: its objects, repeated where short."""
        ranges = self._source_ranges()
        sizes = [b - a for a, b in ranges]
        positions: list[int] = []
        wanted = quotas([k for k, _ in pairs], sizes, world_size, even)
        for (_, src), q in zip(pairs, wanted, strict=True):
            start, count = ranges[src][0], sizes[src]
            if count == 0:
                continue
            order = permutation(count, self._seed, epoch, src) if self._shuffle \
                else range(count)
            positions += [start + order[i % count] for i in range(q)]
        short = sum(wanted) - len(positions)  # quotas of empty sources: repeat others
        fill = positions or list(range(len(self._full_index())))
        if short > 0 and fill:
            positions += [fill[i % len(fill)] for i in range(short)]
        return positions

    def _slot_totals(self, topo: Topology, slots: list[int]) -> list[int]:
        return [len(self._slot_view(self._data_topology(topo, slot))[1]) for slot in slots]

    def _initial_cursor(self) -> dict[str, int]:
        return {"position": 0}

    def _cursor_after(self, topo: Topology, samples: int) -> dict[str, int]:
        return {"position": samples}

    def __getstate__(self):
        state = super().__getstate__()
        state["_obj_iterator"] = None  # a live generator does not pickle
        return state
