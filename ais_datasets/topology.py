"""Where this process sits in a training job, and pure functions that split work.

One function, :func:`current_topology`, answers "which rank and which DataLoader worker
am I"; everything else here is a pure function of integers, unit-tested without a
DataLoader or a process group::

    topo = current_topology()                     # e.g. rank 1 of 2, worker 0 of 4
    order = permutation(len(shards), seed=0, epoch=3)

How units are dealt to ranks and workers, with equal work per rank, is
:mod:`ais_datasets.shares`.

The splitting rule. Data is split across ranks when

1. the dataset was given ``rank=`` and ``world_size=`` (explicit keywords win; pass
   ``rank=0, world_size=1`` to read everything on every rank, e.g. for a rank-0-only
   evaluation or a tensor-parallel group whose members must see the same data), or
2. ``torch.distributed`` is initialised with a world size above 1 (its rank and world
   size; a spawned DataLoader worker, where the process group does not exist, uses the
   values its main process had when the worker started), or
3. the user opted in with ``ranks_from_env=True`` and the ``RANK`` / ``WORLD_SIZE``
   environment variables are set (launchers such as ``torchrun`` set them).

Otherwise every process reads everything: the environment alone, say a stale
``WORLD_SIZE`` in a notebook, does not split the data. The worker id and count come from
``torch.utils.data.get_worker_info()`` (0 and 1 outside a DataLoader worker). A *slot* is
one (rank, worker) pair: ``slot = rank * num_workers + worker_id`` of ``num_slots =
world_size * num_workers``. Every rank must use the same ``num_workers``.

torch is imported lazily, so this module works without it.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Topology:
    """The position of one reading process: a DDP rank and a DataLoader worker."""

    rank: int = 0
    world_size: int = 1
    worker_id: int = 0
    num_workers: int = 1

    @property
    def slot(self) -> int:
        """Index of this (rank, worker) pair among all readers of the job."""
        return self.rank * self.num_workers + self.worker_id

    @property
    def num_slots(self) -> int:
        """Number of readers in the job: ranks times workers per rank."""
        return self.world_size * self.num_workers

    @property
    def in_worker(self) -> bool:
        """True inside a DataLoader worker process."""
        return self.num_workers > 1 or self.worker_id > 0

    def slots_of_rank(self) -> range:
        """The slots that belong to this process's rank (one per worker)."""
        first = self.rank * self.num_workers
        return range(first, first + self.num_workers)


def _int_env(name: str) -> Optional[int]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def rank_and_world_size(rank: Optional[int] = None, world_size: Optional[int] = None, *,
                        from_env: bool = False,
                        inherited: Optional[tuple[int, int]] = None) -> tuple[int, int]:
    """Return ``(rank, world_size)`` for this process by the splitting rule (module doc).

    Explicit arguments win; then an initialised ``torch.distributed`` process group; then
    ``inherited`` (what the main process resolved, for a spawned DataLoader worker); then,
    only with ``from_env``, the ``RANK``/``WORLD_SIZE`` environment variables; then
    ``(0, 1)``. Raises ``ValueError`` when the result is inconsistent (``not 0 <= rank <
    world_size``) or an environment variable is not an integer.
    """
    if rank is None or world_size is None:
        found_rank, found_world = _from_torch_distributed()
        if found_world is None and inherited is not None:
            found_rank, found_world = inherited
        if found_world is None and from_env:
            found_rank, found_world = _int_env("RANK"), _int_env("WORLD_SIZE")
        if world_size is None:
            world_size = found_world if found_world is not None else 1
        if rank is None:
            rank = found_rank if found_rank is not None and found_world is not None else 0
    rank, world_size = int(rank), int(world_size)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"invalid rank {rank} for world size {world_size}")
    return rank, world_size


def _from_torch_distributed() -> tuple[Optional[int], Optional[int]]:
    dist = sys.modules.get("torch.distributed")
    if dist is None:
        try:
            import torch.distributed as dist  # noqa: PLC0415 - optional dependency
        except ImportError:
            return None, None
    try:
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
    except (RuntimeError, ValueError):
        pass
    return None, None


def _worker_info():
    data = sys.modules.get("torch.utils.data")
    if data is None:
        try:
            import torch.utils.data as data  # noqa: PLC0415 - optional dependency
        except ImportError:
            return None
    return data.get_worker_info()


