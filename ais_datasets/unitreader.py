"""Reading a slot's units one item at a time: the cursor, quotas and the error policy.

:class:`~ais_datasets.shardstream.ShardStream` hands a :class:`UnitReader` the units
(shards, shard pairs or sources) of one reading slot and the cursor to start from; the
reader opens each unit through its owner, takes items until the unit's quota is met or it
ends, makes up short units in further rounds (equal work across ranks,
:mod:`ais_datasets.shares`), and applies the owner's error policy and budget to a unit
that fails (see :mod:`ais_datasets.shardstream` for the rules)::

    reader = UnitReader(stream, units, state, quotas)
    item = reader.take_one()          # NOTHING after the last unit
    reader.cursor()                   # the position after the last item taken
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Optional

from ais_datasets.errors import ShardReadWarning
from ais_datasets.failures import skippable
from ais_datasets.shares import ends

if TYPE_CHECKING:
    from ais_datasets.shardstream import ShardStream

# (item, offsets after it) pairs produced by a unit
UnitItems = Iterator[tuple[Any, list[int]]]

NOTHING = object()  # take_one's answer after the last unit


class UnitReader:
    """Pulls items unit after unit, keeping the cursor, quotas and the error policy."""

    def __init__(self, owner: ShardStream, units: Sequence[Any], state: dict[str, Any],
                 quotas: Optional[Sequence[int]] = None):
        self._owner = owner
        self._units = units
        self.unit = int(state["shard"])
        self.sample = int(state["shard_sample"])
        self.offsets = [int(o) for o in state["shard_offsets"]]
        self.taken = int(state["cursor_samples"])
        self._ends = ends(quotas)
        self._total = self._ends[-1] if self._ends else 0
        self._items: Optional[UnitItems] = None
        self._status: dict[str, bool] = {}
        self._unit_taken = 0  # items of the open unit taken by this reader
        self._idle = 0  # make-up units in a row that gave nothing
        self._failed = 0  # units failed in this iteration (the error budget)
        self._broken: set[int] = set()  # those units: make-up rounds do not read them again
        self._lanes = owner._lanes(units, self.unit, self.offsets)
        self._lane_next = self.unit  # the unit the lanes hand out next

    def cursor(self) -> dict[str, Any]:
        """The position after the last item taken (``offsets`` lists are never mutated)."""
        return {"shard": self.unit, "shard_sample": self.sample,
                "shard_offsets": list(self.offsets), "cursor_samples": self.taken}

    def _next_unit(self) -> None:
        self._close_items()
        if self.unit >= len(self._units):  # making up: count the units that gave nothing
            self._idle = 0 if self._unit_taken else self._idle + 1
        self.unit += 1
        self.sample = 0
        self.offsets = []
        self._unit_taken = 0

    def _end_of(self, unit: int) -> Optional[int]:
        """``taken`` at which ``unit`` stops (``None``: at its own end)."""
        if self._ends is None:
            return None
        return self._ends[unit] if unit < len(self._ends) else self._total

    def _more_units(self) -> bool:
        n = len(self._units)
        if self.unit < n:
            return True
        if self._ends is None or n == 0 or self.taken >= self._total or self._idle > n:
            return False
        if self._idle == n:  # a whole round of the units gave nothing: give up
            self._idle += 1
            warnings.warn(f"{n} units gave {self.taken} of the {self._total} samples this "
                          f"reader owes in the epoch (shards shorter than listed, or "
                          f"skipped by on_error); its rank yields fewer samples than "
                          f"the others", ShardReadWarning, stacklevel=4)
            return False
        return True

    def _feeds(self, unit: int) -> Optional[list[Iterator[bytes]]]:
        """The lanes' streams for ``unit`` when they hand it out next, else ``None``."""
        if not self._lanes or unit != self._lane_next or unit >= len(self._units):
            return None
        self._lane_next += 1
        return [lane.next_stream() for lane in self._lanes]

    def take_one(self) -> Any:
        """The next item, or ``NOTHING`` after the last unit."""
        while self._more_units():
            end = self._end_of(self.unit)
            if end is not None and self.taken >= end:  # quota met
                if self._items is None:
                    for feed in self._feeds(self.unit) or ():
                        feed.close()
                self._next_unit()
                continue
            items = self._items
            unit = self._units[self.unit % len(self._units)]
            if items is None and self.unit % len(self._units) in self._broken:
                self._next_unit()  # failed earlier in this iteration: gives nothing now
                continue
            if items is None:
                self._status = {"open": False}
                items = self._items = self._owner._open_unit(
                    unit, self.sample, self.offsets, self._status, self._feeds(self.unit))
            try:
                item, offsets = next(items)
            except StopIteration:
                self._next_unit()
                continue
            except Exception as err:  # noqa: BLE001 - the policy decides
                self._close_items()
                self._failed_unit(err)
                self._next_unit()
                continue
            self.sample += 1
            self.taken += 1
            self._unit_taken += 1
            self.offsets = offsets
            return item
        return NOTHING

    def _failed_unit(self, err: BaseException) -> None:
        """The error policy and the budget for the unit being read (returns to go on)."""
        owner = self._owner
        unit = self._units[self.unit % len(self._units)]  # make-up rounds go round again
        started = 1 if self._status.get("open") else 0
        if owner._on_error != "raise" and skippable(err):
            try:
                count = owner._unit_sample_count(unit)
            except Exception:  # noqa: BLE001 - counting is best effort (the network failed)
                count = None
            lost = max(started, count - self.sample) if count is not None else started
        else:
            lost = started
        owner._unit_failed(err, owner._unit_name(unit), lost)
        self._failed += 1
        self._broken.add(self.unit % len(self._units))
        owner._budget.check(self._failed, len(self._units), err)

    def take(self, n: int) -> list[Any]:
        out: list[Any] = []
        while len(out) < n:
            item = self.take_one()
            if item is NOTHING:
                break
            out.append(item)
        return out

    def _close_items(self) -> None:
        items, self._items = self._items, None
        if items is not None:
            close: Optional[Callable[[], None]] = getattr(items, "close", None)
            if close is not None:
                close()

    def close(self) -> None:
        self._close_items()
        lanes, self._lanes = self._lanes, None
        for lane in lanes or ():
            lane.close()
