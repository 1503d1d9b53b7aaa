"""What every tar reader of the distribution must do with any bytes, checked in one place.

:func:`check` runs one archive through each reader: the stream parser of
``ais_datasets.tario`` in pure Python and with the compiled scanner (members and samples,
from ``bytes`` chunks and from views of a reused buffer), and the emulator's
``store.archives`` (listing, reading a member, matching). Every outcome must be data or a
clear error: ``ShardReadError`` naming the shard and an offset inside the stream, or
``ArchiveError`` with such an offset. Nothing else may escape, nothing may take longer
than ``TIME_LIMIT_S`` (a hang is turned into a failure by a timer signal), offsets of
members and samples only move forward, and the pure-Python and compiled paths agree
exactly. The property tests feed it with ``hypothesis``; ``make fuzz`` runs them longer
and under an AddressSanitizer build of the scanner (``AIS_TARSCAN_SO`` names that build).
"""

from __future__ import annotations

import contextlib
import gzip
import importlib.util
import os
import signal
from types import ModuleType
from typing import Optional

from hypothesis import HealthCheck, settings

from ais_datasets import tario
from ais_datasets.errors import ShardReadError
from ais_datasets.samples import iter_samples
from ais_datasets.tario import TarStream
from ais_emulator.store.archives import (
    ArchiveError,
    MemberNotFound,
    iter_matching,
    list_members,
    read_member,
)

SHARD = "ais://fuzz/shard.tar"
TIME_LIMIT_S = 10.0
BLOCK = 512

# `make test`: a fixed, small set of examples (derandomized: the same on every run).
# `make fuzz` (AIS_FUZZ_LONG=1): many more, from a fresh random seed each run.
LONG = os.environ.get("AIS_FUZZ_LONG", "") not in ("", "0")
FUZZ = settings(
    max_examples=int(os.environ.get("AIS_FUZZ_EXAMPLES") or (5000 if LONG else 150)),
    derandomize=not LONG,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)


