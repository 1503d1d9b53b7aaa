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
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from torch.utils.data import IterableDataset, get_worker_info

OURS = "ais_datasets"
UPSTREAM = "aistore.pytorch"
WEBDATASET = "webdataset"
LIMIT = "limit (raw GET)"
FLOOR = "DataLoader floor"

# streaming chunk size for raw GETs: 1 MiB is the fastest of 64 KiB..4 MiB here; 4 MiB
# reads are fresh multi-MiB allocations each time and came out ~1.5x slower on shards
CHUNK = 1024 * 1024


@dataclass
class Reader:
    make: Callable[[], Iterable]
    key_of: Callable[[Any], Any]
    size_of: Callable[[Any], int]
    weight_of: Callable[[Any], float] | None = None
    cap: int | None = None  # items (batches when batched)
    note: str = ""
    release: Callable[[Any], None] | None = None
    samples_per_item: int = 1  # the batch size when batched: ``cap`` in samples

    @property
    def cap_samples(self) -> int | None:
        return None if self.cap is None else self.cap * self.samples_per_item


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
    """Payload bytes of a sample or batch (the common types are tested first: the
    consumer's own cost per sample comes on top of every contender's)."""
    cls = type(x)
    if cls is bytes or cls is bytearray:
        return len(x)
    if isinstance(x, dict):
        return sum(nbytes(v) for k, v in x.items()
                   if not (type(k) is str and k.startswith("__")))
    if isinstance(x, (tuple, list)):
        return sum(nbytes(v) for v in x if type(v) is not str)
    if isinstance(x, (bytes, bytearray)):
        return len(x)
    if isinstance(x, memoryview):
        return x.nbytes
    if hasattr(x, "buf") and hasattr(x, "close"):  # the SDK's ParallelBuffer
        return len(x)
    if hasattr(x, "element_size") and hasattr(x, "numel"):  # a tensor
        return x.element_size() * x.numel()
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


def shard_reader(package: str, endpoint: str, manifest: dict, num_workers: int,
                 batch_size: int | None = None) -> Reader:
    """shards through AISShardReader: (basename, {ext: bytes}) per sample.

    With ``batch_size`` the DataLoader collates batches (the default ``collate_fn``):
    ``[keys, {ext: [bytes, ...]}]``; a batch counts as its number of samples.
    """
    cls = dataset_class(package, "AISShardReader")

    def make():
        return _loader(cls(_bucket(endpoint, manifest["bucket"])), num_workers,
                       batch_size=batch_size)

    if batch_size:
        return Reader(make, _first_of_first, lambda b: nbytes(b[1]), weight_of=_len_first)
    return Reader(make, _first, lambda s: nbytes(s[1]))


def _first_of_first(batch):
    return batch[0][0]


def _len_first(batch) -> int:
    return len(batch[0])


def _bin_key(sample) -> bytes:
    # a .bin payload is 16 KiB of seeded random bytes: its first 16 name the sample
    return bytes(sample[0][:16])


def _bin_key_of_batch(batch) -> bytes:
    return bytes(batch[0][0][:16])


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
                      cap: int | None = None, batch_size: int | None = None) -> Reader:
    """multishard through AISMultiShardStream over two DataShard sources (a/: .bin, b/: .cls).

    ``cap`` counts samples; with ``batch_size`` it is rounded up to whole batches.
    """
    cls = dataset_class(package, "AISMultiShardStream")
    from aistore.sdk import DataShard

    def make():
        sources = [DataShard(client_url=endpoint, bucket_name=manifest["bucket"], prefix=p)
                   for p in manifest["prefixes"]]
        return _loader(cls(data_sources=sources), num_workers, batch_size=batch_size)

    if batch_size:
        cap_items = None if cap is None else -(-cap // batch_size)
        return Reader(make, _bin_key_of_batch, nbytes, weight_of=_len_first, cap=cap_items,
                      samples_per_item=batch_size)
    return Reader(make, _bin_key, nbytes, cap=cap)


# --------------------------------------------------------------------------- DataLoader floor


class ReplayDataset(IterableDataset):
    """Samples already in memory, dealt round-robin to DataLoader workers.

    The DataLoader floor: what a DataLoader with these settings delivers when the
    dataset itself costs nothing (same samples, same shapes, same collation).
    """

    def __init__(self, samples: list):
        self.samples = samples

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(self.samples)
        return itertools.islice(self.samples, info.id, None, info.num_workers)


def floor_reader(samples: list, like: Reader, num_workers: int,
                 batch_size: int | None = None) -> Reader:
    """The DataLoader floor for ``samples`` (as the contender ``like`` counts them)."""

    def make():
        return _loader(ReplayDataset(samples), num_workers, batch_size=batch_size)

    return Reader(make, like.key_of, like.size_of, weight_of=like.weight_of,
                  note="DataLoader floor: the same samples from memory through the same "
                       "DataLoader, the dataset costing nothing")


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
