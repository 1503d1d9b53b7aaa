"""``AISIterDataset``: objects as ``(name, bytes)``, fetched with bounded concurrency.

Drop-in for ``aistore.pytorch.AISIterDataset`` (same arguments and samples)::

    ds = AISIterDataset(bucket, prefix_map={bucket: "train/"}, shuffle=True, prefetch=8)
    ds.set_epoch(epoch)
    for name, data in DataLoader(ds, batch_size=None, num_workers=4): ...

Each reading process keeps up to ``prefetch`` GETs in flight on a small thread pool of
its own (created lazily, rebuilt after fork, never pickled) and yields results in order,
so the sample order does not depend on timing. ``prefetch=1`` reads one object at a
time as upstream does. Splitting, listing and order: see
:mod:`ais_datasets.base_iter_dataset`; state and resume: :mod:`ais_datasets.resumable`
(the cursor key ``position`` counts this slot's objects already yielded).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Optional, Union

from aistore.sdk import AISSource

from ais_datasets.base_iter_dataset import AISBaseIterDataset
from ais_datasets.progress import progress
from ais_datasets.reading import LazyPool, ordered_map, read_object


class AISIterDataset(AISBaseIterDataset):
    """Iterable dataset of ``(object_name, object_bytes)`` over AIS sources.

    Args:
        ais_source_list, prefix_map, partition_sources_by_worker: as upstream.
        etl_name: an ETL already running on the cluster, applied to every object.
        show_progress: a tqdm bar per reading process.
        prefetch: GETs in flight per reading process (keyword-only, default 8).
        shuffle, seed, rank, world_size: see :class:`AISBaseIterDataset`.
    """

    def __init__(
        self,
        ais_source_list: Union[AISSource, list[AISSource]],
        prefix_map: dict[AISSource, Union[str, list[str]]] = {},  # noqa: B006 - upstream
        etl_name: str = None,
        show_progress: bool = False,
        partition_sources_by_worker: bool = False,
        *,
        prefetch: int = 8,
        shuffle: bool = False,
        seed: int = 0,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
    ):
        super().__init__(ais_source_list, prefix_map, partition_sources_by_worker,
                         shuffle=shuffle, seed=seed, rank=rank, world_size=world_size)
        if int(prefetch) < 1:
            raise ValueError("prefetch must be at least 1")
        self._etl_name = etl_name
        self._show_progress = show_progress
        self._prefetch = int(prefetch)
        self._pool = LazyPool(self._prefetch)

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        topo, state = self._start_epoch()
        index, positions = self._slot_view(topo)
        return self._generate(topo, state, index, positions)

    def _generate(self, topo, state, index, positions) -> Iterator[tuple[str, bytes]]:
        etl_name = self._etl_name

        def fetch(i: int) -> tuple[str, bytes]:
            obj = index.object(i)
            return obj.name, read_object(obj, etl_name)

        start = state["position"]
        todo = (positions[k] for k in range(start, len(positions)))
        results = ordered_map(self._pool, fetch, todo, self._prefetch)
        try:
            for name, data in progress(results, enabled=self._show_progress,
                                       desc="AISIterDataset", topo=topo,
                                       total=len(positions) - start):
                state["position"] += 1
                state["samples_seen"] += 1
                yield name, data
        finally:
            results.close()
