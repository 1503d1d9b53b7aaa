"""``AISBatchIterDataset``: objects as ``(name, bytes)``, fetched with GetBatch.

Drop-in for ``aistore.pytorch.batch_iter_dataset.AISBatchIterDataset`` (exported from this
package's root too)::

    ds = AISBatchIterDataset(bucket, client, max_batch_size=64, shuffle=True)

Each reading process sends one GetBatch request per ``max_batch_size`` of its objects
through the ``client`` the user passed, and keeps up to ``prefetch`` such requests in
flight (keyword-only, default 2; results stay in order) on a thread pool of the
iteration. When the iterator is exhausted, closed or garbage-collected (or raises), the
requests not yet started are cancelled, no new one is sent, and the pool is shut down
(its threads exit once the requests already running return; closing never waits for
them). An entry the server reports as failed raises ``RuntimeError``
(``cont_on_err=False``) or is logged and skipped (``cont_on_err=True``), as upstream.
Splitting, listing and order: see :mod:`ais_datasets.base_iter_dataset`; the cursor key
``position`` counts this slot's objects consumed, skipped ones included. Under equal work
across ranks, objects skipped with ``cont_on_err`` are made up for by reading this
reader's objects again from the start (one more pass at most), so the rank still yields
its share's count.

Faults: requests go through the view of ``client`` that retries by the ``retry`` policy
(:mod:`ais_datasets.retry`), and replies are read by the rules of
:mod:`ais_datasets.getbatch`. A batch is received whole before any of its objects is
yielded; a reply that breaks off (or arrives mangled) is asked for again for the objects
not yet received, up to ``policy.attempts`` times in a row without progress, then the
iteration raises: no object is yielded twice or skipped. A reply whose entries are not
the objects asked for raises ``RuntimeError`` (without ``cont_on_err``, AIS ends the
archive at the first object it cannot read: the error names it). GetBatch entries carry
no checksum and are not checked. A ``client`` that is not an SDK ``Client`` is used as
upstream uses it (its own ``batch()``, its own retries).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from logging import getLogger
from typing import Optional, Union

from aistore.sdk import AISSource, Client
from aistore.sdk.enums import Colocation

from ais_datasets._sdk_adapter import request_client_of
from ais_datasets.base_iter_dataset import AISBaseIterDataset
from ais_datasets.getbatch import Missing, batch_objects
from ais_datasets.progress import progress
from ais_datasets.reading import LazyPool, ordered_map
from ais_datasets.retry import RetryPolicy, check

logger = getLogger(__name__)


class AISBatchIterDataset(AISBaseIterDataset):
    """Iterable dataset of ``(object_name, object_bytes)`` read with the GetBatch API.

    Args:
        ais_source_list: sources to read; client: the ``aistore.sdk.Client`` to send
            GetBatch requests with; prefix_map, show_progress,
            partition_sources_by_worker: as upstream.
        max_batch_size: objects per GetBatch request (default 32).
        output_format, streaming, colocation, cont_on_err: passed to ``client.batch``.
        prefetch: GetBatch requests in flight per reading process (keyword-only).
        retry: the :class:`~ais_datasets.retry.RetryPolicy` (keyword-only; None: the
            default for ``client``).
        shuffle, seed, rank, world_size, ranks_from_env, even_ranks: see
            :class:`AISBaseIterDataset` (keyword-only).
    """

    def __init__(
        self,
        ais_source_list,
        client: Client,
        prefix_map: dict[AISSource, Union[str, list[str]]] = {},  # noqa: B006 - upstream
        show_progress: bool = False,
        max_batch_size: int = 32,
        output_format: str = ".tar",
        streaming: bool = True,
        colocation: Colocation = Colocation.NONE,
        partition_sources_by_worker: bool = False,
        cont_on_err: bool = False,
        *,
        prefetch: int = 2,
        retry: Optional[RetryPolicy] = None,
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
        if int(max_batch_size) < 1:
            raise ValueError("max_batch_size must be at least 1")
        self.client = client
        self.max_batch_size = int(max_batch_size)
        self.output_format = output_format
        self.streaming = streaming
        self._show_progress = show_progress
        self.colocation = colocation
        self.cont_on_err = cont_on_err
        self._prefetch = max(1, int(prefetch))
        self._retry = check(retry)

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        topo, state = self._start_epoch()
        index, positions = self._slot_view(topo)
        return self._generate(topo, state, index, positions)

    def _fetch(self, index, chunk: Sequence[int]) -> list[tuple[str, Optional[str], bytes]]:
        objects = [index.object(i) for i in chunk]
        request_client = request_client_of(self.client)
        if request_client is None:  # not an SDK Client: its own batch(), its own retries
            batch = self.client.batch(objects=objects, output_format=self.output_format,
                                      streaming_get=self.streaming,
                                      colocation=self.colocation,
                                      cont_on_err=self.cont_on_err)
            return [(info.obj_name, info.err_msg, data) for info, data in batch.get()]
        entries = batch_objects(request_client, objects, self._retry,
                                output_format=self.output_format, streaming=self.streaming,
                                cont_on_err=self.cont_on_err, colocation=self.colocation)
        return [(obj.name, data.reason, b"") if type(data) is Missing else
                (obj.name, None, data) for obj, data in entries]

    def _generate(self, topo, state, index, positions) -> Iterator[tuple[str, bytes]]:
        start = state["position"]
        target = len(positions)
        # objects skipped with cont_on_err would leave this rank short of the others:
        # under equal work, make up for them with one more pass over its objects
        span = 2 * target if self.cont_on_err and self._even_for(topo) else target
        step = self.max_batch_size
        chunks = ([positions[p % target] for p in range(k, min(k + step, span))]
                  for k in range(start, span, step))
        pool = LazyPool(self._prefetch)
        batches = ordered_map(pool, lambda c: self._fetch(index, c), chunks, self._prefetch)
        try:
            for batch in progress(batches, enabled=self._show_progress,
                                  desc="AISBatchIterDataset", topo=topo):
                for name, err_msg, data in batch:
                    if state["samples_seen"] >= target:
                        break
                    if err_msg:
                        if not self.cont_on_err:
                            raise RuntimeError(f"{name}: {err_msg}")
                        logger.warning("Skipping %s: %s", name, err_msg)
                        state["position"] += 1
                        continue
                    state["position"] += 1
                    state["samples_seen"] += 1
                    yield name, data
                if state["samples_seen"] >= target:
                    break
            if state["samples_seen"] < target and span > target:
                logger.warning("Yielded %d of the %d objects of this reader's share: its "
                               "rank yields fewer than the others", state["samples_seen"],
                               target)
            self._finished(state)
        finally:
            batches.close()
            pool.shutdown()
