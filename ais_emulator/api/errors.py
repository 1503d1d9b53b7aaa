"""The one place where failures become AIS error replies.

AIS error body (Go ``cmn.ErrHTTP``), JSON with a trailing newline, ``application/json``:
``{["tcode",]"message","method","url_path","remote_addr","caller","node","status"}``.
``tcode`` is the Go type name of the error AIS raised for the condition (``ErrNotFound``,
``ErrBckNotFound``, ``ErrRangeNotSatisfiable``, ``ErrUnsupp``, ``ErrMv``, ...), absent
where AIS sends none (e.g. DELETE of a missing object, a malformed Range).
Messages are worded as AIS words them, because the SDK picks its exception class from
the text (``bucket "ais://b" does not exist`` -> ErrBckNotFound, ``t[..]: ais://b/o does
not exist`` -> ErrObjNotFound, ``bucket "ais://b" already exists`` -> ErrBckAlreadyExists;
any 409 on GET -> ErrGETConflict). A HEAD reply has no body; the JSON travels in the
``Hdr-Error`` header instead, as in AIS.

Requests of the S3 API (``/s3/...``) get S3's XML error instead (``s3_error_reply``),
with the code AIS's S3 layer picks: ``NoSuchBucket``, ``NoSuchKey``, ``NoSuchUpload``,
``BucketAlreadyExists``, else the Go type name of AIS's error.

Client and not-found conditions are always 4xx: the SDK silently retries 5xx for about
90 s. Only an unexpected exception (an emulator bug) becomes a 500.

    raise ApiError(400, "invalid archmode")         # anywhere in a handler
    error_reply(emu, request, err)                   # StoreError / ApiError -> Response
"""

from __future__ import annotations

import difflib
import json
import traceback
from typing import Optional

from ais_emulator.api.s3xml import CONTENT_XML, s3_error_body
from ais_emulator.api.types import ApiError, BodyReadError, Request, Response
from ais_emulator.etl import (
    EtlAlreadyExists,
    EtlCodeRefused,
    EtlJobNotFound,
    EtlNoRuntime,
    EtlNotFound,
    EtlNotRunning,
    EtlTransformFailed,
)
from ais_emulator.jobs import JobNotFound, TooManyJobs
from ais_emulator.promote import InvalidPromoteSource, PromoteForbidden, PromoteSourceMissing
from ais_emulator.store import errors as se
from ais_emulator.store.backend import RemoteBackendError

_REMOTE_SCHEME = {"aws": "s3", "gcp": "gs", "azure": "azure", "oci": "oci", "ht": "ht"}


def bucket_cname(bck) -> str:
    """``ais://b`` / ``s3://b`` / ``ais://@uuid#ns/b`` as Go prints a bucket in errors."""
    scheme = bck.provider if bck.provider == "ais" else _REMOTE_SCHEME.get(bck.provider, bck.provider)
    ns = f"{bck.namespace_str}/" if bck.has_namespace else ""
    return f"{scheme}://{ns}{bck.name}"


def _bucket_missing(bck) -> str:
    if bck.provider == "ais":
        return f'bucket "{bucket_cname(bck)}" does not exist'
    return f'{bck.provider} bucket "{bucket_cname(bck)}" does not exist'


