"""``AISParallelMapDataset``: map-style dataset that downloads each object in parallel.

Drop-in for ``aistore.pytorch.AISParallelMapDataset``: each object is fetched as
concurrent byte-range GETs, and ``__getitem__`` returns ``(object_name, buffer)`` where the
buffer has the SDK ``ParallelBuffer`` interface (``buf``, ``len()``, ``tobytes()``,
``close()``, a context manager)::

    ds = AISParallelMapDataset(bucket, num_workers=8)
    name, buf = ds[0]
    with buf:
        data = buf.tobytes()

Differences from upstream (on purpose):

* **Threads, not processes.** Upstream forks a ``ProcessPoolExecutor`` per object and
  writes into POSIX shared memory; here ``num_workers`` threads of this process (a pool
  created lazily, rebuilt after fork, never pickled) read the ranges straight into one
  buffer. Waiting on the network releases the GIL, so the threads overlap; the
  dataset also works inside DataLoader workers (daemonic processes may not fork, so
  upstream's cannot run there), and nothing needs unlinking if a buffer is not closed.
* **Exact byte counts, resumed ranges.** Every range must deliver exactly its length;
  a dropped connection or a stall re-requests the rest of the range, at once after
  progress and with the ``retry`` policy's back-off after failures in a row (giving up
  after ``policy.attempts`` of them, :mod:`ais_datasets.retry`), and a response longer
  or shorter than asked is an error.
* **Checked.** With ``verify_checksum`` (default) the whole buffer is hashed once its
  ranges are in and compared with the checksum the HEAD reported; a mismatch reads the
  object again (up to ``policy.attempts`` times), then raises
  :class:`~ais_datasets.errors.ChecksumError`, as does a range reply whose checksum or
  version differs from the HEAD's (the object changed while it was read).
* The object size comes from one HEAD per object; ranges are ``chunk_size`` bytes
  (keyword-only, default 8 MiB as upstream). A zero-byte object is an empty buffer
  (upstream raises ``ValueError``).
* **Between processes, the bytes travel as a file descriptor.** Inside a DataLoader
  worker the buffer is a memory file (``memfd``); put on a ``multiprocessing`` queue
  (how a worker hands a sample to the main process), a ``ParallelBuffer`` sends that
  file's descriptor, as torch sends tensor storage, and the receiver maps the same pages
  (elsewhere the bytes are first copied into one). Through the queue's pipe, pickled by
  value (as plain ``pickle`` still does), a 256 MiB object took ~10x longer than its
  download. Without ``memfd`` (not Linux) the pipe is used.
"""

from __future__ import annotations

import mmap
import os
from http.client import IncompleteRead
from multiprocessing.reduction import DupFd, ForkingPickler
from typing import Optional, Union

from aistore.sdk import AISSource
from requests.exceptions import ChunkedEncodingError
from urllib3.exceptions import ProtocolError

from ais_datasets.base_map_dataset import AISBaseMapDataset
from ais_datasets.checksums import Digest
from ais_datasets.errors import ChecksumError, ReadRetriesExhausted
from ais_datasets.reading import STREAM_ERRORS, LazyPool, on_policy, uri
from ais_datasets.retry import DEFAULT, RetryPolicy, check

CHUNK_SIZE = 8 * 1024 * 1024


class RangeLengthError(ChunkedEncodingError):
    """A range GET answered with another length than asked (not retried)."""


# a dropped connection, as urllib3 reports it or as the socket does under a direct read
_RANGE_ERRORS = STREAM_ERRORS + (IncompleteRead, ConnectionError, TimeoutError)


def allocate(size: int):
    """A writable buffer of ``size`` bytes: anonymous memory that is not zero-filled
    twice (``bytearray(n)`` writes every page once before the download writes it again).
    """
    if size <= 0:
        return bytearray(size)
    if _in_dataloader_worker():
        shared = _memfd_buffer(size)
        if shared is not None:
            return shared
    flags = getattr(mmap, "MAP_PRIVATE", 0) | getattr(mmap, "MAP_ANONYMOUS", 0) | \
        getattr(mmap, "MAP_POPULATE", 0)
    try:
        return mmap.mmap(-1, size, flags=flags) if flags else mmap.mmap(-1, size)
    except (OSError, ValueError, TypeError):
        return bytearray(size)


def _in_dataloader_worker() -> bool:
    from torch.utils.data import get_worker_info

    return get_worker_info() is not None


