"""Base class of the object-level iterable datasets (``AISBaseIterDataset``).

Same constructor and the same protected helpers as ``aistore.pytorch``'s base class, so
subclasses written for upstream keep working, plus what upstream lacks::

    class Names(AISBaseIterDataset):
        def __iter__(self):
            self._reset_iterator()
            objects, _ = self._get_worker_iter_info()
            for obj in objects:
                yield obj.name

Splitting. Work is split over *slots* (rank x DataLoader worker, see
:mod:`ais_datasets.topology`), so every object is read exactly once per epoch across all
workers of all ranks. Upstream splits only DataLoader workers; every DDP rank reads
everything there.

Listing strategy. The object list is built once per process, lazily (first ``iter``,
``len``, or state computation), and kept for later epochs; it is a compact name table
(:class:`ais_datasets.sources.ObjectIndex`). It pickles with the dataset, so listing once
in the main process (e.g. ``len(ds)``) before the DataLoader starts means no worker lists
at all; otherwise each worker lists once and then uses only its share. With
``partition_sources_by_worker=True`` each slot lists only its own sources (sources are
dealt to slots round-robin), as upstream does for workers. The list is not refreshed:
objects added after the first listing are not seen by this dataset object.

Order. Listing order (per source, per prefix), or with ``shuffle=True`` a permutation
drawn from (seed, epoch) and identical in every process, dealt round-robin to the slots.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from typing import Optional, Union

import torch.utils.data as torch_utils
from aistore.sdk import AISSource
from aistore.sdk.obj.object import Object

from ais_datasets.resumable import Resumable
from ais_datasets.sources import ObjectIndex, build_index, normalize_sources, prefixes_for
from ais_datasets.topology import Topology, permutation, split_count, split_round_robin


class AISBaseIterDataset(Resumable, ABC, torch_utils.IterableDataset):
    """Base class for AIS iterable datasets; subclasses implement ``__iter__``.

    Args:
        ais_source_list: a single ``AISSource`` (``Bucket``, ``ObjectGroup``, ...) or a list.
        prefix_map: per source, a prefix or list of prefixes to read (absent/None: all).
        partition_sources_by_worker: deal whole sources to slots (each lists only its
            own) instead of dealing objects.
        shuffle, seed: seeded per-epoch shuffling (keyword-only); see ``set_epoch``.
        rank, world_size: override the distributed topology (keyword-only).
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
    ) -> None:
        self._ais_source_list = normalize_sources(ais_source_list, type(self).__name__)
        self._prefix_map = prefix_map
        self._obj_iterator = None
        self._partition_sources_by_worker = partition_sources_by_worker
        self._index: Optional[ObjectIndex] = None
        self._slot_index: dict[tuple[int, int], ObjectIndex] = {}
        self._init_resumable(shuffle=shuffle, seed=seed, rank=rank, world_size=world_size)

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
        """This slot's objects (rank x worker split) and a label for progress bars."""
        topo = self._topology()
        index, positions = self._slot_view(topo)
        label = f" (Worker {topo.worker_id})" if topo.in_worker else ""
        return (index.object(i) for i in positions), label

    def _reset_iterator(self) -> None:
        """Upstream hook, kept for subclasses: a fresh full-listing iterator."""
        self._obj_iterator = self._create_objects_iter()

    def __len__(self) -> int:
        """Number of objects in the whole dataset (all ranks and workers together)."""
        return len(self._full_index())

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

    def _index_for_slot(self, slot: int, num_slots: int) -> ObjectIndex:
        if not (self._partition_sources_by_worker and num_slots > 1):
            return self._full_index()
        key = (slot, num_slots)
        if key not in self._slot_index:
            mine = split_round_robin(range(len(self._ais_source_list)), slot, num_slots)
            self._slot_index[key] = build_index(self._ais_source_list, self._prefix_map,
                                                only=mine)
        return self._slot_index[key]

    def _positions_for_slot(self, slot: int, num_slots: int
                            ) -> tuple[ObjectIndex, Sequence[int]]:
        """The index slot ``slot`` of ``num_slots`` reads from and its positions, in order."""
        index = self._index_for_slot(slot, num_slots)
        n = len(index)
        order: Sequence[int] = permutation(n, self._seed, self._epoch) if self._shuffle \
            else range(n)
        if self._partition_sources_by_worker and num_slots > 1:
            return index, order
        return index, split_round_robin(order, slot, num_slots)

    def _slot_view(self, topo: Topology) -> tuple[ObjectIndex, Sequence[int]]:
        """The index this process's slot reads from and the positions it reads."""
        return self._positions_for_slot(topo.slot, topo.num_slots)

    def _slot_totals(self, topo: Topology, slots: list[int]) -> list[int]:
        if not self._partitioned(topo):
            n = len(self._full_index())
            return [split_count(n, slot, topo.num_slots) for slot in slots]
        return [len(self._index_for_slot(slot, topo.num_slots)) for slot in slots]

    def _initial_cursor(self) -> dict[str, int]:
        return {"position": 0}

    def _cursor_after(self, topo: Topology, samples: int) -> dict[str, int]:
        return {"position": samples}

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_obj_iterator"] = None  # a live generator does not pickle
        return state