def _classify(emu, request: Request, err: Exception) -> tuple[int, str, str, dict]:
    """(status, message, tcode, extra headers) for a StoreError or ApiError."""
    tgt = f"t[{emu.identity.target_id}]"
    if isinstance(err, (ApiError, BodyReadError)):
        return err.status, err.message, err.tcode, err.headers
    if isinstance(err, se.BucketNotFound):
        tcode = "ErrBckNotFound" if err.bucket.provider == "ais" else "ErrRemoteBckNotFound"
        return 404, _bucket_missing(err.bucket), tcode, {}
    if isinstance(err, se.BucketAlreadyExists):
        return 409, f'bucket "{bucket_cname(err.bucket)}" already exists', "ErrBucketAlreadyExists", {}
    if isinstance(err, se.ObjectNotFound):
        obj = f"{bucket_cname(err.bucket)}/{err.name}"
        if request.method == "DELETE":
            return 404, f"{obj} doesn't exist", "", {}
        return 404, f"{tgt}: {obj} does not exist", "ErrNotFound", {}
    if isinstance(err, se.ArchiveMemberNotFound):
        what = err.archpath if err.archpath.startswith("(") else f"(archpath={err.archpath})"
        obj = f"{bucket_cname(err.bucket)}/{err.name}"
        return 404, f"{tgt}: {what} in {obj} does not exist", "ErrNotFound", {}
    if isinstance(err, se.UploadNotFound):
        obj = f"{bucket_cname(err.bucket)}/{err.name}"
        return 404, f"{tgt}: upload {err.upload_id!r} of {obj} does not exist", "ErrNotFound", {}
    if isinstance(err, se.RangeNotSatisfiable):
        return 416, err.message, "ErrRangeNotSatisfiable", {"Content-Range": f"bytes */{err.size}"}
    if isinstance(err, se.ArchiveUnreadable):
        return _unreadable(tgt, err)
    if isinstance(err, se.ObjectTooLarge):
        return 413, f"{tgt}: {err.message}", "", {}
    if isinstance(err, se.InvalidObjectName):
        return 400, err.message, "errInvalidPath", {}
    if isinstance(err, se.ObjectPathConflict):
        return 400, err.reason, "ErrMv", {}
    if isinstance(err, InvalidPromoteSource):
        return 400, err.message, "errInvalidPromoteSource", {}
    if isinstance(err, PromoteForbidden):
        return 403, err.message, "errInvalidPromoteSource", {}
    if isinstance(err, PromoteSourceMissing):
        return 404, err.message, "PathError", {}
    if isinstance(err, se.ObjectBusy):
        return 409, f"{tgt}: {err.message}", "ErrBusy", {}
    if isinstance(err, RemoteBackendError):
        # the backend's own 4xx passes through; anything else is a 400, never a 5xx the SDK
        # would retry for ~90 s (deviation: AIS answers a backend's 5xx as is)
        status = err.remote_status if 400 <= err.remote_status < 500 else 400
        where = bucket_cname(err.bucket) if hasattr(err.bucket, "provider") else ""
        return status, f"{tgt}: {where + ': ' if where else ''}{err.message}", "", {}
    if isinstance(err, EtlTransformFailed):
        return 422, f"{tgt}: {err.message}", "", {}
    if isinstance(err, EtlNotFound):
        msg = f'{tgt}: {err.name} does not exist - try starting new ETL with "ais etl init" command'
        return 404, msg, "", {}
    prx = f"p[{emu.identity.proxy_id}]"
    if isinstance(err, EtlJobNotFound):  # "etl job" -> the SDK's ErrETLNotFound
        return 404, f"{prx}: {err.message}", "ErrNotFound", {}
    if isinstance(err, EtlAlreadyExists):  # "etl job" -> ErrETLAlreadyExists
        return 409, f"{prx}: {err.message}", "", {}
    if isinstance(err, EtlCodeRefused):
        return 403, f"{prx}: {err.message}", "", {}
    if isinstance(err, (EtlNotRunning, EtlNoRuntime)):
        return 400, f"{tgt}: {err.message}", "", {}
    if isinstance(err, JobNotFound):
        return 404, f"{prx}: {err.message}", "ErrNotFound", {}
    if isinstance(err, TooManyJobs):
        return 429, f"{prx}: {err.message}", "", {"Retry-After": "1"}
    return 400, err.message, "", {}


def _unreadable(tgt: str, err) -> tuple[int, str, str, dict]:
    """AIS's 400 for a shard it cannot read: a zip fails to open (``wrapError``), a tar
    to extract what archregx selects (``ErrFailedTo``); otherwise the reader's error."""
    obj = f"{bucket_cname(err.bucket)}/{err.name}"
    if err.fmt is None:
        return 400, f'unrecognized or unsupported file format: "{err.name}"', "", {}
    if err.fmt == ".zip":
        return 400, f"failed to open {obj}: {err.reason}", "wrapError", {}
    if err.query.startswith("(archregx="):
        return 400, (f"{tgt}: failed to extract files that match {err.query} from {obj}, "
                     f"err: {err.reason}"), "ErrFailedTo", {}
    return 400, f"{tgt}: failed to read archive {obj}: {err.reason}", "", {}


