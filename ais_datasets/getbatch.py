"""GetBatch: the one reader of GetBatch replies, for every dataset that reads with it.

One GetBatch request (``GET /v1/ml/moss``, the SDK's ``Batch``) returns an archive with
one entry per requested object, in request order. ``AISIterDataset``,
``AISMapDataset.__getitems__``, ``AISBatchIterDataset`` and the shard readers (whole
shards as entries, :mod:`ais_datasets.shardbatch`) all read their replies here::

    for name, data in fetch_objects(client, objects, gets=plain_gets): ...  # GETs for the rest
    for obj, data in batch_objects(client, objects, policy): ...            # GetBatch only
    reply = BatchReply(view, objects)            # one request, entry by entry:
    member = reply.next_member(); reply.read_piece(1 << 20); reply.skip()

The rules, the same for every reader:

* **Entries.** The k-th entry must be the k-th object's (``<bucket>/<object>``). Another
  name, or more entries than objects, raises :class:`BatchMismatch` (a ``RuntimeError``):
  nothing more of that reply is trusted. An archive that ends properly with fewer entries
  raises it too, naming the first object without an entry (without ``cont_on_err`` AIS
  ends the archive at the first object it cannot read).
* **Missing members.** An entry the cluster reports as failed (a ``__404__/<bucket>/
  <object>`` entry of a streamed archive: requests are sent with ``cont_on_err`` unless a
  dataset asks otherwise; or an ``err_msg`` in a multipart reply's metadata) comes back
  as a :class:`Missing`, in its place. :func:`fetch_objects` reads it with a plain GET,
  which raises the real error (``ErrObjNotFound``); ``AISBatchIterDataset`` raises or
  skips it by its ``cont_on_err``, as upstream; a shard reader opens the shard with its
  own GET, which raises in the reader's place.
* **Cut replies.** A reply that breaks off or arrives mangled after the request
  succeeded raises :class:`ReplyBroken`. Nothing already handed out is asked for again;
  :func:`batch_objects` asks for the objects not yet handed out with a new request, at
  once after progress and with the policy's back-off after failures in a row, up to
  ``policy.attempts`` cut replies in a row without progress (then ``ReplyBroken``
  raises). A shard handed out in part goes on from the byte it reached with a Range GET
  instead (:mod:`ais_datasets.shardbatch`).
* **Failed requests** are retried by the view of the client that retries by the
  dataset's policy (:func:`batch_client`, :mod:`ais_datasets.retry`), then raise the
  SDK's error. When that error says the cluster has no GetBatch route (an ``AISError``
  with status 400, 404, 405 or 501 that is not a missing bucket or object),
  :func:`note_failure` remembers it for the endpoint, once per process, and
  :func:`batch_available` answers False from then on. :func:`fetch_objects` reads
  whatever GetBatch did not deliver, for any reason, with plain GETs.

Formats. Streamed tar archives (``.tar``, ``.tgz``, ``.tar.gz``; every dataset's
default) are parsed here as they arrive, with :class:`~ais_datasets.tario.TarStream`:
memory holds one read chunk, not the batch. The other replies only
``AISBatchIterDataset`` can ask for (``.zip``, and multipart replies with
``streaming=False``) are extracted by the SDK's public ``Batch.get()`` and checked by the
same rules; a multipart reply is read whole before its first entry, so one that breaks
off fails as its request does. GetBatch carries no inline transform (readers with an
``etl_name`` never use it) and no per-entry checksum: entries are checked by the archive
structure (header checksums, sizes, names) only.
"""

from __future__ import annotations

import os
import tarfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple, Optional, Union

from aistore.sdk.batch.batch import Batch
from aistore.sdk.enums import Colocation
from aistore.sdk.errors import AISError, ErrBckNotFound, ErrObjNotFound
from aistore.sdk.obj.object import Object
from aistore.sdk.request_client import RequestClient

