"""Handlers per area; importing this package registers their routes."""

from ais_emulator.api.handlers import (  # noqa: F401
    batch,
    buckets,
    cluster,
    etl,
    faults,
    jobs,
    multiobj,
    nodes,
    objects,
    promote,
    remote,
    rename,
    s3,
    s3objects,
    xbucket,
)

__all__ = ["batch", "buckets", "cluster", "etl", "faults", "jobs", "multiobj", "nodes", "objects",
           "promote", "remote", "rename", "s3", "s3objects", "xbucket"]
