"""The Emulator: all state of one emulated AIS cluster, plus seeding helpers for tests.

It holds the object store, the control-plane registries (ETL, jobs) and the cluster's
identity (UUID, one proxy and one target). Any number of transports may serve one
Emulator at the same time.

    emu = Emulator()
    emu.create_bucket("data")
    emu.put_object("data", "a/b.bin", b"...")
    emu.get_object("data", "a/b.bin")   # b"..."
    emu.reset()                          # drop every bucket, object and registration
"""

from __future__ import annotations

import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional

import xxhash

from ais_emulator.etl import EtlRegistry
from ais_emulator.jobs import JobRegistry
from ais_emulator.store import BucketId, ObjectRecord, Store

_HRW_SEED = 1103515245  # Go's cos.MLCG32, the seed of node ID digests


def _short_id(prefix: str) -> str:
    return prefix + uuidlib.uuid4().hex[:8]


@dataclass
class ClusterIdentity:
    """Cluster UUID and the IDs of its single proxy and single target."""

    uuid: str = field(default_factory=lambda: uuidlib.uuid4().hex[:10])
    proxy_id: str = field(default_factory=lambda: _short_id("p"))
    target_id: str = field(default_factory=lambda: _short_id("t"))
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                               time.gmtime()))

    @staticmethod
    def digest(node_id: str) -> int:
        """Go's Snode.IDDigest: xxh64 of the node ID with the HRW seed."""
        return xxhash.xxh64(node_id.encode(), seed=_HRW_SEED).intdigest()


class Emulator:
    """One emulated cluster. Thread-safe; share it between transports freely."""

    def __init__(self):
        self.store = Store()
        self.etl = EtlRegistry()
        self.jobs = JobRegistry()
        self.identity = ClusterIdentity()
        self._reset_hooks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    # -- seeding helpers ----------------------------------------------------------------

    @staticmethod
    def bucket_id(name: str, provider: str = "ais", namespace=None) -> BucketId:
        return BucketId.parse(provider, name, namespace)

    def create_bucket(self, name: str, provider: str = "ais", namespace=None,
                      exist_ok: bool = False) -> BucketId:
        """Create a bucket (any provider may be seeded this way)."""
        bck = self.bucket_id(name, provider, namespace)
        if exist_ok and self.store.has_bucket(bck):
            return bck
        self.store.create_bucket(bck)
        return bck

    def put_object(self, bucket: str, name: str, data: bytes, provider: str = "ais",
                   namespace=None, custom: Optional[dict] = None) -> ObjectRecord:
        """Store ``data`` as a new version of ``bucket/name`` (the bucket must exist)."""
        return self.store.put_object(self.bucket_id(bucket, provider, namespace), name,
                                     data, custom=custom)

    def get_object(self, bucket: str, name: str, provider: str = "ais",
                   namespace=None) -> bytes:
        """The current bytes of ``bucket/name`` (no atime update)."""
        return self.store.head_object(self.bucket_id(bucket, provider, namespace), name).data

    def list_buckets(self) -> list[BucketId]:
        return self.store.list_buckets()

    # -- lifecycle ------------------------------------------------------------------------

    def on_reset(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` on every reset (control-plane components register here)."""
        with self._lock:
            self._reset_hooks.append(hook)

    def reset(self) -> None:
        """Drop all buckets, objects, uploads, appends and registrations."""
        self.store.reset()
        self.etl.reset()
        self.jobs.reset()
        with self._lock:
            hooks = list(self._reset_hooks)
        for hook in hooks:
            hook()

    def __repr__(self) -> str:
        return f"Emulator(uuid={self.identity.uuid!r}, buckets={len(self.store.list_buckets())})"