from ais_datasets.errors import ShardReadError
from ais_datasets.reading import STREAM_ERRORS, read_object, receive
from ais_datasets.retry import REQUEST_ERRORS, RetryPolicy, resolve
from ais_datasets.sessions import lean_client, origin_client
from ais_datasets.tario import Buffer, TarStream, gunzip_chunks

ROUTE_MISSING = (400, 404, 405, 501)
MISSING_DIR = "__404__/"
MISSING_REASON = "Batch entry failed on the server"  # the SDK's words for such an entry
TAR_FORMATS = {".tar": False, ".tgz": True, ".tar.gz": True}  # format -> gzip-compressed

# what a reply that breaks off or arrives mangled raises while it is read
_CUT = (*STREAM_ERRORS, *REQUEST_ERRORS, ShardReadError)
_EXTRACT_CUT = (*STREAM_ERRORS, *REQUEST_ERRORS, tarfile.TarError, zipfile.BadZipFile,
                zlib.error, EOFError)

_unsupported: dict[str, int] = {}  # endpoint -> pid that found GetBatch missing there
_lock = threading.Lock()


# -- where GetBatch is served ---------------------------------------------------------------

def _endpoint(request_client) -> str:
    return str(getattr(request_client, "base_url", id(request_client)))


def batch_available(request_client) -> bool:
    """Whether GetBatch may be tried on this client's cluster (from this process)."""
    if request_client is None:
        return False
    return _unsupported.get(_endpoint(request_client)) != os.getpid()


def note_failure(request_client, err: BaseException) -> None:
    """Remember a cluster without GetBatch when ``err`` says the route is missing."""
    if isinstance(err, (ErrObjNotFound, ErrBckNotFound)):
        return  # a real 404 of an item or bucket: the route exists
    if isinstance(err, AISError) and err.status_code in ROUTE_MISSING:
        with _lock:
            _unsupported[_endpoint(request_client)] = os.getpid()


def reset_support() -> None:
    """Forget what was learned about clusters without GetBatch (the test suite's
    isolation between tests)."""
    with _lock:
        _unsupported.clear()


def batch_client(request_client, policy: Optional[RetryPolicy] = None):
    """The view of ``request_client`` that retries by ``policy`` (the user's client for
    one that is not an SDK ``RequestClient``); and the policy in effect."""
    client = origin_client(request_client)
    policy = resolve(policy, client)
    if not isinstance(client, RequestClient):
        return request_client, policy
    return lean_client(client, policy), policy


# -- one reply ------------------------------------------------------------------------------

class ReplyBroken(Exception):
    """A GetBatch reply that broke off (or arrived mangled) after the request succeeded:
    asking again for what is missing may succeed. The cause is ``__cause__``."""


class BatchMismatch(RuntimeError):
    """A GetBatch reply whose entries are not the objects asked for, in order."""


class Missing(NamedTuple):
    """An entry the cluster reports as failed, in place of the object's bytes."""

    reason: str


class Member(NamedTuple):
    """One entry of a reply, before its data is read: its object, its size, and whether
    the cluster reports it as failed (``missing``; its data is then empty)."""

    obj: Object
    size: int
    missing: Optional[Missing]


_MISSING = Missing(MISSING_REASON)


def entry_name(obj: Object) -> str:
    """The name GetBatch gives ``obj``'s entry in its output archive."""
    return f"{obj.bucket_name}/{obj.name}"


