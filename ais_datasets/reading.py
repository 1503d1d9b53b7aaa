"""Getting bytes out of AIStore: streamed GETs, bounded prefetch, resumable reads.

Everything here goes through the SDK objects the user built (their client settings,
token, retries and timeouts apply). The only resource this module creates is a thread
pool, and it is process-bound: :class:`LazyPool` builds it on first use and rebuilds it
when it finds itself in another process (after ``fork``), and never pickles it::

    pool = LazyPool(8)
    for data in ordered_map(pool, read_object, objects, depth=8): ...
    tar = open_tar(obj, etl_name=None, offset=0)          # a TarStream over one GET

Streams. :class:`ObjectStream` reads one object with a single GET (``ObjectReader.raw()``)
in large pieces (``READ_SIZE``, 1 MiB) straight from the HTTP response: no per-chunk
iterator layers, one copy from the socket; with ``reuse`` (the tar readers' own streams)
those pieces land in one buffer per thread (:func:`receive`). When the connection drops
or the body ends short of its ``Content-Length``, it re-opens the object at the byte it
reached (a range GET; for a transformed object, a fresh GET whose first bytes are
skipped), up to ``max_resume`` times, as the SDK's ``as_file()`` reader does. GetBatch
lives in :mod:`ais_datasets.getbatch`, background read-ahead in
:mod:`ais_datasets.readahead`.
"""

from __future__ import annotations

import http.client
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Optional, TypeVar, Union

from aistore.sdk.etl.etl_config import ETLConfig
from aistore.sdk.obj.obj_file.errors import ObjectFileReaderMaxResumeError
from aistore.sdk.obj.object import Object
from requests.exceptions import ChunkedEncodingError, ReadTimeout
from requests.exceptions import ConnectionError as RequestsConnectionError
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from ais_datasets.sources import lean_object
from ais_datasets.tario import READ_SIZE, TarStream, gunzip_chunks

T = TypeVar("T")
R = TypeVar("R")

GZIP_EXTENSIONS = (".tgz", ".tar.gz")
MAX_RESUME = 5
# what a dropped or stalled connection raises while a body is read
STREAM_ERRORS = (RequestsConnectionError, ChunkedEncodingError, ProtocolError, ReadTimeout,
                 ReadTimeoutError)


def etl_config(etl_name: Optional[str]) -> ETLConfig:
    """The ``ETLConfig`` upstream passes on every GET (empty when ``etl_name`` is None)."""
    return ETLConfig(etl_name)


def uri(obj: Object) -> str:
    """``provider://bucket/object`` for messages."""
    provider = getattr(obj.bucket_provider, "value", obj.bucket_provider)
    return f"{provider}://{obj.bucket_name}/{obj.name}"


def content_encoded(headers) -> bool:
    """Whether a response's body carries a content encoding (urllib3 must decode it)."""
    return headers.get("Content-Encoding", "identity").lower() not in ("", "identity")


_spare = threading.local()  # a receive buffer of this thread's last finished body


def receive(raw, size: int = READ_SIZE) -> Iterator[Union[bytes, memoryview]]:
    """The body of ``raw`` (a urllib3 response), received into one reused buffer.

    Each piece is a ``memoryview`` of that buffer, valid until the next piece is asked
    for: what :class:`~ais_datasets.tario.TarStream` reads in place, copying out only the
    members. Receiving into the same memory every time spares the fresh pages (and their
    page faults) that a new ``bytes`` per read costs once the allocator has handed freed
    buffers back to the system; a finished body leaves its buffer to the thread's next
    one. A body that breaks off, or ends short of its ``Content-Length``, raises
    ``ProtocolError`` (one of ``STREAM_ERRORS``). Responses with a content encoding, or
    without an ``http.client`` body underneath, are read with urllib3 in fresh ``bytes``
    pieces instead.
    """
    fp = getattr(raw, "_fp", None)  # the http.client response urllib3 wraps
    encoded = content_encoded(getattr(raw, "headers", None) or {})
    if encoded or not isinstance(fp, http.client.HTTPResponse):
        if getattr(raw, "chunked", False) and hasattr(raw, "read_chunked"):
            yield from raw.read_chunked(decode_content=encoded)
        else:
            yield from iter(lambda: raw.read(size, decode_content=encoded), b"")
        return
    view = getattr(_spare, "view", None)
    if view is not None and len(view) == size:
        _spare.view = None
    else:
        view = memoryview(bytearray(size))
    try:
        while True:
            try:
                n = fp.readinto(view)
            except (http.client.HTTPException, OSError) as err:
                raise ProtocolError(f"response body broken off: {err!r}", err) from err
            if not n:
                if fp.length:  # http.client ends a short Content-Length body quietly
                    raise ProtocolError(f"response body ended {fp.length} bytes short")
                if fp.isclosed():  # as urllib3 does at the end of a body: keep-alive
                    raw.release_conn()
                return
            yield view[:n]
    finally:
        _spare.view = view


def read_object(obj: Object, etl_name: Optional[str] = None) -> bytes:
    """The whole content of ``obj`` (one GET, optionally through an inline ETL).

    The GET goes through the lean view of ``obj``'s client
    (:func:`~ais_datasets.sessions.lean_client`).
    """
    obj = lean_object(obj, obj.name)
    return obj.get_reader(etl=etl_config(etl_name)).read_all()


def is_gzip(name: str) -> bool:
    return name.endswith(GZIP_EXTENSIONS)


