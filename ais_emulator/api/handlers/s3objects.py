"""The S3-compatible API under ``/s3``: objects and multipart uploads (buckets are in
``s3``). The same objects as the native API.

    PUT    /s3/<b>/<k>                       PutObject; CopyObject (x-amz-copy-source)
    GET    /s3/<b>/<k>   [Range: bytes=a-b]  GetObject (206 for a range)
    HEAD   /s3/<b>/<k>                       HeadObject
    DELETE /s3/<b>/<k>                       DeleteObject
    POST   /s3/<b>/<k>?uploads               CreateMultipartUpload
    PUT    /s3/<b>/<k>?partNumber=N&uploadId=U   UploadPart (ETag: the part's MD5)
    GET    /s3/<b>/<k>?uploadId=U            ListParts
    POST   /s3/<b>/<k>?uploadId=U            CompleteMultipartUpload
    DELETE /s3/<b>/<k>?uploadId=U            AbortMultipartUpload (204)

ETags and Last-Modified are AIS's (``wire.etag``, ``wire.last_modified``):
``"v1-<xxhash>-<mtime>"`` for a PUT object, ``"<md5 of the parts' MD5s>-N"`` for a
completed multipart upload (kept as the object's custom ``ETag``, as AIS keeps it).
A body sent with ``Content-Encoding: aws-chunked`` (``STREAMING-*`` payloads) is decoded.

As in AIS (v1.5.0, checked): user metadata (``x-amz-meta-*``) and the Content-Type of a
PUT are not stored, GET answers ``application/octet-stream``, and HEAD reports AIS's
checksum as ``x-amz-meta-ais-cksum-type``/``-val``; deleting a key that does not exist is
a 404 ``NoSuchKey`` (AIS does not emulate S3's silent success); CopyObject's result has
an empty ETag; completion needs every uploaded part (``partial completion is not
allowed``), and with no parts is a 400 ``no parts``; a part number of 0 is a 400.

Deviations: no 307 redirect (see ``s3``); a body that does not match its
``Content-MD5``, ``x-amz-checksum-crc32``/``-sha1``/``-sha256`` or signed
``x-amz-content-sha256`` is a 400 ``BadDigest`` (AIS stores it); a completion naming a
part with a different ETag is a 400 ``InvalidPart`` (AIS ignores ETags); a copy from a
missing key is a 404 ``NoSuchKey`` (AIS: 400 ``ErrNotFound``); part numbers above 9999
are a 400 (AIS: 500); ``partNumber`` on GET/HEAD of an object is not served (501).
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from urllib.parse import unquote

from ais_emulator.api.errors import ApiError
from ais_emulator.api.handlers.s3 import not_implemented, refuse_unsupported, s3_bucket
from ais_emulator.api.params import body_bytes, parse_range_header
from ais_emulator.api.routes import route
from ais_emulator.api.s3xml import child_text, children, el, iso_time, parse_xml, xml_reply
from ais_emulator.api.types import Request, Response
from ais_emulator.api.wire import etag, last_modified
from ais_emulator.store import BucketId, InvalidPart
from ais_emulator.store.multipart import parse_part_number
from ais_emulator.store.objects import CHUNK, iter_slices
from ais_emulator.store.store import validate_object_name

OCTETS = "application/octet-stream"
_MAX_CHUNK_LINE = 4096


def _key(key: str) -> str:
    validate_object_name(key)
    return key


def _body(req: Request) -> bytes:
    data = body_bytes(req)
    if "aws-chunked" in req.header("content-encoding").lower() or \
            req.header("x-amz-content-sha256").startswith("STREAMING-"):
        data = decode_aws_chunked(data)
    _verify(req, data)
    return data


def decode_aws_chunked(data: bytes) -> bytes:
    """The payload of an ``aws-chunked`` body (``<hex size>[;ext]\\r\\n<data>\\r\\n``...
    ``0\\r\\n<trailers>\\r\\n``); malformed framing is a 400."""
    out, pos = [], 0
    while True:
        end = data.find(b"\r\n", pos, pos + _MAX_CHUNK_LINE)
        if end < 0:
            raise ApiError(400, "malformed aws-chunked body: no chunk header", "IncompleteBody")
        size_text = data[pos:end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ApiError(400, f"malformed aws-chunked body: chunk size {size_text!r}",
                           "IncompleteBody") from None
        pos = end + 2
        if size == 0:
            return b"".join(out)
        if size < 0 or pos + size + 2 > len(data) or data[pos + size:pos + size + 2] != b"\r\n":
            raise ApiError(400, "malformed aws-chunked body: truncated chunk", "IncompleteBody")
        out.append(data[pos:pos + size])
        pos += size + 2


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _verify(req: Request, data: bytes) -> None:
    """Checks of the body against the digests the client sent (the ones stdlib computes)."""
    checks = (
        ("content-md5", lambda: _b64(hashlib.md5(data).digest())),
        ("x-amz-checksum-crc32", lambda: _b64(zlib.crc32(data).to_bytes(4, "big"))),
        ("x-amz-checksum-sha1", lambda: _b64(hashlib.sha1(data).digest())),
        ("x-amz-checksum-sha256", lambda: _b64(hashlib.sha256(data).digest())),
    )
    for header, compute in checks:
        sent = req.header(header).strip()
        if sent and sent != compute():
            raise ApiError(400, f"The {header} you specified did not match what we received",
                           "BadDigest")
    signed = req.header("x-amz-content-sha256").strip().lower()
    if len(signed) == 64 and all(c in "0123456789abcdef" for c in signed) and \
            signed != hashlib.sha256(data).hexdigest():
        raise ApiError(400, "The provided 'x-amz-content-sha256' header does not match what "
                            "was computed", "XAmzContentSHA256Mismatch")


def _s3_headers(rec) -> dict:
    h = {"Last-Modified": last_modified(rec)}
    tag = etag(rec)
    if tag:
        h["ETag"] = tag
    return h


# -- PUT: object, copy, part ---------------------------------------------------------------


@route("PUT", "/s3/{bucket}/{key*}")
def put(emu, req: Request, bucket: str, key: str) -> Response:
    """PutObject, CopyObject (``x-amz-copy-source``) or UploadPart."""
    refuse_unsupported(req)
    bck, key = s3_bucket(emu, bucket), _key(key)
    if "uploadId" in req.params or "partNumber" in req.params:
        return _upload_part(emu, req, bck, key)
    source = req.header("x-amz-copy-source")
    if source:
        return _copy(emu, req, bck, key, source)
    rec = emu.store.put_object(bck, key, _body(req))
    return Response(200, _s3_headers(rec), b"")


def _copy(emu, req: Request, bck: BucketId, key: str, source: str) -> Response:
    path = unquote(source.split("?", 1)[0]).lstrip("/")
    src_bucket, _, src_key = path.partition("/")
    if not src_bucket or not src_key:
        raise ApiError(400, f"invalid x-amz-copy-source {source!r}: expecting /bucket/key",
                       "InvalidArgument")
    src = s3_bucket(emu, src_bucket)
    rec = emu.store.copy_object(src, _key(src_key), bck, key)
    return xml_reply(el("CopyObjectResult", el("LastModified", iso_time(rec.mtime_ns, True)),
                        el("ETag", "")))


def _upload_part(emu, req: Request, bck: BucketId, key: str) -> Response:
    upload_id = req.param("uploadId")
    if not upload_id:
        raise ApiError(400, "UploadPart requires uploadId", "InvalidArgument")
    number = parse_part_number(req.param("partNumber"))
    data = _body(req)
    emu.store.mpt_put_part(bck, key, upload_id, number, data)
    return Response(200, {"ETag": f'"{hashlib.md5(data).hexdigest()}"'}, b"")


# -- GET and HEAD -----------------------------------------------------------------------------


@route("GET", "/s3/{bucket}/{key*}")
def get(emu, req: Request, bucket: str, key: str) -> Response:
    """GetObject (whole, or one byte range), or ListParts (``uploadId``)."""
    refuse_unsupported(req)
    bck, key = s3_bucket(emu, bucket), _key(key)
    if "uploadId" in req.params:
        return _list_parts(emu, req, bck, key)
    if "partNumber" in req.params:
        raise not_implemented(req, "GetObject of one part (partNumber)")
    rec = emu.store.get_object(bck, key)
    headers = {"Content-Type": OCTETS, **_s3_headers(rec)}
    rng = req.header("range")
    if rng:
        ranges = parse_range_header(rng, rec.size)
        if len(ranges) > 1:
            raise ApiError(416, "multi-range reads are not supported", "ErrUnsupp")
        start, stop = ranges[0]
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{rec.size}"
        headers["Accept-Ranges"] = "bytes"
        return Response(206, headers, iter_slices(rec.data, start, stop),
                        content_length=stop - start)
    body = rec.data if rec.size <= CHUNK else iter_slices(rec.data)
    return Response(200, headers, body, content_length=rec.size)


@route("HEAD", "/s3/{bucket}/{key*}")
def head(emu, req: Request, bucket: str, key: str) -> Response:
    """HeadObject: size, ETag, Last-Modified and AIS's checksum as user metadata."""
    bck, key = s3_bucket(emu, bucket), _key(key)
    if "partNumber" in req.params:
        raise not_implemented(req, "HeadObject of one part (partNumber)")
    rec = emu.store.head_object(bck, key)  # a remote object not in the cluster: cold HEAD
    headers = _s3_headers(rec)
    if rec.custom.get("Content-Type"):
        headers["Content-Type"] = rec.custom["Content-Type"]
    if rec.cksum_value and rec.cksum_type != "none":
        headers["X-Amz-Meta-Ais-Cksum-Type"] = rec.cksum_type
        headers["X-Amz-Meta-Ais-Cksum-Val"] = rec.cksum_value
    return Response(200, headers, b"", content_length=rec.size)


