"""Deterministic corpora and small helpers for the dataset tests.

Loaded by ``conftest.py`` as the module ``ais_ds_test_kit`` (import it by that name).
Every corpus is built from its arguments alone: same arguments, same bytes.
"""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Iterable, Sequence

from ais_emulator import shards

Members = Sequence[tuple[str, bytes]]


def payload(name: str, size: int = 0) -> bytes:
    """Bytes that identify ``name`` (and differ in length between names)."""
    size = size or 20 + zlib.crc32(name.encode()) % 300
    seed = f"<{name}>".encode()
    return (seed * (size // len(seed) + 1))[:size]


_FORMAT_NAMES = {tarfile.USTAR_FORMAT: "ustar", tarfile.GNU_FORMAT: "gnu",
                 tarfile.PAX_FORMAT: "pax"}


def make_tar(members: Members, fmt: int = tarfile.USTAR_FORMAT) -> bytes:
    """A tar of ``(name, bytes)`` members (``ais_emulator.shards``, the public builder)."""
    return shards.make_tar(members, format=_FORMAT_NAMES[fmt])


def make_tgz(members: Members) -> bytes:
    return shards.make_tar(members, compression="gz")


def put(bucket, objects: dict[str, bytes]):
    for name, data in objects.items():
        bucket.object(name).get_writer().put_content(data)
    return bucket


def object_corpus(bucket, n: int = 24, prefix: str = "objs/") -> list[tuple[str, bytes]]:
    """``n`` small objects ``<prefix>obj-000.bin`` ... in the bucket; returns them sorted."""
    objects = {f"{prefix}obj-{i:03d}.bin": payload(f"{prefix}{i}") for i in range(n)}
    put(bucket, objects)
    return sorted(objects.items())


def shard_members(shard: int, per_shard: int, exts: Iterable[str] = ("cls", "jpg"),
                  key_prefix: str = "") -> list[tuple[str, bytes]]:
    members = []
    for j in range(per_shard):
        key = f"{key_prefix}s{shard:02d}-{j:03d}"
        for ext in sorted(exts):
            members.append((f"{key}.{ext}", payload(f"{key}.{ext}")))
    return members


def shard_corpus(bucket, shards: int = 4, per_shard: int = 6,
                 exts: Iterable[str] = ("cls", "jpg"), prefix: str = "shards/"
                 ) -> tuple[list[str], list[tuple[str, dict[str, bytes]]]]:
    """Tar shards ``<prefix>shard-00.tar`` ...; returns (shard names, samples in order)."""
    names, samples = [], []
    for s in range(shards):
        members = shard_members(s, per_shard, exts)
        name = f"{prefix}shard-{s:02d}.tar"
        bucket.object(name).get_writer().put_content(make_tar(members))
        names.append(name)
        samples.extend(group(members))
    return names, samples


def group(members: Members) -> list[tuple[str, dict[str, bytes]]]:
    """WebDataset grouping of members, the reference the readers are checked against."""
    out: list[tuple[str, dict[str, bytes]]] = []
    for name, data in members:
        base = name.rsplit("/", 1)[-1]
        key = name[: len(name) - len(base) + base.index(".")]
        ext = base[base.index(".") + 1:]
        if out and out[-1][0] == key:
            out[-1][1][ext] = data
        else:
            out.append((key, {ext: data}))
    return out


def keys(samples) -> list[str]:
    return [key for key, _ in samples]


def plain(samples) -> list[tuple[str, dict[str, bytes]]]:
    """Samples with their ZeroDicts turned into plain dicts without empty fillers."""
    return [(key, {e: v for e, v in fields.items() if v != b""}) for key, fields in samples]


class CallLog:
    """Records the SDK's HTTP requests: (method, path, params) tuples."""

    def __init__(self):
        self.calls: list[tuple[str, str, dict]] = []

    def install(self, monkeypatch):
        from aistore.sdk.request_client import RequestClient

        original = RequestClient.request
        log = self

        def request(self, method, path, *args, **kwargs):
            log.calls.append((method.upper(), path, dict(kwargs.get("params") or {}),
                              dict(kwargs.get("headers") or {})))
            return original(self, method, path, *args, **kwargs)

        monkeypatch.setattr(RequestClient, "request", request)
        return self

    def gets(self, contains: str = "") -> list[tuple[str, dict, dict]]:
        return [(p, q, h) for m, p, q, h in self.calls
                if m == "GET" and p.startswith("objects/") and contains in p]

    def batch_requests(self) -> int:
        return sum(1 for m, p, _, _ in self.calls if p.startswith("ml/moss"))

    def clear(self):
        self.calls.clear()


def no_getbatch(monkeypatch) -> list:
    """Make every GetBatch request fail as a cluster without the route does (501).

    Returns the list that gets one entry per attempted request.
    """
    from aistore.sdk.batch.batch import Batch
    from aistore.sdk.errors import AISError

    attempts: list = []

    def not_implemented(self, *a, **kw):
        attempts.append(1)
        raise AISError(501, "not implemented", "http://x/v1/ml/moss", None)

    monkeypatch.setattr(Batch, "get", not_implemented)
    return attempts
