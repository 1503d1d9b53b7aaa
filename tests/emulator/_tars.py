"""Archive builders shared by the emulator's unit tests."""

from __future__ import annotations

import io
import tarfile


def shard(members) -> bytes:
    """A ustar archive of ``(name, data)`` members, in order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()