class BatchReply:
    """One GetBatch request for ``objects`` and its reply, read entry by entry.

    The request is sent here (the SDK's error raises when it fails). Then either whole
    entries (:meth:`next_object`) or, for streamed tar replies, headers and data in
    pieces (:meth:`next_member`, :meth:`read_piece`, :meth:`skip`), in order, each
    checked by the module's rules. :meth:`close` releases the connection.
    """

    def __init__(self, request_client, objects: Sequence[Object], *,
                 output_format: str = ".tar", streaming: bool = True,
                 cont_on_err: bool = True, colocation: Colocation = Colocation.NONE) -> None:
        self.objects = objects
        self._next = 0  # the entry read next
        batch = Batch(request_client, objects=list(objects), output_format=output_format,
                      cont_on_err=cont_on_err, streaming_get=streaming,
                      colocation=colocation)
        gzip = TAR_FORMATS.get(output_format.lower()) if streaming else None
        self._raw = None
        self._tar: Optional[TarStream] = None
        self._extracted: Optional[Iterator] = None
        if gzip is None:
            self._extracted = batch.get()
            return
        self._raw = batch.get(raw=True)
        chunks = receive(self._raw)
        self._tar = TarStream(gunzip_chunks(chunks) if gzip else chunks, shard="GetBatch")

    # -- the rules

    def _broken(self, err: BaseException) -> ReplyBroken:
        return ReplyBroken(f"GetBatch reply broke off after {self._next} of "
                           f"{len(self.objects)} entries: {type(err).__name__}: {err}")

    def _check(self, name: str) -> Optional[Missing]:
        """Whether entry ``name`` is the next object's (None) or its failure marker."""
        expected = entry_name(self.objects[self._next])
        if name == expected:
            return None
        if name.startswith(MISSING_DIR) and name[len(MISSING_DIR):] == expected:
            return _MISSING
        raise BatchMismatch(f"GetBatch entry {self._next} is {name!r}, expected "
                            f"{expected!r}")

    def _end(self, more: bool) -> None:
        """At the end of the entries (``more``: another entry came instead)."""
        k, n = self._next, len(self.objects)
        if k >= n:
            if more:
                raise BatchMismatch(f"GetBatch returned more than {n} entries")
            return
        if self._tar is not None and not self._tar.terminated:
            raise self._broken(EOFError("the archive ends without its end-of-archive "
                                        "blocks"))
        obj = self.objects[k]
        raise BatchMismatch(f"GetBatch returned {k} entries for {n} objects: none for "
                            f"{entry_name(obj)!r} or after it (a reply without "
                            f"cont_on_err ends at the first object that cannot be read)")

    # -- whole entries

    def next_object(self) -> Optional[tuple[Object, Union[bytes, Missing]]]:
        """The next object and its bytes (a :class:`Missing` for a failed entry); None
        once every object had its entry and the archive has ended."""
        if self._tar is None:
            return self._next_extracted()
        try:
            entry = self._tar.next_entry()
        except _CUT as err:
            raise self._broken(err) from err
        if entry is None or self._next >= len(self.objects):
            self._end(entry is not None)
            self._drain()
            return None
        missing = self._check(entry[0])
        k = self._next
        self._next = k + 1
        return self.objects[k], entry[1] if missing is None else missing

    def _next_extracted(self) -> Optional[tuple[Object, Union[bytes, Missing]]]:
        try:
            item = next(self._extracted, None)
        except _EXTRACT_CUT as err:
            raise self._broken(err) from err
        except RuntimeError as err:  # the SDK wraps archive errors in RuntimeError
            if isinstance(err.__cause__, _EXTRACT_CUT):
                raise self._broken(err) from err
            raise
        if item is None or self._next >= len(self.objects):
            self._end(item is not None)
            return None
        out, data = item
        obj = self.objects[self._next]
        if out.obj_name != obj.name:
            raise BatchMismatch(f"GetBatch entry {self._next} is {out.obj_name!r}, "
                                f"expected {obj.name!r}")
        self._next += 1
        return obj, Missing(out.err_msg) if out.err_msg else data

    def _drain(self) -> None:
        """Read the rest of an ended archive, so the connection can be reused."""
        try:
            self._tar.drain()
        except _CUT:
            pass  # every entry arrived: the connection is simply not reused

    # -- entries in pieces (streamed tar replies)

    def next_member(self) -> Optional[Member]:
        """The next entry's header, its data up next (:meth:`read_piece`, :meth:`skip`;
        the next call skips what is left); None after the last object's entry."""
        if self._next >= len(self.objects):
            return None
        try:
            head = self._tar.next_member()
        except _CUT as err:
            raise self._broken(err) from err
        if head is None:
            self._end(False)  # raises: the archive ended before this object's entry
        missing = self._check(head.name)
        k = self._next
        self._next = k + 1
        return Member(self.objects[k], head.size, missing)

    def read_piece(self, n: int) -> Buffer:
        """Up to ``n`` next bytes of the current entry (empty at its end); a slice of
        the reply's receive buffer, valid until the reply is read on."""
        try:
            return self._tar.read_piece(n)
        except _CUT as err:
            raise self._broken(err) from err

    def skip(self) -> None:
        """Step over what is left of the current entry."""
        try:
            self._tar.skip_data()
        except _CUT as err:
            raise self._broken(err) from err

    def close(self) -> None:
        """Release the reply (idempotent; a reply not read to its end is closed)."""
        raw, self._raw = self._raw, None
        extracted, self._extracted = self._extracted, None
        try:
            if raw is not None:
                raw.close()
            if extracted is not None:
                extracted.close()
        except Exception:  # noqa: BLE001 - closing a broken response
            pass


