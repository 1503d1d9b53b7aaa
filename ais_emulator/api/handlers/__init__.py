"""Handlers per area; importing this package registers their routes."""

from ais_emulator.api.handlers import batch, buckets, cluster, objects  # noqa: F401
from ais_emulator.api.handlers import remote  # noqa: F401
from ais_emulator.api.handlers import etl, jobs, multiobj, xbucket  # noqa: F401

__all__ = ["batch", "buckets", "cluster", "etl", "jobs", "multiobj", "objects", "remote",
           "xbucket"]
