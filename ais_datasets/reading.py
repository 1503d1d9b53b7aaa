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
those pieces land in one buffer per thread (:func:`receive`). When the connection drops,
the body ends short of its ``Content-Length`` or a read times out, it re-opens the object
at the byte it reached (a range GET; for a transformed object, a fresh GET whose first
bytes are skipped): at once after progress, with the policy's back-off after failures in
a row, giving up (:class:`~ais_datasets.errors.ReadRetriesExhausted`) after
``policy.attempts`` failures without a new byte (:mod:`ais_datasets.retry`).

Integrity. A stream that starts at byte 0 hashes what it delivers and, at its end,
compares it with the checksum of the reply (:mod:`ais_datasets.checksums`); a mismatch
raises :class:`~ais_datasets.errors.ChecksumError` *after* the last byte was delivered
(a reader has already used them: see the datasets for what that means), and
:func:`read_object` re-reads the object instead, up to ``policy.attempts`` times, before
it raises. A resumed reply whose checksum or version differs from the first one (the
object changed while being read) raises ``ChecksumError`` at once: two versions are
never spliced. ETL output and content-encoded bodies are not checked.

GetBatch lives in :mod:`ais_datasets.getbatch`, background read-ahead in
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
from aistore.sdk.obj.object import Object
from requests.exceptions import ChunkedEncodingError, ReadTimeout
from requests.exceptions import ConnectionError as RequestsConnectionError
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from ais_datasets._sdk_adapter import object_client, object_on
from ais_datasets.checksums import Digest
from ais_datasets.errors import ChecksumError, ReadRetriesExhausted
from ais_datasets.retry import RetryPolicy, resolve
from ais_datasets.sessions import lean_client, origin_client
from ais_datasets.tario import READ_SIZE, TarStream, gunzip_chunks

T = TypeVar("T")
R = TypeVar("R")

GZIP_EXTENSIONS = (".tgz", ".tar.gz")
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


def on_policy(obj: Object, policy: Optional[RetryPolicy] = None
              ) -> tuple[Object, RetryPolicy]:
    """``obj`` on the view of its client that retries by ``policy``, and the policy in
    effect (None: the default for that client, see :func:`~ais_datasets.retry.resolve`)."""
    current = object_client(obj)
    client = origin_client(current)
    policy = resolve(policy, client)
    view = lean_client(client, policy)
    if view is current:
        return obj, policy
    return object_on(obj, view), policy


def read_object(obj: Object, etl_name: Optional[str] = None, *,
                policy: Optional[RetryPolicy] = None, verify: bool = True) -> bytes:
    """The whole content of ``obj`` (one GET, optionally through an inline ETL), resumed
    with range GETs when the body breaks off and, with ``verify``, checked against the
    reply's checksum: a mismatch is read again, up to ``policy.attempts`` times, then
    raises :class:`~ais_datasets.errors.ChecksumError`. ``policy`` None: the default
    for ``obj``'s client (:mod:`ais_datasets.retry`).
    """
    obj, policy = on_policy(obj, policy)
    tries = 0
    while True:
        stream = ObjectStream(obj, etl_name, policy=policy, verify=verify, placed=True)
        try:
            pieces = list(stream.chunks())
        except ChecksumError:
            tries += 1
            if tries >= policy.attempts:
                raise
            policy.sleep(tries)
            continue
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def is_gzip(name: str) -> bool:
    return name.endswith(GZIP_EXTENSIONS)


def can_seek(obj: Object, etl_name: Optional[str]) -> bool:
    """Whether a shard read may start at a byte offset (plain tar, no transform)."""
    return not etl_name and not is_gzip(obj.name)


