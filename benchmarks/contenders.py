"""The contenders: what one benchmark round reads, and how its samples are counted.

Every factory returns a ``Reader``: ``make()`` builds the iterable (dataset + DataLoader)
inside the timed round; ``key_of``/``size_of``/``weight_of`` feed ``measure.consume``;
``requests`` (where the requests cannot be captured in this process: webdataset's curl,
upstream's range-read processes) lists what the contender sends, for its request
ceiling (:mod:`benchmarks.ceilings`). The two dataset packages are driven through the same
public names and argument lists (``aistore.pytorch`` is the upstream the other is a
drop-in for)::

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

OURS = "ais_datasets"
UPSTREAM = "aistore.pytorch"
WEBDATASET = "webdataset"
DL_CEILING = "DataLoader ceiling"

# streaming chunk size of the server benchmark's plain-HTTP client
CHUNK = 1024 * 1024
# what upstream's AISParallelMapDataset sends: ranges of the SDK's parallel chunk size
# from ``num_workers`` (16) processes
UPSTREAM_RANGE_CHUNK = 8 * 1024 * 1024
UPSTREAM_RANGE_WORKERS = 16


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
    requests: Callable[[], list] | None = None  # uncapturable requests (see module doc)

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

    def requests():
        from benchmarks.ceilings import object_gets

        return object_gets(list(_bucket(endpoint, manifest["bucket"]).list_urls()))

    return Reader(make, lambda s: s["__key__"], nbytes, requests=requests,
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


# --------------------------------------------------------------------------- DataLoader ceiling


def dl_ceiling_reader(shape, like: Reader, num_workers: int,
                      batch_size: int | None = None) -> Reader:
    """The DataLoader ceiling: samples of ``shape`` generated inside each worker, through
    the same DataLoader settings, counted as the contender ``like`` counts them."""
    from benchmarks.ceilings import GeneratedDataset

    def make():
        return _loader(GeneratedDataset(shape), num_workers, batch_size=batch_size)

    def key_of(_item, _count=itertools.count()):  # every item is a sample of its own
        return next(_count)

    return Reader(make, key_of, like.size_of, weight_of=like.weight_of,
                  note="DataLoader ceiling: samples of the same shape generated inside each "
                       "worker, no network")


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

    requests = None
    if package == UPSTREAM:  # its range reads come from a process pool: not capturable
        def requests():
            from benchmarks.ceilings import ranged_requests

            name, size = manifest["objects"][0]
            return ranged_requests(object_url(endpoint, manifest["bucket"], name), size,
                                   UPSTREAM_RANGE_CHUNK, UPSTREAM_RANGE_WORKERS)

    return Reader(make, _first, lambda s: nbytes(s[1]), release=_close_payload,
                  requests=requests)


def _close_payload(sample) -> None:
    """Release a ParallelBuffer (shared memory) as soon as it is counted."""
    close = getattr(sample[1], "close", None)
    if close is not None:
        close()


def shard_reader_any(contender: str, endpoint: str, manifest: dict, num_workers: int) -> Reader:
    """``shard_reader`` or, for ``webdataset``, ``webdataset_reader`` (the memory probe)."""
    if contender == WEBDATASET:
        return webdataset_reader(endpoint, manifest, num_workers)
    return shard_reader(contender, endpoint, manifest, num_workers)