# -- DELETE and POST ------------------------------------------------------------------------


@route("DELETE", "/s3/{bucket}/{key*}")
def delete(emu, req: Request, bucket: str, key: str) -> Response:
    """DeleteObject (404 NoSuchKey when missing, as in AIS), or AbortMultipartUpload."""
    refuse_unsupported(req)
    bck, key = s3_bucket(emu, bucket), _key(key)
    upload_id = req.param("uploadId")
    if upload_id:
        emu.store.mpt_abort(bck, key, upload_id)
        return Response(204, {}, b"")
    emu.store.delete_object(bck, key)
    return Response(200, {}, b"")


@route("POST", "/s3/{bucket}/{key*}")
def post(emu, req: Request, bucket: str, key: str) -> Response:
    """CreateMultipartUpload (``uploads``) or CompleteMultipartUpload (``uploadId``)."""
    bck, key = s3_bucket(emu, bucket), _key(key)
    if "uploads" in req.params:
        upload_id = emu.store.mpt_create(bck, key)
        return xml_reply(el("InitiateMultipartUploadResult", el("Bucket", bck.name),
                            el("Key", key), el("UploadId", upload_id)))
    upload_id = req.param("uploadId")
    if upload_id:
        return _complete(emu, req, bck, key, upload_id)
    refuse_unsupported(req)
    raise not_implemented(req, "this object POST")