class ObjectStream:
    """One object read sequentially from byte ``offset`` in pieces of ``chunk`` bytes.

    Iterate :meth:`chunks` (the GET is sent on the first ``next``, so HTTP errors such
    as ``ErrObjNotFound`` surface there); :meth:`close` releases the connection. See the
    module docstring for how a broken connection is resumed and what is verified.
    ``policy``: the retry policy (None: the client's default; ``obj`` is moved onto the
    policy's client view unless ``placed``, when ``policy`` must be the one in effect);
    ``verify``: check the checksum (from byte 0 only).
    """

    def __init__(self, obj: Object, etl_name: Optional[str] = None, offset: int = 0, *,
                 chunk: int = READ_SIZE, max_resume: Optional[int] = None,
                 reuse: bool = False, policy: Optional[RetryPolicy] = None,
                 verify: bool = True, placed: bool = False) -> None:
        if placed and policy is not None:
            self.obj = obj
        else:
            obj, policy = on_policy(obj, policy)
            self.obj = obj
        self.reuse = reuse  # pieces are views of one reused buffer (see receive)
        self.etl_name = etl_name
        self.offset = offset  # absolute position of the next byte delivered
        self.chunk = max(1, int(chunk))
        self.policy = policy
        # failures in a row without a new byte before giving up
        self.max_resume = policy.attempts - 1 if max_resume is None else max_resume
        self._verify = verify and not etl_name and not offset
        self._digest: Optional[Digest] = None
        self._identity: Optional[tuple[str, str]] = None  # (checksum, version) read first
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
        identity = (headers.get("Ais-Checksum-Value", ""), headers.get("Ais-Version", ""))
        if self._identity is None:
            self._identity = identity
            if self._verify and not self._decode:
                self._digest = Digest.expecting(headers)
        elif identity != self._identity and all(identity) and all(self._identity):
            self._release()
            raise ChecksumError(
                f"the object changed while it was being read (checksum/version "
                f"{'/'.join(self._identity)} -> {'/'.join(identity)} at byte {self.offset})",
                shard=uri(self.obj))

    def _resume_at(self) -> int:
        """Where a re-opened GET starts: the delivered position when AIS serves it."""
        if self.etl_name or not self.offset:
            return 0
        if getattr(self.obj.bucket_provider, "value", self.obj.bucket_provider) == "ais":
            return self.offset  # an ais bucket's object is always in the cluster
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
        raw, decode = self._raw, self._decode
        if self.reuse:
            return receive(raw, self.chunk)
        if self._end is not None:  # exact reads: the last one ends the body, no extra call
            return self._exact(raw)
        chunk = self.chunk
        return iter(lambda: raw.read(chunk, decode_content=decode), b"")

    def _exact(self, raw) -> Iterator[bytes]:
        chunk = self.chunk
        while True:
            left = self._end - self._pos
            if left <= 0:
                return
            data = raw.read(min(chunk, left), decode_content=False)
            if not data:
                return
            yield data

    def chunks(self) -> Iterator[Union[bytes, memoryview]]:
        """The object's bytes from ``offset`` on, in pieces of up to ``chunk`` bytes.

        With ``reuse``, each piece is a ``memoryview`` valid until the next one is asked
        for; otherwise pieces are ``bytes``.
        """
        failures = 0  # in a row, without a new byte
        self._open(self.offset)
        pieces = self._pieces()
        digest = self._digest
        try:
            while True:
                try:
                    data = next(pieces, b"")
                    if not data and self._end is not None and self._pos < self._end:
                        raise ProtocolError(f"body ended at byte {self._pos} of {self._end}")
                except STREAM_ERRORS as err:
                    if self._closed:
                        return
                    failures += 1
                    if failures > self.max_resume:
                        raise ReadRetriesExhausted(uri(self.obj), self.offset, failures,
                                                   err) from err
                    self._release()
                    if failures > 1:  # right after progress: at once
                        self.policy.sleep(failures - 1)
                    self._open(self._resume_at())
                    pieces = self._pieces()
                    continue
                if not data:
                    if digest is not None and not digest.matches():
                        raise ChecksumError(
                            f"{digest.cksum_type} checksum mismatch: the cluster sent "
                            f"{digest.expected}, the {self.offset} bytes read hash to "
                            f"{digest.actual}", shard=uri(self.obj),
                            expected=digest.expected, actual=digest.actual)
                    return
                pos = self._pos
                self._pos = pos + len(data)
                if pos < self.offset:  # replayed bytes the caller already has
                    if self._pos <= self.offset:
                        continue
                    data = data[self.offset - pos:]
                failures = 0
                self.offset += len(data)
                if digest is not None:
                    digest.update(data)
                yield data
        finally:
            self._release()

    def close(self) -> None:
        self._closed = True
        self._release()


def open_tar(obj: Object, etl_name: Optional[str] = None, offset: int = 0, *,
             chunks: Optional[Iterable[bytes]] = None,
             closer: Optional[Callable[[], None]] = None,
             policy: Optional[RetryPolicy] = None, verify: bool = True) -> TarStream:
    """A :class:`TarStream` over ``obj`` (gzip-decompressed for .tgz / .tar.gz).

    ``chunks``/``closer``: bytes of ``obj`` from ``offset`` already being fetched (by a
    read-ahead or a GetBatch lane), used instead of a new GET.
    """
    if offset and not can_seek(obj, etl_name):
        raise ValueError(f"{uri(obj)}: cannot start a compressed or transformed read "
                         f"at byte {offset}")
    if chunks is None:
        stream = ObjectStream(obj, etl_name, offset, reuse=True, policy=policy,
                              verify=verify)
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
