"""What the error policy of the shard readers may pass over, how much of it, and the
counts of what it passed over, shared by every process that reads the dataset.

``on_error="warn"``/``"skip"`` lets a reader go on past a failed shard. This module owns
three rules around that (:mod:`ais_datasets.shardstream` applies them):

* **What may be skipped** (:func:`skippable`): an unreadable shard
  (:class:`~ais_datasets.errors.ShardReadError`, checksum mismatches and truncations
  included), a read that kept failing after its retries (connection errors, timeouts,
  ``ReadRetriesExhausted``, an ``AISError`` such as a missing object or a 5xx that
  persisted). Never: a missing bucket, a refused credential (401/403), or any other
  exception, which is a programming error (``TypeError``, ``KeyError``, ...). Those raise
  whatever ``on_error`` says.
* **How much** (:class:`Budget`, the readers' ``error_budget``): an ``int`` is the number
  of failed shards one reading process may skip in an epoch; a ``float`` in (0, 1] is a
  fraction of that process's shards for the epoch (rounded up, so at least one);
  ``None`` is no limit. One failure more raises
  :class:`~ais_datasets.errors.ErrorBudgetExceeded`, naming the count.
* **Counts across processes** (:class:`SharedStats`): ``error_stats`` in the main process
  sums what every DataLoader worker counted. The counters live in a small block of shared
  memory created with the dataset; worker processes inherit it (``fork``) or receive it
  while they are being started (``spawn``, ``forkserver``). Each process writes only its
  own slot (worker id + 1; 0 for the main process), so no lock crosses processes. A
  dataset pickled any other way (not to start a worker) takes fresh, local counters
  with it; worker ids beyond ``SLOTS - 2`` count in their own process only.
"""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.context
import threading
import time
from typing import Any, Optional, Union

from aistore.sdk.errors import AISError, ErrBckNotFound, ErrRemoteBckNotFound
from aistore.sdk.obj.obj_file.errors import ObjectFileReaderMaxResumeError
from requests.exceptions import RequestException

from ais_datasets.errors import ErrorBudgetExceeded, ShardReadError
from ais_datasets.retry import REQUEST_ERRORS

SLOTS = 66  # main process + 64 DataLoader workers (+1 spare)
_COUNTERS = ("shards_failed", "samples_skipped", "shards_unterminated")
_FIELDS = len(_COUNTERS) + 1  # + the time of the last error (ns)
_MESSAGE = 512  # bytes kept of a slot's last error
DEFAULT_BUDGET = 0.1


def skippable(err: BaseException) -> bool:
    """Whether ``on_error="warn"``/``"skip"`` may pass over ``err`` (module docstring)."""
    if isinstance(err, (ErrBckNotFound, ErrRemoteBckNotFound, ErrorBudgetExceeded)):
        return False
    if isinstance(err, AISError):
        return err.status_code not in (401, 403)
    return isinstance(err, (ShardReadError, ObjectFileReaderMaxResumeError, RequestException,
                            *REQUEST_ERRORS))


class Budget:
    """How many failed units one reading process may skip in one epoch."""

    def __init__(self, limit: Union[int, float, None]) -> None:
        if limit is not None and not isinstance(limit, (int, float)) or isinstance(limit, bool):
            raise TypeError(f"error_budget must be an int, a float or None, not {limit!r}")
        if isinstance(limit, float) and not 0.0 < limit <= 1.0:
            raise ValueError(f"error_budget as a fraction must be within (0, 1], not {limit}")
        if isinstance(limit, int) and limit < 0:
            raise ValueError(f"error_budget must not be negative, not {limit}")
        self.limit = limit

    def allowed(self, units: int) -> Optional[int]:
        """Failed units allowed among ``units`` (None: no limit)."""
        if self.limit is None:
            return None
        if isinstance(self.limit, float):
            return max(1, math.ceil(self.limit * units))
        return self.limit

    def check(self, failed: int, units: int, last: BaseException) -> None:
        """Raise ``ErrorBudgetExceeded`` once ``failed`` exceeds what is allowed."""
        allowed = self.allowed(units)
        if allowed is not None and failed > allowed:
            raise ErrorBudgetExceeded(
                f"{failed} of this reader's {units} shards failed this epoch, more than "
                f"error_budget={self.limit!r} allows ({allowed}); last: "
                f"{type(last).__name__}: {last}") from last


class SharedStats:
    """Error counters summed over the processes that read one dataset (module doc)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._numbers = multiprocessing.RawArray("q", SLOTS * _FIELDS)
        self._messages = multiprocessing.RawArray("c", SLOTS * _MESSAGE)
        self._local: Optional[dict[str, Any]] = None  # a worker without a slot

    def __getstate__(self):
        if multiprocessing.context.get_spawning_popen() is None:
            return {"shared": None}  # not starting a worker: the copy counts on its own
        return {"shared": (self._numbers, self._messages)}

    def __setstate__(self, state):
        self._lock = threading.Lock()
        self._local = None
        if state["shared"] is None:
            self._numbers = multiprocessing.RawArray("q", SLOTS * _FIELDS)
            self._messages = multiprocessing.RawArray("c", SLOTS * _MESSAGE)
        else:
            self._numbers, self._messages = state["shared"]

    @staticmethod
    def _slot() -> int:
        from torch.utils.data import get_worker_info  # noqa: PLC0415 - torch is loaded

        info = get_worker_info()
        return 0 if info is None else info.id + 1

    def add(self, message: str, **counts: int) -> None:
        """Add ``counts`` to this process's slot and record ``message`` as its last error."""
        slot = self._slot()
        with self._lock:
            if slot >= SLOTS - 1:
                local = self._local = self._local or _zero()
                for key, value in counts.items():
                    local[key] += value
                if message:
                    local["last_error"] = message
                return
            base = slot * _FIELDS
            for key, value in counts.items():
                self._numbers[base + _COUNTERS.index(key)] += value
            if message:
                self._numbers[base + _FIELDS - 1] = time.time_ns()
                raw = message.encode("utf-8", "replace")[:_MESSAGE - 1]
                start = slot * _MESSAGE
                self._messages[start:start + len(raw) + 1] = raw + b"\0"

    def totals(self) -> dict[str, Any]:
        """``{"shards_failed", "samples_skipped", "shards_unterminated", "last_error"}``
        over every process (the last error is the most recent one)."""
        out = _zero()
        newest = -1
        for slot in range(SLOTS):
            base = slot * _FIELDS
            for k, key in enumerate(_COUNTERS):
                out[key] += self._numbers[base + k]
            when = self._numbers[base + _FIELDS - 1]
            if when and when > newest:
                newest = when
                start = slot * _MESSAGE
                raw = bytes(self._messages[start:start + _MESSAGE]).split(b"\0", 1)[0]
                out["last_error"] = raw.decode("utf-8", "replace")
        if self._local is not None:
            for key in _COUNTERS:
                out[key] += self._local[key]
            out["last_error"] = self._local["last_error"] or out["last_error"]
        return out

    def reset(self) -> None:
        """Zero every slot (call it when no worker is reading)."""
        with self._lock:
            for i in range(len(self._numbers)):
                self._numbers[i] = 0
            self._local = None


def _zero() -> dict[str, Any]:
    return {"shards_failed": 0, "samples_skipped": 0, "shards_unterminated": 0,
            "last_error": None}