# -- multipart --------------------------------------------------------------------------------


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _part_view(part):
    """A part's bytes: the bytes of the in-memory store, a read-only map of a data-dir
    store's part file."""
    return part if isinstance(part, (bytes, bytearray, memoryview)) else part.view()


def _complete(emu, req: Request, bck: BucketId, key: str, upload_id: str) -> Response:
    doc = parse_xml(req.body, "CompleteMultipartUpload")
    requested = []
    for part in children(doc, "Part"):
        number = parse_part_number(child_text(part, "PartNumber"))
        requested.append((number, child_text(part, "ETag").strip('"')))
    if not requested:
        raise InvalidPart("no parts")
    upload = emu.store.uploads.get(bck, key, upload_id)
    digests = []
    for number, tag in sorted(requested):
        data = upload.parts.get(number)
        if data is not None:
            digest = hashlib.md5(_part_view(data)).digest()
            if tag and tag != digest.hex():
                raise ApiError(400, f"part {number}: the ETag {tag!r} does not match the "
                                    f"uploaded part ({digest.hex()})", "InvalidPart")
            digests.append(digest)
    tag = f"{_md5(b''.join(digests))}-{len(digests)}"
    rec = emu.store.mpt_complete(bck, key, upload_id, [n for n, _ in requested],
                                 custom={"ETag": tag})
    return xml_reply(el("CompleteMultipartUploadResult", el("Bucket", bck.name), el("Key", key),
                        el("ETag", f'"{tag}"')), headers=_s3_headers(rec))


def _list_parts(emu, req: Request, bck: BucketId, key: str) -> Response:
    upload = emu.store.uploads.get(bck, key, req.param("uploadId"))
    parts = [el("Part", el("ETag", f'"{_md5(_part_view(data))}"'), el("PartNumber", number),
                el("Size", len(_part_view(data))))
             for number, data in sorted(upload.parts.items())]
    return xml_reply(el("ListPartsResult", el("Bucket", bck.name), el("Key", key),
                        el("UploadId", upload.id), *parts))
