"""The retry policy: one loop (the policy's or the client's own), back-off and Retry-After,
permanent errors at once, Range resumes, stalls ending in the policy's timeout."""

from __future__ import annotations

import pytest
import requests
from aistore.sdk import Client
from aistore.sdk.errors import AISError, ErrBckNotFound, ErrObjNotFound
from aistore.sdk.retry_config import RetryConfig
from tenacity import Retrying, stop_after_attempt
from urllib3.util.retry import Retry

from ais_datasets import AISShardReader, ReadRetriesExhausted, RetryPolicy
from ais_datasets import retry as retry_mod
from ais_datasets.reading import ObjectStream, read_object
from ais_datasets.sessions import lean_client


@pytest.fixture
def waits(monkeypatch):
    """The waits the policy sleeps, recorded instead of slept."""
    log: list[float] = []
    monkeypatch.setattr(retry_mod.time, "sleep", log.append)
    return log


def test_policy_validation_and_backoff_bounds():
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(backoff=-1)
    policy = RetryPolicy(backoff=0.1, max_backoff=0.5)
    for failures, bound in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (9, 0.5)]:
        draws = [policy.wait(failures) for _ in range(200)]
        assert all(0 <= d <= bound for d in draws) and max(draws) > bound / 2
    assert policy.wait(3, retry_after=7) == 7
    assert policy.wait(1, retry_after=10_000) == retry_mod.MAX_RETRY_AFTER
    with pytest.raises(TypeError, match="RetryPolicy"):
        retry_mod.check(3)


def test_retry_after_header_forms():
    assert retry_mod.retry_after({"Retry-After": "3"}) == 3.0
    assert retry_mod.retry_after({}) is None
    assert retry_mod.retry_after({"Retry-After": "soon"}) is None
    assert retry_mod.retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


def test_resolve_follows_the_clients_retry_config():
    sdk_default = Client("http://localhost:8080")._request_client
    assert retry_mod.resolve(None, sdk_default) is retry_mod.DEFAULT
    custom = Client("http://localhost:8080", retry_config=RetryConfig(
        http_retry=Retry(total=1), network_retry=Retrying(stop=stop_after_attempt(2))))
    assert retry_mod.resolve(None, custom._request_client).client_retries
    mine = RetryPolicy(attempts=2)
    assert retry_mod.resolve(mine, custom._request_client) is mine


def test_policy_view_has_one_retry_loop(client):
    user = client._request_client
    view = lean_client(user, RetryPolicy(timeout=(1, 2)))
    assert view is not user and view._ais_origin is user
    assert view.timeout == (1, 2) and user.timeout != (1, 2)
    session = view._executor._session_manager.session
    user_session = user.session_manager.session
    for prefix, adapter in session.adapters.items():
        assert adapter.max_retries.total == 0  # no urllib3 status retries
        assert adapter.poolmanager is user_session.adapters[prefix].poolmanager  # shared pools
    assert user_session.adapters["http://"].max_retries.total == 5  # the user's, unchanged
    assert lean_client(view, RetryPolicy(timeout=(1, 2))) is view  # cached per policy
    kept = lean_client(user, RetryPolicy(client_retries=True))
    assert kept._retry_manager is user._retry_manager


def test_transient_statuses_back_off_and_honour_retry_after(ais_mock, bucket, waits):
    ais_mock.emulator.put_object("ds", "a", b"payload")
    faults = ais_mock.emulator.faults
    r503 = faults.add("503", first=2, retry_after=3)
    r500 = faults.add("500", first=1)
    assert read_object(bucket.object("a")) == b"payload"
    assert (r503.fired, r500.fired) == (2, 1)
    assert waits[:2] == [3.0, 3.0] and 0 <= waits[2] <= 0.4


def test_a_persistent_503_surfaces_after_the_attempts(ais_mock, bucket, waits):
    ais_mock.emulator.put_object("ds", "a", b"x")
    rule = ais_mock.emulator.faults.add("503", retry_after="none")
    with pytest.raises(AISError) as info:
        read_object(bucket.object("a"), policy=RetryPolicy(attempts=4, max_backoff=1))
    assert info.value.status_code == 503
    assert rule.matched == 4 and len(waits) == 3 and sum(waits) <= 0.1 + 0.2 + 0.4


