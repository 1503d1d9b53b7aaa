"""Getting bytes out of AIStore: streamed GETs, bounded prefetch, GetBatch.

Everything here goes through the SDK objects the user built (their client settings,
token, retries and timeouts apply). The only resource this module creates is a thread
pool, and it is process-bound: :class:`LazyPool` builds it on first use and rebuilds it
when it finds itself in another process (after ``fork``), and never pickles it::

    pool = LazyPool(8)
    for data in ordered_map(pool, read_object, objects, depth=8): ...
    stream = open_tar(obj, etl_name=None, offset=0, shard=uri(obj))
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Optional, TypeVar

from aistore.sdk.batch.batch import Batch
from aistore.sdk.etl.etl_config import ETLConfig
from aistore.sdk.obj.object import Object

from ais_datasets.tario import TarStream, chunks_of, gunzip_chunks

T = TypeVar("T")
R = TypeVar("R")

STREAM_CHUNK = 256 * 1024
GZIP_EXTENSIONS = (".tgz", ".tar.gz")


def etl_config(etl_name: Optional[str]) -> ETLConfig:
    """The ``ETLConfig`` upstream passes on every GET (empty when ``etl_name`` is None)."""
    return ETLConfig(etl_name)


def uri(obj: Object) -> str:
    """``provider://bucket/object`` for messages."""
    provider = getattr(obj.bucket_provider, "value", obj.bucket_provider)
    return f"{provider}://{obj.bucket_name}/{obj.name}"


def read_object(obj: Object, etl_name: Optional[str] = None) -> bytes:
    """The whole content of ``obj`` (one GET, optionally through an inline ETL)."""
    return obj.get_reader(etl=etl_config(etl_name)).read_all()


def open_stream(obj: Object, etl_name: Optional[str] = None, offset: int = 0):
    """A sequential, resumable file-like reader of ``obj`` from byte ``offset``.

    The SDK's ``as_file()`` reader re-opens the stream at the position reached when a
    connection drops, so a long shard read survives transient network errors.
    """
    byte_range = f"bytes={offset}-" if offset else None
    reader = obj.get_reader(etl=etl_config(etl_name), byte_range=byte_range,
                            chunk_size=STREAM_CHUNK)
    return reader.as_file()


def is_gzip(name: str) -> bool:
    return name.endswith(GZIP_EXTENSIONS)


def can_seek(obj: Object, etl_name: Optional[str]) -> bool:
    """Whether a shard read may start at a byte offset (plain tar, no transform)."""
    return not etl_name and not is_gzip(obj.name)


def open_tar(obj: Object, etl_name: Optional[str] = None, offset: int = 0) -> TarStream:
    """A :class:`TarStream` over ``obj`` (gzip-decompressed for .tgz / .tar.gz)."""
    if offset and not can_seek(obj, etl_name):
        raise ValueError(f"{uri(obj)}: cannot start a compressed or transformed read "
                         f"at byte {offset}")
    stream = open_stream(obj, etl_name, offset)
    source = gunzip_chunks(chunks_of(stream)) if is_gzip(obj.name) else stream
    tar = TarStream(source, offset=offset, shard=uri(obj))
    tar.closer = stream.close
    return tar


class LazyPool:
    """A thread pool created on first use in each process; never pickled."""

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max(1, int(max_workers))
        self._pool: Optional[ThreadPoolExecutor] = None
        self._pid: Optional[int] = None
        self._lock = threading.Lock()

    def get(self) -> ThreadPoolExecutor:
        pid = os.getpid()
        if self._pool is None or self._pid != pid:
            with self._lock:
                if self._pool is None or self._pid != pid:
                    # a pool inherited through fork has no threads: drop it, never join it
                    self._pool = ThreadPoolExecutor(self.max_workers,
                                                    thread_name_prefix="ais-datasets")
                    self._pid = pid
        return self._pool

    def shutdown(self) -> None:
        if self._pool is not None and self._pid == os.getpid():
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None
        self._pid = None

    def __getstate__(self):
        return {"max_workers": self.max_workers}

    def __setstate__(self, state):
        self.__init__(state["max_workers"])


def ordered_map(pool: Optional[LazyPool], fn: Callable[[T], R], items: Iterable[T],
                depth: int) -> Iterator[R]:
    """``map(fn, items)`` with up to ``depth`` calls in flight, results in input order.

    With ``depth <= 1`` or no pool it runs inline. Closing the generator cancels the
    calls that have not started.
    """
    if pool is None or depth <= 1:
        for item in items:
            yield fn(item)
        return
    executor = pool.get()
    pending: deque[Future] = deque()
    it = iter(items)
    try:
        for item in it:
            pending.append(executor.submit(fn, item))
            if len(pending) >= depth:
                break
        while pending:
            result = pending.popleft().result()
            for item in it:
                pending.append(executor.submit(fn, item))
                break
            yield result
    finally:
        for fut in pending:
            fut.cancel()


def batch_read(request_client, objects: Sequence[Object], *,
               output_format: str = ".tar", streaming: bool = True) -> list[Optional[bytes]]:
    """Contents of ``objects`` from one GetBatch request, in order.

    An entry the server reports as failed comes back as ``None`` (``cont_on_err`` is set
    so one missing object does not fail the others); the caller decides what to do.
    """
    batch = Batch(request_client, objects=list(objects), output_format=output_format,
                  cont_on_err=True, streaming_get=streaming)
    out: list[Optional[bytes]] = []
    for info, data in batch.get():
        out.append(None if info.err_msg else data)
    if len(out) != len(objects):
        raise RuntimeError(f"GetBatch returned {len(out)} entries for {len(objects)} objects")
    return out
