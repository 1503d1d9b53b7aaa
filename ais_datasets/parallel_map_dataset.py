"""``AISParallelMapDataset``: map-style dataset that downloads each object in parallel.

Drop-in for ``aistore.pytorch.AISParallelMapDataset``: each object is fetched as
``num_workers`` concurrent byte-range reads by the SDK, and ``__getitem__`` returns
``(object_name, ParallelBuffer)``; the caller closes the buffer (it is backed by shared
memory)::

    ds = AISParallelMapDataset(bucket, num_workers=8)
    name, buf = ds[0]
    with buf:
        data = buf.tobytes()
"""

from __future__ import annotations

from typing import Optional, Union

from aistore.sdk import AISSource

from ais_datasets.base_map_dataset import AISBaseMapDataset


class AISParallelMapDataset(AISBaseMapDataset):
    """Map-style dataset of ``(name, ParallelBuffer)`` read with parallel range GETs.

    Args:
        ais_source_list: sources; prefix_map: per-source prefixes.
        num_workers: concurrent range reads per object (at least 2).
    """

    def __init__(
        self,
        ais_source_list: Optional[Union[AISSource, list[AISSource]]] = None,
        prefix_map: Optional[dict[AISSource, Union[str, list[str]]]] = None,
        num_workers: int = 16,
    ):
        super().__init__(ais_source_list or [], prefix_map or {})
        self._num_workers = num_workers

    @property
    def num_workers(self) -> int:
        """Concurrent range reads per object."""
        return self._num_workers

    def __len__(self) -> int:
        return len(self._obj_list)

    def __getitem__(self, index: int):
        try:
            obj = self._obj_list[index]
        except IndexError:
            raise IndexError(
                f"<{self.__class__.__name__}> index must be in bounds of dataset") from None
        return obj.name, obj.get_reader(num_workers=self._num_workers).read_all()
