"""GetBatch (ml/moss): client.batch(...) in streaming and multipart form, and the raw wire."""

from __future__ import annotations

import json
import re

import pytest
from aistore.sdk.errors import AISError, ErrBckNotFound

OBJECTS = {
    "img/0.jpg": b"zero" * 10,
    "img/1.jpg": b"one" * 11,
    "img/2.jpg": b"two" * 12,
    "meta.json": b'{"k": 1}',
}
SHARD_MEMBERS = [("x/a.txt", b"archived A"), ("x/b.txt", b"archived BB")]
BIG = bytes(range(256)) * 8  # 2048 bytes


@pytest.fixture
def corpus(put, shards):
    objects = dict(OBJECTS)
    objects["shard.tar"] = shards.tar(SHARD_MEMBERS)
    objects["big.bin"] = BIG
    return put(objects)


def _results(batch):
    return [(out, data) for out, data in batch.get()]


STREAMING = pytest.mark.parametrize("streaming", [True, False], ids=["stream", "multipart"])


@STREAMING
@pytest.mark.parametrize("fmt", [".tar", ".tgz", ".zip"])
def test_request_order_kept(ais_backend, corpus, streaming, fmt):
    order = ["img/2.jpg", "meta.json", "img/0.jpg", "img/1.jpg"]
    batch = ais_backend.client.batch(order, bucket=corpus, output_format=fmt,
                                     streaming_get=streaming)
    got = _results(batch)
    assert [out.obj_name for out, _ in got] == order
    assert [data for _, data in got] == [OBJECTS[n] for n in order]
    for out, data in got:
        assert out.bucket == corpus.name
        assert out.provider == "ais"
        assert out.size == len(data)
        assert not out.err_msg


@STREAMING
def test_same_object_twice(ais_backend, corpus, streaming):
    batch = ais_backend.client.batch(["meta.json", "img/0.jpg", "meta.json"], bucket=corpus,
                                     streaming_get=streaming)
    got = _results(batch)
    assert [d for _, d in got] == [OBJECTS["meta.json"], OBJECTS["img/0.jpg"],
                                   OBJECTS["meta.json"]]


@STREAMING
def test_object_instances_without_default_bucket(ais_backend, corpus, streaming):
    objs = [corpus.object("img/1.jpg"), corpus.object("img/0.jpg")]
    got = _results(ais_backend.client.batch(objs, streaming_get=streaming))
    assert [(o.obj_name, d) for o, d in got] == [
        ("img/1.jpg", OBJECTS["img/1.jpg"]), ("img/0.jpg", OBJECTS["img/0.jpg"])
    ]


@STREAMING
def test_archpath_items(ais_backend, corpus, streaming):
    batch = ais_backend.client.batch(bucket=corpus, streaming_get=streaming)
    batch.add("shard.tar", archpath="x/b.txt")
    batch.add("img/0.jpg")
    batch.add("shard.tar", archpath="x/a.txt")
    got = _results(batch)
    assert [d for _, d in got] == [b"archived BB", OBJECTS["img/0.jpg"], b"archived A"]
    assert [(o.obj_name, o.archpath or "") for o, _ in got] == [
        ("shard.tar", "x/b.txt"), ("img/0.jpg", ""), ("shard.tar", "x/a.txt")
    ]


@STREAMING
def test_byte_range_items(ais_backend, corpus, streaming):
    batch = ais_backend.client.batch(bucket=corpus, streaming_get=streaming)
    batch.add("big.bin", start=100, length=50)
    batch.add("big.bin", start=2000, length=-1)
    batch.add("big.bin", length=7)
    batch.add("shard.tar", archpath="x/a.txt", start=3, length=4)
    got = _results(batch)
    assert [d for _, d in got] == [BIG[100:150], BIG[2000:], BIG[:7], b"hive"]
    assert [o.size for o, _ in got] == [50, 48, 7, 4]


@STREAMING
def test_opaque_echoed(ais_backend, corpus, streaming):
    batch = ais_backend.client.batch(bucket=corpus, streaming_get=streaming)
    batch.add("img/0.jpg", opaque=b"sample-0")
    batch.add("img/1.jpg")
    batch.add("img/2.jpg", opaque=b"\x00\x01binary")
    got = _results(batch)
    assert [o.opaque for o, _ in got] == [b"sample-0", None, b"\x00\x01binary"]


@STREAMING
def test_continue_on_error_marks_missing(ais_backend, corpus, streaming):
    batch = ais_backend.client.batch(["img/0.jpg", "does/not/exist", "img/1.jpg"],
                                     bucket=corpus, cont_on_err=True,
                                     streaming_get=streaming)
    got = _results(batch)
    assert len(got) == 3
    (o0, d0), (o1, d1), (o2, d2) = got
    assert (o0.obj_name, d0, o0.err_msg or "") == ("img/0.jpg", OBJECTS["img/0.jpg"], "")
    assert o1.obj_name == "does/not/exist"
    assert d1 == b""
    assert o1.err_msg
    assert (o2.obj_name, d2, o2.err_msg or "") == ("img/1.jpg", OBJECTS["img/1.jpg"], "")


