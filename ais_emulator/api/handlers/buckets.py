"""Bucket endpoints: list buckets, create, destroy, HEAD (props) and list objects.

    GET    /v1/buckets[?provider=..]          JSON array of buckets ([] when none)
    POST   /v1/buckets/<b>   create-bck        200; 409 when it exists
    DELETE /v1/buckets/<b>   destroy-bck       200; 404 when missing
    HEAD   /v1/buckets/<b>                     200 + Ais-Bucket-Props
    GET    /v1/buckets/<b>   list              LsoRes: msgpack (Accept), else JSON

Other bucket actions are served by the handlers registered for them (``api.actions``);
a known AIS action that nothing serves yet is a 501 naming it.

Deviations: bucket properties in ``create-bck`` are ignored (every bucket has AIS's
defaults: xxhash2 checksums, versioning on); remote (cloud) buckets cannot be created
over REST, only seeded with ``Emulator.create_bucket(provider=...)`` or served from a
backend (``Emulator.attach_s3()``, see ``store.backed``); the list-objects ``target`` pin
is ignored, and ``CACHED``/``NOT_CACHED`` matter for backed remote buckets only;
``""`` props list name and size.
As in AIS, unknown list props are ignored (HEAD rejects them), and ``NO_DIRS`` filters
virtual directories of remote buckets only: an ais bucket's ``NO_RECURSION`` listing
keeps its ``dir/`` entries.
"""

from __future__ import annotations

import uuid as uuidlib

from ais_emulator.api.actions import run_bucket_action
from ais_emulator.api.errors import ApiError
from ais_emulator.api.handlers.bprops import bucket_props
from ais_emulator.api.handlers.xbucket import bucket_info, is_info_request
from ais_emulator.api.params import bucket_of
from ais_emulator.api.routes import route
from ais_emulator.api.types import Request, Response
from ais_emulator.api.wire import (
    MSGPACK,
    as_int,
    ci_get,
    json_body,
    json_listing,
    json_reply,
    listing_entry,
    msgpack_listing,
    parse_action,
)
from ais_emulator.store import BucketId, ListQuery
from ais_emulator.store.buckets import normalize_provider, parse_namespace

# list-objects request flags (apc.Ls*): the mask is 1 << bit
LS_CACHED, LS_ARCH_DIR, LS_NAME_ONLY, LS_NAME_SIZE = 1 << 0, 1 << 3, 1 << 4, 1 << 5
LS_NO_RECURSION, LS_NO_DIRS = 1 << 11, 1 << 13
LS_NOT_CACHED = 1 << 9

LIST_PROPS = frozenset({"name", "size", "version", "checksum", "atime", "cached", "status",
                        "copies", "ec", "custom", "location", "last-modified", "etag"})

# -- list buckets -------------------------------------------------------------------------


def bck_json(bck: BucketId) -> dict:
    return {"name": bck.name, "provider": bck.provider,
            "namespace": {"uuid": bck.ns_uuid, "name": bck.ns_name}}


@route("GET", "/v1/buckets")
def list_buckets(emu, req: Request) -> Response:
    """JSON array of ``{name, provider, namespace}``; ``[]`` when none; ``provider=""`` is
    every provider. Remote providers with a backend also list the backend's buckets, unless
    ``presence`` asks for buckets present in the cluster only."""
    msg = parse_action(req.body)
    if msg is not None and msg.action not in ("list", ""):
        raise ApiError(400, f"invalid action {msg.action!r} for GET /v1/buckets")
    provider = req.param("provider")
    provider = normalize_provider(provider) if provider else None
    ns = parse_namespace(req.param("namespace")) if "namespace" in req.params else None
    present_only = req.param("presence") in ("2", "3", "4")  # apc.IsFltPresent
    found = emu.store.list_buckets(provider, ns, remote=not present_only)
    return json_reply([bck_json(b) for b in found])


# -- one bucket ---------------------------------------------------------------------------


@route("POST", "/v1/buckets/{bucket}")
def post_bucket(emu, req: Request, bucket: str) -> Response:
    """create-bck (409 when it exists), else a registered bucket action. Deviations: bucket
    props in the message are ignored; remote buckets cannot be created over REST."""
    msg = parse_action(req.body, required=True)
    if msg.action == "create-bck":
        bck = bucket_of(req, bucket)
        if bck.provider != "ais":
            raise ApiError(400, f"cannot create {bck.provider} bucket {bck.name!r} over REST: "
                                "the emulator seeds remote buckets with Emulator.create_bucket()")
        emu.store.create_bucket(bck)
        return Response(200, {}, b"")
    return run_bucket_action(emu, req, bucket, msg)


@route("DELETE", "/v1/buckets/{bucket}")
def delete_bucket(emu, req: Request, bucket: str) -> Response:
    """destroy-bck (404 when missing), else a registered bucket action."""
    msg = parse_action(req.body, required=True)
    if msg.action == "destroy-bck":
        emu.store.destroy_bucket(bucket_of(req, bucket))
        return Response(200, {}, b"")
    return run_bucket_action(emu, req, bucket, msg)


@route("PUT", "/v1/buckets/{bucket}")
def put_bucket(emu, req: Request, bucket: str) -> Response:
    """Registered bucket actions sent with PUT (multi-object ``archive``)."""
    return run_bucket_action(emu, req, bucket, parse_action(req.body, required=True))


