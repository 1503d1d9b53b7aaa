"""The Emulator: all state of one emulated AIS cluster, plus seeding helpers for tests.

It holds the object store, the control-plane registries (ETL, jobs, fault rules) and
the cluster's identity (UUID, one proxy and one target). Any number of transports may serve one
Emulator at the same time.

    emu = Emulator()
    emu.create_bucket("data")
    emu.put_object("data", "a/b.bin", b"...")
    emu.get_object("data", "a/b.bin")   # b"..."
    emu.faults.add("503", p=0.05)        # inject faults (see ais_emulator.faults)
    emu.reset()                          # drop every bucket, object, registration and rule

Remote buckets: ``attach_s3()`` (or ``Emulator(remote_s3=True)``) serves ``aws`` buckets
from S3, by default moto's in-process ``mock_aws`` (see ``ais_emulator.remote``):

    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="remote")
        emu = Emulator(remote_s3=True)   # client.bucket("remote", provider="aws") lists it

Durable state: ``Emulator(data_dir="/srv/ais-data")`` keeps buckets, objects and pending
writes in that directory (``store.disk``): they come back when an Emulator opens it
again, objects stream to and from files, and ``reset()`` empties the directory's store.
``close()`` releases the directory (an Emulator is also a context manager). Without
``data_dir`` nothing touches the disk.

``reset()`` drops cached copies and detaches the backends attached after construction; a
backend given to the constructor stays attached (the remote data is the backend's own).
moto's ``mock_aws`` must be entered before ``mock_ais``: both patch ``requests`` and the
one started last takes every request (the EmulatorServer transport is not affected).
"""

from __future__ import annotations

import time
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Optional

import xxhash

from ais_emulator.etl import EtlRegistry
from ais_emulator.faults import FaultSet
from ais_emulator.jobs import JobRegistry
from ais_emulator.limits import MAX_OBJECT_SIZE, MAX_RUNNING_JOBS
from ais_emulator.nodelog import NodeLog
from ais_emulator.nodestats import NodeStats
from ais_emulator.remote import S3Backend
from ais_emulator.seeding import load_tree
from ais_emulator.store import BucketId, ObjectRecord
from ais_emulator.store.backed import BackedStore
from ais_emulator.store.disk import DurableStore

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

    def __init__(self, remote_s3=None, data_dir: Optional[str] = None, *,
                 max_object_size: int = MAX_OBJECT_SIZE,
                 max_running_jobs: int = MAX_RUNNING_JOBS,
                 promote_root: Optional[str] = None):
        """``remote_s3``: True (in-process moto S3), a boto3 S3 client, or a backend
        (e.g. ``ais_emulator.remote.S3Backend``) to serve ``aws`` buckets from.
        ``data_dir``: keep the store in this directory (created if missing; a directory
        with other content, a newer layout, or one in use raises ``DataDirError``).
        ``max_object_size``: the largest object (bytes) the store takes in memory (413
        past it; with a data dir objects stream to disk and only data the store must hold
        in memory is capped); ``max_running_jobs``: jobs running at once (429 past it).
        See ``ais_emulator.limits``. ``promote_root``: the directory whose files clients
        may promote into buckets (``Object.promote``); None (the default) refuses every
        promote."""
        if data_dir is None:
            self.store = BackedStore(max_object_size)
        else:
            self.store = DurableStore(data_dir, max_object_size)
        self.data_dir = None if data_dir is None else self.store.data_dir
        self.etl = EtlRegistry()
        self.log = NodeLog()
        self.stats = NodeStats()
        self.jobs = JobRegistry(max_running_jobs, on_event=self._job_event)
        self.faults = FaultSet()  # injected faults (see ais_emulator.faults)
        self.identity = ClusterIdentity()
        self.promote_root = promote_root
        self._pinned: dict = {}
        if remote_s3 is not None and remote_s3 is not False:
            self._pinned["aws"] = self.attach_s3(None if remote_s3 is True else remote_s3)
        self.log.info(f"emulated cluster {self.identity.uuid} up: proxy "
                      f"p[{self.identity.proxy_id}], target t[{self.identity.target_id}]")

    def _job_event(self, job, event: str) -> None:
        if event == "start":
            self.log.info(f"{job.kind}[{job.id}] started")
        elif job.err:
            self.log.warning(f"{job.kind}[{job.id}] ended: {job.err}")
        else:
            self.log.info(f"{job.kind}[{job.id}] finished")

    # -- remote backends ------------------------------------------------------------------

    def attach_backend(self, backend):
        """Serve the buckets of ``backend.provider`` from ``backend``; returns it."""
        self.store.attach_backend(backend)
        return backend

    def attach_s3(self, client=None, *, endpoint_url: Optional[str] = None):
        """Serve ``aws`` buckets from S3: moto's in-process S3 by default, else ``client``
        (a boto3 S3 client, or a ready backend) or a client for ``endpoint_url``."""
        if client is not None and hasattr(client, "list_page"):
            return self.attach_backend(client)
        return self.attach_backend(S3Backend(client, endpoint_url=endpoint_url))

    def detach_backend(self, provider: str = "aws"):
        """Stop serving ``provider`` buckets from a backend; returns the backend (or None)."""
        self._pinned.pop(provider, None)
        return self.store.detach_backend(provider)

    @property
    def remote(self) -> dict:
        """Attached backends by provider (a copy)."""
        return self.store.backends

    # -- seeding helpers ----------------------------------------------------------------

    @staticmethod
    def bucket_id(name: str, provider: str = "ais", namespace=None) -> BucketId:
        return BucketId.parse(provider, name, namespace)

    def create_bucket(self, name: str, provider: str = "ais", namespace=None,
                      exist_ok: bool = False) -> BucketId:
        """Create a bucket (any provider may be seeded this way; with a backend attached
        for the provider, the bucket is created there too when missing)."""
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
        """The current bytes of ``bucket/name`` (no atime update; a remote object that is
        not cached is read from its backend and stays uncached)."""
        bck = self.bucket_id(bucket, provider, namespace)
        rec = self.store.head_object(bck, name)
        if not rec.present:
            return self.store.remote_bytes(bck, name)
        return rec.data if rec.in_memory else b"".join(rec.iter_data())

    def list_buckets(self) -> list[BucketId]:
        return self.store.list_buckets()

    def load_tree(self, bucket: str, path: str, provider: str = "ais") -> tuple[int, int, int]:
        """Seed ``bucket`` (created if missing) with every file under ``path``, named by
        its relative path; returns ``(stored, unchanged, bytes stored)``. See
        ``ais_emulator.seeding``."""
        return load_tree(self, self.bucket_id(bucket, provider), path)

    # -- lifecycle ------------------------------------------------------------------------

    def reset(self) -> None:
        """Drop all buckets, objects, uploads, appends, registrations and fault rules."""
        self.store.reset()
        for provider, backend in self.store.backends.items():
            if self._pinned.get(provider) is not backend:
                self.store.detach_backend(provider)
        for backend in self._pinned.values():  # back to the constructed state
            self.store.attach_backend(backend)
        self.etl.reset()
        self.jobs.reset()
        self.faults.clear()
        self.log.info("emulator reset: every bucket, object and job dropped")

    def close(self) -> None:
        """Release the data dir (writes pending access times); idempotent, and a no-op
        without a data dir."""
        closer = getattr(self.store, "close", None)
        if closer is not None:
            closer()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f", data_dir={self.data_dir!r}" if self.data_dir else ""
        return (f"Emulator(uuid={self.identity.uuid!r}, "
                f"buckets={len(self.store.list_buckets())}{where})")
