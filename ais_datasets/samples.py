"""WebDataset sample grouping: consecutive tar members that share a key are one sample.

This module owns the key rule and the grouping; reading members is
:class:`~ais_datasets.tario.TarStream`'s (this module only calls its public methods)::

    for sample in iter_samples(TarStream(chunks, shard="ais://b/shard-0.tar")):
        sample.key, sample.fields["jpg"]

Sample keys follow WebDataset: the key is the member path up to the first dot of its
last component (directory included) and the extension is everything after that dot, so
``a/x.jpg`` and ``b/x.jpg`` are two samples while ``x.seg.png`` and ``x.png`` are two
fields (``seg.png`` and ``png``) of sample ``x``. Members whose last component has no dot,
or starts with one, belong to no sample and are skipped. Extensions keep their case.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Optional

from ais_datasets.errors import ShardReadError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ais_datasets.tario import TarStream


class Sample(NamedTuple):
    """One WebDataset sample: consecutive members sharing a key."""

    key: str
    fields: dict[str, bytes]
    offset: int  # offset of the sample's first member header
    next_offset: int  # offset where the next sample (or the end of the archive) begins


def split_key(name: str) -> tuple[Optional[str], str]:
    """``(key, extension)`` of a member name by the WebDataset rule (see module doc).

    Returns ``(None, "")`` for names that belong to no sample.
    """
    slash = name.rfind("/") + 1
    dot = name.find(".", slash)
    if dot <= slash:  # no dot in the last component, or it starts with one
        return None, ""
    return name[:dot], name[dot + 1:]


def _duplicate(tar: TarStream, name: str, key: str, offset: int) -> ShardReadError:
    return ShardReadError(f"duplicate member {name!r} in sample {key!r}", shard=tar.shard,
                          offset=offset)


def _interleaved(tar: TarStream, name: str, key: str, offset: int) -> ShardReadError:
    return ShardReadError(f"member {name!r} belongs to sample {key!r}, which ended "
                          f"before: the members of a sample must be consecutive in the "
                          f"shard (WebDataset order)", shard=tar.shard, offset=offset)


def iter_samples(tar: TarStream, skip: int = 0,
                 status: Optional[dict[str, bool]] = None,
                 fields_type: type = dict) -> Iterator[Sample]:
    """Group consecutive members of ``tar`` into samples by key.

    The first ``skip`` samples are passed over reading headers only (their data is
    skipped, not held). A key repeated with the same extension inside one sample raises
    ``ShardReadError`` (the shard is inconsistent), and so does a member whose key
    belongs to a sample that ended earlier in the stream (keys interleaved, e.g. ``a.jpg
    b.jpg a.cls``): grouping such a shard would need it whole in memory, and splitting
    ``a`` in two would yield more samples than the shard's listing counts. The check
    remembers the keys of the stream read so far (a stream resumed at a byte offset
    checks from there on). When ``status`` is given,
    ``status["open"]`` says whether a sample has been started and not yet yielded, which
    tells a caller handling an error whether a sample was lost with it. ``fields_type``
    is the ``dict`` subclass a sample's fields are built in (made empty by its
    ``__new__``; its ``__init__`` is not called).
    """
    if status is None:
        status = {}
    status["open"] = False
    next_member = tar.next_member
    read_data = tar.read_data
    new_sample = tuple.__new__
    new_fields = fields_type.__new__
    key: Optional[str] = None
    fields: dict[str, bytes] = {}
    offset = 0
    index = 0
    ended: set[str] = set()  # keys of the samples already closed
    scan = tar.scan_keyed
    tar.skip_data()  # a member left pending by the caller
    while True:
        if index >= skip:
            # every whole plain member left in the current chunk, parsed in one call
            base, members = scan()
            for new_key, ext, data, at in members:
                if new_key == key:
                    if ext in fields:
                        raise _duplicate(tar, f"{key}.{ext}", key, base + at)
                    fields[ext] = data
                    continue
                if new_key in ended:
                    raise _interleaved(tar, f"{new_key}.{ext}", new_key, base + at)
                if key is not None:
                    ended.add(key)
                    status["open"] = False
                    yield new_sample(Sample, (key, fields, offset, base + at))
                    index += 1
                key, offset = new_key, base + at
                fields = new_fields(fields_type)
                status["open"] = True
                fields[ext] = data
        head = next_member()  # skips the data of a member left unread
        if head is not None:
            name = head[0]
            slash = name.rfind("/") + 1
            dot = name.find(".", slash)
            if dot <= slash:  # belongs to no sample
                continue
            new_key = name[:dot]
            if new_key == key:
                if index >= skip:
                    ext = name[dot + 1:]
                    if ext in fields:
                        raise _duplicate(tar, name, key, head[2])
                    fields[ext] = read_data()
                continue
        if head is not None and new_key in ended:
            raise _interleaved(tar, name, new_key, head[2])
        if key is not None:
            ended.add(key)
            if index >= skip:
                next_offset = head[2] if head is not None else tar.offset
                status["open"] = False
                yield new_sample(Sample, (key, fields, offset, next_offset))
            index += 1
        if head is None:
            return
        key, offset = new_key, head[2]
        fields = new_fields(fields_type)  # an empty dict of that type, no __init__
        if index >= skip:
            status["open"] = True
            fields[name[dot + 1:]] = read_data()
        else:
            status["open"] = False