def _node(emu, request: Request) -> str:
    path = request.path
    if path.startswith("/v1/objects/") or path.startswith("/v1/ml/"):
        return f"t[{emu.identity.target_id}]"
    return f"p[{emu.identity.proxy_id}]"


def error_response(emu, request: Request, status: int, message: str, tcode: str = "",
                   headers: Optional[dict] = None) -> Response:
    try:
        url_path = request.decoded_path
    except UnicodeDecodeError:
        url_path = request.path
    doc = {"message": message, "method": request.method, "url_path": url_path,
           "remote_addr": request.remote_addr, "caller": "", "node": _node(emu, request),
           "status": status}
    if tcode:
        doc = {"tcode": tcode, **doc}
    out = {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff",
           **(headers or {})}
    if request.method == "HEAD":  # a header line: long strings are cut short
        short = {k: _short(v) if isinstance(v, str) else v for k, v in doc.items()}
        out["Hdr-Error"] = json.dumps(short, separators=(",", ":"))
        return Response(status, out, b"")
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
    return Response(status, out, body)


def _short(text: str, limit: int = 2048) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def error_reply(emu, request: Request, err: Exception) -> Response:
    if is_s3(request):
        return s3_error_reply(emu, request, err)
    status, message, tcode, headers = _classify(emu, request, err)
    return error_response(emu, request, status, message, tcode, headers)


# -- the S3 API's errors (``/s3/...``) ------------------------------------------------


def is_s3(request: Request) -> bool:
    return request.path == "/s3" or request.path.startswith("/s3/")


def _s3_classify(emu, request: Request, err: Exception) -> tuple[int, str, str, dict]:
    """(status, message, S3 code, headers), as AIS's ``s3.WriteErr`` picks them: the
    well-known S3 codes for missing buckets, keys and uploads, else AIS's error type."""
    if isinstance(err, se.BucketNotFound):
        return 404, f'bucket "{err.bucket.name}" does not exist', "NoSuchBucket", {}
    if isinstance(err, se.UploadNotFound):
        msg = (f'upload "{err.upload_id}" not found\nList uploads in s3://{err.bucket.name} '
               "to see available upload IDs")
        return 404, msg, "NoSuchUpload", {}
    if isinstance(err, se.ObjectNotFound):  # worded as a GET's, whatever the method
        return (404, f"t[{emu.identity.target_id}]: {bucket_cname(err.bucket)}/{err.name} "
                     "does not exist", "NoSuchKey", {})
    return _classify(emu, request, err)


def s3_error_reply(emu, request: Request, err: Exception) -> Response:
    """An S3 XML error (no body on HEAD)."""
    status, message, code, extra = _s3_classify(emu, request, err)
    headers = {"Content-Type": CONTENT_XML, "X-Content-Type-Options": "nosniff", **extra}
    if request.method == "HEAD":
        return Response(status, headers, b"")
    return Response(status, headers, s3_error_body(code, message))


def unknown_route(emu, request: Request, known: list[str]) -> Response:
    """501 naming the method and path and the closest routes the emulator serves."""
    wanted = f"{request.method} {request.path}"
    near = difflib.get_close_matches(wanted, known, n=3, cutoff=0.0)
    message = (f"the emulator does not serve {wanted}; nearest known routes: "
               + "; ".join(near))
    if is_s3(request):
        return s3_error_reply(emu, request, ApiError(501, message, "NotImplemented"))
    return error_response(emu, request, 501, message)


def internal_error(emu, request: Request, exc: BaseException) -> Response:
    where = traceback.format_exception_only(type(exc), exc)[-1].strip()
    if is_s3(request):
        return s3_error_reply(emu, request,
                              ApiError(500, f"emulator internal error: {where}", "InternalError"))
    return error_response(emu, request, 500, f"emulator internal error: {where}")