def test_permanent_errors_fail_at_once(ais_mock, client, waits):
    ais_mock.emulator.create_bucket("ds")
    with pytest.raises(ErrObjNotFound):
        read_object(client.bucket("ds").object("missing"))
    with pytest.raises(ErrBckNotFound):
        read_object(client.bucket("nope").object("x"))
    assert waits == []


def test_resets_before_headers_are_retried(ais_mock, bucket, waits):
    ais_mock.emulator.put_object("ds", "a", b"abc" * 1000)
    rule = ais_mock.emulator.faults.add("reset", first=3)
    assert read_object(bucket.object("a")) == b"abc" * 1000
    assert rule.fired == 3 and len(waits) == 3


def test_a_cut_body_resumes_with_a_range_at_once(ais_mock, bucket, calls, waits):
    data = bytes(range(256)) * 4000
    ais_mock.emulator.put_object("ds", "a", data)
    ais_mock.emulator.faults.add("reset", after=300_000, first=1)
    ais_mock.emulator.faults.add("truncate", after=100_000, first=1, op="get")
    calls.clear()
    stream = ObjectStream(bucket.object("a"), chunk=50_000)
    assert b"".join(stream.chunks()) == data
    ranges = [h.get("Range") for _, _, h in calls.gets()]
    assert ranges[0] is None and all(r.startswith("bytes=") for r in ranges[1:])
    assert len(ranges) == 3 and waits == []  # progress each time: no back-off


def test_failures_in_a_row_without_progress_give_up(ais_mock, bucket, waits):
    ais_mock.emulator.put_object("ds", "a", b"z" * 10_000)
    ais_mock.emulator.faults.add("reset", after=0)
    with pytest.raises(ReadRetriesExhausted, match="3 failures in a row"):
        read_object(bucket.object("a"), policy=RetryPolicy(attempts=3))
    assert len(waits) == 1  # after the second failure in a row (the first resumes at once)


def test_stalls_end_in_the_policys_timeout(ais_mock, bucket):
    data = b"s" * 50_000
    ais_mock.emulator.put_object("ds", "a", data)
    ais_mock.emulator.faults.add("stall", first=1, delay=30)
    ais_mock.emulator.faults.add("stall", after=1000, first=1, delay=30)
    assert read_object(bucket.object("a"), policy=RetryPolicy(timeout=(1, 0.2))) == data


def test_a_custom_sdk_retry_config_is_respected_not_doubled(ais_mock, waits):
    ais_mock.emulator.create_bucket("ds")
    ais_mock.emulator.put_object("ds", "a", b"x")
    client = Client(ais_mock.endpoint, retry_config=RetryConfig(
        http_retry=Retry(total=1, status_forcelist=[503], backoff_factor=0),
        network_retry=Retrying(stop=stop_after_attempt(1), reraise=True)))
    rule = ais_mock.emulator.faults.add("503", retry_after="none")
    with pytest.raises((AISError, requests.exceptions.RetryError)):
        read_object(client.bucket("ds").object("a"))
    assert rule.matched == 2  # the user's one retry, and no loop of ours around it
    assert waits == []


def test_shard_reader_takes_the_policy(ais_mock, bucket, kit):
    names, samples = kit.shard_corpus(bucket, shards=3, per_shard=4)
    rule = ais_mock.emulator.faults.add("503", op="get|batch", first=2, retry_after=0)
    reader = AISShardReader(bucket, prefix_map={bucket: "shards/"},
                            retry=RetryPolicy(attempts=3))
    assert kit.plain(list(reader)) == samples
    assert rule.fired == 2
    with pytest.raises(TypeError, match="RetryPolicy"):
        AISShardReader(bucket, retry=3)


def test_a_cut_getbatch_reply_is_asked_again_for_the_rest(ais_mock, bucket, kit, calls):
    from ais_datasets import AISIterDataset

    objects = kit.object_corpus(bucket, n=10)
    rule = ais_mock.emulator.faults.add("reset", op="batch", after=3000, first=1)
    calls.clear()
    assert list(AISIterDataset(bucket, max_batch_size=10)) == objects
    assert rule.fired == 1 and calls.batch_requests() == 2 and calls.gets() == []
    # the map dataset's batch is a list: asked again whole, nothing was handed out
    from ais_datasets import AISMapDataset

    ds = AISMapDataset(bucket)
    ais_mock.emulator.faults.add("truncate", op="batch", after=3000, first=1)
    calls.clear()
    assert ds.__getitems__(list(range(10))) == objects
    assert calls.batch_requests() == 2 and calls.gets() == []
