"""PUT a file into a shard (``ais archive put``): a new shard, an append, or append-or-put.

``PUT /v1/objects/<b>/<shard>?archpath=<name>[&archmime=.tar]`` with ``Ais-Pine: <flags>``
(``ais archive put FILE ais://b/shard.tar --archpath name [--append | --append-or-put]``).

Flags (Go's ``apc.ArchAppend`` = 1, ``apc.ArchAppendIfExist`` = 2):

* none: a new shard holding only this file (an existing shard is replaced);
* 1 (``--append``): the shard must exist (404 otherwise); the file is appended;
* 2 (``--append-or-put``): appended when the shard exists, else a new shard.

The shard format is ``archmime`` when given, else the shard's extension or magic bytes;
tar, tgz and zip are written. The whole read-modify-write is atomic against other
writers of the shard (``Store.update_object``); a shard that cannot be read is a 400
and stays exactly as it was.

As in AIS (v1.5.0, checked): an ``archpath`` starting with the shard's name is taken
relative to it, a leading ``/`` is dropped, and an unclean one (``../x``, ``./x``) is a
400; an empty body is a 400 (``missing "Content-Length"``); invalid flags and an unknown
``archmime`` (``errUnknownMime``) are 400s; a name already in the shard is appended again.

Deviations: a shard that cannot be read is a 400 (AIS: 500, which the SDK would retry
for about 90 s), and so is a tar truncated in the padding after its last member (AIS
appends after it); an ``archpath`` with repeated slashes (``a//b``) is a 400 (AIS
stores it as given); ``.tar.lz4`` is not written (501); the appended shard gets a
checksum (AIS leaves a tar it appended to without one).
"""

from __future__ import annotations

import json
import posixpath

from ais_emulator.api.errors import ApiError, bucket_cname
from ais_emulator.api.params import body_bytes
from ais_emulator.api.types import Request, Response
from ais_emulator.store import ArchiveUnreadable, BucketId, ObjectNotFound
from ais_emulator.store.archive_append import append_member
from ais_emulator.store.archives import ArchiveError, detect_format
from ais_emulator.store.reading import validate_archpath

ARCH_APPEND, ARCH_APPEND_IF_EXIST = 1, 2
_MIMES = {".tar": ".tar", ".tgz": ".tgz", ".tar.gz": ".tgz", ".zip": ".zip"}


def _flags(req: Request, cname: str) -> int:
    raw = req.header("ais-pine").strip()
    if not raw:
        return 0
    try:
        return int(raw, 10)
    except ValueError:
        raise ApiError(400, f'failed to archive {cname}: invalid flags "{raw}" in the '
                            "request") from None


def _member_name(archpath: str, obj: str) -> str:
    if archpath.startswith(obj):
        rel = posixpath.relpath(archpath, obj) if archpath != obj else archpath
        if not rel.startswith(".."):
            archpath = rel
    archpath = archpath.lstrip("/")
    validate_archpath(archpath)
    return archpath


def _format(mime: str, obj: str, head: bytes) -> str:
    if mime:
        if mime == ".tar.lz4":
            raise ApiError(501, f"the emulator does not write {mime} archives ({obj!r})")
        if mime not in _MIMES:
            raise ApiError(400, f"unknown mime type {json.dumps(mime)}", "errUnknownMime")
        return _MIMES[mime]
    if obj.endswith(".tar.lz4"):
        raise ApiError(501, f"the emulator does not write .tar.lz4 archives ({obj!r})")
    fmt = detect_format(obj, head)
    if fmt is None:
        raise ApiError(400, f'unrecognized or unsupported file format: "{obj}"')
    return fmt


def archive_put(emu, req: Request, bck: BucketId, obj: str) -> Response:
    """Put (flags 0), append (1) or append-or-put (2) ``archpath`` into the shard."""
    cname = f"{bucket_cname(bck)}/{obj}"
    name = _member_name(req.param("archpath"), obj)
    flags = _flags(req, cname)
    data = body_bytes(req)
    if not data:
        raise ApiError(400, f'failed to archive {cname}: missing "Content-Length" in the '
                            "request")
    mime = req.param("archmime")
    emu.store.bucket(bck)

    def build(current):
        if current is None and flags == ARCH_APPEND:
            raise ObjectNotFound(bck, obj)
        shard = current.data if current is not None and flags != 0 else None
        head = bytes(memoryview(current.data)[:512]) if current is not None else b""
        fmt = _format(mime, obj, head)
        try:
            return append_member(shard, fmt, name, data)
        except ArchiveError as e:
            raise ArchiveUnreadable(bck, obj, str(e), fmt, f"(archpath={name})") from None

    emu.store.update_object(bck, obj, build)
    return Response(200, {}, b"")
