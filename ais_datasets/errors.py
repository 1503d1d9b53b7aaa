"""Errors and warnings raised by ``ais_datasets``.

This module owns the one error type for unreadable shards. It carries where the
problem is (the shard, as ``ais://bucket/object``, and a byte offset in the shard's
stream) so a log line is enough to find the bad bytes::

    try:
        next(iter(reader))
    except ShardReadError as err:
        print(err.shard, err.offset, err.reason)

``ShardReadError`` subclasses ``ValueError``: code written for upstream that catches
``ValueError`` (or the broad ``Exception``) keeps working.
"""

from __future__ import annotations

from typing import Optional

from aistore.sdk.obj.obj_file.errors import ObjectFileReaderMaxResumeError


class ShardReadError(ValueError):
    """A shard could not be read as an archive: corrupt, truncated or inconsistent.

    Attributes:
        shard: the shard as ``provider://bucket/object`` (``None`` when unknown, e.g. a
            bare byte stream handed to :mod:`ais_datasets.tario`).
        offset: byte offset in the shard's (uncompressed) stream where the problem was
            found, or ``None`` when it has no position (e.g. mismatched shard pairs).
        reason: what is wrong, without the location.
    """

    def __init__(self, reason: str, *, shard: Optional[str] = None,
                 offset: Optional[int] = None) -> None:
        self.reason = reason
        self.shard = shard
        self.offset = offset
        super().__init__(self._message())

    def _message(self) -> str:
        where = self.shard if self.shard is not None else "<stream>"
        if self.offset is not None:
            return f"{where}: {self.reason} (at byte offset {self.offset})"
        return f"{where}: {self.reason}"

    def with_shard(self, shard: str) -> ShardReadError:
        """Return a copy of this error naming ``shard`` (the same class, same offset)."""
        err = self.__class__(self.reason, shard=shard, offset=self.offset)
        err.__cause__ = self.__cause__
        return err

    def __reduce__(self):
        # keyword-only constructor: make the error survive the DataLoader's pickling
        return (_rebuild, (self.__class__, self.reason, self.shard, self.offset))


class TruncatedShardError(ShardReadError):
    """The shard's stream ended in the middle of a header, a member or its padding."""


def _rebuild(cls, reason, shard, offset):
    return cls(reason, shard=shard, offset=offset)


class ChecksumError(ShardReadError):
    """Bytes read do not match the checksum the cluster sent for them, or the object
    changed while it was being read.

    ``shard`` names the object (a shard or a sample), ``offset`` is None; ``expected`` and
    ``actual`` are the hex digests (None where the object changed).
    """

    def __init__(self, reason: str, *, shard: Optional[str] = None,
                 offset: Optional[int] = None, expected: Optional[str] = None,
                 actual: Optional[str] = None) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(reason, shard=shard, offset=offset)


class ReadRetriesExhausted(ObjectFileReaderMaxResumeError):
    """A body kept breaking off: ``failures`` tries in a row brought no new byte.

    Subclasses the SDK's ``ObjectFileReaderMaxResumeError`` (what upstream raises when a
    stream cannot be resumed); ``original_error`` is the last failure. Built from a
    message alone (as a DataLoader re-raises a worker's error), it carries just that.
    """

    def __init__(self, where: str, position: Optional[int] = None,
                 failures: Optional[int] = None, err: Optional[BaseException] = None) -> None:
        super().__init__(err, failures)
        self.where = where
        self.position = position
        self.failures = failures
        if position is None:
            self.args = (where,)
        else:
            self.args = (f"{where}: reading stopped at byte {position} after {failures} "
                         f"failures in a row without progress; last: "
                         f"{type(err).__name__}: {err}",)

    def __str__(self) -> str:
        return self.args[0]

    def __reduce__(self):
        if self.position is None:
            return (ReadRetriesExhausted, (self.args[0],))
        return (_rebuild_exhausted, (self.where, self.position, self.failures,
                                     RuntimeError(f"{type(self.original_error).__name__}: "
                                                  f"{self.original_error}")))


def _rebuild_exhausted(where, position, failures, err):
    return ReadRetriesExhausted(where, position, failures, err)


class ErrorBudgetExceeded(RuntimeError):
    """More shards failed than ``on_error="warn"``/``"skip"`` may pass over (the reader's
    ``error_budget``); the message names the count and the last error."""


class ShardReadWarning(UserWarning):
    """Issued for each failed shard when a reader runs with ``on_error="warn"``, and for a
    shard that ends without its end-of-archive blocks."""


class UnsupportedDependencyError(RuntimeError):
    """A library the datasets reach into (``aistore``) is installed in a version they do
    not support; the message names the library, the installed and the supported versions."""
