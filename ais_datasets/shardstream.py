"""The reading loop shared by the shard readers: cursor, shuffle blocks, error policy.

A shard reader describes its work as a list of *units* for this slot (a shard, or a
tuple of matching shards) and a function that opens one unit at a cursor and yields
``(item, next_offsets)`` pairs. :class:`ShardStream` turns that into the reader's
samples::

    class Reader(ShardStream, IterableDataset):
        def _open_unit(self, unit, skip, offsets, status): ...
        def __iter__(self):
            topo, state = self._start_epoch()
            return self._iterate_units(my_units, state, salt=topo.slot)

Cursor. The state keys ``shard`` (unit number within this slot's list), ``shard_sample``
(items of that unit before the cursor), ``shard_offsets`` (byte offset of the cursor
in each of the unit's streams) and ``cursor_samples`` (items of the slot before the
cursor) say where reading resumes. A reader restarts a plain tar
shard with a byte-range GET at the offset, so resuming costs no re-download; compressed
or transformed shards are re-read from the start, skipping ``shard_sample`` items by
their headers. An offset of 0 with ``shard_sample > 0`` means "offset unknown".

Shuffle. With ``shuffle=True`` the reader fills a block of ``shuffle_buffer`` items (in
unit order, across unit boundaries), yields it in an order drawn from (seed, epoch, slot,
block number), and only then reads the next block: memory is bounded by one block, and
resuming re-reads at most one block. Without shuffle the block is a single item and
items stream straight through. The cursor in the state is the start of the current
block, and ``samples_seen % shuffle_buffer`` items of it have been yielded.

Read-ahead (keyword options ``readahead_bytes``, ``prefetch_shards``). Off by default:
the reader receives each shard's bytes itself, in 1 MiB pieces, while the kernel's socket
buffer keeps the rest of the shard coming. With ``readahead_bytes > 0`` one background
thread per stream position (:class:`~ais_datasets.readahead.ReadAhead`) receives the
bytes of this slot's units in order, holding at most ``readahead_bytes`` (split between
the streams of a unit) and opening at most ``prefetch_shards`` units beyond the one being
read, so memory stays bounded by the options whatever the shard size. Items, cursor,
shuffle order and error policy are exactly the same either way; the thread belongs to
one iteration and ends with it. It pays where fetching waits (a remote cluster, small
shards); on a 2-core host against a loopback server (the server, the thread and the
consumer then share two cores) it measured slower, hence the default.

Quotas (equal work across ranks, :mod:`ais_datasets.shares`). A reader may be given a
quota per unit: it stops reading a unit once it has taken that many items, and a unit
may appear more than once (read again from its start). When a unit gives fewer items
than its quota (a shard that is shorter than its listing said, or one the error policy
skipped), the following units make up the difference, and after the last one the
reader goes round its units again until the slot's total is met (a unit that failed in
this iteration is not read again: it counts once against the error budget); a whole round
that yields nothing ends the epoch short, with a :class:`~ais_datasets.errors.ShardReadWarning`
(a rank that yields less than the others can leave them waiting in a collective).

Errors. ``on_error="raise"`` (default) lets every error through: a malformed or truncated
shard raises :class:`~ais_datasets.errors.ShardReadError` naming the shard and byte
offset; HTTP and SDK errors keep their own type. Transient failures never get that far:
requests are retried and cut bodies resumed by the reader's ``retry`` policy
(:mod:`ais_datasets.retry`). ``"warn"`` and ``"skip"`` drop the rest of a failed unit and go
on with the next one (``"warn"`` also issues a
:class:`~ais_datasets.errors.ShardReadWarning`), within the reader's ``error_budget``, and
never for a missing bucket, a refused credential or a programming error
(:mod:`ais_datasets.failures`). :attr:`ShardStream.error_stats` counts failed units,
the samples lost with them (the unit's sample count from the listing when the reader
knows it, less the samples already yielded; otherwise the sample that was being read),
and shards that ended without end-of-archive blocks, summed over the DataLoader worker
processes (:class:`~ais_datasets.failures.SharedStats`).

Integrity. With ``verify_checksum`` (default) a unit read with its own GET from byte 0
is hashed as it streams and checked against the checksum of the reply once its last
member has been read (the padding after the end-of-archive blocks is read for that).
Its samples have been yielded by then: a mismatch fails the unit *after* them (under
``on_error``, counted in ``shards_failed``), it cannot take them back. A stream that
resumes a cursor at a byte offset, an ETL's output and a shard that comes from a
GetBatch reply (which carries no per-entry checksum) are not checked. A shard that ends
on a member boundary without its end-of-archive blocks (it may have lost members at its
end) is reported: a ``ShardReadWarning`` (not with ``"skip"``) and ``shards_unterminated``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Optional

from ais_datasets.errors import ShardReadError, ShardReadWarning
from ais_datasets.failures import DEFAULT_BUDGET, Budget, SharedStats, skippable
from ais_datasets.readahead import ReadAhead
from ais_datasets.reading import ObjectStream, can_seek
from ais_datasets.resumable import Resumable
from ais_datasets.retry import RetryPolicy, check
from ais_datasets.tario import READ_SIZE
from ais_datasets.topology import permutation
from ais_datasets.unitreader import NOTHING, UnitItems, UnitReader

ON_ERROR = ("raise", "warn", "skip")
READAHEAD_BYTES = 0
PREFETCH_SHARDS = 1

class ShardStream(Resumable):
    """Mixin: shard cursor, block shuffle and error policy for shard readers."""

    def _init_shard_stream(self, *, on_error: str, shuffle_buffer: int,
                           readahead_bytes: int = READAHEAD_BYTES,
                           prefetch_shards: int = PREFETCH_SHARDS,
                           error_budget=DEFAULT_BUDGET, retry: Optional[RetryPolicy] = None,
                           verify_checksum: bool = True) -> None:
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, not {on_error!r}")
        if int(shuffle_buffer) < 1:
            raise ValueError("shuffle_buffer must be at least 1")
        if int(readahead_bytes) < 0 or int(prefetch_shards) < 0:
            raise ValueError("readahead_bytes and prefetch_shards must not be negative")
        self._on_error = on_error
        self._shuffle_buffer = int(shuffle_buffer)
        self._readahead_bytes = int(readahead_bytes)
        self._prefetch_shards = int(prefetch_shards)
        self._budget = Budget(error_budget)
        self._retry = check(retry)
        self._verify = bool(verify_checksum)
        self._stats = SharedStats()

    # ----------------------------------------------------------------- errors

    @property
    def error_stats(self) -> dict[str, Any]:
        """``{"shards_failed", "samples_skipped", "shards_unterminated", "last_error"}``,
        summed over this process and the DataLoader workers reading this dataset."""
        return self._stats.totals()

    def reset_error_stats(self) -> None:
        """Zero :attr:`error_stats` (while no DataLoader worker is reading)."""
        self._stats.reset()

    def _unit_failed(self, err: BaseException, unit_name: str, lost: int) -> None:
        """Apply the error policy to a failed unit; returns only when reading goes on."""
        if self._on_error == "raise" or not skippable(err):
            raise err
        message = str(err) if isinstance(err, ShardReadError) else \
            f"{unit_name}: {type(err).__name__}: {err}"
        self._stats.add(message, shards_failed=1, samples_skipped=lost)
        if self._on_error == "warn":
            warnings.warn(f"skipping the rest of a shard: {message}", ShardReadWarning,
                          stacklevel=3)

    def _unit_sample_count(self, unit: Any) -> Optional[int]:
        """Items in ``unit`` when the reader knows (or can list) them; None otherwise."""
        return None

    def _finish_tar(self, tar, name: str) -> None:
        """At the end of a unit's stream: read its tail (so that its checksum is checked)
        and report a missing end-of-archive."""
        tar.drain()
        if not tar.terminated:
            message = (f"{name}: the shard ends at byte {tar.offset} on a member boundary "
                       f"without its end-of-archive blocks; members at its end may be "
                       f"missing")
            self._stats.add(message, shards_unterminated=1)
            if self._on_error != "skip":
                warnings.warn(message, ShardReadWarning, stacklevel=3)

    # ----------------------------------------------------------------- cursor

    def _initial_cursor(self) -> dict[str, Any]:
        return {"shard": 0, "shard_sample": 0, "shard_offsets": [], "cursor_samples": 0}

    def _block_size(self) -> int:
        return self._shuffle_buffer if self._shuffle else 1

    def _cursor_from_counts(self, counts: Sequence[int], samples: int) -> dict[str, Any]:
        """Cursor for a slot whose units hold ``counts`` items, ``samples`` yielded."""
        position = (samples // self._block_size()) * self._block_size()
        taken = position
        for unit, count in enumerate(counts):
            if position < count:
                return {"shard": unit, "shard_sample": position, "shard_offsets": [],
                        "cursor_samples": taken}
            position -= count
        return {"shard": len(counts), "shard_sample": 0, "shard_offsets": [],
                "cursor_samples": taken}

    # ----------------------------------------------------------------- the loop

    def _open_unit(self, unit: Any, skip: int, offsets: list[int], status: dict[str, bool],
                   feeds: Optional[list[Iterator[bytes]]] = None) -> UnitItems:
        """Yield ``(item, next_offsets)`` for ``unit`` from the cursor on.

        ``feeds``: when read-ahead is on, the bytes of each of :meth:`_unit_streams`,
        from :meth:`_start_offsets` on, already being fetched (use them instead of GETs).
        """
        raise NotImplementedError

    def _unit_streams(self, unit: Any) -> list[tuple[Any, Optional[str]]]:
        """``(object, etl_name)`` of each stream a unit reads (empty: no read-ahead)."""
        return []

    def _streamable(self, obj: Any) -> bool:
        """Whether ``obj`` is read as one byte stream (else it gets no read-ahead)."""
        return True

    def _start_offsets(self, unit: Any, offsets: list[int]) -> list[int]:
        """Byte offset each stream of ``unit`` starts at for the cursor ``offsets``."""
        streams = self._unit_streams(unit)
        if len(offsets) != len(streams):
            return [0] * len(streams)
        return [off if off > 0 and can_seek(obj, etl) else 0
                for (obj, etl), off in zip(streams, offsets, strict=True)]

    def _lanes(self, units: Sequence[Any], first: int, offsets: list[int]
               ) -> Optional[list[ReadAhead]]:
        """One read-ahead lane per stream position, over ``units[first:]``.

        Without read-ahead, a reader may still feed its units from
        :meth:`_batch_lanes` (GetBatch of whole shards).
        """
        if first >= len(units):
            return None
        if self._readahead_bytes <= 0:
            return self._batch_lanes(units, first, offsets)
        width = len(self._unit_streams(units[first]))
        if width == 0:
            return None
        budget = max(1, self._readahead_bytes // width)
        piece = min(READ_SIZE, max(64 * 1024, budget // 2))

        def openers(k: int):
            for u in range(first, len(units)):
                streams = self._unit_streams(units[u])
                starts = self._start_offsets(units[u], offsets) if u == first \
                    else [0] * len(streams)
                obj, etl = streams[k]
                if not self._streamable(obj):
                    yield _no_stream
                else:
                    yield lambda obj=obj, etl=etl, at=starts[k]: ObjectStream(
                        obj, etl, at, chunk=piece, policy=self._retry,
                        verify=self._verify)

        return [ReadAhead(openers(k), budget=budget, ahead=self._prefetch_shards,
                          piece=piece) for k in range(width)]

    def _batch_lanes(self, units: Sequence[Any], first: int, offsets: list[int]
                     ) -> Optional[list[Any]]:
        """Lanes that batch the GETs of ``units[first:]`` (none by default)."""
        return None

    def _unit_specs(self, units: Sequence[Any], first: int, offsets: list[int],
                    k: int = 0) -> UnitSpecs:
        """``(object, etl_name, start offset)`` of stream ``k`` of ``units[first:]``."""
        return UnitSpecs(self, units, first, offsets, k)

    def _unit_name(self, unit: Any) -> str:
        return str(unit)

    def _emit(self, item: Any) -> Any:
        return item

    def _iterate_units(self, units: Sequence[Any], state: dict[str, Any], salt: int,
                       quotas: Optional[Sequence[int]] = None) -> Iterator[Any]:
        """Yield the items of ``units`` from the cursor in ``state``, updating it.

        ``quotas``: items to take from each unit (``None``: every unit whole).
        """
        if state.get("end_of_epoch"):
            return
        block_size = self._block_size()
        block_no, skip = divmod(state["samples_seen"], block_size)
        state.setdefault("cursor_samples", block_no * block_size)
        reader = UnitReader(self, units, state, quotas)
        emit = self._emit
        epoch = state["epoch"]
        try:
            if block_size == 1:  # no shuffle: items stream straight through
                take_one = reader.take_one
                while True:
                    item = take_one()
                    if item is NOTHING:
                        state.update(reader.cursor())
                        self._finished(state)
                        return
                    state["samples_seen"] += 1
                    state["shard"] = reader.unit
                    state["shard_sample"] = reader.sample
                    state["shard_offsets"] = reader.offsets
                    state["cursor_samples"] = reader.taken
                    yield emit(item)
            while True:
                block = reader.take(block_size)
                end = reader.cursor()
                if not block:
                    state.update(end)
                    self._finished(state)
                    return
                order = permutation(len(block), self._seed, epoch, salt, block_no)
                last = len(block) - 1
                for j in range(skip, len(block)):
                    state["samples_seen"] += 1
                    if j == last:
                        state.update(end)
                    yield emit(block[order[j]])
                state.update(end)
                block_no += 1
                skip = 0
        finally:
            reader.close()


class UnitSpecs(Sequence):
    """``(object, etl_name, start offset)`` of one stream position of units, on demand.

    The first unit starts at the cursor's offset; the others at 0.
    """

    def __init__(self, owner: ShardStream, units: Sequence[Any], first: int,
                 offsets: list[int], k: int) -> None:
        self._owner, self._units, self._first = owner, units, first
        self._offsets, self._k = offsets, k

    def __len__(self) -> int:
        return len(self._units) - self._first

    def __getitem__(self, i: int) -> tuple[Any, Optional[str], int]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        unit = self._units[self._first + i]
        obj, etl_name = self._owner._unit_streams(unit)[self._k]
        start = self._owner._start_offsets(unit, self._offsets)[self._k] if i == 0 else 0
        return obj, etl_name, start


def _no_stream() -> None:
    return None
