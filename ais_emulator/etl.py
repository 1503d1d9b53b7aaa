"""ETLs: Python hooks, the REST lifecycle (``PUT /v1/etl`` ...), and applying transforms.

Two ways to give an ETL name something to run:

* a plain Python callable, ``fn(data: bytes, path: str, args: str) -> bytes`` where
  ``path`` is ``"<bucket>/<object>"`` as AIS hands it to a transformer pod::

      emu.etl.register("upper-etl", lambda data, path, args: data.upper())

      @emu.etl.transform("lower-etl", mime_type="text/plain")
      def lower(data, path, args):
          return data.lower()

  Hooks need no ``init``: ``GET ...?etl_name=upper-etl`` just works. They are the
  emulator's stand-in for a container image and are not listed as ETLs;

* the SDK's ``client.etl(name).init_class(...)(MyServer)``: the ETLServer subclass the
  client sends is run in-process (``etl_runtime.ClassRunner``), when the transport allows
  client code (``allow_code``: on in-process, off in the HTTP server unless started with
  ``--allow-etl-code``). ``client.etl(name).init(image=...)`` is accepted and recorded;
  it has no code to run unless a hook is registered under the same name.

Lifecycle as AIS reports it: ``Initializing`` while the class is instantiated, then
``Running``; ``stop`` -> ``Aborted``; ``start`` only from ``Aborted``; ``delete`` stops
and forgets. Per-object failures are kept per job (``""`` = inline GETs) for ``view``.

Deviations: one "pod" (one instance) per ETL, not one per target; an init whose class
fails to load or instantiate is answered 400 and leaves the ETL ``Aborted`` (with the
reason in its logs); a transform that raises is answered 422 naming the ETL and the error
(AIS relays the pod's status, typically a 5xx that the SDK would retry for ~90 s); logs
hold lifecycle events and transform failures, not the pod's stdout.
"""

from __future__ import annotations

import base64
import threading
import time
import traceback
import uuid as uuidlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Optional

from ais_emulator.etl_runtime import PAYLOAD_VAR, ClassRunner, EtlCodeError, as_bytes
from ais_emulator.store.errors import InvalidRequest, StoreError

Transform = Callable[[bytes, str, str], bytes]

INITIALIZING, RUNNING, ABORTED = "Initializing", "Running", "Aborted"
COMM_TYPES = ("hpush://", "hpull://", "ws://", "io://")


class EtlNotFound(StoreError):
    """Neither a hook nor an ETL of that name (AIS's inline-GET wording)."""

    def __init__(self, name: str):
        super().__init__(f"{name} does not exist", name=name)


class EtlJobNotFound(StoreError):
    """A lifecycle call names an ETL that was never initialised (``etl job`` 404)."""

    def __init__(self, name: str):
        super().__init__(f"etl job {name} does not exist", name=name)


class EtlAlreadyExists(StoreError):
    def __init__(self, name: str):
        super().__init__(f"etl job {name} already exists", name=name)


class EtlNotRunning(StoreError):
    """The ETL exists but is not ``Running`` (stopped, or its init failed)."""

    def __init__(self, name: str, stage: str):
        super().__init__(f"ETL {name!r} is not running (stage {stage}); start it first",
                         name=name, stage=stage)


class EtlNoRuntime(StoreError):
    """An image-only ETL with no hook: the emulator cannot run container images."""

    def __init__(self, name: str, image: str):
        super().__init__(
            f"ETL {name!r} was initialised from container image {image!r}, and the emulator "
            f"cannot run container images: register a Python callable under that name "
            f"(emulator.etl.register({name!r}, fn)) or use init_class()", name=name, image=image)


class EtlCodeRefused(StoreError):
    """The transport does not run client-sent code (the HTTP server's default)."""

    def __init__(self, name: str):
        super().__init__(
            f"refusing to run the ETL class sent with {name!r}: this emulator server does "
            "not execute client-sent code unless started with --allow-etl-code "
            "(EmulatorServer(allow_etl_code=True))", name=name)


class EtlBadStage(InvalidRequest):
    def __init__(self, name: str, stage: str):
        super().__init__(f"can't start ETL {name!r} during {stage} stage (only an "
                         f"{ABORTED} ETL can be started)", name=name, stage=stage)


