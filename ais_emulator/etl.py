"""The ETL registry the object handlers consult (inline ``etl_name`` transforms).

It starts empty; the REST lifecycle of ETLs (``PUT /v1/etl`` ...) is not served yet.
In-process transformers can be registered directly, which is also the hook the ETL
lifecycle builds on:

    emu.etl.register("upper-etl", lambda data, path, args: data.upper())
    # GET /v1/objects/b/o?etl_name=upper-etl  ->  the transformed bytes

A transformer is ``fn(data: bytes, path: str, args: str) -> bytes`` where ``path`` is
``"<bucket>/<object>"``, as AIS hands it to a transformer pod.

Deviation: a transformer that raises is answered 422 naming the ETL and the error (AIS
relays the pod's status, typically a 5xx, which the SDK would retry for about 90 s).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ais_emulator.store.errors import StoreError

Transform = Callable[[bytes, str, str], bytes]


class EtlNotFound(StoreError):
    """No ETL of that name is registered."""

    def __init__(self, name: str):
        super().__init__(f"{name} does not exist", name=name)


class EtlTransformFailed(StoreError):
    """A registered transformer raised; ``reason`` is its exception, as text."""

    def __init__(self, name: str, path: str, reason: str):
        super().__init__(f"etl {name!r} failed to transform {path}: {reason}",
                         name=name, path=path, reason=reason)


@dataclass(frozen=True)
class Etl:
    name: str
    transform: Transform
    mime_type: str = "application/octet-stream"


class EtlRegistry:
    """Name -> Etl, thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._etls: dict[str, Etl] = {}

    def register(self, name: str, transform: Transform,
                 mime_type: str = "application/octet-stream") -> Etl:
        etl = Etl(name, transform, mime_type)
        with self._lock:
            self._etls[name] = etl
        return etl

    def unregister(self, name: str) -> None:
        with self._lock:
            if self._etls.pop(name, None) is None:
                raise EtlNotFound(name)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._etls)

    def require(self, name: str) -> Etl:
        with self._lock:
            etl = self._etls.get(name)
        if etl is None:
            raise EtlNotFound(name)
        return etl

    def apply(self, names: Iterable[str], data: bytes, path: str, args: str = "") -> bytes:
        """Run ``data`` through the named ETLs in order (a pipeline)."""
        for name in names:
            etl = self.require(name)
            try:
                data = bytes(etl.transform(bytes(data), path, args))
            except Exception as e:
                raise EtlTransformFailed(name, path, f"{type(e).__name__}: {e}") from e
        return data

    def reset(self) -> None:
        with self._lock:
            self._etls.clear()
