"""ais_datasets.getbatch: one reader of GetBatch replies, one set of rules for every dataset."""

from __future__ import annotations

import io

import ais_ds_test_kit as kit
import pytest
from aistore.sdk.batch.batch import Batch

from ais_datasets import AISBatchIterDataset, AISIterDataset, AISMapDataset, getbatch
from ais_datasets.getbatch import (
    BatchMismatch,
    BatchReply,
    Missing,
    ReplyBroken,
    batch_objects,
    entry_name,
)


class _Raw(io.BytesIO):
    """A reply body as the SDK hands it out with ``raw=True`` (no socket underneath)."""

    headers: dict = {}
    chunked = False

    def read(self, n=-1, decode_content=False):
        return super().read(n)


def _replies(monkeypatch, bodies: list[bytes]) -> list[list[str]]:
    """Serve GetBatch requests with ``bodies``, in turn; returns the names each asked for."""
    asked: list[list[str]] = []

    def get(self, raw=False, *a, **kw):
        assert raw, "streamed tar replies are read raw"
        asked.append([m.obj_name for m in self.requests_list])
        return _Raw(bodies[len(asked) - 1])

    monkeypatch.setattr(Batch, "get", get)
    return asked


def _archive(bucket, members) -> bytes:
    """A GetBatch archive of ``(object name, bytes)``: entries named ``<bucket>/<name>``."""
    return kit.make_tar([(f"{bucket.name}/{name}", data) for name, data in members])


def _objects(bucket, corpus):
    return [bucket.object(name) for name, _ in corpus]


def _asked_by_reader(monkeypatch) -> list[list[str]]:
    """Record the objects each GetBatch reply of a dataset is asked for."""
    real = getbatch.batch_stream
    asked: list[list[str]] = []

    def recording(client, objects, **options):
        asked.append([o.name for o in objects])
        return real(client, objects, **options)

    monkeypatch.setattr(getbatch, "batch_stream", recording)
    return asked


@pytest.mark.parametrize("kind", ["iter", "map", "batch-iter"])
def test_a_cut_reply_is_asked_again_for_what_was_not_handed_out(ais_mock, client, bucket,
                                                                 monkeypatch, calls, kind):
    corpus = kit.object_corpus(bucket, 10)
    names = [n for n, _ in corpus]
    asked = _asked_by_reader(monkeypatch)
    rule = ais_mock.emulator.faults.add("reset", op="batch", after=3000, first=1)
    calls.clear()
    if kind == "iter":
        got = list(AISIterDataset(bucket, max_batch_size=10))
    elif kind == "map":
        got = AISMapDataset(bucket).__getitems__(list(range(10)))
    else:
        got = list(AISBatchIterDataset(bucket, client, max_batch_size=10))
    assert got == corpus  # every object once, in order
    assert rule.fired == 1 and calls.batch_requests() == 2 and calls.gets() == []
    first, rest = asked
    assert first == names and 0 < len(rest) < len(names) and rest == names[-len(rest):]


def test_an_archive_that_ends_early_names_the_first_object_without_an_entry(
        client, bucket, monkeypatch):
    # without cont_on_err, AIS ends a well-formed archive at the first object it cannot read
    corpus = kit.object_corpus(bucket, 3)
    _replies(monkeypatch, [_archive(bucket, corpus[:1])] * 8)
    reply = BatchReply(bucket.client, _objects(bucket, corpus))
    assert reply.next_object() == (reply.objects[0], corpus[0][1])
    with pytest.raises(BatchMismatch, match=f"1 entries for 3 objects: none for "
                                            f"'{bucket.name}/{corpus[1][0]}'"):
        reply.next_object()
    reply.close()
    with pytest.raises(RuntimeError, match=corpus[1][0]):
        list(AISBatchIterDataset(bucket, client, max_batch_size=3))


def test_an_archive_cut_between_entries_is_a_cut_reply(client, bucket, monkeypatch):
    corpus = kit.object_corpus(bucket, 3)
    whole = _archive(bucket, corpus[:1])
    size = len(corpus[0][1])
    unterminated = whole[:512 + -(-size // 512) * 512]  # one entry, no end-of-archive blocks
    asked = _replies(monkeypatch, [unterminated, _archive(bucket, corpus[1:])])
    objects = _objects(bucket, corpus)
    got = [(obj.name, data) for obj, data in batch_objects(bucket.client, objects)]
    assert got == corpus
    assert asked == [[n for n, _ in corpus], [n for n, _ in corpus[1:]]]
    _replies(monkeypatch, [unterminated])
    reply = BatchReply(bucket.client, objects)
    reply.next_object()
    with pytest.raises(ReplyBroken, match="after 1 of 3 entries"):
        reply.next_object()


def test_cut_replies_give_up_after_the_policys_attempts(bucket, monkeypatch):
    from ais_datasets import RetryPolicy

    corpus = kit.object_corpus(bucket, 2)
    cut = _archive(bucket, corpus)[:700]  # inside the first entry's data
    asked = _replies(monkeypatch, [cut] * 3)
    with pytest.raises(ReplyBroken):
        list(batch_objects(bucket.client, _objects(bucket, corpus),
                           RetryPolicy(attempts=3, backoff=0)))
    assert len(asked) == 3


def test_entries_that_are_not_the_objects_asked_for_are_not_trusted(client, bucket, calls,
                                                                    monkeypatch):
    corpus = kit.object_corpus(bucket, 4)
    swapped = [corpus[1], corpus[0]] + corpus[2:]
    _replies(monkeypatch, [_archive(bucket, swapped)])
    with pytest.raises(BatchMismatch, match=f"entry 0 is '{entry_name(bucket.object(corpus[1][0]))}'"):
        list(batch_objects(bucket.client, _objects(bucket, corpus)))
    _replies(monkeypatch, [_archive(bucket, swapped), _archive(bucket, corpus)])
    calls.clear()
    assert list(AISIterDataset(bucket, max_batch_size=4)) == corpus  # plain GETs instead
    assert len(calls.gets()) == 4
    _replies(monkeypatch, [_archive(bucket, corpus + corpus[:1])])
    with pytest.raises(BatchMismatch, match="more than 4 entries"):
        list(batch_objects(bucket.client, _objects(bucket, corpus)))


@pytest.mark.parametrize(("fmt", "streaming"), [(".tar", True), (".tgz", True),
                                                (".tar", False), (".zip", True)])
def test_missing_members_are_one_rule_in_every_format(client, bucket, fmt, streaming):
    corpus = kit.object_corpus(bucket, 3)
    objects = _objects(bucket, corpus)
    objects.insert(1, bucket.object("gone.bin"))
    reply = BatchReply(bucket.client, objects, output_format=fmt, streaming=streaming)
    got = []
    while (item := reply.next_object()) is not None:
        got.append((item[0].name, item[1]))
    reply.close()
    assert [name for name, _ in got] == [o.name for o in objects]
    assert isinstance(got[1][1], Missing) and got[1][1].reason
    assert [(n, d) for n, d in got if not isinstance(d, Missing)] == corpus
    group = bucket.objects(obj_names=[o.name for o in objects])
    ds = AISBatchIterDataset(group, client, output_format=fmt, streaming=streaming,
                             cont_on_err=True)
    assert list(ds) == corpus  # skipped, as upstream does with cont_on_err
