"""Base class of the map-style datasets (``AISBaseMapDataset``).

Same constructor, attributes and helpers as upstream's base class: the constructor
lists every source (under its prefixes) into a list of SDK ``Object`` handles, which
``get_obj_list()`` returns and subclasses index::

    class Sizes(AISBaseMapDataset):
        def __len__(self):
            return len(self._obj_list)
        def __getitem__(self, i):
            return self._obj_list[i].props_cached.size

The objects carry the listed size (``props_cached.size``), which
:class:`~ais_datasets.dynamic_sampler.DynamicBatchSampler` reads. The list is built in
the process that constructs the dataset and pickles with it, so DataLoader workers
never list.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from array import array
from typing import Union

from aistore.sdk import AISSource
from aistore.sdk.obj.object import Object
from torch.utils.data import Dataset

from ais_datasets.sources import normalize_sources, prefixes_for


class AISBaseMapDataset(ABC, Dataset):
    """Base class for AIS map-style datasets; subclasses implement ``__getitem__``.

    Args:
        ais_source_list: a single ``AISSource`` or a list of them.
        prefix_map: per source, a prefix or list of prefixes (absent/None: all objects).
    """

    def __init__(
        self,
        ais_source_list: Union[AISSource, list[AISSource]],
        prefix_map: dict[AISSource, Union[str, list[str]]] = {},  # noqa: B006 - upstream
    ) -> None:
        self._ais_source_list = normalize_sources(ais_source_list, type(self).__name__)
        self._prefix_map = prefix_map
        self._obj_source_nos = array("I")
        self._obj_list = self._create_objects_list()

    def _create_objects_list(self) -> list[Object]:
        """All objects of all sources under their prefixes, in listing order."""
        samples: list[Object] = []
        self._obj_source_nos = array("I")
        for no, source in enumerate(self._ais_source_list):
            for prefix in prefixes_for(source, self._prefix_map):
                before = len(samples)
                samples.extend(source.list_all_objects_iter(prefix=prefix))
                self._obj_source_nos.extend([no] * (len(samples) - before))
        return samples

    def get_obj_list(self) -> list[Object]:
        """The list of objects the dataset indexes."""
        return self._obj_list

    @abstractmethod
    def __getitem__(self, index):
        """Return the sample at ``index``."""

    def __getitems__(self, indices: list[int]):
        return [self.__getitem__(index) for index in indices]
