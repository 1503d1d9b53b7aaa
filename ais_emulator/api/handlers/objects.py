"""Object endpoints: GET (whole, range, archpath, archregx, ETL), HEAD, PUT, DELETE, PATCH.

    GET    /v1/objects/<b>/<o>[?archpath=|archregx=&archmode=|etl_name=]  [Range: bytes=..]
    HEAD   /v1/objects/<b>/<o>?props=<list>
    PUT    /v1/objects/<b>/<o>            body = bytes; also append/flush, copy (object_to),
                                          multipart part (uploadId & partNumber), a file
                                          into a shard (archpath: ``archput``)
    DELETE /v1/objects/<b>/<o>[?uploadId=]   delete, or abort a multipart upload
    PATCH  /v1/objects/<b>/<o>[?set-new-custom=true]   custom metadata merge/replace
    POST   /v1/objects/<b>/<o>            mpt-upload, mpt-complete, check-lock; registered
                                          actions (rename-obj: ``rename``)
    POST   /v1/objects/<b>                registered actions (promote: ``promote``)

As in AIS, ``archregx`` without ``archmode`` is ignored (the whole object is served), a
Range with an archive read is a 400 (ErrUnsupp), and an unclean ``archpath`` (``./a``)
is a 400. A 206 carries the whole object's attribute headers (checksum included); a
HEAD without ``props`` answers AIS's full property set (``cmn.ObjectProps``), one with
``props`` only what it names (``props=etag``: AIS's ETag, see ``etag``).

Deviations from AIS: objects are served directly (no 307 redirect to a target); a range
with an ETL is a 400; ``flush`` appends a non-empty body before finalising;
``check-lock`` always answers 200 (no locks); the ``latest-ver``, ``synchronize`` and
blob-download hints are accepted and ignored; a PUT whose body does not match its
``Ais-Checksum-Value`` is a 400 (ErrBadCksum), not AIS's 500, which the SDK would retry
for about 90 s. HEAD ``presence`` matters for remote buckets only: a remote object that
is not cached is ``Ais-Present: false`` (no atime or location), 404 with presence 2-4.
"""

from __future__ import annotations

from ais_emulator.api.actions import run_object_action
from ais_emulator.api.errors import ApiError, bucket_cname
from ais_emulator.api.handlers.archput import archive_put
from ais_emulator.api.params import bucket_of, is_true, no_range, parse_range_header
from ais_emulator.api.routes import route
from ais_emulator.api.types import Request, Response
from ais_emulator.api.wire import (
    OCTETS,
    attr_headers,
    named_props_headers,
    parse_action,
    parse_custom_header,
    props_headers,
    to_header,
    validate_custom,
)
from ais_emulator.store import BucketId, InvalidRequest, ObjectNotFound, parse_uname
from ais_emulator.store.archives import write_archive
from ais_emulator.store.multipart import parse_part_number
from ais_emulator.store.objects import CHUNK, checksum_of
from ais_emulator.store.reading import read_archived, select_archived, validate_archpath
from ais_emulator.store.store import validate_object_name

_FLT_PRESENT = ("2", "3", "4")   # apc.FltPresent*: 404 unless in the cluster
_FLT_NO_PROPS = ("1", "3")      # apc.Flt*NoProps: 200 without properties
HEAD_PROPS = frozenset({"name", "size", "version", "checksum", "atime", "copies", "ec",
                        "custom", "location", "chunked", "last-modified", "etag"})
ARCH_MODES = ("regexp", "prefix", "suffix", "substr", "wdskey")
_SMALL = 256 * 1024  # a GET body up to this size is sent as bytes (one send with headers)

def _target(emu, bucket: str, req: Request, obj: str) -> BucketId:
    bck = bucket_of(req, bucket)
    if not obj:  # "/v1/objects/<b>/": AIS finds the URL too short (no tcode)
        _no_object_name(emu, req, bucket)
    validate_object_name(obj)
    return bck


