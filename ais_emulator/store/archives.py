"""Archive members: list, read and match files inside tar, tgz and zip shards.

This is the archive API the rest of the emulator uses: ARCH_DIR listing (wire doc §4.4),
``archpath`` / ``archregx`` + ``archmode`` GETs (§5.1) and, through ``write_archive``
(from ``archive_writer``), the GetBatch output archive (§9). It is pure and stateless:
bytes in, values out, no caching. Format names and detection are ``archive_formats``,
the tar byte sources (a view, an incremental gzip inflater) ``archive_sources``, zip
reading ``archive_zip``; tar headers are decoded by the shared ``ais_tar``.

    fmt = detect_format("shard.tar.gz")                  # ".tgz"
    [m.name for m in list_members(blob, fmt)]            # ["a/0001.jpg", ...]
    body = b"".join(write_archive([("x.txt", 2, [b"hi"])], ".tar"))

Readers never copy a tar or zip archive: tar is read over a ``memoryview`` (one 512-byte
header block at a time, decoded by the shared ``ais_tar`` decoder that ``ais_datasets``
uses too), zip goes through ``zipfile`` over a read-only view; only the bytes of the
requested members are copied out. A crafted tar header (a negative, non-octal or
overflowing size, an extended header over 1 MiB, a malformed PAX record) is an
``ArchiveError`` like any corrupt input: every header moves the reader forward. A tgz is
inflated incrementally, so memory stays bounded by one member plus a small window;
``list_members`` and ``iter_matching`` inflate to the end so the gzip CRC is checked,
``read_member`` stops at its member (as Go does).
Corrupt or truncated input raises ``ArchiveError`` naming the byte offset (for tgz: the
offset in the inflated tar stream, or the compressed offset for gzip-level damage). A tar
that ends cleanly between members without end-of-archive blocks is accepted (Go and
``tarfile`` accept it too).

Deviations from real AIS:
* ``.tar.lz4`` is not supported: the standard library has no LZ4, and this package is
  stdlib-only (``ais_tar`` too). ``detect_format`` returns ``None`` for it, so it is
  served as a plain object.
* Listing and reading see regular files only. Go also lists symlinks, hard links and other
  non-directory entries (with size 0); here they are skipped and cannot be fetched. As in
  AIS, ``iter_matching(dirs=True)`` also yields a tar's matching directory entries
  (``(name/, None)``); a zip's are skipped (AIS v1.5.0 drops the connection on any
  archregx read of a zip).
* ``archpath`` lookup is Go's: the stored name exactly, or equal after dropping a leading
  ``/`` on either side. So a member stored as ``./a.jpg`` (listed by AIS as
  ``shard.tar/a.jpg``) cannot be fetched as ``a.jpg``, exactly as on a real cluster. As in
  Go, the first match in archive order wins.
* ``regexp`` mode matches with RE2 in linear time (``regex``), as Go does.
* Tar: a PAX global header (``g``) is skipped, not applied; sparse members raise
  ``ArchiveError``; the first all-zero block ends reading and what follows is ignored (Go
  also wants the next block to be zero).
* Zip: a name without the UTF-8 flag is taken as UTF-8 when it decodes as such (Go keeps
  the raw bytes), otherwise as CP437 (``zipfile``'s rule).
* Magic bytes: zip needs ``PK\\x03\\x04`` (or the empty-archive ``PK\\x05\\x06``), where Go
  takes any ``PK``; Go also refuses to sniff objects shorter than 512 bytes, we do not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ais_emulator.store.archive_formats import (
    ARCHIVE_EXTENSIONS,
    ArchiveError,
    detect_format,
    normalize_format,
)
from ais_emulator.store.archive_sources import GzipSource, ViewSource, tar_source
from ais_emulator.store.archive_writer import write_archive
from ais_emulator.store.archive_zip import iter_zip, open_zip, zip_files, zip_read
from ais_emulator.store.regex import compile_archregx
from ais_tar import TarError, TruncatedTarError, read_entry

__all__ = ["ARCHIVE_EXTENSIONS", "MATCH_MODES", "ArchiveError", "Member", "MemberNotFound",
           "detect_format", "iter_matching", "list_members", "read_member", "write_archive"]

MATCH_MODES = ("regexp", "prefix", "suffix", "substr", "wdskey")
_BLOCK = 512


class MemberNotFound(KeyError):
    """No regular file of that name in the archive."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "archived file not found"


@dataclass(frozen=True)
class Member:
    """A regular file inside an archive: its name as stored and its uncompressed size."""

    name: str
    size: int


def list_members(data: bytes | memoryview, fmt: str) -> list[Member]:
    """Every regular file in archive order (directories and links skipped), names as stored."""
    fmt = normalize_format(fmt)
    if fmt == ".zip":
        with open_zip(data) as zf:
            return [Member(name, info.file_size) for name, info in zip_files(zf)]
    return [Member(e.name, e.size) for e in _walk_tar(tar_source(data, fmt)) if e.is_file]


