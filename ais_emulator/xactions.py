"""The work behind multi-object and bucket-to-bucket jobs: copy, transform, delete,
archive, rename and summary. Plain control-plane code over the store and the ETL
registry; it knows no HTTP (the handlers parse requests and start these as jobs).

    work = copy_work(emu, src, dst, Selection(["a", "b"], False, True), TCSpec(prepend="x/"))
    job = emu.jobs.start("copy-listrange", work, src_bck=src, dst_bck=dst)

Rules reproduced from AIS (aisnode v1.5.0 where checked):

* destination names: ``ext`` replaces the name's last extension when it maps it, then
  ``prepend`` is prefixed (Go's ``TCBMsg.ToName``); ``dry_run`` reads but writes nothing;
* a listed name that does not exist is reported as the job's error and the other objects
  are processed (the error stays off the job with ``coer``); range templates skip missing
  names silently; a prefix selects existing objects only;
* a transform that fails is recorded for ``Etl.view(job_id)``; without ``coer`` it ends
  the job with that error;
* archives: entries in request order, named ``<obj>`` or ``<bucket>/<obj>``
  (``include_source_name``); ``append`` adds to an existing archive of the same format,
  otherwise the archive is created or replaced; missing objects are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ais_emulator.etl import EtlTransformFailed
from ais_emulator.store.archive_writer import write_archive
from ais_emulator.store.archives import detect_format, iter_matching
from ais_emulator.store.errors import BucketAlreadyExists, ObjectNotFound, StoreError
from ais_emulator.store.templates import Selection


class JobFailed(StoreError):
    """A job's own error text (already worded as AIS words it)."""


@dataclass
class TCSpec:
    """Copy/transform options (Go's ``apc.TCBMsg`` with ``CopyBckMsg``)."""

    prefix: str = ""
    prepend: str = ""
    ext: dict = field(default_factory=dict)
    dry_run: bool = False
    coer: bool = False
    etl: list = field(default_factory=list)  # [name, *pipeline]; empty: plain copy
    etl_args: str = ""

    def to_name(self, name: str) -> str:
        if self.ext:
            head, dot, ext = name.rpartition(".")
            new = self.ext.get(ext, self.ext.get("." + ext)) if dot else None
            if new is not None:
                name = f"{head}.{new.lstrip('.')}"
        return self.prepend + name


def _missing(emu, err: ObjectNotFound) -> str:
    return f"t[{emu.identity.target_id}]: {err.message}"


class _Errors:
    """The first error of a job, raised at its end (unless ``coer`` forgives missing names)."""

    def __init__(self):
        self.first = ""

    def add(self, message: str) -> None:
        self.first = self.first or message

    def raise_if_any(self) -> None:
        if self.first:
            raise JobFailed(self.first)


def _read(emu, bck, name: str):
    return emu.store.get_object(bck, name)


def _existing(emu, ctx, sel: Selection, errors: _Errors, read, *, report_missing: bool):
    """``(name, read(name))`` for each selected object ``read`` finds, in order.

    A name ``read`` does not find (``ObjectNotFound``) is reported to ``errors`` when
    ``report_missing``, and skipped. Stops when the job is aborted (callers check
    ``ctx.aborted`` after the loop: an aborted job reports nothing).
    """
    for name in sel.names:
        if ctx.aborted:
            return
        try:
            got = read(name)
        except ObjectNotFound as e:
            if report_missing:
                errors.add(_missing(emu, e))
            continue
        yield name, got


def copy_work(emu, src, dst, sel: Selection, spec: TCSpec, cname_of=str):
    """Copy (or transform, with ``spec.etl``) the selected objects of ``src`` into ``dst``."""

    def work(ctx) -> None:
        errors = _Errors()
        for name, rec in _existing(emu, ctx, sel, errors, lambda n: _read(emu, src, n),
                                   report_missing=not sel.ranged and not spec.coer):
            data = rec.content()  # with a data dir: streamed from the file
            if spec.etl:
                try:
                    data = emu.etl.apply(spec.etl, rec.data, f"{src.name}/{name}", spec.etl_args,
                                         job_id=ctx.job.id, cname=f"{cname_of(src)}/{name}")
                except EtlTransformFailed as e:
                    if spec.coer:
                        continue
                    raise JobFailed(f"t[{emu.identity.target_id}]: {e.message}") from None
            ctx.add(1, rec.size)
            if not spec.dry_run:
                emu.store.put_object(dst, spec.to_name(name), data, custom=rec.custom or None)
        if not ctx.aborted:
            errors.raise_if_any()

    return work