def _data_body(rec, start: int = 0, stop=None):
    """The body of a GET: a whole in-memory object up to 1 MiB as it is, a small slice of a
    file (with a data dir) read at once, else chunks streamed as they are sent."""
    stop = rec.size if stop is None else stop
    if rec.in_memory:
        if start == 0 and stop == rec.size and stop <= CHUNK:
            return rec.data
    elif stop - start <= _SMALL:
        return b"".join(rec.iter_data(start, stop))
    return rec.iter_data(start, stop)


# -- GET ----------------------------------------------------------------------------------


@route("GET", "/v1/objects/{bucket}/{obj*}")
def get_object(emu, req: Request, bucket: str, obj: str) -> Response:
    """Whole object, one byte range (206), one archived file, a tar of matching archived
    files (archmode + archregx), or an inline ETL transform. Deviations: no 307 redirect;
    a range with an ETL is a 400."""
    bck = _target(emu, bucket, req, obj)
    archpath, archregx, archmode = req.param("archpath"), req.param("archregx"), req.param("archmode")
    etl_name = req.param("etl_name")
    if archpath and archmode:
        raise ApiError(400, f"invalid query: archpath={archpath!r} cannot be combined with "
                            f"archmode={archmode!r}")
    if archmode and archmode not in ARCH_MODES and archmode != "*":
        raise ApiError(400, f"invalid archmode {archmode!r} (expecting one of {', '.join(ARCH_MODES)})")
    if archpath:
        validate_archpath(archpath)
    rng = req.header("range")
    if rng and (archpath or archmode):
        query = (f"(archpath={archpath})" if archpath
                 else f"(archregx={archregx}, archmode={archmode})")
        raise ApiError(400, f"cannot range-read archived content range: {rng}, arch query: "
                            f"{query} - operation not supported", tcode="ErrUnsupp")
    etl = emu.etl.require(etl_name) if etl_name else None
    rec = emu.store.get_object(bck, obj)

    if etl is not None:
        no_range(req, "etl_name")
        pipeline = [n for n in req.param("etl_pipeline").split(",") if n]
        data = emu.etl.apply([etl_name] + pipeline, rec.data, f"{bucket}/{obj}",
                             req.param("etl_args"), cname=f"{bucket_cname(bck)}/{obj}")
        return Response(200, {"Content-Type": etl.mime_type}, data)
    if archpath:
        return Response(200, {"Content-Type": OCTETS}, read_archived(bck, rec, archpath))
    if archmode:
        members = select_archived(bck, rec, archregx, archmode)
        tar = write_archive(((name, len(data or b""), (data,) if data else ())
                             for name, data in members), ".tar")
        return Response(200, {"Content-Type": "application/x-tar"}, tar)

    size = rec.size
    if rng:
        ranges = parse_range_header(rng, size)
        if len(ranges) > 1:
            raise ApiError(416, f"cannot multi-range read {bucket_cname(bck)}/{obj} - "
                                "operation not supported", tcode="ErrUnsupp")
        start, stop = ranges[0]
        headers = attr_headers(rec)
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        headers["Accept-Ranges"] = "bytes"
        return Response(206, headers, _data_body(rec, start, stop), content_length=stop - start)
    return Response(200, attr_headers(rec), _data_body(rec), content_length=size)


# -- HEAD ---------------------------------------------------------------------------------


@route("HEAD", "/v1/objects/{bucket}/{obj*}")
def head_object(emu, req: Request, bucket: str, obj: str) -> Response:
    """Object properties as headers, no body. With ``props`` (the SDK always sends it):
    Ais-Present, Content-Length (the object size) and only the named properties;
    without: AIS's whole ``ObjectProps`` (name, bucket, checksum, atime, version, custom
    metadata, location, mirror copies and paths; no Last-Modified or ETag). ``presence``
    1/3 answers 200 with nothing else; 2-4 is a 404 for a remote object not in the
    cluster. Deviations: ``ec`` adds nothing (no erasure coding); the location names a
    made-up mountpath."""
    bck = _target(emu, bucket, req, obj)
    raw = req.param("props")
    props = {p.strip() for p in raw.split(",") if p.strip()}
    for p in sorted(props):
        if p not in HEAD_PROPS:
            raise ApiError(400, f'invalid property "{p}" in props list')
    rec = emu.store.head_object(bck, obj)
    present = rec.present
    presence = req.param("presence")
    if not present and presence in _FLT_PRESENT:
        raise ObjectNotFound(bck, obj)
    if presence in _FLT_NO_PROPS:
        return Response(200, {}, b"")
    location = f"t[{emu.identity.target_id}]:/ais/mp1"
    if not raw:  # Go's objPropsToHeader: Content-Length only for a non-empty object
        return Response(200, props_headers(bck, rec, location), b"",
                        content_length=rec.size or None)
    return Response(200, named_props_headers(rec, props, location), b"",
                    content_length=rec.size)


