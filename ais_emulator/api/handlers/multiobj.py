"""Multi-object operations on ``/v1/buckets/<b>`` (the SDK's ``bucket.objects(...)``).

    DELETE delete-listrange   {objnames | template}                        -> job ID
    POST   copy-listrange     {..., tobck, prepend, dry_run, coer, ...}    -> job ID
    POST   etl-listrange      {..., tobck, id, pipeline, ext, ...}         -> job ID
    PUT    archive            {..., archname, mime, isbn, aate, coer, tobck} -> job ID

Objects are selected by ``store.templates`` (names, bash/at/printf ranges, prefix, "" =
all). Jobs run in the background (``emu.jobs``); their semantics are in ``xactions``.
As in AIS (v1.5.0, checked): a missing ais destination bucket is created for copy and
transform, but not for archive (404); the archive name must end in ``.tar``, ``.tgz``,
``.tar.gz``, ``.zip`` or ``.tar.lz4`` (400 ``unknown filename extension``) and ``mime``,
when given, must be that same extension (400 ``mime mismatch``).

Deviations: every request gets its own job ID (AIS reuses one running xaction per bucket
for archive and copy requests that arrive while it idles); ``.tar.lz4`` archives are not
written (501); ``num-workers``, ``latest-ver``, ``synchronize`` and ``force`` are ignored.
"""

from __future__ import annotations

from ais_emulator.api.actions import bucket_action
from ais_emulator.api.errors import ApiError, bucket_cname
from ais_emulator.api.types import Request, Response
from ais_emulator.api.wire import ActMsg, ci_get
from ais_emulator.store import BucketId
from ais_emulator.store.buckets import parse_namespace
from ais_emulator.store.templates import Selection, selection
from ais_emulator.xactions import ArchiveSpec, TCSpec, archive_work, copy_work, delete_work

ARCHIVE_EXTS = (".tar.gz", ".tar.lz4", ".tgz", ".tar", ".zip")  # longest match first
_FMT = {".tar": ".tar", ".tgz": ".tgz", ".tar.gz": ".tgz", ".zip": ".zip"}


def text_reply(job_id: str) -> Response:
    return Response(200, {"Content-Type": "text/plain; charset=utf-8"}, job_id.encode())


def value_dict(msg: ActMsg, what: str) -> dict:
    if not isinstance(msg.value, dict):
        raise ApiError(400, f"invalid {what} request: value must be a JSON object")
    return msg.value


def flag(value: dict, key: str) -> bool:
    got = ci_get(value, key, False)
    if not isinstance(got, bool):
        raise ApiError(400, f"invalid {key!r}: expecting a boolean, got {got!r}")
    return got


def select(emu, bck: BucketId, value: dict) -> Selection:
    """The objects ``value`` selects in ``bck`` (which must exist)."""
    emu.store.bucket(bck)
    names = ci_get(value, "objnames")
    if names is not None and (not isinstance(names, list)
                              or not all(isinstance(n, str) and n for n in names)):
        raise ApiError(400, "invalid 'objnames': expecting a list of object names")
    template = ci_get(value, "template", "")
    if template is not None and not isinstance(template, str):
        raise ApiError(400, "invalid 'template': expecting a string")
    return selection(emu.store, bck, {"objnames": names, "template": template or ""})


def to_bucket(value: dict, default: BucketId) -> BucketId:
    doc = ci_get(value, "tobck")
    if not doc:
        return default
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        raise ApiError(400, f"invalid destination bucket 'tobck': {doc!r}")
    ns = doc.get("namespace")
    ns_pair = (ns.get("uuid", ""), ns.get("name", "")) if isinstance(ns, dict) else parse_namespace(ns)
    return BucketId.parse(doc.get("provider") or "ais", doc["name"], ns_pair)


def ensure_destination(emu, dst: BucketId) -> None:
    """A missing ais destination is created, as AIS does for copy and transform."""
    if not emu.store.has_bucket(dst):
        if dst.provider != "ais":
            emu.store.bucket(dst)  # BucketNotFound
        emu.store.create_bucket(dst)


