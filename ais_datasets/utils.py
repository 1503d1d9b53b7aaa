"""Small helpers with the names and behaviour of ``aistore.pytorch.utils``.

Kept for import compatibility (``from ais_datasets.utils import get_basename``)::

    convert_mb_to_bytes(1.5)          # 1500000
    get_basename("a/b/x.seg.png")     # "x"
    get_extension("a/b/x.seg.png")    # "png"

Note: :func:`get_basename` and :func:`get_extension` are upstream's rules (last path
component, last dot). The shard readers of this package do *not* use them for sample
keys; they follow the WebDataset rule in :func:`ais_datasets.samples.split_key`.
"""

from __future__ import annotations

from math import floor
from urllib.parse import urlunparse

from aistore.sdk.utils import parse_url as _sdk_parse_url

MB_TO_B = 1000000


def convert_mb_to_bytes(megabytes: float) -> int:
    """Megabytes (10**6 bytes) to bytes, rounded down."""
    return floor(megabytes * MB_TO_B)


def convert_bytes_to_mb(bytes: int) -> float:  # noqa: A002 - upstream's parameter name
    """Bytes to megabytes (10**6 bytes)."""
    return bytes / MB_TO_B


def unparse_url(provider: str, bck_name: str, obj_name: str) -> str:
    """``provider://bucket/object`` from its parts."""
    return urlunparse((provider, bck_name, obj_name, "", "", ""))


def get_basename(name: str) -> str:
    """Last path component of ``name`` up to its first dot."""
    last = name.rsplit("/", 1)[-1]
    return last.partition(".")[0]


def get_extension(name: str) -> str:
    """Text after the last dot of the last path component, or ``""`` without a dot."""
    last = name.rsplit("/", 1)[-1]
    head, dot, ext = last.rpartition(".")
    return ext if dot else ""


def parse_url(url: str) -> tuple[str, str, str]:
    """``(provider, bucket, object)`` of an AIS URL such as ``ais://bucket/a/b.txt``."""
    return _sdk_parse_url(url)
