"""Handlers per area; importing this package registers their routes."""

from ais_emulator.api.handlers import batch, buckets, cluster, objects  # noqa: F401

__all__ = ["batch", "buckets", "cluster", "objects"]
