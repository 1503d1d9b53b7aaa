"""ais_datasets.sessions: the user's client without per-request environment lookups.

The equivalence tests mount a recording adapter on the user's session: the lean client
shares the session's adapters, so both clients' requests reach the same ``send`` and
can be compared field by field (URL, method, headers, body, verify, cert, proxies,
timeout).
"""

from __future__ import annotations

import multiprocessing

import pytest
import requests
from aistore.sdk import Client
from requests.adapters import BaseAdapter

from ais_datasets import AISShardReader
from ais_datasets.sessions import environment_is_inert, lean_client
from ais_datasets.sources import make_object

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY",
              "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "NETRC")


@pytest.fixture
def inert_env(monkeypatch, tmp_path):
    """An environment with no proxy variable and no netrc file."""
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return monkeypatch


class Recorder(BaseAdapter):
    """An adapter that records what it is asked to send and answers 200 ``ok``."""

    def __init__(self):
        super().__init__()
        self.sent = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None,
             proxies=None):
        self.sent.append({"method": request.method, "url": request.url,
                          "headers": dict(request.headers), "body": request.body,
                          "stream": stream, "timeout": timeout, "verify": verify,
                          "cert": cert, "proxies": dict(proxies or {})})
        resp = requests.Response()
        resp.status_code = 200
        resp._content = b"ok"
        resp.headers["Content-Length"] = "2"
        resp.url = request.url
        resp.request = request
        return resp

    def close(self):
        pass


def recording_client(url="http://ais.invalid:8080", **kw):
    client = Client(url, **kw)
    recorder = Recorder()
    client._request_client.session_manager.session.mount("http://", recorder)
    return client, recorder


def test_environment_is_inert_reads_proxies_and_netrc(inert_env, tmp_path):
    assert environment_is_inert()
    inert_env.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert not environment_is_inert()
    inert_env.delenv("HTTPS_PROXY")
    (tmp_path / ".netrc").write_text("machine ais.invalid login u password p\n")
    assert not environment_is_inert()
    (tmp_path / ".netrc").unlink()
    other = tmp_path / "elsewhere"
    other.write_text("machine ais.invalid login u password p\n")
    inert_env.setenv("NETRC", str(other))
    assert not environment_is_inert()
    inert_env.setenv("NETRC", str(tmp_path / "missing"))
    assert environment_is_inert()


def test_lean_client_sends_the_same_requests(inert_env):
    client, recorder = recording_client(timeout=(3, 7))
    client._request_client.token = "tok-1"
    user = client._request_client
    lean = lean_client(user)
    assert lean is not user
    for rc in (user, lean):
        obj = client.bucket("b").object("dir/x y.bin")
        obj = obj.__class__(rc, obj._bck_details, obj.name)
        assert obj.get_reader(byte_range="bytes=0-1").read_all() == b"ok"
    mine, theirs = recorder.sent
    assert mine == theirs
    assert mine["headers"]["Authorization"] == "Bearer tok-1"
    assert mine["timeout"] == (3, 7)


def test_lean_client_follows_token_and_timeout_changes(inert_env):
    client, recorder = recording_client()
    user = client._request_client
    lean = lean_client(user)
    user.token = "fresh"
    user.timeout = 11.0
    lean.request("GET", "daemon")
    assert recorder.sent[-1]["headers"]["Authorization"] == "Bearer fresh"
    assert recorder.sent[-1]["timeout"] == 11.0
    assert lean_client(user) is lean  # cached per client


def test_lean_client_applies_a_ca_bundle_as_requests_would(inert_env, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not read: the recording adapter never verifies\n")
    inert_env.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    client, recorder = recording_client()
    user = client._request_client
    user.request("GET", "daemon")
    lean_client(user).request("GET", "daemon")
    assert recorder.sent[0]["verify"] == recorder.sent[1]["verify"] == str(bundle)


def test_lean_client_is_the_users_own_where_the_environment_matters(inert_env):
    inert_env.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    client, _ = recording_client()
    user = client._request_client
    assert lean_client(user) is user
    bucket = client.bucket("b")
    assert make_object(bucket, "x")._client is user


def test_dataset_objects_use_the_lean_client(inert_env):
    client, _ = recording_client()
    bucket = client.bucket("b")
    obj = make_object(bucket, "a/b.tar")
    assert obj._client is lean_client(client._request_client)
    assert obj.name == "a/b.tar" and obj.bucket_name == "b"
    assert obj.get_url() == bucket.object("a/b.tar").get_url()


def _child_view(client, queue):
    lean = lean_client(client._request_client)
    session = lean._executor._session_manager.session
    user_session = client._request_client.session_manager.session
    queue.put((session.adapters is user_session.adapters, session.trust_env))


def test_a_forked_process_gets_its_own_lean_session(inert_env):
    client, _ = recording_client()
    lean = lean_client(client._request_client)
    parent_session = lean._executor._session_manager.session
    assert parent_session.trust_env is False
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child_view, args=(client, queue))
    proc.start()
    shares_child_pools, trust_env = queue.get(timeout=30)
    proc.join(30)
    assert proc.exitcode == 0
    assert shares_child_pools and trust_env is False


def test_shard_reader_reads_the_same_through_the_lean_client(inert_env, bucket, endpoint,
                                                             kit):
    kit.shard_corpus(bucket, shards=3, per_shard=4)
    assert make_object(bucket, "x")._client is not bucket.client
    lean = [(k, dict(v)) for k, v in AISShardReader(bucket)]
    inert_env.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    inert_env.setenv("NO_PROXY", "*")  # the proxy is never used
    user = Client(endpoint).bucket(bucket.name)  # a new client: the environment is read anew
    assert make_object(user, "x")._client is user.client
    plain = [(k, dict(v)) for k, v in AISShardReader(user)]
    assert lean == plain and len(lean) == 12
