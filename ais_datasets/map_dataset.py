"""``AISMapDataset``: map-style dataset of ``(object_name, bytes)``.

Drop-in for ``aistore.pytorch.AISMapDataset``. ``ds[i]`` is one GET, as upstream. A
DataLoader with automatic batching calls ``__getitems__`` with a whole batch of indices;
here that batch is fetched with **one GetBatch request** per client (keyword-only
``use_batch=True``)::

    ds = AISMapDataset(bucket)
    loader = DataLoader(ds, batch_size=64, num_workers=4)   # 1 request per batch

Fallbacks keep the results identical to per-item GETs (the rules of
:mod:`ais_datasets.getbatch`): an entry the server reports as failed is fetched again
with a plain GET (which raises the real error, e.g. ``ErrObjNotFound``); the items a
GetBatch request does not deliver (it fails as a whole, or its reply cannot be read)
are read with per-item GETs; and when the cluster does not serve GetBatch at all (a
400/404/405/501 on the route), this process stops trying. With ``etl_name`` every item
is a plain GET (GetBatch carries no transform).

Faults: every request follows the ``retry`` policy (:mod:`ais_datasets.retry`): a 503 is
retried with back-off, a body cut mid-way resumes with a Range GET, a GetBatch reply cut
mid-way is asked for again for the items not yet received. With ``verify_checksum`` (default) ``ds[i]`` (and every plain
GET) is checked against the checksum the cluster sends before it is returned; a mismatch
is read again, then raises :class:`~ais_datasets.errors.ChecksumError`. GetBatch
entries carry no checksum and are not checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Optional, Union

from aistore.sdk import AISSource

from ais_datasets.base_map_dataset import AISBaseMapDataset
from ais_datasets.getbatch import fetch_objects
from ais_datasets.reading import read_object
from ais_datasets.retry import RetryPolicy, check


class AISMapDataset(AISBaseMapDataset):
    """Map-style dataset of ``(object_name, object_bytes)`` over AIS sources.

    Args:
        ais_source_list: sources; prefix_map: per-source prefixes.
        etl_name: an ETL already running on the cluster, applied to every object.
        use_batch: fetch DataLoader batches with GetBatch (keyword-only, default True).
        retry: the :class:`~ais_datasets.retry.RetryPolicy` (keyword-only; None: the
            default for the client).
        verify_checksum: check plain GETs against the cluster's checksum (keyword-only).
    """

    def __init__(
        self,
        ais_source_list: Union[AISSource, list[AISSource]] = [],  # noqa: B006 - upstream
        prefix_map: dict[AISSource, Union[str, list[str]]] = {},  # noqa: B006 - upstream
        etl_name: str = None,
        *,
        use_batch: bool = True,
        retry: Optional[RetryPolicy] = None,
        verify_checksum: bool = True,
    ):
        super().__init__(ais_source_list, prefix_map)
        self._etl_name = etl_name
        self._use_batch = use_batch
        self._retry = check(retry)
        self._verify = bool(verify_checksum)

    def __len__(self) -> int:
        return len(self._obj_list)

    def _object(self, index: int):
        try:
            return self._obj_list[index]
        except (IndexError, TypeError):
            raise IndexError(
                f"<{self.__class__.__name__}> index must be in bounds of dataset") from None

    def __getitem__(self, index: int) -> tuple[str, bytes]:
        obj = self._object(index)
        return obj.name, self._read(obj)

    def _read(self, obj) -> bytes:
        return read_object(obj, self._etl_name, policy=self._retry, verify=self._verify)

    def _batching(self) -> bool:
        return self._use_batch and not self._etl_name

    def __getitems__(self, indices: list[int]) -> list[tuple[str, bytes]]:
        if len(indices) < 2 or not self._batching():
            return [self.__getitem__(i) for i in indices]
        objects = [self._object(i) for i in indices]
        datas: list[Optional[bytes]] = [None] * len(indices)
        groups: dict[int, list[int]] = {}
        for k, i in enumerate(indices):
            no = self._obj_source_nos[i if i >= 0 else len(self._obj_list) + i]
            groups.setdefault(no, []).append(k)
        for no, members in groups.items():
            client = getattr(self._ais_source_list[no], "client", None)
            got = fetch_objects(client, [objects[k] for k in members], policy=self._retry,
                                verify=self._verify, gets=self._gets)
            for k, (_, data) in zip(members, got, strict=True):
                datas[k] = data
        return [(obj.name, data) for obj, data in zip(objects, datas, strict=True)]

    def _gets(self, objects) -> Iterator[tuple[str, bytes]]:
        """Plain GETs, one after the other (the items GetBatch did not deliver)."""
        for obj in objects:
            yield obj.name, self._read(obj)
