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
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from typing import Optional

from aistore.sdk.batch.batch import Batch
from aistore.sdk.errors import AISError, ErrBckNotFound, ErrObjNotFound
from aistore.sdk.obj.object import Object

from ais_datasets.reading import receive
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


def batch_stream(request_client, objects: Sequence[Object]) -> Iterator[Optional[bytes]]:
    """Contents of ``objects`` from one GetBatch request, streamed in order.

    Each object's bytes are yielded as soon as its entry has arrived (``None``: the
    server reports the entry as failed), so memory holds one read chunk, not the batch.
    Raises the SDK's error when the request fails, and ``RuntimeError`` when the
    archive does not hold exactly the requested entries in order.
    """
    batch = Batch(request_client, objects=list(objects), output_format=".tar",
                  cont_on_err=True, streaming_get=True)
    raw = batch.get(raw=True)
    try:
        tar = TarStream(receive(raw), shard="GetBatch")
        for k, obj in enumerate(objects):
            entry = tar.next_entry()
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


def batch_read(request_client, objects: Sequence[Object]) -> list[Optional[bytes]]:
    """:func:`batch_stream` as a list (the whole batch in memory)."""
    return list(batch_stream(request_client, objects))