@route("PATCH", "/v1/buckets/{bucket}")
def patch_bucket(emu, req: Request, bucket: str) -> Response:
    """Registered bucket actions sent with PATCH. Deviation: bucket properties are fixed,
    so ``set-bprops`` and ``reset-bprops`` (``ais bucket props set``) are a 501."""
    msg = parse_action(req.body, required=True)
    emu.store.bucket(bucket_of(req, bucket))
    return run_bucket_action(emu, req, bucket, msg)


@route("HEAD", "/v1/buckets/{bucket}")
def head_bucket(emu, req: Request, bucket: str) -> Response:
    """200 with Ais-Bucket-Props, or the ``Bucket.info()`` polling protocol (``presence``,
    see ``xbucket``)."""
    if is_info_request(req):
        return bucket_info(emu, req, bucket)
    bck = bucket_of(req, bucket)
    props = json_body(bucket_props(emu, bck)).decode("utf-8")
    return Response(200, {"Ais-Bucket-Props": props}, b"")


@route("GET", "/v1/buckets/{bucket}")
def get_bucket(emu, req: Request, bucket: str) -> Response:
    """list (objects), else a registered bucket action (e.g. summary-bck)."""
    msg = parse_action(req.body, required=True)
    if msg.action == "list":
        return list_objects(emu, req, bucket_of(req, bucket), msg.value)
    return run_bucket_action(emu, req, bucket, msg)


# -- list objects -------------------------------------------------------------------------


def _props(text: str, flags: int) -> frozenset:
    """Requested entry fields; unknown names are dropped, as AIS lists ignore them."""
    if flags & LS_NAME_ONLY:
        return frozenset({"name"})
    if flags & LS_NAME_SIZE:
        return frozenset({"name", "size"})
    names = {p.strip() for p in text.split(",") if p.strip()} & LIST_PROPS
    if not names:
        names = {"name", "size", "checksum", "atime"} if flags & LS_CACHED else {"name", "size"}
    return frozenset(names | {"name"})


def list_objects(emu, req: Request, bck: BucketId, value) -> Response:
    """One page: msgpack when the client accepts it, else Go's JSON form. A null value
    (the list-buckets form) on a bucket path is a 400, as in AIS. Deviations: ``target``
    is ignored (so are ``CACHED``/``NOT_CACHED`` outside backed remote buckets); the
    listing UUID is echoed, or a new one is made (pagination itself is stateless)."""
    if value is None:
        raise ApiError(400, f"invalid list-objects request for {bck}: missing list-objects "
                            "message (a null value lists buckets, not objects)")
    if not isinstance(value, dict):
        raise ApiError(400, "invalid list-objects message: value must be a JSON object")

    def text(key: str) -> str:
        got = ci_get(value, key, "")
        if got is None:
            return ""
        if not isinstance(got, str):
            raise ApiError(400, f"invalid list-objects message: {key!r} must be a string")
        return got

    flags = as_int(ci_get(value, "flags", 0), "list-objects flags")
    page_size = as_int(ci_get(value, "pagesize", 0), "list-objects pagesize")
    if page_size < 0:
        raise ApiError(400, f"invalid list-objects pagesize {page_size}")
    props = _props(text("props"), flags)
    query = ListQuery(prefix=text("prefix"), page_size=page_size,
                      token=text("continuation_token"), start_after=text("start_after"),
                      arch_dir=bool(flags & LS_ARCH_DIR),
                      no_recursion=bool(flags & LS_NO_RECURSION),
                      no_dirs=bool(flags & LS_NO_DIRS) and bck.provider != "ais",
                      cached_only=bool(flags & LS_CACHED),
                      not_cached=bool(flags & LS_NOT_CACHED))
    page = emu.store.list_objects(bck, query)
    location = f"t[{emu.identity.target_id}]:/ais/mp1"
    entries = [listing_entry(e, props, location) for e in page.entries]
    list_id = text("uuid") or uuidlib.uuid4().hex
    if MSGPACK in req.header("accept"):
        return Response(200, {"Content-Type": MSGPACK}, msgpack_listing(list_id, page.token, entries))
    return json_reply(json_listing(list_id, page.token, entries))


def _bad_bucket_path(emu, req: Request, bucket: str = "", rest: str = "") -> Response:
    name = f"{bucket}/{rest}" if rest else bucket
    if not name:
        raise ApiError(400, f"invalid {req.method} {req.path}: missing bucket name")
    raise ApiError(400, f"invalid {req.method} {req.path}: bucket name {name!r} is invalid "
                        "(may only contain letters, numbers, dashes (-), underscores (_), and dots (.))")


for _method in ("POST", "DELETE", "HEAD", "PUT", "PATCH"):
    route(_method, "/v1/buckets")(_bad_bucket_path)
for _method in ("GET", "POST", "DELETE", "PUT", "PATCH"):
    route(_method, "/v1/buckets/{bucket}/{rest*}")(_bad_bucket_path)


@route("HEAD", "/v1/buckets/{bucket}/{rest*}")
def head_bucket_prefix(emu, req: Request, bucket: str, rest: str) -> Response:
    """``Bucket.info(prefix=...)`` puts the prefix in the path; anything else is a 400."""
    if is_info_request(req):
        return bucket_info(emu, req, bucket, rest)
    return _bad_bucket_path(emu, req, bucket, rest)