class EtlTransformFailed(StoreError):
    """A transformer raised; ``reason`` is its exception, as text."""

    def __init__(self, name: str, path: str, reason: str):
        super().__init__(f"etl {name!r} failed to transform {path}: {reason}",
                         name=name, path=path, reason=reason)


@dataclass(frozen=True)
class Etl:
    """A hook: a Python callable under an ETL name."""

    name: str
    transform: Transform
    mime_type: str = "application/octet-stream"


@dataclass
class EtlRecord:
    """One ETL initialised over REST: its stored init message and runtime state."""

    name: str
    init_msg: dict
    xid: str
    stage: str = INITIALIZING
    runner: Optional[ClassRunner] = None
    obj_count: int = 0
    in_bytes: int = 0
    out_bytes: int = 0
    obj_errors: dict = field(default_factory=dict)  # job id ("" = inline) -> [errors]
    log: list = field(default_factory=list)

    @property
    def env(self) -> dict:
        rt = self.init_msg.get("runtime")
        env = rt.get("env") if isinstance(rt, dict) else None
        return {e["name"]: e.get("value", "") for e in env or () if isinstance(e, dict)
                and isinstance(e.get("name"), str)}

    @property
    def image(self) -> str:
        rt = self.init_msg.get("runtime")
        return rt.get("image", "") if isinstance(rt, dict) else str(rt or "")

    @property
    def has_code(self) -> bool:
        return PAYLOAD_VAR in self.env

    def info(self) -> dict:
        """Go's etl.Info (a ``GET /v1/etl`` entry)."""
        return {"id": self.name, "stage": self.stage, "xaction_id": self.xid,
                "obj_count": self.obj_count, "in_bytes": self.in_bytes,
                "out_bytes": self.out_bytes}

    def note(self, line: str) -> None:
        self.log.append(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}")


class _Stage:
    """How one pipeline stage runs: a hook or a class runner."""

    def __init__(self, name: str, run: Callable, mime_type: str, record=None):
        self.name, self.run, self.mime_type, self.record = name, run, mime_type, record


