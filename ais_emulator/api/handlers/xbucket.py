"""Bucket-to-bucket jobs and bucket summaries on ``/v1/buckets/<b>``.

    POST ?bck_to=<uname>  copy-bck     {prefix, prepend, dry_run, ext, ...}    -> job ID
    POST ?bck_to=<uname>  etl-bck      {... copy fields, id, pipeline, coer}   -> job ID
    POST ?bck_to=<uname>  move-bck                                             -> job ID
    GET                   summary-bck  {uuid, prefix, cached, present}  202 + ID, then
                                       polls with uuid: 202 while running, 200 [BsummResult]
    HEAD [/<prefix>]?presence=N[&uuid=]   202 + Ais-Xaction-Id, then 200 + Ais-Bucket-Summ

As in AIS (v1.5.0, checked): copying a bucket onto itself is 400 (a dry run, as
``inspect()`` sends, is allowed); a missing ais destination is created; renaming onto an
existing bucket is 400 ``already exists`` and a missing source 404; the summary's
``is_present`` is false from ``summary()`` and true from ``info()``.

Deviations: the rename happens before the reply (the job is already finished); summary
sizes are object sizes with no filesystem overhead; ``cached``/``present`` and
``bsumm_remote`` are accepted and ignored.
"""

from __future__ import annotations

from ais_emulator.api.actions import bucket_action
from ais_emulator.api.errors import ApiError, bucket_cname
from ais_emulator.api.handlers.bprops import bucket_props
from ais_emulator.api.handlers.multiobj import (
    ensure_destination,
    tc_spec,
    text_reply,
    value_dict,
)
from ais_emulator.api.params import bucket_of
from ais_emulator.api.types import Request, Response
from ais_emulator.api.wire import ActMsg, ci_get, json_body, json_reply
from ais_emulator.store import BucketId, InvalidRequest, parse_uname
from ais_emulator.store.templates import selection
from ais_emulator.xactions import copy_work, rename_bucket, summary_work


def _bck_to(req: Request) -> BucketId:
    uname = req.param("bck_to")
    if not uname:
        raise ApiError(400, "missing destination bucket (bck_to)")
    try:
        dst, obj = parse_uname(uname)
    except InvalidRequest as e:
        raise ApiError(400, f"invalid bck_to: {e.message}") from None
    return dst


def _tcb(emu, req: Request, bck: BucketId, msg: ActMsg, kind: str) -> Response:
    value = value_dict(msg, kind) if msg.value is not None else {}
    emu.store.bucket(bck)
    dst = _bck_to(req)
    spec = tc_spec(emu, value, transform=kind == "etl-bck")
    if dst == bck and not spec.dry_run:
        raise ApiError(400, f'cannot {kind} bucket "{bucket_cname(bck)}" onto itself')
    if not spec.dry_run:
        ensure_destination(emu, dst)
    sel = selection(emu.store, bck, {"template": spec.prefix})
    work = copy_work(emu, bck, dst, sel, spec, cname_of=bucket_cname)
    ctl = f"{bucket_cname(bck)}/{spec.prefix}=>{bucket_cname(dst)}/{spec.prepend}"
    job = emu.jobs.start(kind, work, bck=dst, src_bck=bck, dst_bck=dst,
                         details={"ctlmsg": ctl})
    return text_reply(job.id)


@bucket_action("POST", "copy-bck")
def copy_bucket(emu, req: Request, bck: BucketId, msg: ActMsg) -> Response:
    return _tcb(emu, req, bck, msg, "copy-bck")


@bucket_action("POST", "etl-bck")
def transform_bucket(emu, req: Request, bck: BucketId, msg: ActMsg) -> Response:
    return _tcb(emu, req, bck, msg, "etl-bck")


@bucket_action("POST", "move-bck")
def rename(emu, req: Request, bck: BucketId, msg: ActMsg) -> Response:
    dst = _bck_to(req)
    if bck.provider != "ais" or dst.provider != "ais":
        raise ApiError(400, f"cannot rename {bucket_cname(bck)}: only ais buckets can be renamed")
    emu.store.bucket(bck)
    if emu.store.has_bucket(dst):
        raise ApiError(400, f'bucket "{bucket_cname(dst)}" already exists',
                       "ErrBucketAlreadyExists")

    def work(ctx) -> None:
        ctx.add(rename_bucket(emu, bck, dst))

    job = emu.jobs.start("move-bck", work, bck=dst, src_bck=bck, dst_bck=dst, sync=True,
                         details={"ctlmsg": f"mv {bucket_cname(bck)}=>{bucket_cname(dst)}"})
    return text_reply(job.id)


# -- summary (GET) and info (HEAD) ---------------------------------------------------------


def _start_summary(emu, bck: BucketId, prefix: str, present: bool):
    """A finished summary-bck job whose ``details["summary"]`` is the BsummResult."""
    emu.store.bucket(bck)

    def work(ctx) -> None:
        summary_work(emu, bck, prefix, present, ctx.job.details)(ctx)

    return emu.jobs.start("summary-bck", work, bck=bck, sync=True,
                          details={"ctlmsg": f"{bucket_cname(bck)}, prefix:{prefix!r}"})


def _summary_job(emu, bck: BucketId, job_id: str):
    job = emu.jobs.get(job_id)
    if job.kind != "summary-bck" or (job.bck is not None and job.bck != bck):
        raise ApiError(400, f"job {job_id!r} is not a summary of {bucket_cname(bck)}")
    return job


@bucket_action("GET", "summary-bck")
def bucket_summary(emu, req: Request, bck: BucketId, msg: ActMsg) -> Response:
    value = msg.value if isinstance(msg.value, dict) else {}
    job_id = ci_get(value, "uuid", "") or ""
    if not job_id:
        prefix = ci_get(value, "prefix", "") or ""
        job = _start_summary(emu, bck, prefix, present=False)
        return Response(202, {"Content-Type": "text/plain; charset=utf-8"}, job.id.encode())
    emu.store.bucket(bck)
    job = _summary_job(emu, bck, job_id)
    if not job.finished or job.details.get("summary") is None:
        return Response(202, {"Content-Type": "text/plain; charset=utf-8"}, job.id.encode())
    return json_reply([job.details["summary"]])


def is_info_request(req: Request) -> bool:
    """HEAD with ``presence``/``bsumm_remote``/``uuid``: the ``Bucket.info()`` protocol."""
    return any(k in req.params for k in ("presence", "bsumm_remote", "uuid"))


def bucket_info(emu, req: Request, bucket: str, prefix: str = "") -> Response:
    """202 + Ais-Xaction-Id to start, then (with ``uuid``) 200 + Ais-Bucket-Summ."""
    bck = bucket_of(req, bucket)
    props = json_body(bucket_props(emu, bck)).decode("utf-8")
    job_id = req.param("uuid")
    if not job_id:
        job = _start_summary(emu, bck, prefix, present=True)
        headers = {"Ais-Bucket-Props": props, "Ais-Xaction-Id": job.id}
        return Response(202, headers, b"")
    job = _summary_job(emu, bck, job_id)
    headers = {"Ais-Bucket-Props": props, "Ais-Xaction-Id": job.id}
    if not job.finished or job.details.get("summary") is None:
        return Response(202, headers, b"")
    headers["Ais-Bucket-Summ"] = json_body(job.details["summary"]).decode("utf-8")
    return Response(200, headers, b"")
