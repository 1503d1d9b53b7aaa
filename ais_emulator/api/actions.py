"""The action registries: which handler serves an action message on a bucket or object path.

AIS multiplexes many operations onto a few routes by the ``action`` of the JSON message
(``{"action": "copy-bck", ...}``). The routes that carry such messages (``/v1/buckets/<b>``
for every method, ``POST /v1/objects/<b>[/<o>]``) serve their own actions first and hand
the rest to these registries; a handler module registers its actions at import time:

    @bucket_action("POST", "copy-bck")
    def copy_bucket(emu, req, bck, msg): ...

    @object_action("rename-obj")
    def rename_object(emu, req, bck, obj_name, msg): ...

An action nothing registered is a 400 naming it, or a 501 when it is a known AIS action
the emulator does not serve (``AIS_BUCKET_ACTIONS``; ``promote`` and ``blob-download`` on
object paths). ``bucket_actions()`` and ``object_actions()`` list what is registered
(``scripts/gen_docs.py`` puts them in docs/emulation.md).
"""

from __future__ import annotations

from collections.abc import Callable

from ais_emulator.api.params import bucket_of
from ais_emulator.api.types import ApiError, Request, Response
from ais_emulator.api.wire import ActMsg
from ais_emulator.store import BucketId

# Every bucket action AIS (v1.5.0) knows on /v1/buckets/<b>, besides the ones the bucket
# routes serve themselves (create-bck, destroy-bck, list).
AIS_BUCKET_ACTIONS = frozenset({
    "copy-bck", "etl-bck", "move-bck", "evict-remote-bck", "summary-bck", "create-inventory",
    "destroy-inventory", "show-inventory", "delete-listrange", "evict-listrange",
    "prefetch-listrange", "copy-listrange", "etl-listrange", "archive", "set-bprops",
    "reset-bprops", "make-n-copies", "ec-encode",
})
# Object actions AIS knows that are 501 unless a handler is registered.
AIS_OBJECT_ACTIONS = ("promote", "blob-download")

BucketActionHandler = Callable[..., Response]
ObjectActionHandler = Callable[..., Response]
_BUCKET: dict[tuple[str, str], BucketActionHandler] = {}
_OBJECT: dict[str, ObjectActionHandler] = {}


def bucket_action(method: str, action: str):
    """Register ``handler(emu, request, bck: BucketId, msg: ActMsg) -> Response``."""

    def deco(fn: BucketActionHandler) -> BucketActionHandler:
        _BUCKET[(method.upper(), action)] = fn
        return fn

    return deco


def object_action(action: str):
    """Register ``handler(emu, request, bck, obj_name, msg)`` for POST /v1/objects/<b>[/<o>]."""

    def deco(fn: ObjectActionHandler) -> ObjectActionHandler:
        _OBJECT[action] = fn
        return fn

    return deco


def run_bucket_action(emu, req: Request, bucket: str, msg: ActMsg) -> Response:
    """Serve ``msg`` on ``/v1/buckets/<bucket>`` with the handler registered for the
    request's method and the message's action."""
    handler = _BUCKET.get((req.method, msg.action))
    if handler is None:
        if msg.action in AIS_BUCKET_ACTIONS:
            raise ApiError(501, f"action {msg.action!r} on {req.method} /v1/buckets/{bucket} "
                                "is not implemented by the emulator")
        raise ApiError(400, f"invalid action {msg.action!r} for {req.method} /v1/buckets/{bucket}")
    return handler(emu, req, bucket_of(req, bucket), msg)


def run_object_action(emu, req: Request, bck: BucketId, obj: str, msg: ActMsg) -> Response:
    """Serve ``msg`` on ``POST /v1/objects/<b>[/<obj>]`` with its registered handler."""
    handler = _OBJECT.get(msg.action)
    if handler is None:
        if msg.action in AIS_OBJECT_ACTIONS:
            raise ApiError(501, f"action {msg.action!r} is not implemented by the emulator")
        raise ApiError(400, f"invalid action {msg.action!r} for POST {req.path}")
    return handler(emu, req, bck, obj, msg)


def bucket_actions() -> dict[tuple[str, str], BucketActionHandler]:
    """``{(method, action): handler}`` of every registered bucket action (a copy)."""
    return dict(_BUCKET)


def object_actions() -> dict[str, ObjectActionHandler]:
    """``{action: handler}`` of every registered object action (a copy)."""
    return dict(_OBJECT)
