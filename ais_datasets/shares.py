"""Who reads what: units dealt to rank x worker slots, with equal work per rank.

A *unit* is what one reader takes whole: an object, a shard, a tuple of matching shards,
or (``partition_sources_by_worker``) a whole source. Units are grouped into *rounds* of
``world_size`` consecutive units in listing order; round ``k`` holds units
``k * world_size ... k * world_size + world_size - 1`` and gives one of them to each
rank. A rank reads its rounds in the epoch's round order, and worker ``w`` of the rank
takes every ``num_workers``-th of them, starting with the ``w``-th::

    deal(10, rank=1, world_size=2, worker_id=0, num_workers=2)   # [(0, 1), (2, 5), (4, 9)]

Shuffling (``shuffle=True``) permutes the round order by (seed, epoch) and rotates which
rank gets which unit of a round by (seed, epoch, round); without it rank ``r`` takes unit
``k * world_size + r``. Rounds themselves never change, so the work of a rank is the
same in every epoch, and so is ``len()``.

Equal work (``even``, the option ``even_ranks`` of the iterable datasets). Under
distributed data parallel training every rank must run the same number of steps: a rank
that runs out of data stops calling the collectives the others wait in. The policies
are those of ``torch.utils.data.DistributedSampler``'s ``drop_last``:

* ``"pad"`` (``drop_last=False`` there): a last, partial round still counts. In round
  ``k`` every rank yields ``m_k`` samples, the size of the round's largest unit; a smaller
  unit is read again from its start (another *lap*) until it has given ``m_k``, and a
  rank without a unit in the partial round reads instead its unit of its first full round
  of the epoch (with fewer units than ranks: unit ``rank % units``). Every sample is
  yielded at least once.
* ``"drop"`` (``drop_last=True``): the partial round is left out (its units are not
  read, in any epoch); ``m_k`` is the size of the round's smallest unit and a larger unit
  stops after ``m_k`` samples. No sample is yielded twice.
* ``None``: every rank reads its units whole; ranks may yield different numbers.

Quotas are fixed per round and a round belongs to the same worker number on every rank,
so each worker yields the same number of samples on every rank: the DataLoader then makes
the same number of batches on every rank whatever its ``batch_size`` (equal totals alone
would not do: each worker's last batch may be partial). A rank's total does not depend
on ``num_workers``. Everything here is a pure function of integers.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
from typing import Optional

from ais_datasets.topology import mix64, permutation

EVEN_CHOICES = ("pad", "drop", None)


def check_even(value) -> Optional[str]:
    """Normalise an ``even_ranks`` option: ``"pad"``, ``"drop"`` or ``None`` (``False``)."""
    if value is False:
        return None
    if value not in EVEN_CHOICES:
        raise ValueError(f"even_ranks must be 'pad', 'drop' or None, not {value!r}")
    return value


def num_rounds(num_units: int, world_size: int, even: Optional[str]) -> int:
    """Rounds a rank takes part in: the partial one too, unless ``even == "drop"``."""
    if even == "drop":
        return num_units // world_size
    return -(-num_units // world_size)


def deal(num_units: int, rank: int, world_size: int, worker_id: int = 0,
         num_workers: int = 1, even: Optional[str] = None, *, shuffle: bool = False,
         seed: int = 0, epoch: int = 0) -> list[tuple[int, int]]:
    """``(round, unit)`` pairs that worker ``worker_id`` of ``rank`` reads, in order."""
    _check_position(rank, world_size, "rank")
    _check_position(worker_id, num_workers, "worker_id")
    count = num_rounds(num_units, world_size, even)
    order = permutation(count, seed, epoch) if shuffle else range(count)
    out = []
    for k in order[worker_id::num_workers]:
        unit = _unit_of(k, rank, world_size, shuffle, seed, epoch)
        if unit < num_units:
            out.append((k, unit))
        elif even == "pad":
            out.append((k, _spare(order, num_units, rank, world_size, shuffle, seed, epoch)))
    return out


def _unit_of(k: int, rank: int, world_size: int, shuffle: bool, seed: int,
             epoch: int) -> int:
    if shuffle and world_size > 1:
        rank = (rank + mix64(seed, epoch, k) % world_size) % world_size
    return k * world_size + rank


def _spare(order: Sequence[int], num_units: int, rank: int, world_size: int,
           shuffle: bool, seed: int, epoch: int) -> int:
    """The unit a rank reads in place of the one it lacks in the partial round."""
    full = num_units // world_size
    for k in order[:2]:  # only one round is partial: one of the first two is full
        if k < full:
            return _unit_of(k, rank, world_size, shuffle, seed, epoch)
    return rank % num_units


def quotas(rounds: Sequence[int], sizes: Sequence[int], world_size: int,
           even: Optional[str]) -> Optional[list[int]]:
    """Samples to take in each of ``rounds`` (``None`` when units are read whole).

    ``sizes[u]`` is the number of samples of unit ``u`` (listing order).
    """
    if even is None:
        return None
    pick = max if even == "pad" else min
    n = len(sizes)
    out = []
    for k in rounds:
        first = k * world_size
        out.append(pick(sizes[first:min(first + world_size, n)], default=0))
    return out


def spread(quota: int, sizes: Sequence[int]) -> list[tuple[int, int]]:
    """``(member, samples)`` visits that take ``quota`` samples from members read in order.

    Each visit reads member ``i`` from its start, at most ``sizes[i]`` samples; members
    are read again, in order, until the quota is met (none are read when all are empty).
    """
    out: list[tuple[int, int]] = []
    left = quota
    if left <= 0 or not any(sizes):
        return out
    while left > 0:
        for i, size in enumerate(sizes):
            if left == 0:
                break
            if size > 0:
                take = min(size, left)
                out.append((i, take))
                left -= take
    return out


def visits(pairs: Sequence[tuple[int, int]], sizes: Sequence[int], world_size: int,
           even: Optional[str], rank_units: Sequence[int] = ()
           ) -> list[tuple[int, Optional[int]]]:
    """``(unit, samples)`` reads of a reader's ``(round, unit)`` pairs under ``even``.

    ``samples`` is ``None`` where a unit is read whole; otherwise no more than the unit's
    size, so a unit whose quota exceeds its size appears again (its next lap). The quota
    of an empty unit is taken from the reader's other units in order, or when they are
    all empty from ``rank_units`` (the rank's), or else from all units.
    """
    wanted = quotas([k for k, _ in pairs], sizes, world_size, even)
    if wanted is None:
        return [(u, None) for _, u in pairs]
    mine = [u for _, u in pairs]
    fallback: Optional[list[int]] = None
    out: list[tuple[int, Optional[int]]] = []
    for u, q in zip(mine, wanted, strict=True):
        if sizes[u]:
            out += [(u, take) for _, take in spread(q, [sizes[u]])]
            continue
        if fallback is None:
            fallback = next((list(c) for c in (mine, rank_units, range(len(sizes)))
                             if any(sizes[v] for v in c)), [])
        out += [(fallback[i], take) for i, take in spread(q, [sizes[v] for v in fallback])]
    return out


def rank_total(sizes: Sequence[int], world_size: int, even: Optional[str],
               rank: int = 0) -> int:
    """Samples a rank yields in an epoch, all its workers together.

    The same for every rank unless ``even`` is ``None``; the same in every epoch.
    """
    n = len(sizes)
    pairs = deal(n, rank, world_size, even=even)
    wanted = quotas([k for k, _ in pairs], sizes, world_size, even)
    if wanted is None:
        return sum(sizes[u] for _, u in pairs)
    return sum(wanted)


def ends(wanted: Optional[Sequence[int]]) -> Optional[list[int]]:
    """Running totals of ``wanted``: a reader stops unit ``i`` once it has taken ``ends[i]``."""
    return None if wanted is None else list(accumulate(wanted))


def _check_position(value: int, count: int, what: str) -> None:
    if count < 1 or not 0 <= value < count:
        raise ValueError(f"{what} {value} out of range for {count}")
