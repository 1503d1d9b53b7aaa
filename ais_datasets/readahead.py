"""Bounded read-ahead: the next bytes (and the next shards) fetched while these are parsed.

A :class:`ReadAhead` lane reads a sequence of object streams, one after the other, on a
background thread and hands their bytes to the reader in order. While the reader parses
shard ``k``, the lane is already receiving the rest of ``k`` and, within its limits,
shard ``k + 1``, so waiting for the network overlaps with the reader's own work::

    lane = ReadAhead(openers, budget=8 << 20, ahead=1)   # openers: callables, in order
    for chunk in lane.next_stream(): ...                 # stream 0's bytes
    for chunk in lane.next_stream(): ...                 # stream 1's (maybe already here)
    lane.close()

Limits. The bytes held by a lane (received and not yet taken by the reader, plus the
piece being received) never exceed ``budget`` (at least one piece is always allowed), and
the lane opens at most ``ahead`` streams beyond the one the reader is on. Memory is thus
bounded by the options, not by shard sizes.

Order and errors. Bytes arrive in stream order; an error while opening or reading a
stream (``ErrObjNotFound``, a dropped connection after its retries, ...) is raised by that
stream's iterator at the point the reader reaches, never earlier and never for another
stream. A stream the reader closes before its end is abandoned: the lane stops reading it
and drops what it holds of it. The lane's thread is a daemon that ends when the lane is
closed or runs out of streams; :meth:`ReadAhead.close` does not wait for it: a piece being
received is finished and dropped, and no stream is opened and no piece requested after
it. A lane is never pickled and belongs to one iteration in one process.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Optional

from ais_datasets.tario import READ_SIZE

# an opener returns something with ``chunks()`` (an iterator of bytes) and ``close()``,
# e.g. a ``reading.ObjectStream``, or None for a stream that has no bytes to fetch
Opener = Callable[[], Any]

_END = object()


class ReadAhead:
    """Background reader of a sequence of streams within a byte budget (see module doc)."""

    def __init__(self, openers: Iterable[Opener], *, budget: int, ahead: int = 1,
                 piece: int = READ_SIZE, name: str = "ais-datasets-readahead") -> None:
        self._openers = iter(openers)
        self._budget = max(1, int(budget))
        self._ahead = max(0, int(ahead))
        self._piece = max(1, min(int(piece), self._budget))
        self._name = name
        self._cond = threading.Condition()
        self._queue: deque = deque()  # (stream number, bytes | _END | exception)
        self._held = 0  # bytes queued plus the piece being received
        self._current = -1  # the stream the reader is on
        self._abandoned = -1  # streams up to this number are dropped
        self._stopped = False
        self._thread: Optional[threading.Thread] = None

    # ------------------------------------------------------------------ reader side

    def next_stream(self) -> Iterator[bytes]:
        """An iterator over the bytes of the next stream (the first call: stream 0)."""
        with self._cond:
            self._abandon(self._current)
            self._current += 1
            number = self._current
            self._cond.notify_all()
            stopped = self._stopped
        if self._thread is None and not stopped:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        return self._chunks(number)

    def _abandon(self, number: int) -> None:
        """Drop stream ``number`` and the ones before it (called with the lock held)."""
        if number > self._abandoned:
            self._abandoned = number
        queue = self._queue
        while queue and queue[0][0] <= self._abandoned:
            _, item = queue.popleft()
            if type(item) is bytes:
                self._held -= len(item)
        self._cond.notify_all()

    def _chunks(self, number: int) -> Iterator[bytes]:
        cond, queue = self._cond, self._queue
        finished = False
        try:
            while True:
                with cond:
                    while not queue and not self._stopped:
                        cond.wait()
                    if not queue:
                        return  # closed
                    no, item = queue.popleft()
                    if type(item) is bytes:
                        self._held -= len(item)
                        cond.notify_all()
                if no < number:
                    continue  # leftovers of a stream the reader left early
                if type(item) is bytes:
                    yield item
                elif item is _END:
                    finished = True
                    return
                else:
                    finished = True
                    raise item
        finally:
            if not finished:
                with cond:
                    self._abandon(number)

    def close(self) -> None:
        """Stop the background thread and drop everything held."""
        with self._cond:
            self._stopped = True
            self._queue.clear()
            self._held = 0
            self._cond.notify_all()

    # ------------------------------------------------------------------ background

    def _put(self, number: int, item) -> None:
        with self._cond:
            if self._stopped or number <= self._abandoned:
                return
            self._queue.append((number, item))
            self._cond.notify_all()

    def _run(self) -> None:
        cond = self._cond
        number = -1
        for opener in self._openers:
            number += 1
            with cond:
                while not self._stopped and number > self._current + self._ahead:
                    cond.wait()
                if self._stopped:
                    return
            try:
                self._fetch(number, opener)
            except BaseException as err:  # noqa: BLE001 - delivered to the reader in order
                self._put(number, err)
            else:
                self._put(number, _END)
            with cond:
                if self._stopped:
                    return

    def _fetch(self, number: int, opener: Opener) -> None:
        cond = self._cond
        stream = opener()
        if stream is None:
            return
        try:
            chunks = stream.chunks() if hasattr(stream, "chunks") else iter(stream)
            piece = self._piece
            while True:
                with cond:  # reserve room for the next piece before receiving it
                    while (not self._stopped and number > self._abandoned
                           and self._held and self._held + piece > self._budget):
                        cond.wait()
                    if self._stopped or number <= self._abandoned:
                        return
                    self._held += piece
                try:
                    chunk = next(chunks, None)
                finally:
                    with cond:
                        self._held -= piece
                if chunk is None:
                    return
                with cond:
                    if self._stopped or number <= self._abandoned:
                        return
                    self._queue.append((number, chunk))
                    self._held += len(chunk)
                    cond.notify_all()
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

