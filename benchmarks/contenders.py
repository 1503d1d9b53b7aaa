"""The contenders: what one benchmark round reads, and how its samples are counted.

Every factory returns a ``Reader``: ``make()`` builds the iterable (dataset + DataLoader,
or raw GETs) inside the timed round; ``key_of``/``size_of``/``weight_of`` feed
``measure.consume``. The two dataset packages are driven through the same public names
and argument lists (``aistore.pytorch`` is the upstream the other is a drop-in for)::

    r = iter_reader("ais_datasets", url, manifest, num_workers=2)
    measure.consume(r.make, r.key_of, r.size_of, cap=r.cap)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest

OURS = "ais_datasets"
UPSTREAM = "aistore.pytorch"
WEBDATASET = "webdataset"
LIMIT = "limit (raw GET)"

CHUNK = 4 * 1024 * 1024  # streaming chunk size for raw GETs


@dataclass
class Reader:
    make: Callable[[], Iterable]
    key_of: Callable[[Any], Any]
    size_of: Callable[[Any], int]
    weight_of: Callable[[Any], float] | None = None
    cap: int | None = None
    note: str = ""
    release: Callable[[Any], None] | None = None


def dataset_class(package: str, name: str):
    """``package.name`` or a skip that says why (the class is not written yet)."""
    try:
        mod = importlib.import_module(package)
    except ImportError as exc:
        pytest.skip(f"{package} cannot be imported ({exc})")
    cls = getattr(mod, name, None)
    if cls is None:
        pytest.skip(f"{package} has no {name} yet")
    return cls


def nbytes(x: Any) -> int:
    if isinstance(x, (bytes, bytearray)):
        return len(x)
    if isinstance(x, memoryview):
        return x.nbytes
    if hasattr(x, "buf") and hasattr(x, "close"):  # the SDK's ParallelBuffer
        return len(x)
    if hasattr(x, "element_size") and hasattr(x, "numel"):  # a tensor
        return x.element_size() * x.numel()
    if isinstance(x, dict):
        return sum(nbytes(v) for k, v in x.items() if not str(k).startswith("__"))
    if isinstance(x, (tuple, list)):
        return sum(nbytes(v) for v in x if not isinstance(v, str))
    return len(x)


def object_url(endpoint: str, bucket: str, name: str) -> str:
    """The plain object URL, as ``Object.get_url()`` / ``Bucket.list_urls()`` give it."""
    return f"{endpoint}/v1/objects/{bucket}/{name}?provider=ais"


def _bucket(endpoint: str, bucket: str):
    from aistore.sdk import Client

    return Client(endpoint).bucket(bucket)


def _loader(dataset, num_workers: int, **kw):
    from torch.utils.data import DataLoader

    return DataLoader(dataset, batch_size=kw.pop("batch_size", None), num_workers=num_workers,
                      **kw)


def _first(x):
    return x[0]


def _as_list(batch):
    """collate_fn for map batches: keep the list of (name, bytes) samples as it is."""
    return batch


# --------------------------------------------------------------------------- raw GET limit


def limit_reader(endpoint: str, manifest: dict, chunk: int = CHUNK) -> Reader:
    """Sequential streaming GETs of every object of the corpus, bytes dropped."""
    bps = manifest["bytes_per_sample"]

    def make():
        import requests

        with requests.Session() as session:
            session.trust_env = False  # no per-request proxy lookups: the lean client
            for name, _size in manifest["objects"]:
                got = 0
                url = object_url(endpoint, manifest["bucket"], name)
                with session.get(url, stream=True) as resp:
                    resp.raise_for_status()
                    for block in resp.iter_content(chunk):
                        got += len(block)
                yield name, got

    return Reader(make, _first, lambda item: item[1], weight_of=lambda item: item[1] / bps,
                  note="sequential streaming GET of the same objects, bytes dropped")


# --------------------------------------------------------------------------- datasets


def iter_reader(package: str, endpoint: str, manifest: dict, num_workers: int) -> Reader:
    """small-objects through AISIterDataset: (name, bytes) per object."""
    cls = dataset_class(package, "AISIterDataset")

    def make():
        return _loader(cls(_bucket(endpoint, manifest["bucket"])), num_workers)

    return Reader(make, _first, lambda s: nbytes(s[1]))


def shard_reader(package: str, endpoint: str, manifest: dict, num_workers: int) -> Reader:
    """shards through AISShardReader: (basename, {ext: bytes}) per sample."""
    cls = dataset_class(package, "AISShardReader")

    def make():
        return _loader(cls(_bucket(endpoint, manifest["bucket"])), num_workers)

    return Reader(make, _first, lambda s: nbytes(s[1]))


def webdataset_reader(endpoint: str, manifest: dict, num_workers: int) -> Reader:
    """shards through webdataset.WebDataset over the plain http:// object URLs."""
    try:
        import webdataset as wds
    except ImportError as exc:
        pytest.skip(f"webdataset cannot be imported ({exc})")

    def make():
        urls = list(_bucket(endpoint, manifest["bucket"]).list_urls())
        return _loader(wds.WebDataset(urls, shardshuffle=False), num_workers)

    return Reader(make, lambda s: s["__key__"], nbytes,
                  note="WebDataset(urls) with its default http opener (curl)")


def multishard_reader(package: str, endpoint: str, manifest: dict, num_workers: int,
                      cap: int | None = None) -> Reader:
    """multishard through AISMultiShardStream over two DataShard sources (a/: .bin, b/: .cls)."""
    cls = dataset_class(package, "AISMultiShardStream")
    from aistore.sdk import DataShard

    def make():
        sources = [DataShard(client_url=endpoint, bucket_name=manifest["bucket"], prefix=p)
                   for p in manifest["prefixes"]]
        return _loader(cls(data_sources=sources), num_workers)

    # a .bin payload is 16 KiB of seeded random bytes: its first 16 name the sample
    return Reader(make, lambda s: bytes(s[0][:16]), nbytes, cap=cap)


def map_batch_reader(package: str, endpoint: str, manifest: dict, num_workers: int,
                     batch: int = 64, cap: int | None = None) -> Reader:
    """small-objects through AISMapDataset.__getitems__, ``batch`` objects per call."""
    cls = dataset_class(package, "AISMapDataset")

    def make():
        loader = _loader(cls(_bucket(endpoint, manifest["bucket"])), num_workers,
                         batch_size=batch, collate_fn=_as_list)
        return (sample for got in loader for sample in got)

    return Reader(make, _first, lambda s: nbytes(s[1]), cap=cap)


def parallel_map_reader(package: str, endpoint: str, manifest: dict,
                        num_workers: int) -> Reader:
    """large-object through AISParallelMapDataset (range-read workers: its default)."""
    cls = dataset_class(package, "AISParallelMapDataset")

    def make():
        return _loader(cls(_bucket(endpoint, manifest["bucket"])), num_workers)

    return Reader(make, _first, lambda s: nbytes(s[1]), release=_close_payload)


def _close_payload(sample) -> None:
    """Release a ParallelBuffer (shared memory) as soon as it is counted."""
    close = getattr(sample[1], "close", None)
    if close is not None:
        close()


def shard_reader_any(contender: str, endpoint: str, manifest: dict, num_workers: int) -> Reader:
    if contender == WEBDATASET:
        return webdataset_reader(endpoint, manifest, num_workers)
    return shard_reader(contender, endpoint, manifest, num_workers)