def batch_stream(request_client, objects: Sequence[Object], **options
                 ) -> Iterator[Union[bytes, Missing]]:
    """The bytes of ``objects`` from one GetBatch request, in order, each as soon as its
    entry has arrived (a :class:`Missing` for a failed entry). ``options``: those of
    :class:`BatchReply`. Raises by the module's rules."""
    reply = BatchReply(request_client, objects, **options)
    try:
        while True:
            item = reply.next_object()
            if item is None:
                return
            yield item[1]
    finally:
        reply.close()


# -- many replies: the rule for cut replies -------------------------------------------------

def batch_objects(request_client, objects: Sequence[Object],
                  policy: Optional[RetryPolicy] = None, **options
                  ) -> Iterator[tuple[Object, Union[bytes, Missing]]]:
    """``objects`` and their bytes (or :class:`Missing`), in order, from as many GetBatch
    requests as cut replies make necessary (module doc), through the policy's view of
    ``request_client``. Raises the error of the request or the reply it gives up on."""
    view, policy = batch_client(request_client, policy)
    done = failures = 0
    while done < len(objects):
        stream = batch_stream(view, objects[done:] if done else objects, **options)
        try:
            for data in stream:
                obj = objects[done]
                done += 1
                failures = 0
                yield obj, data
        except ReplyBroken:
            failures += 1
            if failures >= policy.attempts:
                raise
            if failures > 1:  # right after progress the reply is asked again at once
                policy.sleep(failures - 1)
            continue
        finally:
            stream.close()
        if done < len(objects):
            raise BatchMismatch(f"GetBatch replies ended after {done} of {len(objects)} "
                                f"objects")


def fetch_objects(request_client, objects: Sequence[Object], *,
                  policy: Optional[RetryPolicy] = None, verify: bool = True,
                  gets: Callable[[Sequence[Object]], Iterable[tuple[str, bytes]]]
                  ) -> Iterator[tuple[str, bytes]]:
    """``(name, bytes)`` of ``objects``, in order: from GetBatch where the cluster serves
    it (:func:`batch_objects`), the objects it did not deliver from ``gets(rest)`` (the
    dataset's plain GETs, yielding the same pairs), a :class:`Missing` entry from its
    own GET (which raises the real error; checked with ``verify``). A GetBatch failure
    that says the cluster has no such route is remembered (:func:`note_failure`)."""
    done = 0
    if batch_available(request_client):
        batch = batch_objects(request_client, objects, policy)
        try:
            while True:
                try:
                    item = next(batch, None)
                except Exception as err:  # noqa: BLE001 - any GetBatch failure: plain GETs
                    note_failure(request_client, err)
                    break
                if item is None:
                    break
                obj, data = item
                if type(data) is Missing:
                    data = read_object(obj, policy=policy, verify=verify)
                done += 1
                yield obj.name, data
        finally:
            batch.close()
    if done < len(objects):
        yield from gets(objects[done:] if done else objects)
