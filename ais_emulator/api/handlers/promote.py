"""The ``promote`` object action: files of the emulator's promote root become objects.

``POST /v1/objects/<b>`` ``{"action": "promote", "name": <src>, "value": {"src", "obj",
"rcr", "ovw", "dls", "tid", "notshr"}}`` (``Object.promote``).

The files come from the emulator's promote root only (see ``ais_emulator.promote``):
without one, or for a source outside it, the reply is a 403. As in AIS (v1.5.0,
checked): up to 16 files are promoted before the reply, which is empty; more run as a
``promote`` job whose ID is the reply; a relative source or one with ``.``/``..``
elements is a 400 (``errInvalidPromoteSource``), a missing one a 404.

Deviations: see ``ais_emulator.promote`` (configurable root, 403, kept sources);
``tid`` and ``notshr`` are accepted and ignored (one target, no file shares).
"""

from __future__ import annotations

import os

from ais_emulator.api.actions import object_action
from ais_emulator.api.errors import ApiError, bucket_cname
from ais_emulator.api.types import Request, Response
from ais_emulator.api.wire import ci_get
from ais_emulator.promote import PromoteArgs, plan_promote, read_file
from ais_emulator.store import BucketId, ObjectNotFound

SYNC_LIMIT = 16  # AIS's promoteNumSync: fewer files are promoted without a job


def _args(msg) -> PromoteArgs:
    value = msg.value if isinstance(msg.value, dict) else {}
    src = ci_get(value, "src", "") or ""
    if not isinstance(src, str) or not isinstance(msg.name, str):
        raise ApiError(400, "invalid promote request: the source must be a string")
    if src and msg.name and src != msg.name:
        raise ApiError(400, f'conflicting promote source: "{msg.name}" vs "{src}"')
    obj = ci_get(value, "obj", "") or ""
    if not isinstance(obj, str):
        raise ApiError(400, "invalid promote request: 'obj' must be a string")
    flags = {}
    for key in ("rcr", "ovw", "dls"):
        got = ci_get(value, key, False)
        if not isinstance(got, bool):
            raise ApiError(400, f"invalid promote request: {key!r} must be a boolean")
        flags[key] = got
    return PromoteArgs(src=msg.name or src, obj=obj, recursive=flags["rcr"],
                       overwrite=flags["ovw"], delete_source=flags["dls"])


def _promote_one(emu, bck: BucketId, name: str, path: str, args: PromoteArgs) -> int:
    """Promote one file; -1 when the object exists and is kept (no ``overwrite``)."""
    if not args.overwrite:
        try:
            emu.store.head_object(bck, name)
            return -1
        except ObjectNotFound:
            pass
    data = read_file(path, emu.promote_root)
    emu.store.put_object(bck, name, data)
    if args.delete_source:
        try:
            os.remove(path)
        except OSError as e:
            emu.log.warning(f"promote: failed to remove promoted source {path}: {e}")
    return len(data)


@object_action("promote")
def promote(emu, req: Request, bck: BucketId, src: str, msg) -> Response:
    """Promote the files of the source (empty reply), or start a job (its ID)."""
    args = _args(msg)
    emu.store.bucket(bck)
    plan = plan_promote(emu.promote_root, args)
    for path in plan.skipped:
        emu.log.warning(f"promote: skipped {path} (not a regular file)")

    if len(plan.files) < SYNC_LIMIT:  # as AIS: no job for a few files
        for name, path in plan.files:
            _promote_one(emu, bck, name, path, args)
        return Response(200, {}, b"")

    def work(ctx) -> None:
        for name, path in plan.files:
            if ctx.aborted:
                return
            size = _promote_one(emu, bck, name, path, args)
            if size >= 0:
                ctx.add(1, size)

    ctl = f"src:{args.src}, dst:{bucket_cname(bck)}/{args.obj}"
    job = emu.jobs.start("promote", work, bck=bck, details={"ctlmsg": ctl})
    return Response(200, {"Content-Type": "text/plain; charset=utf-8"}, job.id.encode())
