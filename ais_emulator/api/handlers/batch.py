"""GetBatch (MOSS): ``GET /v1/ml/moss[/<bucket>]`` with a JSON ``MossReq`` body.

The reply holds exactly one regular-file entry per requested item, in request order:
``<bucket>/<objname>`` (``<objname>`` with ``onob``), plus ``/<archpath>`` for shard
members; a missing item under ``coer`` is a zero-length ``__404__/<name>`` entry.
``strm: true`` streams the archive alone (``application/x-tar`` / gzip / zip);
otherwise the reply is ``multipart/mixed``: the JSON ``MossResp`` (a form field without
a Content-Type of its own, as Go's ``CreateFormField`` writes it) then the archive.

Every item is resolved before the first byte is sent, so an unknown bucket, a range
beyond an item (400, ErrRangeNotSatisfiable, as in AIS) or, without ``coer``, a missing
item is a clean 404/400 reply.

Each request is a ``get-batch`` job (``emu.jobs``), as AIS runs GetBatch as an x-moss
xaction: it is running while the reply streams and idle once the last byte is out, so
``Job.wait()`` and ``job_kind="get-batch"`` queries see it. Stopping the job while it
streams cuts the stream (the connection is closed mid-reply, never a short archive that
looks complete) and the job ends aborted.

Deviations: streaming, AIS has already answered 200 when it meets a missing item
(``coer: false``: it truncates the stream) or a range beyond an item (it sends an empty
tar); the emulator answers 404 or 400 up front. ``coloc`` is ignored. An unknown bucket
is a 404 even with ``coer``. The soft-error limit is not enforced. Every request has
its own job (AIS reuses one x-moss xaction while it is busy).
"""

from __future__ import annotations

import json
import uuid as uuidlib

from ais_emulator.api.errors import ApiError
from ais_emulator.api.params import bucket_of
from ais_emulator.api.routes import route
from ais_emulator.api.types import Request, Response, StreamAborted
from ais_emulator.api.wire import as_int, ci_get, json_body, parse_json
from ais_emulator.store import BucketId, RangeNotSatisfiable
from ais_emulator.store.archives import write_archive
from ais_emulator.store.batch import BatchItem, resolve_batch
from ais_emulator.store.buckets import parse_uname
from ais_emulator.store.reading import validate_archpath

_MIME = {".tar": "application/x-tar", ".tgz": "application/gzip",
         ".tar.gz": "application/gzip", ".zip": "application/zip"}
MISSING_DIR = "__404__"


