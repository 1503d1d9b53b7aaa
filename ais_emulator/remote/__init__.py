"""Remote (cloud) backends for the emulator's remote buckets: S3 over boto3 and moto."""

from ais_emulator.remote.s3 import S3Backend, moto_active

__all__ = ["S3Backend", "moto_active"]
