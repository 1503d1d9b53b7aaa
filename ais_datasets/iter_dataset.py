"""``AISIterDataset``: objects as ``(name, bytes)``, many objects per request.

Drop-in for ``aistore.pytorch.AISIterDataset`` (same arguments and samples)::

    ds = AISIterDataset(bucket, prefix_map={bucket: "train/"}, shuffle=True)
    ds.set_epoch(epoch)
    for name, data in DataLoader(ds, batch_size=None, num_workers=4): ...

How it reads. Each reading process asks for its objects ``max_batch_size`` at a time
with one **GetBatch** request each (keyword-only ``use_batch=True``): the cluster streams
one tar of the objects, in order, which is parsed as it arrives and yielded object by
object, so memory holds one read chunk (1 MiB), not the batch. An entry the cluster
reports as failed is read again with a plain GET, which raises the real error (e.g.
``ErrObjNotFound``). When GetBatch is not available (the cluster has no such route, or
a request fails), the objects are read with plain GETs instead: up to ``prefetch`` in
flight on a small thread pool of the iteration (created on its first plain GET), results
in order. A cluster without GetBatch is detected once per process
(:mod:`ais_datasets.getbatch`). With ``etl_name`` every object is a plain GET (GetBatch
carries no transform), as with ``use_batch=False``. Either way the sample order does not
depend on timing.

Faults: every request follows the ``retry`` policy (:mod:`ais_datasets.retry`); GetBatch
replies are read by the rules of :mod:`ais_datasets.getbatch`: one that breaks off
mid-way is asked for again for the objects not yet yielded (no object is yielded twice),
up to ``policy.attempts`` times in a row without progress, then those objects are read
with plain GETs. Plain GETs resume cut bodies with Range GETs and, with
``verify_checksum`` (default), are checked against the cluster's checksum before they
are yielded (GetBatch entries carry none).

Background work ends with the iteration. When the iterator is exhausted, closed or
garbage-collected (or raises), the GETs not yet started are cancelled, no new request is
sent, and the pool is shut down: its threads exit once the GETs already running return
(closing never waits for them).

Splitting, listing and order: see :mod:`ais_datasets.base_iter_dataset`; state and
resume: :mod:`ais_datasets.resumable` (the cursor key ``position`` counts this slot's
objects already yielded).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Optional, Union

from aistore.sdk import AISSource

from ais_datasets.base_iter_dataset import AISBaseIterDataset
from ais_datasets.getbatch import batch_available, fetch_objects
from ais_datasets.progress import progress
from ais_datasets.reading import LazyPool, ordered_map, read_object
from ais_datasets.retry import RetryPolicy, check
from ais_datasets.sources import ObjectIndex


class AISIterDataset(AISBaseIterDataset):
    """Iterable dataset of ``(object_name, object_bytes)`` over AIS sources.

    Args:
        ais_source_list, prefix_map, partition_sources_by_worker: as upstream.
        etl_name: an ETL already running on the cluster, applied to every object.
        show_progress: a tqdm bar per reading process.
        use_batch: read with GetBatch requests where the cluster serves them
            (keyword-only, default True).
        max_batch_size: objects per GetBatch request (keyword-only, default 64).
        prefetch: plain GETs in flight per reading process (keyword-only, default 8).
        retry: the :class:`~ais_datasets.retry.RetryPolicy` (keyword-only; None: the
            default for the client).
        verify_checksum: check plain GETs against the cluster's checksum (keyword-only).
        shuffle, seed, rank, world_size, ranks_from_env, even_ranks: see
            :class:`AISBaseIterDataset` (keyword-only).
    """

    def __init__(
        self,
        ais_source_list: Union[AISSource, list[AISSource]],
        prefix_map: dict[AISSource, Union[str, list[str]]] = {},  # noqa: B006 - upstream
        etl_name: str = None,
        show_progress: bool = False,
        partition_sources_by_worker: bool = False,
        *,
        use_batch: bool = True,
        max_batch_size: int = 64,
        prefetch: int = 8,
        retry: Optional[RetryPolicy] = None,
        verify_checksum: bool = True,
        shuffle: bool = False,
        seed: int = 0,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        ranks_from_env: bool = False,
        even_ranks: Optional[str] = "pad",
    ):
        super().__init__(ais_source_list, prefix_map, partition_sources_by_worker,
                         shuffle=shuffle, seed=seed, rank=rank, world_size=world_size,
                         ranks_from_env=ranks_from_env, even_ranks=even_ranks)
        if int(prefetch) < 1:
            raise ValueError("prefetch must be at least 1")
        if int(max_batch_size) < 1:
            raise ValueError("max_batch_size must be at least 1")
        self._etl_name = etl_name
        self._show_progress = show_progress
        self._use_batch = bool(use_batch)
        self._max_batch_size = int(max_batch_size)
        self._prefetch = int(prefetch)
        self._retry = check(retry)
        self._verify = bool(verify_checksum)

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        topo, state = self._start_epoch()
        index, positions = self._slot_view(topo)
        return self._generate(topo, state, index, positions)

    def _generate(self, topo, state, index, positions) -> Iterator[tuple[str, bytes]]:
        start = state["position"]
        todo = positions[start:]
        pool = LazyPool(self._prefetch)
        if self._use_batch and not self._etl_name:
            results = self._batched(index, todo, pool)
        else:
            results = self._gets(index, todo, pool)
        try:
            for name, data in progress(results, enabled=self._show_progress,
                                       desc="AISIterDataset", topo=topo,
                                       total=len(positions) - start):
                state["position"] += 1
                state["samples_seen"] += 1
                yield name, data
            self._finished(state)
        finally:
            results.close()
            pool.shutdown()

    def _gets(self, index: ObjectIndex, todo: Sequence[int], pool: LazyPool
              ) -> Iterator[tuple[str, bytes]]:
        """Plain GETs on ``pool``, up to ``prefetch`` in flight, in order."""
        etl_name, policy, verify = self._etl_name, self._retry, self._verify

        def fetch(i: int) -> tuple[str, bytes]:
            obj = index.object(i)
            return obj.name, read_object(obj, etl_name, policy=policy, verify=verify)

        results = ordered_map(pool, fetch, todo, self._prefetch)
        try:
            yield from results
        finally:
            results.close()

    def _batched(self, index: ObjectIndex, todo: Sequence[int], pool: LazyPool
                 ) -> Iterator[tuple[str, bytes]]:
        """GetBatch requests of up to ``max_batch_size`` objects of one client each
        (:func:`~ais_datasets.getbatch.fetch_objects`).

        Objects GetBatch cannot deliver are read by :meth:`_gets` on ``pool``.
        """
        clients = [getattr(source, "client", None) for source in index.sources]
        k, n = 0, len(todo)
        while k < n:
            client = clients[index.source_no(todo[k])]
            if not batch_available(client):
                # no GetBatch here: plain GETs for the run of this client's objects
                end = k + 1
                while end < n and clients[index.source_no(todo[end])] is client:
                    end += 1
                yield from self._gets(index, todo[k:end], pool)
                k = end
                continue
            end = k + 1
            limit = min(n, k + self._max_batch_size)
            while end < limit and clients[index.source_no(todo[end])] is client:
                end += 1
            chunk = todo[k:end]

            def gets(rest, chunk=chunk):  # plain GETs for the objects GetBatch left
                return self._gets(index, chunk[len(chunk) - len(rest):], pool)

            yield from fetch_objects(client, [index.object(i) for i in chunk],
                                     policy=self._retry, verify=self._verify, gets=gets)
            k = end