@STREAMING
def test_continue_on_error_missing_archpath(ais_backend, corpus, streaming):
    batch = ais_backend.client.batch(bucket=corpus, cont_on_err=True, streaming_get=streaming)
    batch.add("shard.tar", archpath="x/missing.txt")
    batch.add("meta.json")
    got = _results(batch)
    assert len(got) == 2
    assert got[0][1] == b"" and got[0][0].err_msg
    assert got[1][1] == OBJECTS["meta.json"] and not got[1][0].err_msg


def test_missing_without_coer_multipart_is_404(ais_backend, corpus):
    batch = ais_backend.client.batch(["img/0.jpg", "absent"], bucket=corpus,
                                     cont_on_err=False, streaming_get=False)
    with pytest.raises(AISError) as exc:
        _results(batch)
    assert exc.value.status_code == 404


@pytest.mark.ais_emulator_deviation(
    "streaming GetBatch with coer=false and a missing item: the emulator answers 404 "
    "before sending any byte; real AIS has already sent 200 and truncates the tar stream",
    on="live",
)
def test_missing_without_coer_streaming_is_404_upfront(ais_backend, corpus):
    batch = ais_backend.client.batch(["img/0.jpg", "absent"], bucket=corpus,
                                     cont_on_err=False, streaming_get=True)
    with pytest.raises(AISError) as exc:
        _results(batch)
    assert exc.value.status_code == 404


@STREAMING
def test_unknown_bucket_404_before_any_byte(ais_backend, fresh_name, streaming):
    missing = ais_backend.client.bucket(fresh_name)
    batch = ais_backend.client.batch(["a", "b"], bucket=missing, streaming_get=streaming)
    with pytest.raises(ErrBckNotFound) as exc:
        batch.get()
    assert exc.value.status_code == 404


def test_only_obj_name(ais_backend, corpus):
    batch = ais_backend.client.batch(["img/1.jpg", "meta.json"], bucket=corpus,
                                     only_obj_name=True, streaming_get=False)
    got = _results(batch)
    assert [(o.obj_name, d) for o, d in got] == [
        ("img/1.jpg", OBJECTS["img/1.jpg"]), ("meta.json", OBJECTS["meta.json"])
    ]


# ---------------------------------------------------------------------------------------
# raw wire


def _moss(bucket, items, **opts):
    body = {"in": [dict({"bucket": bucket, "provider": "ais"}, **it) for it in items],
            "mime": ".tar", "coer": True, "onob": False, "strm": True}
    body.update(opts)
    return body


def test_raw_streaming_entry_names(corpus, wire, shards):
    b = corpus.name
    body = _moss(b, [{"objname": "meta.json"}, {"objname": "nope"},
                     {"objname": "shard.tar", "archpath": "x/a.txt"},
                     {"objname": "img/0.jpg"}])
    r = wire.get(f"/v1/ml/moss/{b}", params={"provider": "ais"}, json=body)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/x-tar"
    assert shards.read_tar(r.content) == [
        (f"{b}/meta.json", OBJECTS["meta.json"]),
        (f"__404__/{b}/nope", b""),
        (f"{b}/shard.tar/x/a.txt", b"archived A"),
        (f"{b}/img/0.jpg", OBJECTS["img/0.jpg"]),
    ]


def test_raw_without_bucket_in_path(corpus, wire, shards):
    b = corpus.name
    body = _moss(b, [{"objname": "img/2.jpg"}, {"objname": "img/1.jpg"}], onob=True)
    r = wire.get("/v1/ml/moss", json=body)
    assert r.status_code == 200
    assert shards.read_tar(r.content) == [
        ("img/2.jpg", OBJECTS["img/2.jpg"]), ("img/1.jpg", OBJECTS["img/1.jpg"])
    ]


def _split_multipart(resp):
    match = re.search(r"boundary=([^;,\s]+)", resp.headers["Content-Type"])
    assert match, resp.headers["Content-Type"]
    boundary = match.group(1).strip('"').encode()
    parts = []
    for chunk in resp.content.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, payload = chunk.partition(b"\r\n\r\n")
        if payload.endswith(b"\r\n"):
            payload = payload[:-2]
        parts.append((head, payload))
    return parts


def test_raw_multipart_shape(corpus, wire, shards):
    b = corpus.name
    body = _moss(b, [{"objname": "img/1.jpg", "opaque": "b3BhcXVl"},
                     {"objname": "ghost"},
                     {"objname": "big.bin", "start": 10, "length": 20}], strm=False)
    r = wire.get(f"/v1/ml/moss/{b}", params={"provider": "ais"}, json=body)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("multipart/")
    parts = _split_multipart(r)
    assert len(parts) == 2
    meta = json.loads(parts[0][1])
    out = meta["out"]
    assert [o["objname"] for o in out] == ["img/1.jpg", "ghost", "big.bin"]
    assert [o["size"] for o in out] == [len(OBJECTS["img/1.jpg"]), 0, 20]
    assert out[0]["opaque"] == "b3BhcXVl"
    assert out[1]["err_msg"]
    assert not out[0].get("err_msg") and not out[2].get("err_msg")
    assert all(o["bucket"] == b and o["provider"] == "ais" for o in out)
    assert shards.read_tar(parts[1][1]) == [
        (f"{b}/img/1.jpg", OBJECTS["img/1.jpg"]),
        (f"__404__/{b}/ghost", b""),
        (f"{b}/big.bin", BIG[10:30]),
    ]


