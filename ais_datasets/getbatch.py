"""GetBatch: many objects in one request, as one streamed tar parsed by ``tario``.

One GetBatch request (``GET /v1/ml/moss``, the SDK's ``Batch``) returns a tar with one
entry per requested object, in request order. :func:`batch_read` sends it through the
user's client, parses the streamed tar with :class:`~ais_datasets.tario.TarStream` (not
the SDK's ``tarfile`` extraction) and checks that every entry is the object asked for::

    if batch_available(bucket.client):
        datas = batch_read(bucket.client, objects)     # [bytes | None, ...] in order

Failed entries (the server's zero-length ``__404__/...`` entries; ``cont_on_err`` is set
so that one missing object does not fail the others) come back as ``None``: the caller
reads those with a plain GET, which raises the real error. A request that fails as a
whole raises; when the failure says the cluster has no GetBatch route (an ``AISError``
with status 400, 404, 405 or 501 that is not a missing bucket or object),
:func:`note_failure` remembers it for the endpoint, once per process, and
:func:`batch_available` answers False from then on. GetBatch carries no inline transform,
so readers with an ``etl_name`` never use it.

Faults. Requests go through the view of the client that retries by the reader's policy
(:mod:`ais_datasets.retry`; :func:`batch_client`). A reply that breaks off mid-stream is
a failed request like any other; :func:`batch_read` asks again (the whole batch: nothing
of it was handed out) up to ``policy.attempts`` times. A streaming caller resumes with a
new request for the objects it has not received yet (:func:`stream_failed` says whether
to). GetBatch sends no per-entry checksum: its entries are checked by the tar structure
(header checksums, sizes, names) only.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from typing import Optional

from aistore.sdk.batch.batch import Batch
from aistore.sdk.errors import AISError, ErrBckNotFound, ErrObjNotFound
from aistore.sdk.obj.object import Object
from aistore.sdk.request_client import RequestClient

from ais_datasets.errors import ShardReadError
from ais_datasets.reading import STREAM_ERRORS, receive
from ais_datasets.retry import REQUEST_ERRORS, RetryPolicy, resolve
from ais_datasets.sessions import lean_client, origin_client
from ais_datasets.tario import TarStream

ROUTE_MISSING = (400, 404, 405, 501)
MISSING_DIR = "__404__/"

_unsupported: dict[str, int] = {}  # endpoint -> pid that found GetBatch missing there
_lock = threading.Lock()


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
    """Forget what was learned about clusters without GetBatch (for tests)."""
    with _lock:
        _unsupported.clear()


def entry_name(obj: Object) -> str:
    """The name GetBatch gives ``obj``'s entry in its output archive."""
    return f"{obj.bucket_name}/{obj.name}"


def batch_client(request_client, policy: Optional[RetryPolicy] = None):
    """The view of ``request_client`` that retries by ``policy`` (the user's client for
    one that is not an SDK ``RequestClient``); and the policy in effect."""
    client = origin_client(request_client)
    policy = resolve(policy, client)
    if not isinstance(client, RequestClient):
        return request_client, policy
    return lean_client(client, policy), policy


class ReplyBroken(Exception):
    """A GetBatch reply that broke off (or arrived mangled) after the request succeeded:
    asking again for what is missing may succeed. The cause is ``__cause__``."""


def stream_failed(err: BaseException) -> bool:
    """Whether ``err`` is a broken reply (:class:`ReplyBroken`). A request that failed
    has been retried already, by the policy's view or by the client's own retries."""
    return isinstance(err, ReplyBroken)


def batch_stream(request_client, objects: Sequence[Object]) -> Iterator[Optional[bytes]]:
    """Contents of ``objects`` from one GetBatch request, streamed in order.

    Each object's bytes are yielded as soon as its entry has arrived (``None``: the
    server reports the entry as failed), so memory holds one read chunk, not the batch.
    Raises the SDK's error when the request fails, :class:`ReplyBroken` when the reply
    breaks off or cannot be parsed, and ``RuntimeError`` when the archive does not hold
    exactly the requested entries in order.
    """
    batch = Batch(request_client, objects=list(objects), output_format=".tar",
                  cont_on_err=True, streaming_get=True)
    raw = batch.get(raw=True)
    try:
        tar = TarStream(receive(raw), shard="GetBatch")
        for k, obj in enumerate(objects):
            try:
                entry = tar.next_entry()
            except (*STREAM_ERRORS, *REQUEST_ERRORS, ShardReadError) as err:
                raise ReplyBroken(f"GetBatch reply broke off after {k} of {len(objects)} "
                                  f"entries: {type(err).__name__}: {err}") from err
            if entry is None:
                raise RuntimeError(f"GetBatch returned {k} entries for {len(objects)} "
                                   f"objects")
            name, data, _ = entry
            expected = entry_name(obj)
            if name == expected:
                yield data
            elif name.startswith(MISSING_DIR) and name[len(MISSING_DIR):] == expected:
                yield None
            else:
                raise RuntimeError(f"GetBatch entry {k} is {name!r}, expected {expected!r}")
        if tar.next_entry() is not None:
            raise RuntimeError(f"GetBatch returned more than {len(objects)} entries")
    finally:
        raw.close()


def batch_read(request_client, objects: Sequence[Object],
               policy: Optional[RetryPolicy] = None) -> list[Optional[bytes]]:
    """:func:`batch_stream` as a list (the whole batch in memory), through the policy's
    view of ``request_client``; a reply that breaks off is asked for again, up to
    ``policy.attempts`` times in all (a request that fails is not: it was retried)."""
    client, policy = batch_client(request_client, policy)
    tries = 0
    while True:
        try:
            return list(batch_stream(client, objects))
        except Exception as err:  # noqa: BLE001 - only broken replies are asked again
            tries += 1
            if not stream_failed(err) or tries >= policy.attempts:
                raise
            policy.sleep(tries)
