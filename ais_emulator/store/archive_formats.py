"""Archive formats: their names, detection by extension or magic bytes, and the one error
type every archive module raises.

``.tar``, ``.tgz`` (also spelled ``.tar.gz``) and ``.zip`` are read and written;
``normalize_format`` names a format canonically and refuses any other with
``ArchiveError``. See ``archives`` for what the emulator does with them.
"""

from __future__ import annotations

ARCHIVE_EXTENSIONS = (".tar", ".tgz", ".tar.gz", ".zip")

_BY_EXTENSION = ((".tar.gz", ".tgz"), (".tgz", ".tgz"), (".tar", ".tar"), (".zip", ".zip"))
_FORMATS = {".tar": ".tar", ".tgz": ".tgz", ".tar.gz": ".tgz", ".zip": ".zip"}
_BLOCK = 512


class ArchiveError(Exception):
    """A corrupt, truncated or unsupported archive. ``offset`` is the byte offset, if known."""

    def __init__(self, message: str, offset: int | None = None):
        super().__init__(message if offset is None else f"{message} at offset {offset}")
        self.offset = offset


def detect_format(name: str, head: bytes = b"") -> str | None:
    """Archive format of an object: ``".tar"``, ``".tgz"``, ``".zip"``, or ``None``.

    The extension decides (case-sensitive, as in Go; ``.tar.gz`` gives ``.tgz``). Only when
    the name has none of ``ARCHIVE_EXTENSIONS`` and ``head`` (the object's first bytes) is
    given are magic bytes tried: ``ustar`` at offset 257, gzip ``1f8b``, zip ``PK``.
    """
    for ext, fmt in _BY_EXTENSION:
        if name.endswith(ext):
            return fmt
    head = bytes(head[:_BLOCK])
    if head[257:262] == b"ustar":
        return ".tar"
    if head[:2] == b"\x1f\x8b":
        return ".tgz"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return ".zip"
    return None


def normalize_format(fmt: str) -> str:
    """The canonical name of an archive format (``.tar.gz`` is ``.tgz``); ``ArchiveError``
    for any other."""
    try:
        return _FORMATS[fmt]
    except KeyError:
        raise ArchiveError(f"unsupported archive format {fmt!r}") from None


def byte_view(data: bytes | memoryview) -> memoryview:
    """A flat, byte-wise view of ``data`` (no copy)."""
    view = memoryview(data)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")
