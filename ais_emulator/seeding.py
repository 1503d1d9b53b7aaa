"""Seeding a bucket from a local directory (``ais-emulator serve --load ais://b=PATH``).

Every regular file under the directory becomes an object named by its path relative to
it (``PATH/img/0001.jpg`` -> ``img/0001.jpg``), read in chunks (with a data dir the bytes
stream from the file to the store's file). The bucket is created when missing. A file
whose object already holds the same bytes (same size and checksum) is left alone, so
loading the same tree into a data dir again at every start costs one read of each file
and changes no version. Objects that are not in the tree are kept; symbolic links to
files are followed, links to directories are not; other special files are skipped.

    load_tree(emu, emu.bucket_id("corpus"), "/data/corpus")   # (stored, unchanged, bytes)
    parse_load_spec("ais://corpus=/data/corpus")               # ("ais", "corpus", path)
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import xxhash

from ais_emulator.store.errors import InvalidObjectName, ObjectNotFound
from ais_emulator.store.objects import object_name

_CHUNK = 4 << 20


class SeedError(ValueError):
    """A ``--load`` spec or tree that cannot be loaded (the message names which)."""


def parse_load_spec(spec: str) -> tuple[str, str, str]:
    """``PROVIDER://BUCKET=PATH`` -> ``(provider, bucket, path)`` (the first ``=`` splits:
    bucket names have none)."""
    target, sep, path = spec.partition("=")
    scheme, colon, bucket = target.partition("://")
    if not sep or not path or not colon or not scheme or not bucket or "/" in bucket:
        raise SeedError(f"invalid --load {spec!r}: expecting PROVIDER://BUCKET=PATH, "
                        "e.g. ais://corpus=./data")
    return scheme, bucket, path


def _file_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                return
            yield chunk


def _same(path: str, size: int, rec) -> bool:
    if rec.size != size or rec.cksum_type not in ("xxhash2", "xxhash"):
        return False
    hasher = xxhash.xxh64()
    for chunk in _file_chunks(path):
        hasher.update(chunk)
    return hasher.hexdigest() == rec.cksum_value


def _files(root: str) -> Iterator[tuple[str, str]]:
    """``(object name, file path)`` of every regular file under ``root``, sorted."""
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for fname in sorted(files):
            path = os.path.join(d, fname)
            if os.path.isfile(path):
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                yield rel, path


def load_tree(emu, bck, root: str) -> tuple[int, int, int]:
    """Put the files under ``root`` into ``bck``; ``(stored, unchanged, bytes stored)``."""
    if not os.path.isdir(root):
        raise SeedError(f"cannot load {root!r} into {bck}: not a directory")
    if not emu.store.has_bucket(bck):
        emu.store.create_bucket(bck)
    stored = unchanged = nbytes = 0
    for name, path in _files(root):
        try:
            canonical = object_name(name)
        except InvalidObjectName as e:
            raise SeedError(f"cannot load {path!r} into {bck}: {e.message}") from None
        size = os.path.getsize(path)
        try:
            rec = emu.store.head_object(bck, canonical)
        except ObjectNotFound:
            rec = None
        if rec is not None and getattr(rec, "present", True) and _same(path, size, rec):
            unchanged += 1
            continue
        emu.store.put_object(bck, canonical, _file_chunks(path))
        stored += 1
        nbytes += size
    return stored, unchanged, nbytes
