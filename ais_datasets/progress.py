"""Progress bars for ``show_progress=True``, one per DataLoader worker.

A bar is a ``tqdm`` bar over what a reader yields. In the main process it is drawn as
tqdm draws it; in a DataLoader worker it gets the line ``position=worker_id`` and a
"(worker N)" suffix, and is drawn only when stderr is a terminal, so worker logs never
fill with bar fragments::

    for sample in progress(samples, enabled=True, desc="AISIterDataset", topo=topo): ...
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Optional, TypeVar

from ais_datasets.topology import Topology

T = TypeVar("T")


def progress(items: Iterable[T], *, enabled: bool, desc: str,
             topo: Optional[Topology] = None, total: Optional[int] = None) -> Iterator[T]:
    """``items`` unchanged, counted by a tqdm bar when ``enabled``.

    Disabled, this is ``iter(items)`` itself: no extra layer per item.
    """
    if not enabled:
        return iter(items)
    return _bar(items, desc, topo, total)


def _bar(items: Iterable[T], desc: str, topo: Optional[Topology],
         total: Optional[int]) -> Iterator[T]:
    from tqdm import tqdm  # noqa: PLC0415 - only needed with show_progress

    in_worker = topo is not None and topo.in_worker
    if in_worker:
        desc = f"{desc} (worker {topo.worker_id})"
    bar = tqdm(items, desc=desc, total=total, position=topo.worker_id if in_worker else None,
               disable=None if in_worker else False, leave=not in_worker, dynamic_ncols=True)
    try:
        yield from bar
    finally:
        bar.close()
        close = getattr(items, "close", None)
        if close is not None:  # release what the wrapped generator holds (streams)
            close()
