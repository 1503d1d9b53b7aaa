"""The ``rename-obj`` object action: an object moves to a new name in its bucket.

``POST /v1/objects/<b>/<o>`` ``{"action": "rename-obj", "name": <new>}``, which
``ais object mv`` sends (the Python SDK has no rename).

As in AIS (v1.5.0, checked): the object keeps its bytes, version, checksum and custom
metadata; an object already at the new name is replaced; the new name follows the
object-name rule (400 ``errInvalidPath``) and must not clash with another path (400
``ErrMv``); renaming onto itself is a 400 (``... to self, nothing to do``); a missing
object is a 404 (``ErrNotFound``).

Deviation: objects of a remote bucket served from a backend cannot be renamed (400).
"""

from __future__ import annotations

from ais_emulator.api.actions import object_action
from ais_emulator.api.errors import ApiError, bucket_cname
from ais_emulator.api.types import Request, Response
from ais_emulator.store import BucketId, InvalidObjectName
from ais_emulator.store.store import validate_object_name


@object_action("rename-obj")
def rename_object(emu, req: Request, bck: BucketId, obj: str, msg) -> Response:
    """Rename ``obj`` to ``msg.name`` in the same bucket."""
    emu.store.bucket(bck)
    new_name = msg.name
    try:
        validate_object_name(new_name)
    except InvalidObjectName as e:
        raise ApiError(400, e.message, "errInvalidPath") from None
    if validate_object_name(new_name) == validate_object_name(obj):
        raise ApiError(400, f"cannot rename {bucket_cname(bck)}/{obj} to self, nothing to do")
    emu.store.rename_object(bck, obj, new_name)
    return Response(200, {}, b"")
