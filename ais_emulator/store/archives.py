"""Archive members: list, read and match files inside tar, tgz and zip shards; write them.

This module owns everything the emulator knows about archive formats: ARCH_DIR listing
(wire doc §4.4), ``archpath`` / ``archregx`` + ``archmode`` GETs (§5.1) and the GetBatch
output archive (§9). It is pure and stateless: bytes in, values out, no caching.

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
* Writing lives in ``archive_writer`` (re-exported here as ``write_archive``).
"""

from __future__ import annotations

import io
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ais_emulator.store.regex import compile_archregx
from ais_tar import TarError, TruncatedTarError, read_entry

ARCHIVE_EXTENSIONS = (".tar", ".tgz", ".tar.gz", ".zip")
MATCH_MODES = ("regexp", "prefix", "suffix", "substr", "wdskey")

_BY_EXTENSION = ((".tar.gz", ".tgz"), (".tgz", ".tgz"), (".tar", ".tar"), (".zip", ".zip"))
_FORMATS = {".tar": ".tar", ".tgz": ".tgz", ".tar.gz": ".tgz", ".zip": ".zip"}
_BLOCK = 512
_IN_CHUNK = 64 * 1024  # compressed bytes fed to zlib per step
_OUT_CHUNK = 256 * 1024  # most inflated bytes produced per step


class ArchiveError(Exception):
    """A corrupt, truncated or unsupported archive. ``offset`` is the byte offset, if known."""

    def __init__(self, message: str, offset: int | None = None):
        super().__init__(message if offset is None else f"{message} at offset {offset}")
        self.offset = offset


