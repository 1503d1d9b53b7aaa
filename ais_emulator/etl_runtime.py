"""Running the SDK's ETL server classes in-process, in place of a transformer pod.

``client.etl(name).init_class(...)(MyServer)`` sends the class cloudpickled and base64
encoded in the env var ``ETL_CLASS_PAYLOAD``. ``ClassRunner`` decodes it, instantiates it
once (as the pod's runtime does) and calls its ``transform`` (buffered) or
``transform_stream`` (streaming) directly for every object; no web server is started.

    runner = ClassRunner.from_env(env, target_url="http://localhost:8080")
    out = runner(b"data", "bucket/obj", "args", first=True)
    runner.mime_type          # the instance's get_mime_type()

Instantiation sees the environment a pod would: ``AIS_TARGET_URL`` (the emulator's URL),
``DIRECT_PUT=false``, ``ETL_DIRECT_FQN``, and every env var of the init message (e.g.
``NUM_WORKERS`` or the user's own). They are set only while ``__init__`` runs, under a
process-wide lock, and restored afterwards; so are the open-files soft limit the base class
raises and the root logger it configures.

With ``ETL_DIRECT_FQN=true`` the first stage of a pipeline gets a local file path (a
temporary file holding the object, removed afterwards) instead of bytes, or a reader of
that file when the class streams; later stages get the previous stage's bytes.

Deviations from a pod: ``PACKAGES``/``OS_PACKAGES`` are not installed (the classes run in
the emulator's interpreter, so their imports must already be importable); ``obj_timeout``
is not enforced; ``hpull``/``ws`` communication and direct put are not used (results are
returned to the emulator, which writes them itself).
"""

from __future__ import annotations

import base64
import io
import logging
import os
import tempfile
import threading
from collections.abc import Mapping
from typing import Optional

_ENV_LOCK = threading.Lock()
PAYLOAD_VAR = "ETL_CLASS_PAYLOAD"


class EtlCodeError(Exception):
    """The class payload cannot be decoded or instantiated (``reason`` says why)."""


def decode_class(payload: str) -> type:
    """The ETLServer subclass in an ``ETL_CLASS_PAYLOAD`` value."""
    import cloudpickle
    from aistore.sdk.etl.webserver.base_etl_server import ETLServer

    try:
        cls = cloudpickle.loads(base64.b64decode(payload))
    except Exception as e:  # noqa: BLE001 - any decoding failure is the client's payload
        raise EtlCodeError(f"cannot decode {PAYLOAD_VAR}: {type(e).__name__}: {e}") from e
    if not isinstance(cls, type) or not issubclass(cls, ETLServer):
        raise EtlCodeError(f"{PAYLOAD_VAR} holds {cls!r}, not an ETLServer subclass")
    return cls


def _pod_env(env: Mapping[str, str], target_url: str) -> dict:
    out = {k: str(v) for k, v in env.items() if k != PAYLOAD_VAR}
    out["AIS_TARGET_URL"] = target_url
    out.setdefault("DIRECT_PUT", "false")
    out.setdefault("ETL_DIRECT_FQN", "false")
    return out


def _instantiate(cls: type, env: dict):
    """``cls()`` with ``env`` applied, then every process-wide change undone."""
    import resource

    with _ENV_LOCK:
        saved_env = {k: os.environ.get(k) for k in env}
        limits = resource.getrlimit(resource.RLIMIT_NOFILE)
        root = logging.getLogger()
        saved_handlers, saved_level = list(root.handlers), root.level
        try:
            os.environ.update(env)
            return cls()
        finally:
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, limits)
            except (ValueError, OSError):
                pass
            for handler in root.handlers[:]:
                if handler not in saved_handlers:
                    root.removeHandler(handler)
            root.setLevel(saved_level)


def _is_true(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in ("1", "t", "true", "y", "yes", "on")


class ClassRunner:
    """One instance of a user's ETLServer class and how to call it per object."""

    def __init__(self, cls: type, env: Mapping[str, str], target_url: str):
        self.cls = cls
        self.env = _pod_env(env, target_url)
        self.direct_fqn = _is_true(self.env.get("ETL_DIRECT_FQN"))
        try:
            self.instance = _instantiate(cls, self.env)
        except Exception as e:  # noqa: BLE001 - a failing __init__ is the user's error
            raise EtlCodeError(f"{cls.__name__}() failed: {type(e).__name__}: {e}") from e
        self.streaming = bool(getattr(self.instance, "use_streaming", False))
        try:
            self.mime_type = str(self.instance.get_mime_type())
        except Exception:  # noqa: BLE001
            self.mime_type = "application/octet-stream"

    @classmethod
    def from_env(cls, env: Mapping[str, str], target_url: str) -> ClassRunner:
        return cls(decode_class(env[PAYLOAD_VAR]), env, target_url)

    def describe(self) -> str:
        mode = "transform_stream" if self.streaming else "transform"
        fqn = ", direct file access" if self.direct_fqn else ""
        return f"{self.cls.__module__}.{self.cls.__qualname__} ({mode}{fqn})"

    def __call__(self, data: bytes, path: str, args: str, first: bool = True) -> bytes:
        if self.direct_fqn and first:
            return self._with_file(data, path, args)
        if self.streaming:
            return _joined(self.instance.transform_stream(io.BytesIO(data), path, args))
        return as_bytes(self.instance.transform(data, path, args))

    def _with_file(self, data: bytes, path: str, args: str) -> bytes:
        fd, fqn = tempfile.mkstemp(prefix="ais-emu-etl-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            if self.streaming:
                with open(fqn, "rb") as reader:
                    return _joined(self.instance.transform_stream(reader, path, args))
            return as_bytes(self.instance.transform(fqn, path, args))
        finally:
            try:
                os.unlink(fqn)
            except OSError:
                pass


def as_bytes(out) -> bytes:
    """A transform's result as bytes (``str`` is UTF-8 encoded; ``None`` is an error)."""
    if isinstance(out, str):
        return out.encode("utf-8")
    if out is None:
        raise TypeError("the transform returned None (expecting bytes)")
    return bytes(out)


def _joined(chunks) -> bytes:
    if chunks is None:
        raise TypeError("transform_stream() returned None (expecting an iterator of bytes)")
    return b"".join(as_bytes(c) for c in chunks)
