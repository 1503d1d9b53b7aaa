"""The S3-compatible API under ``/s3``: the service and bucket operations (objects and
multipart uploads are in ``s3objects``). Path-style addressing (``/s3/<bucket>/<key>``),
the same buckets and objects as the native API: an object written through S3 is the
same object through ``/v1``.

    GET    /s3                           ListBuckets
    PUT    /s3/<b>                       CreateBucket (409 BucketAlreadyExists)
    HEAD   /s3/<b>                       HeadBucket (x-amz-bucket-region: ais)
    DELETE /s3/<b>                       DeleteBucket
    GET    /s3/<b>[?list-type=2]         ListObjects V1 / V2: prefix, delimiter, max-keys,
                                         continuation-token / marker, start-after
    GET    /s3/<b>?uploads               ListMultipartUploads
    GET    /s3/<b>?versioning            GetBucketVersioning (Enabled)
    POST   /s3/<b>?delete                DeleteObjects

A bucket name resolves as AIS resolves it (``InitByNameOnly``): the ais bucket of that
name, else a bucket of another provider the cluster has. Requests are not
authenticated (as AIS without AuthN): credentials and signatures are ignored. Errors are
S3 XML (see ``errors.s3_error_reply``).

As in AIS (v1.5.0, checked): ListBuckets' owner is ``ID 1``; creating an existing bucket
is 409 ``BucketAlreadyExists``; DeleteBucket answers 200 and destroys a bucket that
still has objects; listing entries carry no ETag or storage class; ListMultipartUploads
reports ``MaxUploads`` 0; DeleteObjects reports a key that does not exist as deleted,
and reports every deleted key even in ``Quiet`` mode.

Deviations: AIS answers object requests with a 307 redirect to a target (clients need
AIS's botocore patch, or a redirect-following client); the emulator answers them
directly, so plain boto3 works. Listing honours ``max-keys`` (at most 1000) with
``IsTruncated`` and ``NextContinuationToken``/``NextMarker`` and echoes ``Prefix``,
``Delimiter`` and ``StartAfter`` (AIS returns every entry in one reply, echoing none).
Virtual-hosted-style addressing, ACLs, policies, tagging, lifecycle and CORS are not
served (501 NotImplemented).
"""

from __future__ import annotations

from ais_emulator.api.errors import ApiError
from ais_emulator.api.routes import route
from ais_emulator.api.s3xml import (
    S3_NS,
    child_text,
    children,
    decode_token,
    el,
    encode_token,
    iso_time,
    parse_xml,
    xml_reply,
)
from ais_emulator.api.types import Request, Response
from ais_emulator.store import (
    BucketAlreadyExists,
    BucketId,
    BucketNotFound,
    ListQuery,
    ObjectNotFound,
    StoreError,
)
from ais_emulator.store.store import validate_object_name

MAX_KEYS = 1000
MAX_DELETE = 1000
_HIGH = "\U0010ffff"
_UNSUPPORTED = ("acl", "policy", "tagging", "lifecycle", "cors", "website", "encryption",
                "replication", "logging", "notification", "object-lock", "ownershipControls",
                "publicAccessBlock", "analytics", "metrics", "inventory", "intelligent-tiering",
                "accelerate", "requestPayment")


def not_implemented(req: Request, what: str) -> ApiError:
    return ApiError(501, f"{what} is not implemented by the emulator "
                         f"({req.method} {req.path})", "NotImplemented")


def refuse_unsupported(req: Request) -> None:
    for key in _UNSUPPORTED:
        if key in req.params:
            raise not_implemented(req, f"the S3 '{key}' API")


def s3_bucket(emu, name: str) -> BucketId:
    """The bucket an S3 request names: the ais bucket, else one of another provider in
    the cluster (global namespace). BucketNotFound names the ais bucket."""
    bck = BucketId.parse("ais", name)
    if emu.store.has_bucket(bck):
        return bck
    for other in emu.store.list_buckets():
        if other.name == name and not other.has_namespace:
            return other
    for provider in sorted(emu.store.backends):
        remote = BucketId.parse(provider, name)
        try:
            emu.store.bucket(remote)
            return remote
        except (BucketNotFound, StoreError):
            continue
    raise BucketNotFound(bck)


# -- service ------------------------------------------------------------------------------


@route("GET", "/s3")
def list_buckets(emu, req: Request) -> Response:
    """ListBuckets: every bucket of the cluster (name and creation date)."""
    refuse_unsupported(req)
    items = []
    for bck in emu.store.list_buckets():
        if bck.has_namespace:
            continue
        created = emu.store.bucket(bck).created_ns
        items.append(el("Bucket", el("Name", bck.name), el("CreationDate", iso_time(created, True)),
                        el("String", f"Provider: {bck.provider}")))
    return xml_reply(el("ListAllMyBucketsResult",
                        el("Owner", el("ID", "1"), el("DisplayName", "ListAllMyBucketsResult")),
                        el("Buckets", *items), ns=S3_NS))