class _SharedMap(mmap.mmap):
    """A shared mapping of a memory file, holding the file's descriptor (``fd``) so that
    it can be sent to another process; the descriptor closes with the mapping."""

    fd: Optional[int] = None

    def close(self) -> None:
        fd, self.fd = self.fd, None
        try:
            super().close()
        finally:
            if fd is not None:
                os.close(fd)

    def __del__(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _memfd_buffer(size: int) -> Optional[_SharedMap]:
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is None:
        return None
    try:
        fd = memfd_create("ais-datasets-buffer", getattr(os, "MFD_CLOEXEC", 0))
    except OSError:
        return None
    try:
        os.ftruncate(fd, size)
        m = _SharedMap(fd, size, flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0))
    except (OSError, ValueError):
        os.close(fd)
        return None
    m.fd = fd
    return m


class ParallelBuffer:
    """An object's bytes in one buffer, with the SDK ``ParallelBuffer`` interface.

    ``buf`` is a memoryview of the bytes (no copy); ``tobytes()`` copies them; ``close()``
    releases them (afterwards ``buf`` raises). Pickles by value; between processes
    (``multiprocessing`` queues, e.g. from a DataLoader worker to the main process) the
    bytes go as a memory file's descriptor instead (see the module docstring).
    """

    def __init__(self, data) -> None:
        self._data = data  # bytearray, anonymous mmap or a memory file's shared mapping
        self._buf: Optional[memoryview] = memoryview(data)

    @property
    def buf(self) -> memoryview:
        if self._buf is None:
            raise ValueError("buffer is closed")
        return self._buf

    @property
    def name(self) -> None:
        """No shared-memory segment backs this buffer (upstream: the segment's name)."""
        return None

    def __len__(self) -> int:
        return 0 if self._data is None else len(self._data)

    def tobytes(self) -> bytes:
        return bytes(self.buf)

    def close(self) -> None:
        buf, self._buf = self._buf, None
        data, self._data = self._data, None
        if buf is not None:
            buf.release()
        close = getattr(data, "close", None)
        if close is not None:
            try:
                close()
            except BufferError:  # the caller still holds a view of it: freed with it
                pass

    def __enter__(self) -> ParallelBuffer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __reduce__(self):
        return (_rebuild, (None if self._buf is None else bytearray(self._buf),))


def _rebuild(data: Optional[bytearray]) -> ParallelBuffer:
    buf = ParallelBuffer(data if data is not None else bytearray())
    if data is None:
        buf.close()
    return buf


def _reduce_for_process(buf: ParallelBuffer):
    """``ForkingPickler`` only (queues between processes, e.g. from DataLoader workers):
    the bytes go as a memory file's descriptor; the pipe carries ~100 bytes."""
    view = buf._buf
    fd = getattr(buf._data, "fd", None)
    if fd is not None and view is not None:
        return _rebuild_from_fd, (DupFd(fd), len(view))  # DupFd holds a duplicate
    memfd_create = getattr(os, "memfd_create", None)
    if view is None or not len(view) or memfd_create is None:
        return buf.__reduce__()
    fd = memfd_create("ais-datasets-buffer", getattr(os, "MFD_CLOEXEC", 0))
    try:
        os.ftruncate(fd, len(view))
        done = 0
        while done < len(view):
            done += os.pwrite(fd, view[done:], done)
        return _rebuild_from_fd, (DupFd(fd), len(view))
    finally:
        os.close(fd)


def _rebuild_from_fd(dup, size: int) -> ParallelBuffer:
    fd = dup.detach()
    try:
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        return ParallelBuffer(mmap.mmap(fd, size, flags=flags))
    finally:
        os.close(fd)


ForkingPickler.register(ParallelBuffer, _reduce_for_process)


def read_range_into(obj, start: int, view: memoryview,
                    policy: RetryPolicy = DEFAULT, identity: Optional[tuple] = None) -> None:
    """Fill ``view`` with the object's bytes from ``start`` (one range GET, resumed).

    ``identity``: the (checksum, version) the object had when its size was read; a
    reply that names another raises ``ChecksumError`` (the object changed).
    """
    got, failures = 0, 0
    need = len(view)
    while got < need:
        at, end = start + got, start + need - 1
        raw = obj.get_reader(byte_range=f"bytes={at}-{end}").raw()
        ok = False
        try:
            headers = raw.headers
            _same_object(obj, identity, headers)
            length = headers.get("Content-Length", "")
            if length.isdigit() and int(length) != need - got:
                raise RangeLengthError(f"range [{at}, {end + 1}) answered with {length} "
                                       f"bytes; expected {need - got}")
            readinto = _direct_readinto(raw)
            while got < need:
                n = readinto(view[got:])
                if not n:
                    raise ProtocolError(f"range [{start}, {start + need}) ended after "
                                        f"{got} bytes")
                got += n
                failures = 0
            if readinto(bytearray(1)):
                raise RangeLengthError(f"range [{start}, {start + need}) returned more "
                                       f"than {need} bytes")
            ok = True
        except (RangeLengthError, ChecksumError):
            raise
        except _RANGE_ERRORS as err:
            failures += 1
            if failures >= policy.attempts:
                raise ReadRetriesExhausted(uri(obj), start + got, failures, err) from err
            if failures > 1:  # right after progress: at once
                policy.sleep(failures - 1)
        finally:
            if ok:
                raw.release_conn()
            else:
                raw.close()