class EtlRegistry:
    """Hooks and lifecycle records by name. Thread-safe; transforms run unlocked."""

    def __init__(self):
        self._lock = threading.Lock()
        self._etls: dict[str, Etl] = {}
        self._records: dict[str, EtlRecord] = {}

    # -- hooks ------------------------------------------------------------------------------

    def register(self, name: str, transform: Transform,
                 mime_type: str = "application/octet-stream") -> Etl:
        etl = Etl(name, transform, mime_type)
        with self._lock:
            self._etls[name] = etl
        return etl

    def transform(self, name: str, mime_type: str = "application/octet-stream"):
        """Decorator form of ``register``; returns the function unchanged."""

        def deco(fn: Transform) -> Transform:
            self.register(name, fn, mime_type)
            return fn

        return deco

    def unregister(self, name: str) -> None:
        with self._lock:
            if self._etls.pop(name, None) is None:
                raise EtlNotFound(name)

    def names(self) -> list[str]:
        """Names of the registered hooks."""
        with self._lock:
            return sorted(self._etls)

    # -- lifecycle --------------------------------------------------------------------------

    def init(self, msg: dict, *, allow_code: bool, target_url: str) -> str:
        """Record an ETL from its init message and start it; returns the ETL job ID."""
        name = msg.get("name") or msg.get("id") or ""
        record = EtlRecord(name, dict(msg), "etl-" + uuidlib.uuid4().hex[:10])
        if record.has_code and not allow_code:
            raise EtlCodeRefused(name)
        with self._lock:
            if name in self._records:
                raise EtlAlreadyExists(name)
            self._records[name] = record
        record.note(f"init {name} ({record.image or 'no image'}), job {record.xid}")
        self._boot(record, target_url)
        return record.xid

    def _boot(self, record: EtlRecord, target_url: str) -> None:
        record.stage = INITIALIZING
        if record.has_code:
            try:
                runner = ClassRunner.from_env(record.env, target_url)
            except EtlCodeError as e:
                record.stage = ABORTED
                record.note(f"failed to start: {e}")
                raise InvalidRequest(f"failed to initialize ETL {record.name!r}: {e}",
                                     name=record.name) from None
            record.runner = runner
            record.note(f"running {runner.describe()}")
        record.stage = RUNNING

    def record(self, name: str) -> EtlRecord:
        with self._lock:
            rec = self._records.get(name)
        if rec is None:
            raise EtlJobNotFound(name)
        return rec

    def records(self) -> list[EtlRecord]:
        with self._lock:
            return sorted(self._records.values(), key=lambda r: r.name)

    def stop(self, name: str) -> None:
        rec = self.record(name)
        if rec.stage != ABORTED:
            rec.stage = ABORTED
            rec.runner = None
            rec.note("stopped")

    def start(self, name: str, target_url: str) -> None:
        rec = self.record(name)
        if rec.stage != ABORTED:
            raise EtlBadStage(name, rec.stage)
        rec.note("starting")
        self._boot(rec, target_url)

    def delete(self, name: str) -> None:
        self.stop(name)
        with self._lock:
            self._records.pop(name, None)

    def logs(self, name: str) -> str:
        return "\n".join(self.record(name).log) + "\n"

    def obj_errors(self, name: str, job_id: str = "") -> list[dict]:
        rec = self.record(name)
        with self._lock:
            return list(rec.obj_errors.get(job_id, ()))

    # -- applying ---------------------------------------------------------------------------

    def _stage(self, name: str) -> _Stage:
        with self._lock:
            rec, hook = self._records.get(name), self._etls.get(name)
        if rec is not None:
            if rec.stage != RUNNING:
                raise EtlNotRunning(name, rec.stage)
            runner = rec.runner
            if runner is not None:
                return _Stage(name, runner, runner.mime_type, rec)
            if hook is None:
                raise EtlNoRuntime(name, rec.image)
            return _Stage(name, _hook_call(hook), hook.mime_type, rec)
        if hook is None:
            raise EtlNotFound(name)
        return _Stage(name, _hook_call(hook), hook.mime_type)

    def require(self, name: str) -> _Stage:
        """What serves ``name`` now (raises when nothing can run it)."""
        return self._stage(name)

    def apply(self, names: Iterable[str], data: bytes, path: str, args: str = "", *,
              job_id: str = "", cname: str = "") -> bytes:
        """Run ``data`` through the named ETLs in order (a pipeline). A failure is recorded
        on the first stage's ETL under ``job_id`` and raised as EtlTransformFailed."""
        stages = [self._stage(n) for n in names]
        if not stages:
            return bytes(data)
        size_in = len(data)
        for i, stage in enumerate(stages):
            try:
                data = stage.run(bytes(data), path, args or "", first=i == 0)
            except (Exception, SystemExit) as e:  # noqa: BLE001 - the user's code failed
                reason = f"{type(e).__name__}: {e}"
                self._failed(stages[0], stage, job_id, cname or f"ais://{path}", reason, e)
                raise EtlTransformFailed(stage.name, path, reason) from e
        rec = stages[0].record
        if rec is not None:
            with self._lock:
                rec.obj_count += 1
                rec.in_bytes += size_in
                rec.out_bytes += len(data)
        return data

    def _failed(self, first: _Stage, failed: _Stage, job_id: str, cname: str, reason: str,
                exc: BaseException) -> None:
        where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        at = f" at {where[0].filename}:{where[0].lineno}" if where else ""
        for rec in {id(s.record): s.record for s in (first, failed) if s.record}.values():
            with self._lock:
                rec.obj_errors.setdefault(job_id, []).append(
                    {"obj_name": cname, "msg": f"{failed.name}: {reason}", "ecode": 500})
            rec.note(f"transform of {cname} failed{at}: {reason}")

    def reset(self) -> None:
        with self._lock:
            self._etls.clear()
            self._records.clear()


def _hook_call(hook: Etl) -> Callable:
    def run(data: bytes, path: str, args: str, first: bool = True) -> bytes:
        return as_bytes(hook.transform(data, path, args))

    return run


def encode_logs(text: str) -> str:
    """Go ``[]byte`` in JSON: base64."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")