def can_seek(obj: Object, etl_name: Optional[str]) -> bool:
    """Whether a shard read may start at a byte offset (plain tar, no transform)."""
    return not etl_name and not is_gzip(obj.name)


class ObjectStream:
    """One object read sequentially from byte ``offset`` in pieces of ``chunk`` bytes.

    Iterate :meth:`chunks` (the GET is sent on the first ``next``, so HTTP errors such
    as ``ErrObjNotFound`` surface there); :meth:`close` releases the connection. See the
    module docstring for how a broken connection is resumed.
    """

    def __init__(self, obj: Object, etl_name: Optional[str] = None, offset: int = 0, *,
                 chunk: int = READ_SIZE, max_resume: int = MAX_RESUME,
                 reuse: bool = False) -> None:
        self.obj = obj
        self.reuse = reuse  # pieces are views of one reused buffer (see receive)
        self.etl_name = etl_name
        self.offset = offset  # absolute position of the next byte delivered
        self.chunk = max(1, int(chunk))
        self.max_resume = max_resume
        self._raw = None
        self._reader = None
        self._pos = 0  # absolute position of the open response's next byte
        self._end: Optional[int] = None  # where the open response must end
        self._decode = False
        self._closed = False

    def _open(self, at: int) -> None:
        """Send the GET for the object from byte ``at`` (0 or the delivered position)."""
        reader = self.obj.get_reader(etl=etl_config(self.etl_name),
                                     byte_range=f"bytes={at}-" if at else None)
        raw = reader.raw()
        self._raw, self._reader = raw, reader
        # a server that cannot serve the range answers 200 with the whole object
        self._pos = at if at and raw.status == 206 else 0
        self._end = None
        headers = raw.headers
        self._decode = content_encoded(headers)
        if not self._decode:
            length = headers.get("Content-Length", "")
            if length.isdigit():
                self._end = self._pos + int(length)

    def _resume_at(self) -> int:
        """Where a re-opened GET starts: the delivered position when AIS serves it."""
        if self.etl_name or not self.offset:
            return 0
        try:
            # as the SDK: a remote object not (yet) cached in the cluster starts over
            return self.offset if self._reader.head().present else 0
        except Exception:  # noqa: BLE001 - the re-opening GET reports the real problem
            return 0

    def _release(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            try:
                raw.close()
            except Exception:  # noqa: BLE001 - closing a broken response
                pass

    def _pieces(self) -> Iterator[Union[bytes, memoryview]]:
        raw, chunk, decode = self._raw, self.chunk, self._decode
        if self.reuse:
            return receive(raw, chunk)
        return iter(lambda: raw.read(chunk, decode_content=decode), b"")

    def chunks(self) -> Iterator[Union[bytes, memoryview]]:
        """The object's bytes from ``offset`` on, in pieces of up to ``chunk`` bytes.

        With ``reuse``, each piece is a ``memoryview`` valid until the next one is asked
        for; otherwise pieces are ``bytes``.
        """
        resumes = 0
        self._open(self.offset)
        pieces = self._pieces()
        try:
            while True:
                try:
                    data = next(pieces, b"")
                    if not data and self._end is not None and self._pos < self._end:
                        raise ProtocolError(f"body ended at byte {self._pos} of {self._end}")
                except STREAM_ERRORS as err:
                    if self._closed:
                        return
                    resumes += 1
                    if resumes > self.max_resume:
                        raise ObjectFileReaderMaxResumeError(err, resumes) from err
                    self._release()
                    self._open(self._resume_at())
                    pieces = self._pieces()
                    continue
                if not data:
                    return
                pos = self._pos
                self._pos = pos + len(data)
                if pos < self.offset:  # replayed bytes the caller already has
                    if self._pos <= self.offset:
                        continue
                    data = data[self.offset - pos:]
                self.offset += len(data)
                yield data
        finally:
            self._release()

    def close(self) -> None:
        self._closed = True
        self._release()


def open_tar(obj: Object, etl_name: Optional[str] = None, offset: int = 0, *,
             chunks: Optional[Iterable[bytes]] = None,
             closer: Optional[Callable[[], None]] = None) -> TarStream:
    """A :class:`TarStream` over ``obj`` (gzip-decompressed for .tgz / .tar.gz).

    ``chunks``/``closer``: bytes of ``obj`` from ``offset`` already being fetched (by a
    read-ahead), used instead of a new GET.
    """
    if offset and not can_seek(obj, etl_name):
        raise ValueError(f"{uri(obj)}: cannot start a compressed or transformed read "
                         f"at byte {offset}")
    if chunks is None:
        stream = ObjectStream(obj, etl_name, offset, reuse=True)
        chunks, closer = stream.chunks(), stream.close
    source = gunzip_chunks(chunks) if is_gzip(obj.name) else chunks
    tar = TarStream(source, offset=offset, shard=uri(obj))
    tar.closer = closer
    return tar


class LazyPool:
    """A thread pool created on first use in each process; never pickled.

    :meth:`shutdown` ends it without waiting: calls not yet started are cancelled, and
    its threads exit once the calls already running return. A later :meth:`get` builds
    a new pool.
    """

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

    With ``depth <= 1`` or no pool it runs inline. When the generator ends, is closed or
    is garbage-collected, or ``fn`` raises, the calls that have not started are
    cancelled and no new one is submitted; calls already running are not waited for
    (shut the pool down to let its threads go).
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
