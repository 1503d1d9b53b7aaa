"""Remote-bucket actions: evict the cache of a bucket, prefetch and evict object selections.

    DELETE /v1/buckets/<b>?keep_bck_md=<bool>  evict-remote-bck    200, empty
    POST   /v1/buckets/<b>   prefetch-listrange  200, job ID (text)
           value {"objnames"|"template", "coer", "latest-ver"[, "blob-threshold"][, "num-workers"]}
    DELETE /v1/buckets/<b>   evict-listrange     200, job ID (text)
           value {"objnames"|"template"}

The selection follows ``store.templates`` (for a backed bucket a prefix also selects
remote objects that are not cached). Jobs run in ``emu.jobs`` under the kinds
``prefetch-listrange`` and ``evict-listrange`` (end-time kinds: ``Job.wait`` polls
``what=status``), counting objects and bytes brought in or dropped; ``evict-remote-bck``
leaves a record of its own kind. All three are 400 on ais buckets, as in AIS.

As in AIS, ``coer`` lets a prefetch skip listed names that are missing (a range template
skips them anyway); without it the job fails on the first one. ``latest-ver`` re-reads a
cached copy whose ETag or version changed in the backend.

Deviations: ``blob-threshold`` and ``num-workers`` are validated and ignored (one worker,
no blob downloads); evicting a name that is not cached is a no-op; the selection of a
prefix template is listed when the request arrives, not by the job.
"""

from __future__ import annotations

from ais_emulator.api.actions import bucket_action
from ais_emulator.api.errors import ApiError, bucket_cname
from ais_emulator.api.params import is_true
from ais_emulator.api.types import Request, Response
from ais_emulator.api.wire import ActMsg, ci_get
from ais_emulator.store import BucketId, StoreError
from ais_emulator.store.errors import ObjectNotFound
from ais_emulator.store.templates import selection


def _job_reply(job) -> Response:
    return Response(200, {"Content-Type": "text/plain; charset=utf-8"}, job.id.encode())


def _remote_only(bck: BucketId, action: str) -> None:
    if bck.provider == "ais":
        raise ApiError(400, f"{action}: {bucket_cname(bck)} is not a remote bucket "
                            "(expecting a cloud or remote AIS bucket)")


def _listrange(emu, bck: BucketId, msg: ActMsg) -> tuple[dict, object]:
    """The message value and its selection (400 on a malformed one)."""
    value = msg.value
    if not isinstance(value, dict):
        raise ApiError(400, f"invalid {msg.action} message: value must be a JSON object "
                            "with objnames or template")
    names = ci_get(value, "objnames")
    template = ci_get(value, "template")
    if names is not None and (not isinstance(names, list)
                              or not all(isinstance(n, str) for n in names)):
        raise ApiError(400, f"invalid {msg.action} message: objnames must be a list of names")
    if template is not None and not isinstance(template, str):
        raise ApiError(400, f"invalid {msg.action} message: template must be a string")
    if names and template:
        raise ApiError(400, f"invalid {msg.action} message: objnames and template are "
                            "mutually exclusive")
    emu.store.bucket(bck)  # the bucket must exist (a backed one joins on first access)
    return value, selection(emu.store, bck, {"objnames": names, "template": template or ""})


def _int_field(value: dict, key: str, lowest: int) -> int:
    raw = ci_get(value, key, 0)
    if raw is None or raw == "":
        return 0
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ApiError(400, f"invalid {key} {raw!r}")
    try:
        n = int(raw)
    except ValueError:
        raise ApiError(400, f"invalid {key} {str(raw)[:64]!r}") from None
    if n < lowest:
        raise ApiError(400, f"invalid {key} {n}: must be >= {lowest}")
    return n


@bucket_action("DELETE", "evict-remote-bck")
def evict_remote_bucket(emu, req: Request, bck: BucketId, msg: ActMsg) -> Response:
    """Drop every cached object; without ``keep_bck_md`` the bucket also leaves the
    cluster (it joins again on next access)."""
    _remote_only(bck, "evict-remote-bck")
    keep = is_true(req.param("keep_bck_md"))
    objs, nbytes = emu.store.evict_bucket(bck, keep_md=keep)

    def record(ctx) -> None:
        ctx.add(objs, nbytes)

    emu.jobs.start("evict-remote-bck", record, bck=bck, sync=True,
                   details={"keep_md": keep})
    return Response(200, {}, b"")


@bucket_action("POST", "prefetch-listrange")
def prefetch_listrange(emu, req: Request, bck: BucketId, msg: ActMsg) -> Response:
    """Bring the selected objects into the cluster (a cold GET each, nothing served)."""
    _remote_only(bck, "prefetch-listrange")
    value, sel = _listrange(emu, bck, msg)
    coer = bool(ci_get(value, "coer", False))
    latest = bool(ci_get(value, "latest-ver", False))
    _int_field(value, "blob-threshold", 0)
    _int_field(value, "num-workers", -1)
    names = sel.names
    skip_missing = coer or sel.ranged

    def work(ctx) -> None:
        missing = ctx.job.details.setdefault("missing", [])
        for name in names:
            if ctx.aborted:
                return
            try:
                rec, fetched = emu.store.fetch(bck, name, latest=latest)
            except ObjectNotFound:
                if not skip_missing:
                    raise
                missing.append(name)
                continue
            except StoreError:
                if not coer:
                    raise
                missing.append(name)
                continue
            if fetched:
                ctx.add(1, rec.size)
                ctx.add(1, rec.size, direction="in")

    job = emu.jobs.start("prefetch-listrange", work, bck=bck,
                         details={"coer": coer, "latest": latest, "count": len(names)})
    return _job_reply(job)


@bucket_action("DELETE", "evict-listrange")
def evict_listrange(emu, req: Request, bck: BucketId, msg: ActMsg) -> Response:
    """Drop the cached copies of the selected objects (the backend keeps them)."""
    _remote_only(bck, "evict-listrange")
    _, sel = _listrange(emu, bck, msg)
    names = sel.names

    def work(ctx) -> None:
        for name in names:
            if ctx.aborted:
                return
            size = emu.store.evict_object(bck, name)
            if size is not None:
                ctx.add(1, size)

    job = emu.jobs.start("evict-listrange", work, bck=bck, details={"count": len(names)})
    return _job_reply(job)