def _flag(doc: dict, key: str) -> bool:
    value = ci_get(doc, key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ApiError(400, f"invalid GetBatch request: {key!r} must be a boolean")
    return value


def _text(entry: dict, key: str) -> str:
    value = ci_get(entry, key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError(400, f"invalid GetBatch item: {key!r} must be a string")
    return value


def _items(req: Request, default: BucketId | None, entries) -> list:
    if not isinstance(entries, list) or not entries:
        raise ApiError(400, "invalid GetBatch request: 'in' must be a non-empty list of items")
    items = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ApiError(400, f"invalid GetBatch item #{i}: expecting a JSON object")
        uname = _text(entry, "uname")
        if uname:
            bck, name = parse_uname(uname)
        else:
            name = _text(entry, "objname")
            bucket = _text(entry, "bucket")
            if bucket:
                bck = BucketId.parse(_text(entry, "provider") or req.param("provider"), bucket)
            elif default is not None:
                bck = default
            else:
                raise ApiError(400, f"invalid GetBatch item #{i} ({name!r}): no bucket")
        if not name:
            raise ApiError(400, f"invalid GetBatch item #{i}: empty objname")
        archpath = _text(entry, "archpath")
        if archpath:
            validate_archpath(archpath)
        opaque = ci_get(entry, "opaque")
        items.append(BatchItem(bck, name, archpath,
                               as_int(ci_get(entry, "start", 0), f"start of item #{i}"),
                               as_int(ci_get(entry, "length", 0), f"length of item #{i}"),
                               opaque if isinstance(opaque, str) and opaque else None))
    return items


def entry_name(item: BatchItem, only_obj_name: bool) -> str:
    """Go's MossIn.NameInRespArch."""
    name = item.name if only_obj_name else f"{item.bucket.name}/{item.name}"
    if item.archpath:
        name += item.archpath if item.archpath.startswith("/") else "/" + item.archpath
    return name


@route("GET", "/v1/ml/moss")
def get_batch(emu, req: Request, bucket: str | None = None) -> Response:
    """GetBatch: every item resolved first, then one archive entry per item, in order.
    Deviations: streaming, a missing item without ``coer`` is a 404 and a range beyond an
    item a 400 before anything is sent (AIS truncates the stream or sends an empty tar);
    an unknown bucket is a 404 even with ``coer``; ``coloc`` is ignored."""
    default = bucket_of(req, bucket) if bucket else None
    if default is not None:
        emu.store.bucket(default)
    doc = parse_json(req.body, "GetBatch request")
    if not isinstance(doc, dict):
        raise ApiError(400, "invalid GetBatch request: expecting a JSON object body")
    mime = _text(doc, "mime") or ".tar"
    if mime not in _MIME:
        raise ApiError(400, f"unknown mime type {json.dumps(mime)}", tcode="errUnknownMime")
    coer, onob, strm = _flag(doc, "coer"), _flag(doc, "onob"), _flag(doc, "strm")
    try:
        results = resolve_batch(emu.store, _items(req, default, ci_get(doc, "in")), coer)
    except RangeNotSatisfiable as e:  # AIS: a 400 (the item's range, not the request's)
        raise ApiError(400, e.message, tcode="ErrRangeNotSatisfiable") from None

    job = emu.jobs.begin("get-batch", bck=default)

    def entries():
        for r in results:
            name = entry_name(r.item, onob)
            if r.missing:
                yield f"{MISSING_DIR}/{name}", 0, ()
            else:
                yield name, r.size, r.chunks()
                job.stats.objs += 1
                job.stats.bytes += r.size

    archive = _JobStream(emu, job, write_archive(entries(), mime))
    if strm:
        return Response(200, {"Content-Type": _MIME[mime]}, archive)
    return _multipart(results, archive, job.id)


class BatchAborted(StreamAborted):
    """The get-batch job was stopped while its reply streamed (the stream is cut)."""


class _JobStream:
    """Stream ``chunks`` as the work of ``job``: the job ends when they are all out, when
    the reply is closed unread (``close``) or fails; a stop request cuts the stream with
    ``BatchAborted``."""

    def __init__(self, emu, job, chunks):
        self.emu, self.job, self._chunks = emu, job, iter(chunks)

    def __iter__(self):
        return self

    def __next__(self):
        if self.job.abort_requested:
            self._end("aborted")
            raise BatchAborted(f"get-batch[{self.job.id}] aborted")
        try:
            return next(self._chunks)
        except StopIteration:
            self._end("")
            raise
        except Exception as e:
            self._end(f"{type(e).__name__}: {e}")
            raise

    def close(self) -> None:
        closer = getattr(self._chunks, "close", None)
        if callable(closer):
            closer()
        self._end("")

    def _end(self, err: str) -> None:
        self.emu.jobs.end(self.job, err)  # once: later calls do nothing

    def __del__(self):  # a reply dropped unread still ends its job
        try:
            self.close()
        except Exception:  # noqa: BLE001 - nothing to report to at collection time
            pass


route("GET", "/v1/ml/moss/{bucket}")(get_batch)


def _multipart(results: list, archive, batch_id: str) -> Response:
    boundary = uuidlib.uuid4().hex
    out = []
    for r in results:
        item = r.item
        o = {"objname": item.name, "bucket": item.bucket.name, "provider": item.bucket.provider}
        if item.archpath:
            o["archpath"] = item.archpath
        if item.opaque:
            o["opaque"] = item.opaque
        if r.missing:
            o["err_msg"] = r.error or "not found"
        o["size"] = 0 if r.missing else r.size
        out.append(o)
    meta = json_body({"uuid": batch_id, "out": out}) + b"\n"

    def body():
        yield (f"--{boundary}\r\n"
               'Content-Disposition: form-data; name="metadata"\r\n\r\n').encode() + meta + b"\r\n"
        yield (f"--{boundary}\r\n"
               'Content-Disposition: form-data; name="archive"; '
               f'filename="get-batch[{batch_id}]"\r\n'
               "Content-Type: application/octet-stream\r\n\r\n").encode()
        try:
            yield from archive
        finally:
            archive.close()
        yield f"\r\n--{boundary}--\r\n".encode()

    return Response(200, {"Content-Type": f"multipart/mixed; boundary={boundary}"}, body())
