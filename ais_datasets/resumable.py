"""Epochs, seeded shuffling options and resumable state for the iterable datasets.

Every iterable class mixes in :class:`Resumable`. It owns the keyword-only options
``shuffle``, ``seed``, ``rank`` and ``world_size``, the epoch counter (``set_epoch``) and
the ``state_dict()`` / ``load_state_dict()`` pair::

    ds.set_epoch(3)
    ...                                   # stopped after some samples
    saved = ds.state_dict()               # plain ints / lists: pickle or json it
    ds2.load_state_dict(saved)            # the next iter(ds2) yields the rest, in order

State contract
--------------
``state_dict()`` describes the reader *in this process*: ``{"epoch", "samples_seen",
"slot", "num_slots", "data_slot", ...}`` where ``samples_seen`` counts the samples this
process's slot (one rank x worker pair) has yielded in the epoch, and the other keys are
the class's cursor (e.g. a shard number and byte offset). This is what
``torchdata.stateful_dataloader.StatefulDataLoader`` collects from each worker and hands
back to each worker, and what a loop over the dataset itself (no DataLoader, or
``num_workers=0``) uses directly. Loading a state whose ``slot``/``num_slots`` differ
from the loading process's raises ``ValueError``.

``load_state_dict`` also accepts the *loader-level* form ``{"epoch": e, "samples_seen":
n}`` with optional ``"batch_size"`` (default 1), ``"drop_last"`` (default False) and
``"resumed_at"`` (default ``[]``), for a plain ``torch.utils.data.DataLoader`` whose
workers cannot report state. ``n`` is the number of samples the training loop received
from this rank's DataLoader since the start of the epoch. A DataLoader asks its workers
for batches round-robin, so each worker can replay that order
(:func:`~ais_datasets.topology.dataloader_resume_point`) to find how many samples of each
worker's share were delivered. The new DataLoader's worker ``w`` then takes over the share
of the worker that was due next, plus ``w`` positions on, so batches come out in the
original order (the state's ``data_slot`` names the share a process reads). This needs
every worker's sample count for the epoch, which a reader gets from its listing (shard
readers: one ARCH_DIR listing). Rules: pass the ``batch_size`` and ``drop_last`` the
DataLoader used; stop on a batch boundary for the exact original order (mid-batch, the
same samples follow but batches regroup); when a run that was itself resumed this way is
interrupted again in the same epoch, list the earlier ``samples_seen`` values in
``resumed_at``; load the state before the DataLoader's iterator is created.

A pending loaded state is used by the next ``iter()``; ``set_epoch`` with another epoch
discards it. After an epoch ends, ``state_dict()`` describes a finished epoch: loading
it yields nothing until ``set_epoch`` moves on.

Epochs and workers: ``set_epoch`` changes the object it is called on. DataLoader workers
receive a copy of the dataset when they start, so call ``set_epoch`` on the dataset before
iterating the DataLoader for that epoch; with ``persistent_workers=True`` the workers keep
the epoch they started with.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Optional

from ais_datasets.topology import Topology, current_topology, dataloader_resume_point


class Resumable:
    """Mixin for iterable datasets; subclasses implement the three hooks at the end."""

    def _init_resumable(self, *, shuffle: bool = False, seed: int = 0,
                        rank: Optional[int] = None,
                        world_size: Optional[int] = None) -> None:
        self._shuffle = bool(shuffle)
        self._seed = int(seed)
        self._epoch = 0
        self._rank_override = rank
        self._world_size_override = world_size
        self._pending_state: Optional[dict[str, Any]] = None
        self._state: Optional[dict[str, Any]] = None
        if rank is not None or world_size is not None:
            self._topology()  # validate the overrides early

    # ----------------------------------------------------------------- public API

    @property
    def epoch(self) -> int:
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch: with ``shuffle=True`` the order depends on (seed, epoch)."""
        epoch = int(epoch)
        if self._pending_state is not None and self._pending_state["epoch"] != epoch:
            self._pending_state = None
        if self._state is not None and self._state["epoch"] != epoch:
            self._state = None
        self._epoch = epoch

    def state_dict(self) -> dict[str, Any]:
        """The resumable position of this process's reader (see the module docstring)."""
        if self._state is not None:
            return copy.deepcopy(self._state)
        if self._pending_state is not None:
            return copy.deepcopy(self._pending_state)
        return self._fresh_state(self._topology())

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Resume from ``state_dict`` on the next ``iter()`` (see the module docstring)."""
        if not isinstance(state_dict, Mapping):
            raise TypeError("state_dict must be a mapping")
        state = copy.deepcopy(dict(state_dict))
        for key in ("epoch", "samples_seen"):
            if not isinstance(state.get(key), int) or state[key] < 0:
                raise ValueError(f"state_dict needs a non-negative int {key!r}")
        self._epoch = state["epoch"]
        self._pending_state = state
        self._state = None

    # ----------------------------------------------------------------- for subclasses

    def _topology(self) -> Topology:
        return current_topology(self._rank_override, self._world_size_override)

    def _fresh_state(self, topo: Topology, data: Optional[Topology] = None) -> dict[str, Any]:
        data = topo if data is None else data
        state = {"epoch": self._epoch, "samples_seen": 0, "slot": topo.slot,
                 "num_slots": topo.num_slots, "data_slot": data.slot}
        state.update(self._initial_cursor())
        return state

    def _start_epoch(self) -> tuple[Topology, dict[str, Any]]:
        """Resolve the starting point of an ``iter()``.

        Returns the topology whose share of the data this process reads (its own, or
        after a loader-level resume the share of the worker it stands in for) and the
        live state dict that the iteration updates.
        """
        topo = self._topology()
        pending, self._pending_state = self._pending_state, None
        if pending is None:
            data, state = topo, self._fresh_state(topo)
        elif "slot" in pending:
            if (pending["slot"], pending.get("num_slots")) != (topo.slot, topo.num_slots):
                raise ValueError(
                    f"state_dict was saved by slot {pending['slot']} of "
                    f"{pending.get('num_slots')} readers; this process is slot {topo.slot} "
                    f"of {topo.num_slots} (rank x worker); use the same world size and "
                    f"num_workers, or the loader-level form {{'epoch', 'samples_seen'}}")
            data = self._data_topology(topo, int(pending.get("data_slot", topo.slot)))
            state = self._fresh_state(topo, data)
            state.update(pending)
        else:
            data, state = self._state_from_loader(topo, pending)
        self._state = state
        return data, state

    @staticmethod
    def _data_topology(topo: Topology, data_slot: int) -> Topology:
        if data_slot not in topo.slots_of_rank():
            raise ValueError(f"data_slot {data_slot} is not a slot of rank {topo.rank}")
        return Topology(topo.rank, topo.world_size, data_slot - topo.rank * topo.num_workers,
                        topo.num_workers)

    def _state_from_loader(self, topo: Topology, loader: dict[str, Any]
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
        state = self._fresh_state(topo, data)
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
