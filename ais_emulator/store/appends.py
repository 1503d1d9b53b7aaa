"""Append sessions of the in-memory store: the bytes appended so far, under a handle.

An append (``PUT ...?append_type=append``) without a handle starts a session from the
object's current bytes; each append answers a new handle ``<session>.<length>``, and only
the latest one is accepted (a stale or foreign handle is ``InvalidAppendHandle``). A
flush takes the bytes out and ends the session; the store then writes them as the
object. The durable store keeps its sessions on disk instead (``disk_sessions``).

Not locked: ``Store`` calls every method under its own lock.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field

from ais_emulator.store.buckets import BucketId
from ais_emulator.store.errors import InvalidAppendHandle


@dataclass
class _Session:
    bucket: BucketId
    name: str
    buf: bytearray = field(default_factory=bytearray)


class MemoryAppends:
    """Open append sessions by ID (see the module docstring)."""

    def __init__(self) -> None:
        self._sessions: dict[str, _Session] = {}

    def start(self, bck: BucketId, name: str, base: bytes) -> str:
        """A new session holding ``base`` (the object's current bytes); returns its ID."""
        sid = uuidlib.uuid4().hex
        self._sessions[sid] = _Session(bck, name, bytearray(base))
        return sid

    def find(self, bck: BucketId, name: str, handle: str) -> str:
        """The ID of the session ``handle`` names, if it is the latest handle of a session
        of ``bck/name``."""
        sid, _, offset = handle.rpartition(".")
        session = self._sessions.get(sid)
        if session is None or session.bucket != bck or session.name != name:
            raise InvalidAppendHandle(f"{bck}/{name}: invalid append handle {handle!r}")
        if offset != str(len(session.buf)):
            raise InvalidAppendHandle(
                f"{bck}/{name}: stale append handle {handle!r} (offset is {len(session.buf)})"
            )
        return sid

    def length(self, sid: str) -> int:
        return len(self._sessions[sid].buf)

    def extend(self, sid: str, data: bytes) -> str:
        """Append ``data``; returns the session's new handle."""
        session = self._sessions[sid]
        session.buf += data
        return f"{sid}.{len(session.buf)}"

    def take(self, sid: str) -> bytes:
        """End the session; returns its bytes."""
        return bytes(self._sessions.pop(sid).buf)

    def drop_bucket(self, bck: BucketId) -> None:
        for sid in [sid for sid, s in self._sessions.items() if s.bucket == bck]:
            del self._sessions[sid]

    def clear(self) -> None:
        self._sessions.clear()
