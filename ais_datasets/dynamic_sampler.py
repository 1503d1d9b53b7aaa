"""``DynamicBatchSampler``: batches of indices that fit a byte budget.

Drop-in for ``aistore.pytorch.DynamicBatchSampler`` (same arguments and batching rule),
with these corrections::

    sampler = DynamicBatchSampler(ds, max_batch_size=convert_mb_to_bytes(64), shuffle=True)
    loader = DataLoader(ds, batch_sampler=sampler)
    assert len(loader) == len(list(sampler))

* ``shuffle`` is seeded: the order depends only on (``seed``, epoch), keyword-only
  ``seed=0`` (upstream draws an unseeded permutation). Each ``iter()`` starts the next
  epoch (0, 1, 2, ...) unless ``set_epoch(epoch)`` pinned it.
* ``len()`` is the number of batches the sampler yields (upstream returns the number of
  samples) in the epoch in progress, or else the next one. It is computed by running the
  batching rule over the sizes the listing already returned (``props_cached.size``): no
  network access.
* The rule is evaluated in one place for ``len`` and ``iter``, so they always agree.
* Under distributed training the batches are split across ranks by the splitting rule
  of :mod:`ais_datasets.topology` (keyword-only ``rank``, ``world_size``,
  ``ranks_from_env``): every rank plans the same batches and takes every
  ``world_size``-th one, and ``even_ranks`` (``"pad"``, default: a rank short of a batch
  in the last round repeats its first one; ``"drop"``: the last, partial round is left
  out; ``None``) gives every rank the same number of batches, hence of steps.
  Upstream yields every batch on every rank.

The batching rule (as upstream): samples are taken in order (or shuffled order); a
sample of size 0 is skipped with a warning; a sample larger than ``max_batch_size`` is
yielded alone with ``allow_oversized_samples`` and skipped with a warning otherwise; a
batch is closed when the next sample would not fit (a sample that makes the batch
exactly ``max_batch_size`` joins it first); the last batch is kept unless ``drop_last``
and it is not fuller than ``saturation_factor``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from logging import getLogger
from typing import Optional

import torch

from ais_datasets.base_map_dataset import AISBaseMapDataset
from ais_datasets.shares import check_even, deal
from ais_datasets.topology import current_topology, permutation

SATURATION_FACTOR = 0.8
logger = getLogger(__name__)


class DynamicBatchSampler(torch.utils.data.Sampler):
    """Yield lists of dataset indices whose object sizes sum to at most a budget.

    Args:
        data_source: an AIS map-style dataset (its ``get_obj_list()`` sizes are used).
        max_batch_size: budget per batch, in bytes.
        drop_last: drop a last batch that is not fuller than ``saturation_factor``.
        allow_oversized_samples: yield a sample larger than the budget as its own batch.
        saturation_factor: fill ratio a last batch needs to be kept with ``drop_last``.
        shuffle: shuffle samples before batching, seeded by (``seed``, epoch).
        seed: the shuffle seed (keyword-only).
        rank, world_size, ranks_from_env, even_ranks: splitting batches across ranks
            (keyword-only; see the module docstring).
    """

    def __init__(
        self,
        data_source: AISBaseMapDataset,
        max_batch_size: float,
        drop_last: bool = False,
        allow_oversized_samples: bool = False,
        saturation_factor: float = SATURATION_FACTOR,
        shuffle: bool = False,
        *,
        seed: int = 0,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        ranks_from_env: bool = False,
        even_ranks: Optional[str] = "pad",
    ) -> None:
        super().__init__()
        if not 0 <= saturation_factor <= 1:
            raise ValueError("`saturation_factor` must be between 0 and 1")
        self._data_source = data_source
        self._max_batch_size = max_batch_size
        self._samples_list = data_source.get_obj_list()
        self._drop_last = drop_last
        self._allow_oversized_samples = allow_oversized_samples
        self._saturation_factor = saturation_factor
        self._shuffle = shuffle
        self._seed = int(seed)
        self._epoch = 0  # the epoch the next iteration uses
        self._pinned = False
        self._active: Optional[int] = None  # the epoch of the iteration in progress
        self._cache: Optional[tuple[int, list[list[int]]]] = None
        self._rank_override, self._world_size_override = rank, world_size
        self._ranks_from_env = bool(ranks_from_env)
        self._even = check_even(even_ranks)
        self._topology()  # validate the rank options early

    def set_epoch(self, epoch: int) -> None:
        """Pin the epoch: every iteration uses ``epoch`` until the next ``set_epoch``."""
        self._epoch = int(epoch)
        self._pinned = True

    @property
    def epoch(self) -> int:
        """The epoch of the iteration in progress, or else of the next one."""
        return self._active if self._active is not None else self._epoch

    def _topology(self):
        return current_topology(self._rank_override, self._world_size_override,
                                from_env=self._ranks_from_env)

    def _sizes(self) -> list[int]:
        sizes = []
        for obj in self._samples_list:
            props = obj.props_cached
            size = getattr(props, "size", None) if props is not None else None
            if size is None:
                raise ValueError(f"object {obj.name!r} has no listed size; list it with "
                                 f"props including 'size'")
            sizes.append(int(size))
        return sizes

    def _order(self, epoch: int) -> Sequence[int]:
        n = len(self._samples_list)
        return permutation(n, self._seed, epoch) if self._shuffle else range(n)

    def _batches(self, epoch: int, warn: bool) -> list[list[int]]:
        """This rank's batches of ``epoch``."""
        key = epoch if self._shuffle else -1
        if self._cache is not None and self._cache[0] == key and not warn:
            batches = self._cache[1]
        else:
            batches = plan_batches(
                self._sizes(), self._order(epoch), self._max_batch_size, self._drop_last,
                self._allow_oversized_samples, self._saturation_factor,
                names=[o.name for o in self._samples_list] if warn else None)
            self._cache = (key, batches)
        topo = self._topology()
        if topo.world_size == 1:
            return batches
        return [batches[u] for _, u in deal(len(batches), topo.rank, topo.world_size,
                                           even=self._even)]

    def __iter__(self) -> Iterator[list[int]]:
        epoch = self._epoch
        if not self._pinned:
            self._epoch += 1
        self._active = epoch
        return self._generate(epoch)

    def _generate(self, epoch: int) -> Iterator[list[int]]:
        try:
            for batch in self._batches(epoch, warn=True):
                yield list(batch)
        finally:
            if self._active == epoch:
                self._active = None

    def __len__(self) -> int:
        """Number of batches ``iter()`` yields in the epoch in progress, or the next one."""
        return len(self._batches(self.epoch, warn=False))


def plan_batches(sizes: Sequence[int], order: Sequence[int], max_batch_size: float,
                 drop_last: bool, allow_oversized: bool, saturation_factor: float,
                 names: Optional[Sequence[str]] = None) -> list[list[int]]:
    """The batches of the rule in the module docstring (pure; warns when ``names``)."""
    batches: list[list[int]] = []
    batch: list[int] = []
    total = 0
    for index in order:
        size = sizes[index]
        if size == 0:
            if names is not None:
                logger.warning("Sample %s cannot be processed as it has a size of 0 bytes",
                               names[index])
            continue
        if size > max_batch_size:
            if allow_oversized:
                batches.append([index])
            elif names is not None:
                logger.warning("Sample %s cannot be processed as it is larger than the max "
                               "batch size: %d bytes > %d bytes", names[index], size,
                               max_batch_size)
            continue
        if total + size > max_batch_size:
            batches.append(batch)
            batch, total = [], 0
        batch.append(index)
        total += size
        if total == max_batch_size:
            batches.append(batch)
            batch, total = [], 0
    if (batch and not drop_last) or (drop_last and total / max_batch_size > saturation_factor):
        batches.append(batch)
    return batches