class MemberNotFound(KeyError):
    """No regular file of that name in the archive."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "archived file not found"


@dataclass(frozen=True)
class Member:
    """A regular file inside an archive: its name as stored and its uncompressed size."""

    name: str
    size: int


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


def list_members(data: bytes | memoryview, fmt: str) -> list[Member]:
    """Every regular file in archive order (directories and links skipped), names as stored."""
    fmt = _normalize(fmt)
    if fmt == ".zip":
        with _open_zip(data) as zf:
            return [Member(name, info.file_size) for name, info in _zip_files(zf)]
    return [Member(e.name, e.size) for e in _walk_tar(_tar_source(data, fmt)) if e.is_file]


def read_member(data: bytes | memoryview, fmt: str, archpath: str) -> bytes:
    """The bytes of the first regular file named ``archpath`` (see the module's lookup rule).

    Raises ``MemberNotFound`` when there is none, ``ValueError`` for an empty ``archpath``.
    """
    fmt = _normalize(fmt)
    if not archpath:
        raise ValueError("archpath must not be empty")
    want = _lookup_key(archpath)
    if fmt == ".zip":
        with _open_zip(data) as zf:
            for name, info in _zip_files(zf):
                if name == archpath or _lookup_key(name) == want:
                    return _zip_read(zf, info)
    else:
        src = _tar_source(data, fmt)
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
    fmt = _normalize(fmt)
    match = _matcher(pattern, mode)
    if fmt == ".zip":
        return _iter_zip(data, match)
    return _iter_tar(_tar_source(data, fmt), match, dirs)


# ---------------------------------------------------------------- helpers: shared


def _normalize(fmt: str) -> str:
    try:
        return _FORMATS[fmt]
    except KeyError:
        raise ArchiveError(f"unsupported archive format {fmt!r}") from None


def _view(data: bytes | memoryview) -> memoryview:
    view = memoryview(data)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


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


class _ViewSource:
    """Tar bytes straight from the archive: reads are slices, nothing is copied."""

    def __init__(self, data: bytes | memoryview):
        self._view = _view(data)
        self.pos = 0

    def read(self, n: int) -> memoryview:
        out = self._view[self.pos : self.pos + n]
        self.pos += len(out)
        return out

    def skip(self, n: int) -> int:
        start = self.pos
        self.pos = min(self.pos + n, len(self._view))
        return self.pos - start

    def finish(self) -> None:
        """Bytes after the end-of-archive marker are ignored, as in Go."""


class _GzipSource:
    """Tar bytes inflated on demand from a (possibly multi-member) gzip stream."""

    def __init__(self, data: bytes | memoryview):
        self._in = _view(data)
        self._in_pos = 0
        self._z = zlib.decompressobj(31)
        self._buf = bytearray()
        self._bpos = 0
        self.pos = 0  # offset in the inflated stream

    def read(self, n: int) -> bytes:
        while len(self._buf) - self._bpos < n and self._inflate():
            pass
        out = bytes(self._buf[self._bpos : self._bpos + n])
        self._bpos += len(out)
        self.pos += len(out)
        return out

    def skip(self, n: int) -> int:
        start = self.pos
        while n > 0 and (len(self._buf) > self._bpos or self._inflate()):
            step = min(n, len(self._buf) - self._bpos)
            self._bpos += step
            self.pos += step
            n -= step
        return self.pos - start

    def finish(self) -> None:
        """Inflate the rest, so that every gzip trailer (CRC-32, length) gets verified."""
        self.skip(sys.maxsize)

    def _inflate(self) -> bool:
        """Append more inflated bytes to the buffer; False once the gzip input is exhausted."""
        if self._bpos == len(self._buf):
            self._buf.clear()
            self._bpos = 0
        elif self._bpos > _OUT_CHUNK:
            del self._buf[: self._bpos]
            self._bpos = 0
        while True:
            if self._z.eof and not self._next_member():
                return False
            chunk = self._in[self._in_pos : self._in_pos + _IN_CHUNK]
            try:
                out = self._z.decompress(chunk, _OUT_CHUNK)
            except zlib.error as e:
                raise ArchiveError(f"corrupt gzip stream ({e})", self._in_pos) from None
            self._in_pos += len(chunk) - len(self._z.unconsumed_tail) - len(self._z.unused_data)
            if out:
                self._buf += out
                return True
            if not chunk and not self._z.eof:
                raise ArchiveError("truncated gzip stream", self._in_pos)

    def _next_member(self) -> bool:
        pos = self._in_pos
        while pos < len(self._in):  # zero padding after a member is allowed
            window = bytes(self._in[pos : pos + _IN_CHUNK])
            rest = window.lstrip(b"\0")
            pos += len(window) - len(rest)
            if rest:
                break
        if pos >= len(self._in):
            return False
        if self._in[pos : pos + 2] != b"\x1f\x8b":
            raise ArchiveError("unexpected bytes after the gzip stream", pos)
        self._in_pos = pos
        self._z = zlib.decompressobj(31)
        return True


def _tar_source(data: bytes | memoryview, fmt: str) -> _ViewSource | _GzipSource:
    return _GzipSource(data) if fmt == ".tgz" else _ViewSource(data)


def _walk_tar(src: _ViewSource | _GzipSource) -> Iterator[_TarEntry]:
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


def _tar_read(src: _ViewSource | _GzipSource, entry: _TarEntry) -> bytes:
    data = src.read(entry.size)
    if len(data) < entry.size:
        raise ArchiveError(
            f"truncated data of tar member {entry.name!r} ({len(data)} of {entry.size} bytes)",
            entry.offset,
        )
    return bytes(data)


def _iter_tar(src: _ViewSource | _GzipSource, match: Callable[[str], bool], dirs: bool = False):
    for entry in _walk_tar(src):
        if entry.is_file:
            if match(entry.name):
                yield entry.name, _tar_read(src, entry)
        elif dirs and entry.is_dir and match(entry.name):
            yield entry.name.rstrip("/") + "/", None


# ---------------------------------------------------------------- zip reading

_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    ValueError,
    struct.error,
    NotImplementedError,
    RuntimeError,
    zlib.error,
)


class _ViewFile(io.RawIOBase):
    """A read-only, seekable file over a memoryview, for ``zipfile`` (no copy of the whole)."""

    def __init__(self, view: memoryview):
        super().__init__()
        self._view, self._pos = view, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = (0, self._pos, len(self._view))[whence]
        if base + offset < 0:
            raise OSError(22, "negative seek position")  # what a real file raises (EINVAL)
        self._pos = base + offset
        return self._pos

    def read(self, n: int = -1) -> bytes:
        end = len(self._view) if n is None or n < 0 else self._pos + n
        out = bytes(self._view[self._pos : end])
        self._pos += len(out)
        return out

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _open_zip(data: bytes | memoryview) -> zipfile.ZipFile:
    view = _view(data)
    try:
        return zipfile.ZipFile(_ViewFile(view))
    except _ZIP_ERRORS as e:
        eocd = bytes(view[-(65535 + 22) :]).rfind(b"PK\x05\x06")
        if eocd < 0:
            raise ArchiveError(
                "zip end-of-central-directory record not found (truncated or not a zip)",
                len(view),
            ) from None
        eocd += max(0, len(view) - (65535 + 22))
        where = struct.unpack_from("<I", view, eocd + 16)[0] if eocd + 20 <= len(view) else eocd
        raise ArchiveError(f"corrupt zip central directory ({e})", where) from None


def _zip_files(zf: zipfile.ZipFile) -> Iterator[tuple[str, zipfile.ZipInfo]]:
    for info in zf.infolist():
        kind = (info.external_attr >> 16) & 0o170000
        if info.is_dir() or kind not in (0, 0o100000):
            continue
        name = info.filename
        if not info.flag_bits & 0x800:
            try:
                name = info.orig_filename.encode("cp437").decode("utf-8")
            except UnicodeError:
                pass
        yield name, info


def _zip_read(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        with zf.open(info) as fh:
            return fh.read()
    except _ZIP_ERRORS as e:
        where = info.header_offset
        raise ArchiveError(f"corrupt zip member {info.filename!r} ({e})", where) from None


def _iter_zip(data: bytes | memoryview, match: Callable[[str], bool]):
    with _open_zip(data) as zf:
        for name, info in _zip_files(zf):
            if match(name):
                yield name, _zip_read(zf, info)


from .archive_writer import write_archive  # noqa: E402, F401  (re-export)