# -- buckets ------------------------------------------------------------------------------


@route("PUT", "/s3/{bucket}")
def create_bucket(emu, req: Request, bucket: str) -> Response:
    """CreateBucket (an ais bucket); PutBucketVersioning is accepted when it enables."""
    if "versioning" in req.params:
        s3_bucket(emu, bucket)
        doc = parse_xml(req.body, "VersioningConfiguration")
        if child_text(doc, "Status") not in ("Enabled", ""):
            raise not_implemented(req, "suspending versioning")
        return Response(200, {}, b"")
    refuse_unsupported(req)
    bck = BucketId.parse("ais", bucket)
    try:
        emu.store.create_bucket(bck)
    except BucketAlreadyExists:
        raise ApiError(409, f'cannot create bucket "{bucket}" via S3 API: name already in use '
                            f"by ais://{bucket}", "BucketAlreadyExists") from None
    return Response(200, {}, b"")


@route("HEAD", "/s3/{bucket}")
def head_bucket(emu, req: Request, bucket: str) -> Response:
    """HeadBucket: 200 with AIS's region (``ais``), 404 when missing."""
    s3_bucket(emu, bucket)
    return Response(200, {"Server": "AIStore", "x-amz-bucket-region": "ais"}, b"")


@route("DELETE", "/s3/{bucket}")
def delete_bucket(emu, req: Request, bucket: str) -> Response:
    """DeleteBucket. As in AIS, a bucket that still has objects is destroyed with them."""
    refuse_unsupported(req)
    bck = s3_bucket(emu, bucket)
    if bck.provider != "ais":
        raise ApiError(400, f"cannot destroy remote bucket {bck.provider}://{bucket} via "
                            "the S3 API", "InvalidRequest")
    emu.store.destroy_bucket(bck)
    return Response(200, {}, b"")


@route("GET", "/s3/{bucket}")
def get_bucket(emu, req: Request, bucket: str) -> Response:
    """ListObjects (V1, or V2 with ``list-type=2``), ListMultipartUploads (``uploads``),
    GetBucketVersioning (``versioning``), GetBucketLocation (``location``)."""
    bck = s3_bucket(emu, bucket)
    if "uploads" in req.params:
        return list_uploads(emu, req, bck)
    if "versioning" in req.params:
        return xml_reply(el("VersioningConfiguration", el("Status", "Enabled")))
    if "location" in req.params:
        return xml_reply(el("LocationConstraint", "ais", ns=S3_NS))
    refuse_unsupported(req)
    return list_objects(emu, req, bck)


def list_uploads(emu, req: Request, bck: BucketId) -> Response:
    """ListMultipartUploads: every open upload of the bucket (AIS: MaxUploads 0)."""
    prefix = req.param("prefix")
    items = [el("Upload", el("Initiated", iso_time(u.created_ns, True)), el("Key", u.name),
                el("UploadId", u.id))
             for u in emu.store.uploads.list(bck) if u.name.startswith(prefix)]
    return xml_reply(el("ListMultipartUploadsResult", el("Bucket", bck.name),
                        el("UploadIdMarker", ""), *items, el("MaxUploads", 0),
                        el("IsTruncated", False)))


# -- listing ------------------------------------------------------------------------------


def _max_keys(req: Request) -> int:
    raw = req.param("max-keys", "")
    if raw == "":
        return MAX_KEYS
    try:
        n = int(raw)
    except ValueError:
        raise ApiError(400, f"invalid max-keys {raw!r}: expecting an integer",
                       "InvalidArgument") from None
    if n < 0:
        raise ApiError(400, f"invalid max-keys {n}: must not be negative", "InvalidArgument")
    return min(n, MAX_KEYS)


def _names_after(emu, bck: BucketId, prefix: str, cursor: str, want: int):
    """Up to ``want`` listing entries after ``cursor`` (objects only, no archive view)."""
    if bck.provider == "ais":
        page = emu.store.list_objects(bck, ListQuery(prefix=prefix, page_size=want,
                                                     token=cursor))
        return [(e.name, e.record) for e in page.entries if not e.is_dir]
    names = [n for n in emu.store.object_names(bck, prefix) if n > cursor][:want]
    return [(n, emu.store.head_object(bck, n)) for n in names]


