"""Whole shards from GetBatch requests, each handed to its reader as a byte stream.

Opening a shard with its own GET costs a request round trip and the server's start on
every shard. A :class:`BatchLane` asks for up to ``SHARDS_PER_BATCH`` consecutive shards
in one GetBatch request (one streamed tar whose entries are the shards, in order, read
by :class:`~ais_datasets.getbatch.BatchReply` and its rules) and hands out each entry's
bytes, as they arrive, as the byte stream of that shard: the reader parses it exactly as
it parses a GET's body. Memory holds one read chunk, whatever the shard sizes::

    lane = BatchLane(specs)              # specs: (object, etl_name, start offset), in order
    for chunk in lane.next_stream(): ... # shard 0's bytes
    lane.close()

A shard is read with its own GET (:class:`~ais_datasets.reading.ObjectStream`) instead
when it cannot come from GetBatch: it starts at a byte offset (a resumed cursor), goes
through an ETL (GetBatch carries no transform), its client has no ``RequestClient``, or
GetBatch is not available on its cluster (learned once per process, see
:func:`~ais_datasets.getbatch.note_failure`). Failures keep their meaning:

* a request that fails as a whole: that batch's shards are read with their own GETs;
* an entry the cluster reports as failed (a missing shard): that shard's own GET raises
  the real error (``ErrObjNotFound``) when the reader reaches it, and the next shards
  still come from the batch;
* a reply cut (or mangled) inside an entry: the shard goes on from the byte it reached
  with a range GET (resumed as :class:`~ais_datasets.reading.ObjectStream` resumes), and
  the next shards come with a new GetBatch request;
* a reply cut before an entry, or one whose entries are not the shards asked for: that
  shard is read with its own GET, and the next shards come with a new GetBatch request.

A stream the reader leaves before its end (an error policy skipping the rest of a
shard) is skipped in the batch by its headers' sizes. The lane belongs to one iteration
in one process; :meth:`BatchLane.close` closes the open request.

Retries and checks. GetBatch requests and the shards' own GETs go through the view of
the client that retries by the lane's ``policy`` (:mod:`ais_datasets.retry`); a shard
read with its own GET from byte 0 is checked against its checksum (``verify``); a shard
that comes from a GetBatch entry is not (GetBatch sends no per-entry checksum).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Optional, Union

from aistore.sdk.request_client import RequestClient

from ais_datasets._sdk_adapter import object_client
from ais_datasets.getbatch import (
    BatchMismatch,
    BatchReply,
    ReplyBroken,
    batch_available,
    batch_client,
    note_failure,
)
from ais_datasets.reading import ObjectStream
from ais_datasets.retry import RetryPolicy
from ais_datasets.sessions import origin_client
from ais_datasets.tario import Buffer

SHARDS_PER_BATCH = 16

Spec = tuple[Any, Optional[str], int]  # (Object, etl_name, start offset)


class BatchLane:
    """Hands out the bytes of ``specs``' shards in order, batching their GETs (module doc)."""

    def __init__(self, specs: Sequence[Spec], *, per_batch: int = SHARDS_PER_BATCH,
                 policy: Optional[RetryPolicy] = None, verify: bool = True) -> None:
        self._specs = specs
        self._per_batch = max(1, int(per_batch))
        self._policy = policy
        self._verify = verify
        self._next = 0  # the spec next_stream hands out next
        self._batch: Optional[_Batch] = None
        self._current: Optional[Union[_Member, _Plain]] = None  # the shard handed out last
        self._closed = False

    def _client(self, obj) -> Optional[RequestClient]:
        """The view of ``obj``'s client that retries by the lane's policy."""
        client = origin_client(object_client(obj))
        if not isinstance(client, RequestClient):
            return None
        return batch_client(client, self._policy)[0]

    def _own_get(self, spec: Spec) -> _Plain:
        """The shard of ``spec`` read with its own streamed GET."""
        return _Plain(ObjectStream(*spec, reuse=True, policy=self._policy, verify=self._verify))

    def _batchable(self, spec: Spec) -> bool:
        obj, etl_name, start = spec
        client = self._client(obj)
        return not etl_name and not start and client is not None and batch_available(client)

    def next_stream(self) -> Iterator[Buffer]:
        """An iterator (with ``close()``) over the bytes of the next shard."""
        current, self._current = self._current, None
        if current is not None:
            current.close()  # skips what the reader left of it in the batch
        no = self._next
        self._next += 1
        if self._closed or no >= len(self._specs):
            return _Plain(None)
        spec = self._specs[no]
        batch = self._batch
        if batch is not None and not batch.serves(no):
            batch.close()
            batch = self._batch = None
        if batch is None and self._batchable(spec):
            batch = self._batch = self._open_batch(no, spec)
        if batch is None:
            return self._own_get(spec)
        member = batch.member(no, spec)
        self._current = member
        return member

    def _open_batch(self, first: int, spec: Spec) -> Optional[_Batch]:
        """One GetBatch of ``spec``'s shard and the batchable ones after it, same client."""
        client = self._client(spec[0])
        objects = [spec[0]]
        end = min(len(self._specs), first + self._per_batch)
        for k in range(first + 1, end):
            nxt = self._specs[k]
            if not self._batchable(nxt) or self._client(nxt[0]) is not client:
                break
            objects.append(nxt[0])
        try:
            reply = BatchReply(client, objects)
        except Exception as err:  # noqa: BLE001 - these shards are read with their own GETs
            note_failure(client, err)
            return None
        return _Batch(reply, first, first + len(objects) - 1, self)

    def close(self) -> None:
        self._closed = True
        current, self._current = self._current, None
        if current is not None:
            current.close()
        batch, self._batch = self._batch, None
        if batch is not None:
            batch.close()


