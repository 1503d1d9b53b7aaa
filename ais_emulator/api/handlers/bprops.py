"""Bucket properties as AIS reports them: Go's ``cmn.Bprops`` with the cluster's defaults.

One document serves ``HEAD /v1/buckets/<b>`` (``Ais-Bucket-Props``), the bucket summary of
``Bucket.info()`` and every bucket of the BMD (``GET /v1/cluster?what=bmd``). Buckets
differ only in provider, ID and creation time (see ``buckets`` for what that leaves out).
"""

from __future__ import annotations

from ais_emulator.store import BucketId
from ais_emulator.store.objects import CHECKSUM_TYPE

ACCESS_ALL = str((1 << 64) - 1)  # apc.AccessAll: every permission


def bucket_props(emu, bck: BucketId) -> dict:
    """Go's cmn.Bprops of a bucket with the cluster's defaults (the emulator keeps no
    per-bucket properties)."""
    b = emu.store.bucket(bck)
    return {
        "backend_bck": {"name": "", "provider": "", "namespace": {"uuid": "", "name": ""}},
        "write_policy": {"data": "immediate", "md": "immediate"},
        "provider": bck.provider,
        "Renamed": "",
        "checksum": {"type": CHECKSUM_TYPE, "validate_cold_get": False,
                     "validate_warm_get": False, "validate_obj_move": False,
                     "enable_read_range": False},
        "extra": {"aws": {}, "gcp": {}, "oci": {}},
        "rate_limit": {"backend": {"interval": "1m", "max_tokens": 1000, "enabled": False,
                                   "num_retries": 3},
                       "frontend": {"interval": "1m", "max_tokens": 1000, "enabled": False,
                                    "burst_size": 375}},
        "ec": {"compression": "never", "bundle_multiplier": 2, "burst_buffer": 512,
               "objsize_limit": 262144, "data_slices": 2, "parity_slices": 2,
               "enabled": False, "disk_only": False},
        "chunks": {"objsize_limit": "0B", "max_monolithic_size": "1TiB", "chunk_size": "1GiB"},
        "mirror": {"copies": 2, "burst_buffer": 512, "enabled": False},
        "lru": {"dont_evict_time": "2h0m", "capacity_upd_time": "10m", "batch_size": 32768,
                "enabled": False},
        "access": ACCESS_ALL,
        "features": "0",
        "bid": str(b.bid),
        "created": str(b.created_ns),
        "versioning": {"enabled": True, "validate_warm_get": False, "synchronize": False},
    }
