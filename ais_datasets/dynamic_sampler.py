"""``DynamicBatchSampler``: batches of indices that fit a byte budget.

Drop-in for ``aistore.pytorch.DynamicBatchSampler`` (same arguments and batching rule),
with three corrections::

    sampler = DynamicBatchSampler(ds, max_batch_size=convert_mb_to_bytes(64), shuffle=True)
    sampler.set_epoch(epoch)
    loader = DataLoader(ds, batch_sampler=sampler)
    assert len(loader) == len(list(sampler))

* ``shuffle`` is seeded: the order depends only on (``seed``, epoch), keyword-only
  ``seed=0`` and ``set_epoch(epoch)`` (upstream draws an unseeded permutation).
* ``len()`` is the number of batches the sampler yields (upstream returns the number of
  samples). It is computed by running the batching rule over the sizes the listing
  already returned (``props_cached.size``): no network access.
* The rule is evaluated in one place for ``len`` and ``iter``, so they always agree.

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
from ais_datasets.topology import permutation

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
        self._epoch = 0
        self._cache: Optional[tuple[int, list[list[int]]]] = None

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch; with ``shuffle`` the order depends on (seed, epoch)."""
        self._epoch = int(epoch)

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

    def _order(self) -> Sequence[int]:
        n = len(self._samples_list)
        return permutation(n, self._seed, self._epoch) if self._shuffle else range(n)

    def _batches(self, warn: bool) -> list[list[int]]:
        key = self._epoch if self._shuffle else -1
        if self._cache is not None and self._cache[0] == key and not warn:
            return self._cache[1]
        batches = plan_batches(self._sizes(), self._order(), self._max_batch_size,
                               self._drop_last, self._allow_oversized_samples,
                               self._saturation_factor,
                               names=[o.name for o in self._samples_list] if warn else None)
        self._cache = (key, batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._batches(warn=True):
            yield list(batch)

    def __len__(self) -> int:
        """Number of batches ``iter()`` yields for the current epoch."""
        return len(self._batches(warn=False))


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