def collect(emu, bck: BucketId, prefix: str, delimiter: str, cursor: str, max_keys: int):
    """One S3 page: ``(contents, common prefixes, truncated, next cursor)``. Keys and
    prefixes count together against ``max_keys``; a common prefix is listed once and the
    keys under it are skipped."""
    contents, prefixes, count = [], [], 0
    if max_keys == 0:  # nothing asked for: nothing listed, and nothing to continue from
        return contents, prefixes, False, cursor
    while count < max_keys:
        batch = _names_after(emu, bck, prefix, cursor, min(MAX_KEYS, max_keys - count + 1))
        if not batch:
            return contents, prefixes, False, cursor
        for name, rec in batch:
            if count == max_keys:
                return contents, prefixes, True, cursor
            cut = name.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                common = name[: cut + len(delimiter)]
                prefixes.append(common)
                count += 1
                cursor = common + _HIGH  # past every key under it
                break
            contents.append((name, rec))
            count += 1
            cursor = name
    more = bool(_names_after(emu, bck, prefix, cursor, 1))
    return contents, prefixes, more, cursor


def list_objects(emu, req: Request, bck: BucketId) -> Response:
    v2 = req.param("list-type") == "2"
    prefix, delimiter = req.param("prefix"), req.param("delimiter")
    max_keys = _max_keys(req)
    if v2:
        token, start_after = req.param("continuation-token"), req.param("start-after")
        cursor = decode_token(token) if token else start_after
    else:
        token, start_after = "", req.param("marker")
        cursor = start_after
    contents, prefixes, truncated, cursor = collect(emu, bck, prefix, delimiter, cursor,
                                                    max_keys)
    items = [el("Contents", el("Key", name),
                el("LastModified", iso_time(rec.mtime_ns if rec is not None else 0)),
                el("ETag", ""), el("StorageClass", ""),
                el("Size", rec.size if rec is not None else 0))
             for name, rec in contents]
    commons = [el("CommonPrefixes", el("Prefix", p)) for p in prefixes]
    if v2:
        tail = (el("KeyCount", len(items) + len(commons)), el("MaxKeys", max_keys),
                el("Delimiter", delimiter) if delimiter else None,
                el("IsTruncated", truncated),
                el("NextContinuationToken", encode_token(cursor)) if truncated else None,
                el("StartAfter", start_after) if start_after else None)
        head = (el("Name", bck.name), el("Prefix", prefix), el("ContinuationToken", token))
    else:
        tail = (el("MaxKeys", max_keys), el("Delimiter", delimiter) if delimiter else None,
                el("IsTruncated", truncated),
                el("NextMarker", cursor.removesuffix(_HIGH)) if truncated else None)
        head = (el("Name", bck.name), el("Prefix", prefix), el("Marker", start_after))
    return xml_reply(el("ListBucketResult", *head, *items, *commons, *tail, ns=S3_NS))


# -- multi-object delete --------------------------------------------------------------


@route("POST", "/s3/{bucket}")
def post_bucket(emu, req: Request, bucket: str) -> Response:
    """DeleteObjects (``?delete``)."""
    bck = s3_bucket(emu, bucket)
    if "delete" not in req.params:
        refuse_unsupported(req)
        raise not_implemented(req, "this bucket POST")
    doc = parse_xml(req.body, "Delete")
    objects = children(doc, "Object")
    if len(objects) > MAX_DELETE:
        raise ApiError(400, f"at most {MAX_DELETE} keys per request, got {len(objects)}",
                       "MalformedXML")
    deleted, errors = [], []
    for obj in objects:
        key = child_text(obj, "Key")
        try:
            validate_object_name(key)
            emu.store.delete_object(bck, key)
        except ObjectNotFound:
            pass  # as AIS: reported as deleted
        except StoreError as e:
            errors.append(el("Error", el("Key", key), el("Code", "InvalidArgument"),
                             el("Message", e.message)))
            continue
        deleted.append(el("Deleted", el("Key", key)))
    return xml_reply(el("DeleteResult", *deleted, *errors))


def _method_not_allowed(emu, req: Request, bucket: str = "", key: str = "") -> Response:
    """Methods S3 does not define: 405 with ``Allow``, as AIS answers them."""
    return Response(405, {"Allow": "DELETE, GET, HEAD, POST, PUT",
                          "Content-Type": "text/plain; charset=utf-8",
                          "X-Content-Type-Options": "nosniff"}, b"Method Not Allowed\n")


for _template in ("/s3", "/s3/{bucket}", "/s3/{bucket}/{key*}"):
    route("PATCH", _template)(_method_not_allowed)
for _method in ("PUT", "POST", "DELETE", "HEAD"):
    route(_method, "/s3")(_method_not_allowed)
