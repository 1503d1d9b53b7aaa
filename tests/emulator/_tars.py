"""Archive builders shared by the emulator's unit tests."""

from __future__ import annotations

from ais_emulator.shards import make_tar


def shard(members) -> bytes:
    """A ustar archive of ``(name, data)`` members, in order (the public builder)."""
    return make_tar(members)