class _Batch:
    """One GetBatch reply, read entry by entry by :class:`_Member` streams."""

    def __init__(self, reply: BatchReply, first: int, last: int, lane: BatchLane) -> None:
        self.reply = reply
        self.lane = lane
        self.first, self.last = first, last
        self.broken = False  # the reply failed: nothing more comes from it

    def serves(self, no: int) -> bool:
        return not self.broken and self.first <= no <= self.last

    def member(self, no: int, spec: Spec) -> Iterator[Buffer]:
        """The next entry's bytes as ``spec``'s shard (the entry must be that shard)."""
        try:
            member = self.reply.next_member()
        except (ReplyBroken, BatchMismatch):
            member = None  # cut before the entry, or not the archive asked for
        if member is None:
            self.broken = True  # trust none of the rest of it
            return self.lane._own_get(spec)  # noqa: SLF001
        if member.missing is not None:
            return self.lane._own_get(spec)  # noqa: SLF001 - its own GET raises the real error
        return _Member(self, spec, member.size)

    def close(self) -> None:
        self.broken = True
        self.reply.close()


class _Member:
    """The bytes of one shard inside a batch (see the module doc for failures)."""

    def __init__(self, batch: _Batch, spec: Spec, size: int) -> None:
        self._batch = batch
        self._spec = spec
        self._left = size  # bytes of the entry not yet handed out
        self._size = size
        self._fallback: Optional[Iterator[Buffer]] = None
        self._stream: Optional[ObjectStream] = None
        self._done = False

    def __iter__(self) -> _Member:
        return self

    def __next__(self) -> Buffer:
        if self._fallback is not None:
            return next(self._fallback)
        if self._left <= 0:
            self._finish()
            raise StopIteration
        try:
            piece = self._batch.reply.read_piece(self._left)
        except ReplyBroken:  # the reply ended inside the entry
            return self._resume()
        self._left -= len(piece)
        return piece

    def _finish(self) -> None:
        """Step over what is left of the entry in the batch, and its padding."""
        if not self._done:
            self._done = True
            try:
                self._batch.reply.skip()
            except ReplyBroken:
                self._batch.broken = True

    def _resume(self) -> Buffer:
        """Go on from the byte reached with a range GET; the batch serves no more."""
        self._batch.close()
        self._done = True
        obj, etl_name, start = self._spec
        lane = self._batch.lane
        self._stream = ObjectStream(obj, etl_name, start + self._size - self._left,
                                    reuse=True, policy=lane._policy,  # noqa: SLF001
                                    verify=lane._verify)  # noqa: SLF001
        self._fallback = self._stream.chunks()
        return next(self._fallback)

    def close(self) -> None:
        """Leave the shard: skip what is left of it in the batch (or close the GET)."""
        if self._stream is not None:
            self._stream.close()
            return
        if self._done:
            return
        self._left = 0
        self._finish()  # skips the rest of the entry and its padding


class _Plain:
    """A shard's own GET (or no bytes at all), with the lane's iterator interface."""

    def __init__(self, stream: Optional[ObjectStream]) -> None:
        self._stream = stream
        self._it = stream.chunks() if stream is not None else iter(())

    def __iter__(self) -> _Plain:
        return self

    def __next__(self) -> Buffer:
        return next(self._it)

    def close(self) -> None:
        close = getattr(self._it, "close", None)
        if close is not None:
            close()
        if self._stream is not None:
            self._stream.close()