# -- PUT ----------------------------------------------------------------------------------


def _put_reply(rec) -> Response:
    """The stored object's attributes (``cmn.ToHeader``), custom metadata included."""
    return Response(200, to_header(rec), b"")


@route("PUT", "/v1/objects/{bucket}/{obj*}")
def put_object(emu, req: Request, bucket: str, obj: str) -> Response:
    """PUT bytes (optionally checked against Ais-Checksum-*, with Ais-Custom-Md: one
    ``k=v`` per header line), or a multipart part, an object copy (object_to) or an
    append/flush; the reply carries the stored attributes. Deviations: a flush appends
    its body, if any, before finalising; a checksum mismatch is a 400, not a 500."""
    bck = _target(emu, bucket, req, obj)
    params = req.params
    if "uploadId" in params or "partNumber" in params:
        if not params.get("uploadId"):
            raise ApiError(400, "multipart part upload requires uploadId")
        number = parse_part_number(params.get("partNumber", ""))
        emu.store.mpt_put_part(bck, obj, params["uploadId"], number, req.data)
        return Response(200, {}, b"")
    if "object_to" in params:
        return _copy(emu, req, bck, obj, params["object_to"])
    if params.get("archpath"):
        return archive_put(emu, req, bck, obj)
    if "append_type" in params:
        kind, handle = params["append_type"], params.get("append_handle", "")
        if kind == "append":
            new = emu.store.append(bck, obj, handle, req.data)
            return Response(200, {"Ais-Append-Handle": new}, b"")
        if kind == "flush":
            if not handle:
                raise ApiError(400, f"{bck}/{obj}: flush requires an append handle")
            emu.store.flush(bck, obj, handle, req.data)
            return Response(200, {}, b"")
        raise ApiError(400, f"invalid append_type {kind!r} (expecting 'append' or 'flush')")

    custom = validate_custom(parse_custom_header(req.header("ais-custom-md"))) or None
    data = req.data
    kind, value = req.header("ais-checksum-type"), req.header("ais-checksum-value")
    if kind and kind != "none" and value:
        data = emu.store.receive(bck, obj, data)
        try:
            actual = checksum_of(kind, data)
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        if actual != value:
            raise ApiError(400, f"BAD DATA CHECKSUM: {kind}({value} != {actual}) (context: "
                                f"{bucket_cname(bck)}/{obj})", tcode="ErrBadCksum")
    return _put_reply(emu.store.put_object(bck, obj, data, custom=custom))


def _copy(emu, req: Request, bck: BucketId, obj: str, uname: str) -> Response:
    try:
        dst, dst_name = parse_uname(uname)
    except InvalidRequest as e:
        raise ApiError(400, f"invalid object_to: {e.message}") from None
    if not dst_name:
        raise ApiError(400, f"invalid object_to {uname!r}: no object name")
    transform = None
    etl_name = req.param("etl_name")
    if etl_name:
        stages = [etl_name] + [n for n in req.param("etl_pipeline").split(",") if n]
        for stage in stages:
            emu.etl.require(stage)
        path, args = f"{bck.name}/{obj}", req.param("etl_args")
        cname = f"{bucket_cname(bck)}/{obj}"
        transform = lambda rec: emu.etl.apply(stages, rec.data, path, args,  # noqa: E731
                                              cname=cname)
    emu.store.copy_object(bck, obj, dst, dst_name, transform)
    return Response(200, {}, b"")


# -- DELETE, PATCH, POST ------------------------------------------------------------------


