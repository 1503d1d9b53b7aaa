"""WebDataset shards for tests: deterministic tar / tgz bytes, optionally broken on purpose.

A sample is a key and its fields (``{extension: bytes}``); a shard holds its samples as
members ``<key>.<extension>``, in order, as WebDataset writes them. Everything is built in
memory with fixed metadata (same samples, same bytes), so a test can compare what a
dataset yields with what went in::

    from ais_emulator.shards import make_samples, make_shard, make_shards, put_shards

    samples = make_samples(8, {"jpg": 1024, "cls": 1})        # {"sample-000000": {...}, ...}
    data = make_shard(samples)                                  # one .tar
    data = make_shard(samples, compression="gz")                # one .tgz
    bad = make_shard(samples, corrupt="truncated")              # ends inside the last sample
    shards = make_shards(samples, 4, name="train-{:04d}.tar")   # {name: bytes}, 2 samples each
    put_shards(bucket, shards)                                  # any aistore SDK Bucket

The module needs only the standard library (it imports neither torch nor the SDK).
"""

from __future__ import annotations

import gzip
import io
import random
import tarfile
from collections.abc import Iterable, Mapping
from typing import Optional, Union

Fields = Mapping[str, Union[bytes, bytearray, memoryview, str]]
Samples = Union[Mapping[str, Fields], Iterable[tuple[str, Fields]]]

FORMATS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}
COMPRESSIONS = (None, "gz")
CORRUPTIONS = (None, "truncated", "bad-checksum")
MTIME = 1_700_000_000  # fixed member mtime: the same samples give the same bytes


def make_samples(n: int, fields: Optional[Mapping[str, int]] = None, *, seed: int = 0,
                 key: str = "sample-{:06d}") -> dict[str, dict[str, bytes]]:
    """``n`` samples ``{key.format(i): {extension: bytes}}`` with seeded random payloads.

    ``fields`` maps each extension to its payload size in bytes (default ``{"bin": 1024,
    "cls": 1}``). The same ``(n, fields, seed, key)`` always gives the same bytes.
    """
    if n < 0:
        raise ValueError(f"make_samples: n must be >= 0, got {n}")
    fields = {"bin": 1024, "cls": 1} if fields is None else dict(fields)
    rng = random.Random(seed)
    out: dict[str, dict[str, bytes]] = {}
    for i in range(n):
        sample = {}
        for ext, size in fields.items():
            if size < 0:
                raise ValueError(f"make_samples: field {ext!r} has a negative size {size}")
            sample[ext] = rng.randbytes(size)
        out[key.format(i)] = sample
    return out


def _as_bytes(value, where: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{where}: expecting bytes or str, got {type(value).__name__}")


def members(samples: Samples) -> list[tuple[str, bytes]]:
    """The ``(member name, bytes)`` list of ``samples``: ``<key>.<ext>``, in order."""
    items = samples.items() if isinstance(samples, Mapping) else samples
    out = []
    for key, fields in items:
        if not key or key.endswith("/"):
            raise ValueError(f"sample key {key!r}: expecting a non-empty name")
        for ext, value in fields.items():
            if not ext or ext.startswith("."):
                raise ValueError(f"sample {key!r}: extension {ext!r} must be non-empty, "
                                 "without a leading dot")
            out.append((f"{key}.{ext}", _as_bytes(value, f"sample {key!r} field {ext!r}")))
    return out


def make_tar(items: Iterable[tuple[str, bytes]], *, compression: Optional[str] = None,
             format: str = "ustar", dirs: Iterable[str] = (),  # noqa: A002 - tarfile's name
             corrupt: Optional[str] = None) -> bytes:
    """A tar of ``(name, bytes)`` members in order (directory entries ``dirs`` first).

    ``format``: ``"ustar"`` (default), ``"gnu"`` or ``"pax"``. ``compression``: None or
    ``"gz"``. ``corrupt``: None; ``"truncated"`` (the archive ends inside the last
    member's data; without end-of-archive blocks); ``"bad-checksum"`` (the last member's
    header carries a wrong checksum). Either way every member before the last reads intact.
    """
    if format not in FORMATS:
        raise ValueError(f"make_tar: format {format!r}: expecting one of {sorted(FORMATS)}")
    if compression not in COMPRESSIONS:
        raise ValueError(f"make_tar: compression {compression!r}: expecting None or 'gz'")
    if corrupt not in CORRUPTIONS:
        raise ValueError(f"make_tar: corrupt {corrupt!r}: expecting one of {CORRUPTIONS}")
    buf = io.BytesIO()
    last: Optional[tuple[int, int]] = None  # (data offset, size) of the last member
    with tarfile.open(fileobj=buf, mode="w", format=FORMATS[format]) as tar:
        for name in dirs:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode, info.mtime = 0o755, MTIME
            tar.addfile(info)
        for name, data in items:
            data = _as_bytes(data, f"member {name!r}")
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, MTIME
            tar.addfile(info, io.BytesIO(data))  # (it stores a copy of ``info``)
            padded = -(-len(data) // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
            last = (tar.offset - padded, len(data))
    raw = bytearray(buf.getvalue())
    if corrupt is not None:
        if last is None:
            raise ValueError(f"make_tar: corrupt={corrupt!r} needs at least one member")
        data_at, size = last
        header = data_at - tarfile.BLOCKSIZE
        if corrupt == "truncated":
            # inside the data; an empty member: inside its header
            del raw[data_at + size // 2 if size else header + 100:]
        else:
            checksum = int(raw[header + 148:header + 154].decode("ascii").strip() or "0", 8)
            raw[header + 148:header + 156] = b"%06o\0 " % ((checksum + 1) % 0o1000000)
    if compression == "gz":
        return gzip.compress(bytes(raw), mtime=0)
    return bytes(raw)


def make_shard(samples: Samples, *, compression: Optional[str] = None, format: str = "ustar",  # noqa: A002
               corrupt: Optional[str] = None) -> bytes:
    """One WebDataset shard of ``samples`` (``{key: {ext: bytes}}`` or ``(key, fields)``
    pairs): see :func:`make_tar` for ``compression``, ``format`` and ``corrupt``."""
    return make_tar(members(samples), compression=compression, format=format, corrupt=corrupt)


def make_shards(samples: Samples, n_shards: int, *, name: str = "shard-{:06d}.tar",
                compression: Optional[str] = None, corrupt: Optional[Mapping[int, str]] = None
                ) -> dict[str, bytes]:
    """``samples`` dealt into ``n_shards`` consecutive, near-equal shards:
    ``{name.format(i): shard bytes}``. ``corrupt`` maps shard indices to a corruption
    (``{2: "truncated"}``)."""
    items = list(samples.items() if isinstance(samples, Mapping) else samples)
    if n_shards < 1:
        raise ValueError(f"make_shards: n_shards must be >= 1, got {n_shards}")
    corrupt = dict(corrupt or {})
    out = {}
    for j in range(n_shards):
        part = items[j * len(items) // n_shards:(j + 1) * len(items) // n_shards]
        out[name.format(j)] = make_shard(part, compression=compression,
                                         corrupt=corrupt.pop(j, None))
    if corrupt:
        raise ValueError(f"make_shards: no shard with index {sorted(corrupt)}")
    return out


def put_shards(bucket, shards: Mapping[str, bytes]) -> list[str]:
    """Write ``{object name: bytes}`` into ``bucket`` (an aistore SDK ``Bucket``: mocked,
    served or real); the names written, in order."""
    for name, data in shards.items():
        bucket.object(name).get_writer().put_content(data)
    return list(shards)
