"""``etl_name`` with ETLs initialised through the SDK (``init_class``): the ETLServer
classes run inside the emulator, in-process and behind its HTTP server."""

from __future__ import annotations

import io
import tarfile

import ais_ds_test_kit as kit
import pytest
from aistore.sdk import DataShard
from aistore.sdk.errors import AISError
from aistore.sdk.etl.webserver.fastapi_server import FastAPIServer
from aistore.sdk.etl.webserver.http_multi_threaded_server import HTTPMultiThreadedServer

from ais_datasets import AISIterDataset, AISMapDataset, AISMultiShardStream, AISShardReader


class UpperServer(FastAPIServer):
    def transform(self, data, path, etl_args):
        return data.upper()


class SuffixServer(FastAPIServer):
    def transform(self, data, path, etl_args):
        return data + b"#" + path.rsplit("/", 1)[-1].encode()


class UpperTarServer(HTTPMultiThreadedServer):
    """Streaming: rewrites a tar shard with every member upper-cased."""

    def transform_stream(self, reader, path, etl_args):
        with tarfile.open(fileobj=io.BytesIO(reader.read())) as tar:
            members = [(m.name, tar.extractfile(m).read().upper()) for m in tar.getmembers()]
        yield kit.make_tar(members)


class FailingServer(FastAPIServer):
    def transform(self, data, path, etl_args):
        raise RuntimeError("model not loaded")


@pytest.fixture
def etls(client):
    client.etl("upper-obj").init_class()(UpperServer)
    client.etl("suffix-obj").init_class()(SuffixServer)
    client.etl("upper-shard").init_class()(UpperTarServer)
    return client


def test_map_and_iter_datasets(etls, bucket):
    corpus = kit.object_corpus(bucket, 6)
    expected = [(n, d.upper()) for n, d in corpus]
    assert list(AISIterDataset(bucket, etl_name="upper-obj")) == expected
    ds = AISMapDataset(bucket, etl_name="upper-obj")
    assert [ds[i] for i in range(len(ds))] == expected


def test_pipeline_as_etl_name(etls, bucket):
    corpus = kit.object_corpus(bucket, 3)
    pipeline = etls.etl("upper-obj") >> etls.etl("suffix-obj")
    got = list(AISIterDataset(bucket, etl_name=pipeline))
    assert got == [(n, d.upper() + b"#" + n.rsplit("/", 1)[-1].encode()) for n, d in corpus]


def test_shard_reader(etls, bucket):
    _, samples = kit.shard_corpus(bucket, shards=2, per_shard=3)
    expected = [(k, {e: v.upper() for e, v in f.items()}) for k, f in samples]
    reader = AISShardReader(bucket, prefix_map={bucket: "shards/"}, etl_name="upper-shard")
    assert sorted(kit.plain(reader)) == sorted(expected)


def test_multishard_stream(etls, endpoint, bucket):
    kit.put(bucket, {"a/0.tar": kit.make_tar([("x.jpg", b"img"), ("y.jpg", b"pic")]),
                     "b/0.tar": kit.make_tar([("x.cls", b"lbl"), ("y.cls", b"tag")])})
    stream = AISMultiShardStream([
        DataShard(endpoint, bucket.name, prefix="a/", etl_name="upper-shard"),
        DataShard(endpoint, bucket.name, prefix="b/")])
    assert list(stream) == [(b"IMG", b"lbl"), (b"PIC", b"tag")]


def test_failing_etl_surfaces_as_a_client_error(client, bucket):
    client.etl("failing-obj").init_class()(FailingServer)
    kit.object_corpus(bucket, 2)
    with pytest.raises(AISError) as exc:
        list(AISIterDataset(bucket, etl_name="failing-obj"))
    assert exc.value.status_code == 422 and "model not loaded" in exc.value.message


def test_through_the_http_server(ais_server, monkeypatch, server_client, server_bucket):
    monkeypatch.setattr(ais_server, "allow_etl_code", True)
    server_client.etl("upper-obj").init_class()(UpperServer)
    try:
        corpus = kit.object_corpus(server_bucket, 4)
        expected = [(n, d.upper()) for n, d in corpus]
        assert list(AISIterDataset(server_bucket, etl_name="upper-obj")) == expected
        ds = AISMapDataset(server_bucket, etl_name="upper-obj")
        assert ds[3] == expected[3]
    finally:
        server_client.etl("upper-obj").delete()