@route("DELETE", "/v1/objects/{bucket}/{obj*}")
def delete_object(emu, req: Request, bucket: str, obj: str) -> Response:
    """Delete the object, or abort a multipart upload (``uploadId``)."""
    bck = _target(emu, bucket, req, obj)
    if "uploadId" in req.params:
        msg = parse_action(req.body)
        if msg is not None and msg.action not in ("mpt-abort", ""):
            raise ApiError(400, f"invalid action {msg.action!r} for a multipart abort")
        emu.store.mpt_abort(bck, obj, req.param("uploadId"))
        return Response(200, {}, b"")
    emu.store.delete_object(bck, obj)
    return Response(200, {}, b"")


@route("PATCH", "/v1/objects/{bucket}/{obj*}")
def patch_object(emu, req: Request, bucket: str, obj: str) -> Response:
    """Custom metadata: merge, or replace with ``set-new-custom=true``; at most 2 KiB of
    keys and values (AIS's limit). Deviation: non-string values are stored as their
    ``str()``; a merge that would exceed the limit is a 400 (AIS fails it later)."""
    bck = _target(emu, bucket, req, obj)
    msg = parse_action(req.body, required=True)
    md = msg.value if msg.value is not None else {}
    if not isinstance(md, dict) or not all(isinstance(k, str) for k in md):
        raise ApiError(400, "invalid custom metadata: expecting a JSON object of strings")
    md = {k: v if isinstance(v, str) else str(v) for k, v in md.items()}
    cname = f"{bucket_cname(bck)}/{obj}"
    validate_custom(md, cname)
    replace = is_true(req.param("set-new-custom"))
    if not replace:  # the merged set is held to the same limit
        validate_custom({**emu.store.head_object(bck, obj).custom, **md}, cname)
    emu.store.set_custom(bck, obj, md, replace=replace)
    return Response(200, {}, b"")


@route("POST", "/v1/objects/{bucket}/{obj*}")
def post_object(emu, req: Request, bucket: str, obj: str) -> Response:
    """mpt-upload (upload ID as text), mpt-complete, check-lock. Deviation: check-lock is
    200 for any existing object (the emulator holds no long locks)."""
    bck = _target(emu, bucket, req, obj)
    msg = parse_action(req.body, required=True)
    if msg.action == "mpt-upload":
        upload_id = emu.store.mpt_create(bck, obj)
        return Response(200, {"Content-Type": "text/plain; charset=utf-8"}, upload_id.encode())
    if msg.action == "mpt-complete":
        upload_id = req.param("uploadId")
        if not upload_id:
            raise ApiError(400, "mpt-complete requires uploadId")
        numbers = _completed_parts(msg.value)
        emu.store.mpt_complete(bck, obj, upload_id, numbers)
        return Response(200, {}, b"")
    if msg.action == "check-lock":
        emu.store.head_object(bck, obj)
        return Response(200, {}, b"")
    return run_object_action(emu, req, bck, obj, msg)


@route("POST", "/v1/objects/{bucket}")
def post_bucket_objects(emu, req: Request, bucket: str) -> Response:
    """Bucket-level object actions (promote, blob-download): served by registered
    handlers only; otherwise 501."""
    msg = parse_action(req.body, required=True)
    return run_object_action(emu, req, bucket_of(req, bucket), msg.name, msg)


def _completed_parts(value) -> list:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ApiError(400, "invalid mpt-complete message: value must be a list of parts")
    numbers = []
    for part in value:
        if not isinstance(part, dict):
            raise ApiError(400, "invalid mpt-complete message: each part must be an object")
        raw = next((v for k, v in part.items() if k.lower() in ("part-number", "partnumber")), None)
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ApiError(400, f"invalid part number {raw!r} in mpt-complete")
        numbers.append(raw)
    return numbers


def _no_object_name(emu, req: Request, bucket: str) -> Response:
    bucket_of(req, bucket)
    raise ApiError(400, f"invalid {req.method} {req.path}: missing object name "
                        "(expecting /v1/objects/<bucket>/<object>)")


for _method in ("GET", "HEAD", "PUT", "DELETE", "PATCH"):
    route(_method, "/v1/objects/{bucket}")(_no_object_name)