def _same_object(obj, identity: Optional[tuple], headers) -> None:
    if identity is None:
        return
    now = (headers.get("Ais-Checksum-Value", ""), headers.get("Ais-Version", ""))
    if all(now) and all(identity) and now != identity:
        raise ChecksumError(f"the object changed while it was being read (checksum/version "
                            f"{'/'.join(identity)} -> {'/'.join(now)})", shard=uri(obj))


def _direct_readinto(raw):
    """``readinto`` of the HTTP body: straight from the socket when urllib3 allows."""
    inner = getattr(raw, "_fp", None)  # the http.client response under urllib3's
    direct = getattr(inner, "readinto", None)
    if direct is not None and not raw.headers.get("Content-Encoding"):
        return direct
    return raw.readinto


class AISParallelMapDataset(AISBaseMapDataset):
    """Map-style dataset of ``(name, ParallelBuffer)`` read with parallel range GETs.

    Args:
        ais_source_list: sources; prefix_map: per-source prefixes.
        num_workers: concurrent range reads per object (threads).
        chunk_size: bytes per range GET (keyword-only, default 8 MiB).
        retry: the :class:`~ais_datasets.retry.RetryPolicy` (keyword-only; None: the
            default for the client).
        verify_checksum: check each object against the cluster's checksum (keyword-only).
    """

    def __init__(
        self,
        ais_source_list: Optional[Union[AISSource, list[AISSource]]] = None,
        prefix_map: Optional[dict[AISSource, Union[str, list[str]]]] = None,
        num_workers: int = 16,
        *,
        chunk_size: int = CHUNK_SIZE,
        retry: Optional[RetryPolicy] = None,
        verify_checksum: bool = True,
    ):
        super().__init__(ais_source_list or [], prefix_map or {})
        if int(num_workers) < 1:
            raise ValueError("num_workers must be at least 1")
        if int(chunk_size) < 1:
            raise ValueError("chunk_size must be at least 1")
        self._num_workers = int(num_workers)
        self._chunk_size = int(chunk_size)
        self._pool = LazyPool(self._num_workers)
        self._retry = check(retry)
        self._verify = bool(verify_checksum)

    @property
    def num_workers(self) -> int:
        """Concurrent range reads per object."""
        return self._num_workers

    def __len__(self) -> int:
        return len(self._obj_list)

    def __getitem__(self, index: int):
        try:
            obj = self._obj_list[index]
        except IndexError:
            raise IndexError(
                f"<{self.__class__.__name__}> index must be in bounds of dataset") from None
        obj, policy = on_policy(obj, self._retry)
        attrs = obj.get_reader().head()
        size = attrs.size
        identity = (attrs.checksum_value, attrs.obj_version)
        data = allocate(size)
        view = memoryview(data)
        tries = 0
        while True:
            self._read_ranges(obj, view, size, policy, identity)
            digest = Digest.of(attrs.checksum_type, attrs.checksum_value) \
                if self._verify else None
            if digest is None:
                break
            digest.update(view)
            if digest.matches():
                break
            tries += 1
            if tries >= policy.attempts:
                view.release()
                raise ChecksumError(
                    f"{digest.cksum_type} checksum mismatch after {tries} reads: the "
                    f"cluster reported {digest.expected}, the {size} bytes read hash to "
                    f"{digest.actual}", shard=uri(obj), expected=digest.expected,
                    actual=digest.actual)
            policy.sleep(tries)
        view.release()
        return obj.name, ParallelBuffer(data)

    def _read_ranges(self, obj, view: memoryview, size: int, policy: RetryPolicy,
                     identity: tuple) -> None:
        step = self._chunk_size
        ranges = [(pos, min(pos + step, size)) for pos in range(0, size, step)]
        if len(ranges) == 1 or self._num_workers == 1:
            for a, b in ranges:
                read_range_into(obj, a, view[a:b], policy, identity)
            return
        pool = self._pool.get()
        futures = [pool.submit(read_range_into, obj, a, view[a:b], policy, identity)
                   for a, b in ranges]
        try:
            for fut in futures:
                fut.result()
        finally:
            for fut in futures:
                fut.cancel()
            for fut in futures:  # never leave a thread writing into the buffer
                if not fut.cancelled():
                    fut.exception()