def _compiled() -> Optional[ModuleType]:
    path = os.environ.get("AIS_TARSCAN_SO")
    if not path:
        return tario._fast
    spec = importlib.util.spec_from_file_location("ais_tarscan_under_test._tarscan", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


COMPILED = _compiled()


class Hang(Exception):
    """A reader ran past ``TIME_LIMIT_S``."""


@contextlib.contextmanager
def time_limit(seconds: float = TIME_LIMIT_S):
    """Raise :class:`Hang` in the block once ``seconds`` have passed (main thread only)."""
    def alarm(signum, frame):
        raise Hang(f"no outcome within {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def parser(compiled: bool):
    """tario with the compiled scanner (``COMPILED``) or in pure Python."""
    saved = tario._fast
    tario._fast = COMPILED if compiled else None
    try:
        yield
    finally:
        tario._fast = saved


def chunked(data: bytes, sizes: list[int]) -> list[bytes]:
    """``data`` cut into chunks of the given sizes, cycled."""
    out, pos, k = [], 0, 0
    while pos < len(data):
        n = max(1, sizes[k % len(sizes)]) if sizes else len(data)
        out.append(data[pos:pos + n])
        pos += n
        k += 1
    return out


def reused(chunks: list[bytes]):
    """The chunks as views of one buffer that is scribbled over before each refill."""
    buf = bytearray(max(map(len, chunks), default=0))
    for chunk in chunks:
        buf[:] = b"\xaa" * len(buf)
        buf[:len(chunk)] = chunk
        yield memoryview(buf)[:len(chunk)]


def _stream_error(err: ShardReadError, size: int) -> tuple:
    assert err.shard == SHARD, err
    assert isinstance(err.offset, int) and 0 <= err.offset <= size, err
    assert SHARD in str(err) and f"byte offset {err.offset}" in str(err), err
    return type(err).__name__, err.reason, err.offset


def _forward(offsets: list[int], size: int) -> None:
    assert offsets == sorted(set(offsets)), f"offsets go back: {offsets[:20]}"
    assert all(0 <= o < size for o in offsets), offsets[:20]
    assert len(offsets) <= size // BLOCK


def tario_outcome(chunks: list[bytes], size: int, skip: int, compiled: bool,
                  view: bool = False) -> list:
    """Members, then samples (after ``skip``), or the error that ended them."""
    source = reused if view else iter
    got: list = []
    with parser(compiled):
        try:
            members = [tuple(m) for m in TarStream(source(chunks), shard=SHARD)]
            assert all(type(data) is bytes for _, data, _ in members)
            _forward([offset for _, _, offset in members], size)
            got.append(("members", members))
        except ShardReadError as err:
            got.append(_stream_error(err, size))
        try:
            samples = [(s.key, dict(s.fields), s.offset, s.next_offset)
                       for s in iter_samples(TarStream(source(chunks), shard=SHARD),
                                             skip=skip)]
            _forward([s[2] for s in samples], size)
            assert all(s[2] < s[3] for s in samples)
            got.append(("samples", samples))
        except ShardReadError as err:
            got.append(_stream_error(err, size))
    return got


def _archive_error(err: ArchiveError, size: int) -> str:
    assert isinstance(err.offset, int) and 0 <= err.offset <= size, err
    return str(err)


def emulator_outcome(data: bytes, fmt: str, size: int) -> dict:
    """The emulator's listing, matching and member reads of ``data``."""
    out: dict = {}
    try:
        out["list"] = [(m.name, m.size) for m in list_members(data, fmt)]
    except ArchiveError as err:
        out["list"] = _archive_error(err, size)
    try:
        out["match"] = [(name, None if body is None else len(body))
                        for name, body in iter_matching(data, fmt, "", "", dirs=True)]
    except ArchiveError as err:
        out["match"] = _archive_error(err, size)
    listed = out["list"] if isinstance(out["list"], list) else []
    names = [name for name, _ in listed if name]  # an empty archpath is refused earlier
    for name in (names[:2] + ["no-such-member"]):
        try:
            out[f"read {name}"] = len(read_member(data, fmt, name))
        except MemberNotFound:
            out[f"read {name}"] = "not found"
        except ArchiveError as err:
            out[f"read {name}"] = _archive_error(err, size)
    return out


def check(data: bytes, sizes: list[int], skip: int = 0, tgz: bool = False) -> dict:
    """Run ``data`` through every reader (module doc); return the outcomes."""
    chunks = chunked(data, sizes)
    with time_limit():
        python = tario_outcome(chunks, len(data), skip, compiled=False)
        assert tario_outcome(chunks, len(data), skip, compiled=False, view=True) == python
        if COMPILED is not None:
            assert tario_outcome(chunks, len(data), skip, compiled=True) == python
            assert tario_outcome(chunks, len(data), skip, compiled=True, view=True) \
                == python
        emulator = emulator_outcome(data, ".tar", len(data))
        if tgz:
            packed = gzip.compress(data, compresslevel=1)
            zipped = emulator_outcome(packed, ".tgz", len(data) + len(packed))
            # the same tar inside: the same members, or an error (offsets may differ)
            assert isinstance(zipped["list"], list) == isinstance(emulator["list"], list)
            if isinstance(emulator["list"], list):
                assert zipped["list"] == emulator["list"]
            with parser(False):
                try:
                    inflated = [tuple(m) for m in TarStream(
                        tario.gunzip_chunks(chunked(packed, sizes)), shard=SHARD)]
                    assert ("members", inflated) == python[0]
                except ShardReadError as err:
                    assert _stream_error(err, len(data)) == python[0]
    _agree(python, emulator)
    return {"tario": python, "emulator": emulator}


def _agree(python: list, emulator: dict) -> None:
    """The two packages read the same regular files from the same bytes, with one
    rule difference: the emulator refuses GNU sparse files, the datasets skip the old
    sparse type and read PAX-form ones as plain files."""
    members = python[0]
    listed = emulator["list"]
    if isinstance(listed, str) and "sparse" in listed:
        return
    if members[0] == "members" and isinstance(listed, list):
        assert [name for name, _, _ in members[1]] == [name for name, _ in listed]
        assert [len(data) for _, data, _ in members[1]] == [size for _, size in listed]
    else:
        assert members[0] != "members" and not isinstance(listed, list), \
            (members, listed)