def tc_spec(emu, value: dict, transform: bool) -> TCSpec:
    """Copy/transform options; for a transform the ETL (and pipeline) must be runnable."""
    ext = ci_get(value, "ext") or {}
    if not isinstance(ext, dict) or not all(isinstance(v, str) for v in ext.values()):
        raise ApiError(400, "invalid 'ext': expecting a map of extension -> extension")
    spec = TCSpec(prefix=ci_get(value, "prefix", "") or "",
                  prepend=ci_get(value, "prepend", "") or "", ext=ext,
                  dry_run=flag(value, "dry_run"), coer=flag(value, "coer"))
    if not isinstance(spec.prefix, str) or not isinstance(spec.prepend, str):
        raise ApiError(400, "invalid 'prefix'/'prepend': expecting strings")
    if transform:
        name = ci_get(value, "id", "")
        if not name or not isinstance(name, str):
            raise ApiError(400, "invalid transform request: missing ETL name ('id')")
        pipeline = ci_get(value, "pipeline") or []
        if not isinstance(pipeline, list) or not all(isinstance(p, str) for p in pipeline):
            raise ApiError(400, "invalid 'pipeline': expecting a list of ETL names")
        spec.etl = [name, *pipeline]
        for stage in spec.etl:
            emu.etl.require(stage)
        spec.etl_args = ci_get(value, "etl_args", "") or ""
    return spec


# -- delete ---------------------------------------------------------------------------


@bucket_action("DELETE", "delete-listrange")
def delete_objects(emu, req: Request, bck: BucketId, msg: ActMsg) -> Response:
    sel = select(emu, bck, value_dict(msg, "delete-listrange"))
    job = emu.jobs.start("delete-listrange", delete_work(emu, bck, sel), bck=bck,
                         details={"ctlmsg": _ctl(value_dict(msg, ""))})
    return text_reply(job.id)


def _ctl(value: dict) -> str:
    names = ci_get(value, "objnames")
    return f"list:[{' '.join(names)}]" if names else f"template:{ci_get(value, 'template', '')}"


# -- copy and transform -----------------------------------------------------------------


def _copy_or_transform(emu, bck: BucketId, msg: ActMsg, kind: str) -> Response:
    value = value_dict(msg, kind)
    sel = select(emu, bck, value)
    dst = to_bucket(value, bck)
    spec = tc_spec(emu, value, transform=kind == "etl-listrange")
    if not spec.dry_run:
        ensure_destination(emu, dst)
    work = copy_work(emu, bck, dst, sel, spec, cname_of=bucket_cname)
    job = emu.jobs.start(kind, work, bck=bck, src_bck=bck, dst_bck=dst,
                         details={"ctlmsg": f"{bucket_cname(bck)}=>{bucket_cname(dst)} {_ctl(value)}"})
    return text_reply(job.id)


@bucket_action("POST", "copy-listrange")
def copy_objects(emu, req: Request, bck: BucketId, msg: ActMsg) -> Response:
    return _copy_or_transform(emu, bck, msg, "copy-listrange")


@bucket_action("POST", "etl-listrange")
def transform_objects(emu, req: Request, bck: BucketId, msg: ActMsg) -> Response:
    return _copy_or_transform(emu, bck, msg, "etl-listrange")


# -- archive ----------------------------------------------------------------------------


def archive_format(archname: str, mime: str) -> str:
    """The archive format named by ``archname`` (Go's strict rule), checked against mime."""
    ext = next((e for e in ARCHIVE_EXTS if archname.endswith(e)), "")
    if not ext:
        dot = archname.rfind(".")
        base = archname[dot:] if dot > archname.rfind("/") else ""
        raise ApiError(400, f'unknown filename extension ("{archname}", "{base}")',
                       "errUnknownFileExt")
    if mime and mime != ext:
        raise ApiError(400, f'mime mismatch "{mime}" vs "{ext}"')
    if ext not in _FMT:
        raise ApiError(501, f"the emulator does not write {ext} archives (archive {archname!r})")
    return _FMT[ext]


@bucket_action("PUT", "archive")
def archive_objects(emu, req: Request, bck: BucketId, msg: ActMsg) -> Response:
    value = value_dict(msg, "archive")
    archname = ci_get(value, "archname", "")
    mime = ci_get(value, "mime", "") or ""
    if not archname or not isinstance(archname, str) or not isinstance(mime, str):
        raise ApiError(400, "invalid archive request: missing archive name ('archname')")
    fmt = archive_format(archname, mime)
    sel = select(emu, bck, value)
    dst = to_bucket(value, bck)
    emu.store.bucket(dst)
    spec = ArchiveSpec(archname, fmt, include_bucket=flag(value, "isbn"),
                       append=flag(value, "aate"), coer=flag(value, "coer"))
    job = emu.jobs.start("archive", archive_work(emu, bck, dst, sel, spec), bck=bck,
                         details={"ctlmsg": f"{bucket_cname(bck)} => {bucket_cname(dst)}/{archname}"})
    return text_reply(job.id)
