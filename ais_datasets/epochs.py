"""Epoch numbers that advance by themselves, shared by a dataset and its DataLoader workers.

Every iteration of a dataset (an ``iter()`` in the main process, or in DataLoader worker
``w``) asks the dataset's :class:`EpochClock` for its epoch. Each *reader* (the main
process is reader 0, worker ``w`` is reader ``w + 1``) counts its own iterations::

    clock = EpochClock()
    [clock.begin(0) for _ in range(3)]      # [0, 1, 2]: auto-advance
    clock.pin(7); clock.begin(0)            # 7, and 7 again: set_epoch pins the epoch
    clock.restart(3); clock.begin(0)        # 3, then 4, ...: load_state_dict resumes

Why shared memory. A DataLoader worker reads a copy of the dataset: a forked copy of the
main process's memory, or (spawn, forkserver) an unpickled one, made anew each epoch
unless ``persistent_workers=True``, in which case the copy lives on and the main
process's ``set_epoch`` never reaches it. The clock's numbers therefore live in a small
``multiprocessing`` shared array made where the dataset is built: forked workers inherit
it and spawned ones receive it with the dataset while the process starts, so a worker's
``k``-th iteration since the last ``pin``/``restart`` has the same epoch whether its
process is new or persistent, ``set_epoch`` in the main process reaches persistent
workers, and the main process reads the epoch its workers are in. A plain copy (pickle,
``copy.deepcopy``) gets a private clock with the same numbers.

The same iteration count on every rank gives the same epoch on every rank, which is what
keeps the ranks' shuffled orders consistent: ranks that iterate the dataset a different
number of times (say an extra pass on rank 0 only) fall out of step unless ``set_epoch``
pins the epoch. Iterating one dataset both directly and through a DataLoader counts the
passes separately (reader 0 and readers 1..n).
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import get_spawning_popen

MAX_WORKERS = 1024

# global fields: pinned?, the pinned or restart epoch, its generation, loaded states
# handed out, and the latest epoch begun by any reader in that generation
_PINNED, _EPOCH, _GEN, _LOADS, _LATEST, _LATEST_GEN = range(6)
_HEAD = 6
# per reader: generation seen, next epoch, last loaded state claimed, generation begun in
_R_GEN, _R_NEXT, _R_LOAD, _R_BEGUN = range(4)
_PER_READER = 4
_SIZE = _HEAD + _PER_READER * (MAX_WORKERS + 1)


def reader_number(worker_id: int, in_worker: bool) -> int:
    """Reader 0 is the process that is not a DataLoader worker; worker ``w`` is ``w + 1``."""
    if not in_worker:
        return 0
    if not 0 <= worker_id < MAX_WORKERS:
        raise ValueError(f"worker id {worker_id}: the epoch clock serves at most "
                         f"{MAX_WORKERS} DataLoader workers")
    return worker_id + 1


class EpochClock:
    """Epoch bookkeeping of one dataset (see the module docstring)."""

    def __init__(self, epoch: int = 0) -> None:
        self._cells = multiprocessing.RawArray("q", _SIZE)
        self._cells[_EPOCH] = int(epoch)
        self._cells[_GEN] = 1  # readers (generation 0) start from _EPOCH

    # ------------------------------------------------------------------ writers

    def pin(self, epoch: int) -> None:
        """Every iteration from now on uses ``epoch`` (``set_epoch``)."""
        cells = self._cells
        cells[_EPOCH] = int(epoch)
        cells[_PINNED] = 1
        cells[_GEN] += 1

    def restart(self, epoch: int, reader: int = 0, shared: bool = True) -> None:
        """The next iteration uses ``epoch``, later ones advance from it; unpins.

        ``shared=False`` restarts only ``reader`` (a worker loading its own state, as
        torchdata's StatefulDataLoader has each worker do).
        """
        cells = self._cells
        if shared:
            cells[_EPOCH] = int(epoch)
            cells[_PINNED] = 0
            cells[_GEN] += 1
        else:
            base = self._base(reader)
            cells[base + _R_GEN] = cells[_GEN]
            cells[base + _R_NEXT] = int(epoch)
            cells[base + _R_BEGUN] = 0

    def new_load(self) -> int:
        """A number for a loaded state, larger than any a reader has claimed."""
        self._cells[_LOADS] += 1
        return self._cells[_LOADS]

    # ------------------------------------------------------------------ readers

    def begin(self, reader: int) -> int:
        """The epoch of ``reader``'s iteration that starts now."""
        cells = self._cells
        base = self._base(reader)
        gen = cells[_GEN]
        if cells[base + _R_GEN] != gen:
            cells[base + _R_GEN] = gen
            cells[base + _R_NEXT] = cells[_EPOCH]
        epoch = cells[_EPOCH] if cells[_PINNED] else cells[base + _R_NEXT]
        cells[base + _R_NEXT] = epoch + 1
        cells[base + _R_BEGUN] = gen
        if cells[_LATEST_GEN] != gen or cells[_LATEST] < epoch:
            cells[_LATEST], cells[_LATEST_GEN] = epoch, gen
        return epoch

    def claim(self, reader: int, load: int) -> bool:
        """True once per reader for loaded state number ``load`` (then False)."""
        cells = self._cells
        at = self._base(reader) + _R_LOAD
        if cells[at] >= load:
            return False
        cells[at] = load
        return True

    def current(self, reader: int = 0) -> int:
        """The epoch of the iteration in progress or last started; before any, the next.

        Reader 0 (the main process) also sees the iterations of its DataLoader workers.
        """
        cells = self._cells
        gen = cells[_GEN]
        if cells[_PINNED]:
            return cells[_EPOCH]
        if reader == 0:
            return cells[_LATEST] if cells[_LATEST_GEN] == gen else cells[_EPOCH]
        base = self._base(reader)
        if cells[base + _R_BEGUN] == gen and cells[base + _R_GEN] == gen:
            return cells[base + _R_NEXT] - 1
        return cells[base + _R_NEXT] if cells[base + _R_GEN] == gen else cells[_EPOCH]

    @property
    def pinned(self) -> bool:
        return bool(self._cells[_PINNED])

    @staticmethod
    def _base(reader: int) -> int:
        if not 0 <= reader <= MAX_WORKERS:
            raise ValueError(f"reader {reader} out of range")
        return _HEAD + _PER_READER * reader

    # ------------------------------------------------------------------ pickling

    def __getstate__(self):
        if get_spawning_popen() is not None:  # a worker process starting: share
            return {"cells": self._cells}
        return {"values": {i: v for i, v in enumerate(self._cells) if v}}

    def __setstate__(self, state) -> None:
        if "cells" in state:
            self._cells = state["cells"]
        else:
            self._cells = multiprocessing.RawArray("q", _SIZE)
            for i, v in state["values"].items():
                self._cells[i] = v
