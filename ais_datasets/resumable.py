"""Epochs, rank splitting options and resumable state for the iterable datasets.

Every iterable class mixes in :class:`Resumable`. It owns the keyword-only options
``shuffle``, ``seed``, ``rank``, ``world_size``, ``ranks_from_env`` and ``even_ranks``,
the epoch (``set_epoch``) and the ``state_dict()`` / ``load_state_dict()`` pair::

    for epoch in range(3):
        for sample in ds: ...             # epochs 0, 1, 2: each iteration starts the next
    saved = ds.state_dict()               # plain ints / lists: pickle or json it
    ds2.load_state_dict(saved)            # the next iter(ds2) yields the rest, in order

Ranks: the splitting rule is in :mod:`ais_datasets.topology`; how units are dealt and
what ``even_ranks`` (``"pad"``, default; ``"drop"``; ``None``) does is in
:mod:`ais_datasets.shares`. Equal work applies whenever the data is split across ranks.

Epochs advance by themselves. Each iteration of the dataset (in this process, or in a
DataLoader worker, persistent or not) starts the next epoch: 0, 1, 2, ... (see
:mod:`ais_datasets.epochs` for how workers and the main process share the count).
``set_epoch(e)`` pins the epoch: every iteration uses ``e`` until ``set_epoch`` is
called again, and with ``persistent_workers=True`` the workers see it too. Call it each
epoch (the ``DistributedSampler`` habit) to make the order independent of how many times
the dataset was iterated. ``epoch`` is the epoch of the iteration in progress or last
started (before any: the next one).

State contract
--------------
``state_dict()`` describes the reader *in this process*: ``{"epoch", "samples_seen",
"slot", "num_slots", "data_slot", ...}`` where ``samples_seen`` counts the samples this
process's slot (one rank x worker pair) has yielded in the epoch, and the other keys are
the class's cursor (e.g. a shard number and byte offset); ``"end_of_epoch": True`` marks
a finished epoch. This is what ``torchdata.stateful_dataloader.StatefulDataLoader``
collects from each worker and hands back to each worker, and what a loop over the
dataset itself (no DataLoader, or ``num_workers=0``) uses directly. Loading a state whose
``slot``/``num_slots`` differ from the loading process's raises ``ValueError``.

``load_state_dict`` also accepts the *loader-level* form ``{"epoch": e, "samples_seen":
n}`` with optional ``"batch_size"`` (default 1), ``"drop_last"`` (the DataLoader's,
default False) and ``"resumed_at"`` (default ``[]``), for a plain
``torch.utils.data.DataLoader`` whose workers cannot report state. ``n`` is the number
of samples the training loop received from this rank's DataLoader since the start of the
epoch. A DataLoader asks its workers for batches round-robin, so each worker can replay
that order (:func:`~ais_datasets.topology.dataloader_resume_point`) to find how many
samples of each worker's share were delivered. The new DataLoader's worker ``w`` then
takes over the share of the worker that was due next, plus ``w`` positions on, so
batches come out in the original order (the state's ``data_slot`` names the share a
process reads). This needs every worker's sample count for the epoch, which a reader
gets from its listing (shard readers: one ARCH_DIR listing). Rules: pass the
``batch_size`` and ``drop_last`` the DataLoader used; stop on a batch boundary for the
exact original order (mid-batch, the same samples follow but batches regroup); when a run
that was itself resumed this way is interrupted again in the same epoch, list the
earlier ``samples_seen`` values in ``resumed_at``; load the state before the
DataLoader's iterator is created.

Loading restores the epoch: the next iteration continues epoch ``e`` where the state
left it, later ones are ``e + 1``, ... (loading unpins a ``set_epoch``). A loaded state
is used once per reader (the main process, or each DataLoader worker): a later iteration
of the same epoch, e.g. with ``set_epoch`` pinning it, reads the epoch from its start.
Loading a finished epoch's state makes the next iteration start epoch ``e + 1``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from multiprocessing.context import get_spawning_popen
from typing import Any, Optional

from ais_datasets.epochs import EpochClock, reader_number
from ais_datasets.shares import check_even
from ais_datasets.topology import (
    Topology,
    current_topology,
    dataloader_resume_point,
    in_dataloader_worker,
    rank_and_world_size,
    worker_id_and_count,
)


class Resumable:
    """Mixin for iterable datasets; subclasses implement the hooks at the end."""

    def _init_resumable(self, *, shuffle: bool = False, seed: int = 0,
                        rank: Optional[int] = None, world_size: Optional[int] = None,
                        ranks_from_env: bool = False,
                        even_ranks: Optional[str] = "pad") -> None:
        self._shuffle = bool(shuffle)
        self._seed = int(seed)
        self._epoch = 0  # the epoch of this process's current iteration
        self._clock = EpochClock()
        self._rank_override = rank
        self._world_size_override = world_size
        self._ranks_from_env = bool(ranks_from_env)
        self._inherited_ranks: Optional[tuple[int, int]] = None
        self._even = check_even(even_ranks)
        self._pending_state: Optional[dict[str, Any]] = None
        self._pending_load: Optional[int] = None
        self._state: Optional[dict[str, Any]] = None
        if rank is not None or world_size is not None:
            self._topology()  # validate the overrides early

    # ----------------------------------------------------------------- public API

    @property
    def epoch(self) -> int:
        """The epoch of the iteration in progress or last started (before any: the next)."""
        return self._clock.current(self._reader())

    def set_epoch(self, epoch: int) -> None:
        """Pin the epoch: every iteration uses ``epoch`` until the next ``set_epoch``."""
        epoch = int(epoch)
        if self._pending_state is not None and self._pending_state["epoch"] != epoch:
            self._pending_state = None
        if self._state is not None and self._state["epoch"] != epoch:
            self._state = None
        self._clock.pin(epoch)
        self._epoch = epoch

    def state_dict(self) -> dict[str, Any]:
        """The resumable position of this process's reader (see the module docstring)."""
        if self._state is not None:
            return copy.deepcopy(self._state)
        if self._pending_state is not None:
            return copy.deepcopy(self._pending_state)
        return self._fresh_state(self._topology(), epoch=self.epoch)

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Resume from ``state_dict`` on the next ``iter()`` (see the module docstring)."""
        if not isinstance(state_dict, Mapping):
            raise TypeError("state_dict must be a mapping")
        state = copy.deepcopy(dict(state_dict))
        for key in ("epoch", "samples_seen"):
            if not isinstance(state.get(key), int) or state[key] < 0:
                raise ValueError(f"state_dict needs a non-negative int {key!r}")
        epoch = state["epoch"]
        if state.get("end_of_epoch"):
            epoch += 1
            self._pending_state, self._pending_load = None, None
        else:
            self._pending_state, self._pending_load = state, self._clock.new_load()
        worker = in_dataloader_worker()
        self._clock.restart(epoch, self._reader(), shared=not worker)
        self._epoch = epoch
        self._state = None

    @property
    def even_ranks(self) -> Optional[str]:
        """The equal-work policy: ``"pad"``, ``"drop"`` or ``None``."""
        return self._even

    # ----------------------------------------------------------------- for subclasses

    def _topology(self) -> Topology:
        inherited = self._inherited_ranks if in_dataloader_worker() else None
        return current_topology(self._rank_override, self._world_size_override,
                                from_env=self._ranks_from_env, inherited=inherited)

    def _even_for(self, topo: Topology) -> Optional[str]:
        """The policy in effect: equal work only applies across ranks."""
        return self._even if topo.world_size > 1 else None

    @staticmethod
    def _reader() -> int:
        return reader_number(worker_id_and_count()[0], in_dataloader_worker())

    def _fresh_state(self, topo: Topology, data: Optional[Topology] = None,
                     epoch: Optional[int] = None) -> dict[str, Any]:
        data = topo if data is None else data
        state = {"epoch": self._epoch if epoch is None else epoch, "samples_seen": 0,
                 "slot": topo.slot, "num_slots": topo.num_slots, "data_slot": data.slot}
        state.update(self._initial_cursor())
        return state

    def _start_epoch(self) -> tuple[Topology, dict[str, Any]]:
        """Begin an iteration: its epoch, topology and the live state it updates.

        Returns the topology whose share of the data this process reads (its own, or
        after a loader-level resume the share of the worker it stands in for) and the
        live state dict (its ``"epoch"`` is the iteration's epoch).
        """
        topo = self._topology()
        reader = self._reader()
        epoch = self._clock.begin(reader)
        self._epoch = epoch
        pending, self._pending_state = self._pending_state, None
        if pending is not None and (pending["epoch"] != epoch or (
                self._pending_load is not None
                and not self._clock.claim(reader, self._pending_load))):
            pending = None
        if pending is None:
            data, state = topo, self._fresh_state(topo, epoch=epoch)
        elif "slot" in pending:
            if (pending["slot"], pending.get("num_slots")) != (topo.slot, topo.num_slots):
                raise ValueError(
                    f"state_dict was saved by slot {pending['slot']} of "
                    f"{pending.get('num_slots')} readers; this process is slot {topo.slot} "
                    f"of {topo.num_slots} (rank x worker); use the same world size and "
                    f"num_workers, or the loader-level form {{'epoch', 'samples_seen'}}")
            data = self._data_topology(topo, int(pending.get("data_slot", topo.slot)))
            state = self._fresh_state(topo, data, epoch)
            state.update(pending)
        else:
            data, state = self._state_from_loader(topo, pending, epoch)
        self._state = state
        return data, state

    @staticmethod
    def _finished(state: dict[str, Any]) -> None:
        """Mark the live state of an iteration that reached the end of its epoch."""
        state["end_of_epoch"] = True

    @staticmethod
    def _data_topology(topo: Topology, data_slot: int) -> Topology:
        if data_slot not in topo.slots_of_rank():
            raise ValueError(f"data_slot {data_slot} is not a slot of rank {topo.rank}")
        return Topology(topo.rank, topo.world_size, data_slot - topo.rank * topo.num_workers,
                        topo.num_workers)

    def _state_from_loader(self, topo: Topology, loader: dict[str, Any], epoch: int
                           ) -> tuple[Topology, dict[str, Any]]:
        seen = loader["samples_seen"]
        batch_size = int(loader.get("batch_size", 1))
        resumed_at = [int(p) for p in loader.get("resumed_at", ())]
        if topo.num_workers == 1:
            data, mine = topo, seen
        else:
            totals = self._slot_totals(topo, list(topo.slots_of_rank()))
            consumed, first = dataloader_resume_point(
                totals, batch_size, seen, bool(loader.get("drop_last", False)), resumed_at)
            role = (topo.worker_id + first) % topo.num_workers
            data = Topology(topo.rank, topo.world_size, role, topo.num_workers)
            mine = consumed[role]
        state = self._fresh_state(topo, data, epoch)
        state.update(self._cursor_after(data, mine))
        state["samples_seen"] = mine
        return data, state

    def _initial_cursor(self) -> dict[str, Any]:
        """Class-specific state keys at the start of an epoch."""
        return {}

    def _slot_totals(self, topo: Topology, slots: list[int]) -> list[int]:
        """Samples each of ``slots`` yields in the current epoch (for loader-level state)."""
        raise NotImplementedError(f"{type(self).__name__} cannot resume from a "
                                  f"loader-level state with several workers")

    def _cursor_after(self, topo: Topology, samples: int) -> dict[str, Any]:
        """Cursor keys for this slot after it has yielded ``samples`` samples."""
        return {}

    # ----------------------------------------------------------------- pickling

    def __getstate__(self):
        state = self.__dict__.copy()
        if get_spawning_popen() is not None:
            # a DataLoader worker starting: it has no process group, so hand it the ranks
            # this process sees (fork workers inherit torch.distributed's state instead)
            state["_inherited_ranks"] = rank_and_world_size(
                self._rank_override, self._world_size_override,
                from_env=self._ranks_from_env, inherited=self._inherited_ranks)
        return state