def test_raw_unknown_bucket(wire, fresh_name):
    r = wire.get(f"/v1/ml/moss/{fresh_name}", params={"provider": "ais"},
                 json=_moss(fresh_name, [{"objname": "x"}]))
    assert r.status_code == 404
    assert f"ais://{fresh_name}" in r.text


def test_raw_unknown_item_bucket(wire, fresh_name):
    body = {"in": [{"objname": "x", "bucket": fresh_name, "provider": "ais"}],
            "mime": ".tar", "coer": True, "strm": True}
    r = wire.get("/v1/ml/moss", json=body)
    assert r.status_code == 404
    assert f'bucket "ais://{fresh_name}" does not exist' in r.json()["message"]


def test_raw_empty_input_is_400(corpus, wire):
    r = wire.get(f"/v1/ml/moss/{corpus.name}", params={"provider": "ais"},
                 json={"in": [], "mime": ".tar"})
    assert r.status_code == 400


def test_raw_unknown_mime_is_400(corpus, wire):
    r = wire.get(f"/v1/ml/moss/{corpus.name}", params={"provider": "ais"},
                 json=_moss(corpus.name, [{"objname": "meta.json"}], mime=".rar", strm=False))
    assert r.status_code == 400
    assert r.json()["tcode"] == "errUnknownMime"
    assert r.json()["message"] == 'unknown mime type ".rar"'


def test_raw_range_past_end_multipart(corpus, wire):
    r = wire.get(f"/v1/ml/moss/{corpus.name}", params={"provider": "ais"},
                 json=_moss(corpus.name, [{"objname": "meta.json", "start": 5, "length": 100}],
                            strm=False))
    assert r.status_code == 400, (r.status_code, r.text[:200])
    doc = r.json()
    assert doc["tcode"] == "ErrRangeNotSatisfiable"
    assert doc["message"] == f"size={len(OBJECTS['meta.json'])}: not satisfiable range " \
                             "[start=5,length=100]"
    assert "Content-Range" not in r.headers


def test_raw_multipart_metadata_part_has_no_content_type(corpus, wire):
    r = wire.get(f"/v1/ml/moss/{corpus.name}", params={"provider": "ais"},
                 json=_moss(corpus.name, [{"objname": "meta.json"}], strm=False))
    assert r.status_code == 200
    (meta_head, meta), (data_head, _) = _split_multipart(r)
    assert b'name="metadata"' in meta_head and b"Content-Type" not in meta_head
    assert b'name="archive"' in data_head and json.loads(meta)["out"]


def test_items_default_to_url_bucket(corpus, wire, shards):
    body = {"in": [{"objname": "meta.json"}], "mime": ".tar", "strm": True}
    r = wire.get(f"/v1/ml/moss/{corpus.name}", params={"provider": "ais"}, json=body)
    assert r.status_code == 200
    assert shards.read_tar(r.content) == [(f"{corpus.name}/meta.json", OBJECTS["meta.json"])]


# -- GetBatch as a job (upstream's job_wait_get_batch_* tests) ----------------------------


def _batch_ids(client) -> set:
    details = client.job(job_kind="get-batch").get_details()
    return {s.id for s in details.list_snapshots() if s.id}


def _new_batch_id(client, before: set, timeout: float = 20.0) -> str:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = _batch_ids(client) - before
        if new:
            return next(iter(new))
        time.sleep(0.1)
    raise AssertionError("no new get-batch job appeared")


def test_get_batch_is_a_waitable_job(ais_backend, corpus):
    client = ais_backend.client
    before = _batch_ids(client)
    names = ["img/0.jpg", "img/1.jpg", "meta.json"]
    results = _results(client.batch(names, bucket=corpus, streaming_get=True))
    assert len(results) == len(names)
    job_id = _new_batch_id(client, before)
    result = client.job(job_id=job_id, job_kind="get-batch").wait(timeout=30)
    assert result.success, result.error


def test_aborted_get_batch_wait_fails_promptly(ais_backend, corpus):
    client = ais_backend.client
    before = _batch_ids(client)
    _results(client.batch(["img/0.jpg", "img/1.jpg"], bucket=corpus, streaming_get=True))
    job_id = _new_batch_id(client, before)
    client.job(job_id=job_id, job_kind="get-batch").abort()
    result = client.job(job_id=job_id, job_kind="get-batch").wait(timeout=30)
    assert not result.success and result.error