def worker_id_and_count() -> tuple[int, int]:
    """Return ``(worker_id, num_workers)`` of the current DataLoader worker, or (0, 1)."""
    info = _worker_info()
    if info is None:
        return 0, 1
    return info.id, info.num_workers


def in_dataloader_worker() -> bool:
    """True inside a DataLoader worker process (even the only one)."""
    return _worker_info() is not None


def current_topology(rank: Optional[int] = None, world_size: Optional[int] = None, *,
                     from_env: bool = False,
                     inherited: Optional[tuple[int, int]] = None) -> Topology:
    """The :class:`Topology` of the calling process (see the module docstring)."""
    rank, world_size = rank_and_world_size(rank, world_size, from_env=from_env,
                                           inherited=inherited)
    worker_id, num_workers = worker_id_and_count()
    return Topology(rank, world_size, worker_id, num_workers)


# --------------------------------------------------------------------------- shuffling

def mix64(*values: int) -> int:
    """A 64-bit hash of a tuple of integers (splitmix64 rounds); stable everywhere."""
    h = 0x6A09E667F3BCC909
    for v in values:
        h = (h ^ (int(v) & _MASK64)) & _MASK64
        h = (h + 0x9E3779B97F4A7C15) & _MASK64
        z = h
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        h = z ^ (z >> 31)
    return h


def permutation(n: int, seed: int, epoch: int, *salt: int) -> list[int]:
    """A permutation of ``range(n)`` that depends only on ``(seed, epoch, *salt)``.

    Every process computing it with the same arguments gets the same list, which is what
    keeps splitting exact when ranks and workers shuffle independently.
    """
    order = list(range(n))
    random.Random(mix64(seed, epoch, *salt)).shuffle(order)
    return order


# ------------------------------------------------------------------ DataLoader accounting

def dataloader_resume_point(totals: Sequence[int], batch_size: int, samples_seen: int,
                            drop_last: bool = False, resumed_at: Sequence[int] = ()
                            ) -> tuple[list[int], int]:
    """Where each worker's stream stands, and which worker must serve the next batch.

    A ``torch.utils.data.DataLoader`` over an iterable dataset with ``len(totals)``
    workers asks the workers for batches in turn (worker 0, 1, ..., 0, 1, ...) and, once
    a worker runs dry, goes on with the others in the same cyclic order. ``totals[k]`` is
    the number of samples worker ``k`` yields in the epoch; ``samples_seen`` is the
    number of samples the training loop has received; with ``drop_last`` each worker's
    last partial batch is never delivered. The run may itself have been resumed this way
    at the cumulative sample counts in ``resumed_at``. Returns ``(consumed, first)``:
    ``consumed[k]`` samples of *role* ``k`` (the ``k``-th worker's share of the original
    run) were delivered, and a resumed DataLoader reproduces the original batch order
    when its worker ``w`` plays role ``(w + first) % len(totals)``.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    points = list(resumed_at) + [samples_seen]
    if any(p < 0 for p in points) or points != sorted(points):
        raise ValueError("samples_seen and resumed_at must be non-negative and increasing")
    n = len(totals)
    consumed = [0] * n
    first = 0
    previous = 0
    for point in points:
        roles = [(w + first) % n for w in range(n)]
        remaining = []
        for role in roles:
            left = totals[role] - consumed[role]
            remaining.append((left // batch_size) * batch_size if drop_last else left)
        taken, last_worker, partial = _serve(remaining, batch_size, point - previous)
        for w, role in enumerate(roles):
            consumed[role] += taken[w]
        if last_worker is not None:
            first = roles[last_worker] if partial else (roles[last_worker] + 1) % n
        previous = point
    return consumed, first


def _serve(remaining: list[int], batch_size: int, wanted: int
           ) -> tuple[list[int], Optional[int], bool]:
    """Hand out ``wanted`` samples round-robin: (taken per worker, last worker, partial)."""
    taken = [0] * len(remaining)
    rest = list(remaining)
    left = wanted
    last: Optional[int] = None
    partial = False
    while left > 0 and any(rest):
        for k in range(len(rest)):
            if rest[k] == 0:
                continue
            take = min(batch_size, rest[k], left)
            partial = take < min(batch_size, rest[k])
            taken[k] += take
            rest[k] -= take
            left -= take
            last = k
            if left == 0:
                break
    if left > 0:
        raise ValueError(f"samples_seen exceeds the samples the workers yield in this epoch "
                         f"({sum(remaining)} were left to serve, {wanted} requested)")
    return taken, last, partial