def delete_work(emu, bck, sel: Selection):
    """Delete the selected objects (listed names that are missing are the job's error)."""

    def remove(name: str) -> int:
        size = emu.store.head_object(bck, name).size
        emu.store.delete_object(bck, name)
        return size

    def work(ctx) -> None:
        errors = _Errors()
        for _name, size in _existing(emu, ctx, sel, errors, remove,
                                     report_missing=sel.listed):
            ctx.add(1, size)
        if not ctx.aborted:
            errors.raise_if_any()

    return work


@dataclass
class ArchiveSpec:
    name: str
    fmt: str  # ".tar", ".tgz" or ".zip"
    include_bucket: bool = False
    append: bool = False
    coer: bool = False


def archive_work(emu, src, dst, sel: Selection, spec: ArchiveSpec):
    """Write the selected objects into one archive object in ``dst``."""

    def work(ctx) -> None:
        errors = _Errors()
        entries: list[tuple[str, int, object]] = []  # (name, size, bytes or record)
        if spec.append:
            entries.extend((n, len(d), d) for n, d in _existing_members(emu, dst, spec))
        for name, rec in _existing(emu, ctx, sel, errors, lambda n: _read(emu, src, n),
                                   report_missing=not sel.ranged):
            entries.append((f"{src.name}/{name}" if spec.include_bucket else name, rec.size,
                            rec))
            ctx.add(1, rec.size)
        if ctx.aborted:
            return
        # each member's bytes are read as the archive is written (streamed to disk with a
        # data dir; joined by the in-memory store)
        body = write_archive(((n, size, _chunks(d)) for n, size, d in entries), spec.fmt)
        emu.store.put_object(dst, spec.name, body)
        errors.raise_if_any()

    return work


def _chunks(d):
    if isinstance(d, (bytes, bytearray, memoryview)):
        return (d,)
    return (d.data,) if d.in_memory else d.iter_data()


def _existing_members(emu, dst, spec: ArchiveSpec) -> list[tuple[str, bytes]]:
    try:
        rec = emu.store.head_object(dst, spec.name)
    except ObjectNotFound:
        return []
    if detect_format(spec.name, rec.head(512)) != spec.fmt:
        raise JobFailed(f"cannot append to {dst}/{spec.name}: not a {spec.fmt} archive")
    return list(iter_matching(rec.data, spec.fmt, "", ""))


def rename_bucket(emu, src, dst) -> int:
    """Move every object of ``src`` into a new bucket ``dst`` and drop ``src``; returns the
    number of objects moved. ``dst`` must not exist (BucketAlreadyExists)."""
    if emu.store.has_bucket(dst):
        raise BucketAlreadyExists(dst)
    emu.store.bucket(src)
    emu.store.create_bucket(dst)
    names = emu.store.object_names(src)
    for name in names:
        emu.store.copy_object(src, name, dst, name)
    emu.store.destroy_bucket(src)
    return len(names)


def summary(emu, bck, prefix: str = "", present: bool = False) -> dict:
    """Go's ``cmn.BsummResult`` for ``bck`` (objects under ``prefix``). Deviation: sizes
    on disk are the object sizes (no filesystem overhead); the disk size is nominal."""
    sizes, remote = [], []
    for name in emu.store.object_names(bck, prefix):
        rec = emu.store.head_object(bck, name)
        (sizes if getattr(rec, "present", True) else remote).append(rec.size)
    total = sum(sizes)
    return {
        "name": bck.name, "provider": bck.provider,
        "namespace": {"uuid": bck.ns_uuid, "name": bck.ns_name},
        "ObjCount": {"obj_count_present": str(len(sizes)),
                     "obj_count_remote": str(len(sizes) + len(remote)) if remote else "0"},
        "ObjSize": {"obj_min_size": min(sizes, default=0),
                    "obj_avg_size": total // len(sizes) if sizes else 0,
                    "obj_max_size": max(sizes, default=0)},
        "TotalSize": {"size_on_disk": str(total), "size_all_present_objs": str(total),
                      "size_all_remote_objs": str(total + sum(remote)) if remote else "0",
                      "total_disks_size": str(NOMINAL_DISK)},
        "used_pct": 0,
        "is_present": present,
    }


NOMINAL_DISK = 1 << 40  # 1 TiB


def summary_work(emu, bck, prefix: str, present: bool, out: dict, key: str = "summary"):
    def work(ctx) -> None:
        result = summary(emu, bck, prefix, present)
        ctx.add(int(result["ObjCount"]["obj_count_present"]),
                int(result["TotalSize"]["size_all_present_objs"]))
        out[key] = result

    return work