def read_member(data: bytes | memoryview, fmt: str, archpath: str) -> bytes:
    """The bytes of the first regular file named ``archpath`` (see the module's lookup rule).

    Raises ``MemberNotFound`` when there is none, ``ValueError`` for an empty ``archpath``.
    """
    fmt = normalize_format(fmt)
    if not archpath:
        raise ValueError("archpath must not be empty")
    want = _lookup_key(archpath)
    if fmt == ".zip":
        with open_zip(data) as zf:
            for name, info in zip_files(zf):
                if name == archpath or _lookup_key(name) == want:
                    return zip_read(zf, info)
    else:
        src = tar_source(data, fmt)
        for entry in _walk_tar(src):
            if entry.is_file and (entry.name == archpath or _lookup_key(entry.name) == want):
                return _tar_read(src, entry)
    raise MemberNotFound(f"archived file {archpath!r} does not exist")


def iter_matching(
    data: bytes | memoryview, fmt: str, pattern: str, mode: str, dirs: bool = False
) -> Iterator[tuple[str, bytes | None]]:
    """``(name, bytes)`` of every regular file matching ``pattern`` under ``mode``, in order;
    with ``dirs``, a tar's (or tgz's) matching directories too, as ``(name ending in /,
    None)``. Names are matched as stored (a directory's usually ends with ``/``).

    Modes (wire doc §5.1): ``regexp`` (RE2 search, see ``regex``), ``prefix``, ``suffix``, ``substr``,
    ``wdskey`` (name minus its last extension and a leading ``/`` equals the pattern). An
    empty pattern, or mode ``""`` / ``"*"``, matches everything. An unknown mode or a bad
    regular expression raises ``ValueError`` at call time, before anything is read.
    """
    fmt = normalize_format(fmt)
    match = _matcher(pattern, mode)
    if fmt == ".zip":
        return iter_zip(data, match)
    return _iter_tar(tar_source(data, fmt), match, dirs)


# ---------------------------------------------------------------- helpers: shared


def _lookup_key(name: str) -> str:
    return name.removeprefix("/")


def _wds_key(name: str) -> str:
    dot = name.rfind(".")
    if dot > name.rfind("/"):
        name = name[:dot]
    return name.removeprefix("/")


def _matcher(pattern: str, mode: str) -> Callable[[str], bool]:
    if mode not in MATCH_MODES and mode not in ("", "*"):
        raise ValueError(f"unknown archmode {mode!r}: expected one of {', '.join(MATCH_MODES)}")
    if not pattern or mode in ("", "*"):
        return lambda name: True
    if mode == "regexp":
        return compile_archregx(pattern)
    if mode == "prefix":
        return lambda name: name.startswith(pattern)
    if mode == "suffix":
        return lambda name: name.endswith(pattern)
    if mode == "substr":
        return lambda name: pattern in name
    return lambda name: _wds_key(name) == pattern


# ---------------------------------------------------------------- tar reading


@dataclass
class _TarEntry:
    name: str
    size: int  # bytes of data that follow the header
    is_file: bool
    offset: int  # where the data starts
    is_dir: bool = False


def _walk_tar(src: ViewSource | GzipSource) -> Iterator[_TarEntry]:
    """Yield entries; between yields the caller may read the entry's data from ``src``.

    Headers are read by the shared decoder (:mod:`ais_tar`, the same rules as
    ``ais_datasets``): every header moves forward, sizes are checked, extended headers
    are capped at 1 MiB, so a crafted archive ends in ``ArchiveError``, never in a loop.
    """
    while True:
        try:
            entry = read_entry(src.read, src.skip, src.pos)
        except TruncatedTarError as e:
            raise ArchiveError(f"truncated tar archive: {e.reason}", e.offset) from None
        except TarError as e:
            raise ArchiveError(e.reason, e.offset) from None
        if entry is None:  # all-zero block, or a clean end between members (as in Go)
            src.finish()
            return
        if entry.sparse:
            raise ArchiveError("sparse tar members are not supported", entry.offset)
        name, size, data_off = entry.name, entry.size, entry.data_offset
        yield _TarEntry(name, size, entry.regular, data_off, entry.is_dir)
        end = data_off + size + (-size % _BLOCK)
        src.skip(max(0, end - src.pos))  # never backwards, whatever the caller read
        if src.pos < data_off + size:
            raise ArchiveError(f"truncated data of tar member {name!r}", data_off)
        if src.pos < end:
            raise ArchiveError(f"truncated padding after tar member {name!r}", src.pos)


def _tar_read(src: ViewSource | GzipSource, entry: _TarEntry) -> bytes:
    data = src.read(entry.size)
    if len(data) < entry.size:
        raise ArchiveError(
            f"truncated data of tar member {entry.name!r} ({len(data)} of {entry.size} bytes)",
            entry.offset,
        )
    return bytes(data)


def _iter_tar(src: ViewSource | GzipSource, match: Callable[[str], bool], dirs: bool = False):
    for entry in _walk_tar(src):
        if entry.is_file:
            if match(entry.name):
                yield entry.name, _tar_read(src, entry)
        elif dirs and entry.is_dir and match(entry.name):
            yield entry.name.rstrip("/") + "/", None
