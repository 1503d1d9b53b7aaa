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


class ShardReadWarning(UserWarning):
    """Issued for each failed shard when a reader runs with ``on_error="warn"``."""
