"""Promote: local files become objects (``Object.promote``, ``ais object promote``).

The emulator reads local files only under the directory it was told it may read
(``Emulator(promote_root=...)``, ``ais-emulator serve --promote-root DIR``); without
one every promote is refused. Control-plane work beside the store; it knows no HTTP.

    plan = plan_promote(root, "/srv/promote/imgs", PromoteArgs(obj="imgs/", recursive=True))
    for obj_name, path in plan.files: ...

Rules (AIS v1.5.0, where it decides): the source is an absolute path without ``.`` or
``..`` elements; a directory promotes its files (``recursive``: every level) as
``<obj><relative path>``; a single file becomes ``<obj>``, or ``<obj><file name>`` when
``obj`` is empty or ends with ``/``; an existing object is replaced only with
``overwrite``; ``delete_source`` removes each promoted file (directories stay).

Safety: the source must resolve (symlinks followed) to a path under the resolved root,
else PromoteForbidden; symbolic links inside the tree are not followed and are skipped
(the SDK documents them as unsupported); special files are skipped.

Deviations from AIS: the root is whatever the emulator was given (AIS hard-codes
``/var/lib/ais/promote``); a source outside it is refused with a 403 (AIS: 400); with
``delete_source`` a file whose object was kept (exists, no ``overwrite``) is not
deleted (AIS deletes it).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Optional

from ais_emulator.store.errors import InvalidRequest, StoreError


class PromoteForbidden(StoreError):
    """Promote is disabled, or the source is outside the promote root (403)."""


class InvalidPromoteSource(InvalidRequest):
    """The source path breaks AIS's lexical rules (400, ``errInvalidPromoteSource``)."""

    def __init__(self, src: str, detail: str):
        quoted = f' "{src}"' if src else ""
        super().__init__(f"invalid promote source{quoted}: {detail}", src=src, detail=detail)


class PromoteSourceMissing(StoreError):
    """The source does not exist (404, as AIS's ``stat`` error)."""

    def __init__(self, src: str):
        super().__init__(f"stat {src}: no such file or directory", src=src)


@dataclass
class PromoteArgs:
    """Go's ``apc.PromoteArgs`` (the JSON keys in brackets)."""

    src: str = ""            # [src] source file or directory
    obj: str = ""            # [obj] object name or prefix
    recursive: bool = False  # [rcr]
    overwrite: bool = False  # [ovw]
    delete_source: bool = False  # [dls]


@dataclass
class PromotePlan:
    """What a promote does: ``(object name, file path)`` of every regular file, and the
    symlinks and special files it skips."""

    files: list = field(default_factory=list)
    skipped: list = field(default_factory=list)


def validate_source(src: str) -> None:
    """AIS's lexical rules for a promote source."""
    if not src:
        raise InvalidPromoteSource("", "pathname is empty")
    if not os.path.isabs(src):
        raise InvalidPromoteSource(src, "must be an absolute path")
    if any(part in (".", "..") for part in src.split("/")):
        raise InvalidPromoteSource(src, "must not contain '.' or '..' path elements")


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def resolve_source(root: Optional[str], src: str) -> str:
    """The real path of ``src``, which must lie under ``root`` (both resolved)."""
    if not root:
        raise PromoteForbidden("promote is disabled: the emulator reads no local files "
                               "unless it is given a promote root (ais-emulator serve "
                               "--promote-root DIR, or Emulator(promote_root=DIR))")
    validate_source(src)
    real_root = os.path.realpath(root)
    if not _under(os.path.abspath(src), real_root) and not _under(src, root):
        raise PromoteForbidden(f'invalid promote source "{src}": must be under {root}')
    if not os.path.lexists(src):
        raise PromoteSourceMissing(src)
    real = os.path.realpath(src)
    if not _under(real, real_root):
        raise PromoteForbidden(f'invalid promote source "{src}": resolves to {real}, '
                               f"outside the promote root {root}")
    return real


def object_name_for(path: str, base_dir: str, prefix: str) -> str:
    """Go's ``PrmObjName``: ``prefix`` + the path relative to ``base_dir``; for a single
    file (no ``base_dir``) ``prefix`` itself unless it is empty or ends with ``/``."""
    if not base_dir:
        if prefix and not prefix.endswith("/"):
            return prefix
        return prefix + os.path.basename(path)
    return prefix + os.path.relpath(path, base_dir)


def plan_promote(root: Optional[str], args: PromoteArgs) -> PromotePlan:
    """Every file the promote takes, checked against ``root`` (no file is read here)."""
    real = resolve_source(root, args.src)
    plan = PromotePlan()
    st = os.stat(real)
    if stat.S_ISREG(st.st_mode):
        plan.files.append((object_name_for(real, "", args.obj), real))
        return plan
    if not stat.S_ISDIR(st.st_mode):
        raise InvalidPromoteSource(args.src, "not a regular file or directory")
    for dirpath, dirnames, filenames in os.walk(real, followlinks=False):
        dirnames.sort()
        if not args.recursive:
            dirnames.clear()
        for fname in sorted(filenames):
            path = os.path.join(dirpath, fname)
            mode = os.lstat(path).st_mode
            if stat.S_ISREG(mode):
                plan.files.append((object_name_for(path, real, args.obj), path))
            else:  # a symlink or a special file
                plan.skipped.append(path)
    return plan


def read_file(path: str, root: str) -> bytes:
    """The bytes of one planned file, refusing one that became a symlink (or moved out of
    the root) since it was planned."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        if not _under(os.path.realpath(path), os.path.realpath(root)):
            raise PromoteForbidden(f"{path} is outside the promote root {root}")
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)
