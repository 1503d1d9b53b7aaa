"""S3 as the remote backend of ``aws`` buckets, over boto3 (in tests: moto's in-process S3).

``S3Backend`` implements ``ais_emulator.store.backend.RemoteBackend``. It talks to S3
through a boto3 client: one you pass, one built for an ``endpoint_url`` (a moto server,
MinIO, ...), or by default an in-process client for moto's ``mock_aws``. The default
client uses fixed fake credentials and ``us-east-1`` passed explicitly (nothing is read
from or written to the environment), and every call first checks that ``mock_aws`` is
active, so an emulator that outlives its mock fails loudly instead of reaching AWS.

    from moto import mock_aws
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="remote")
        emu = Emulator()
        emu.attach_s3()                      # == emu.attach_backend(S3Backend())

Mapping to AIS (as AIS's own aws backend does it): the ETag (unquoted) becomes the
``ETag``/``md5`` custom metadata and a not-cached object's listed checksum; S3's
LastModified becomes ``LastModified``; a VersionId (versioned buckets only; ``null`` is
none) becomes the object's version. AIS's checksum travels in the user metadata
``ais-cksum-type``/``ais-cksum-val`` of objects it writes. S3 errors become
``aws-error[<Code>: <message>]``; NoSuchBucket and NoSuchKey (and HEAD's bare 404) become
the store's not-found conditions.

``mock_aws()`` and ``mock_ais()`` nest in either order (``mock_ais`` tells moto to pass
the requests it does not own through to the emulator).

Deviations: listings never carry versions; multipart uploads to S3 are single PUTs (the
emulator assembles parts first); no bucket regions beyond the client's own.
"""

from __future__ import annotations

import threading
from typing import Any, Optional

from ais_emulator._moto_adapter import mock_aws_active
from ais_emulator.store.backend import (
    NoSuchRemoteBucket,
    NoSuchRemoteObject,
    RemoteBackendError,
    RemoteObject,
    RemotePage,
)

FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
DEFAULT_REGION = "us-east-1"
_MISSING_OBJECT = frozenset({"NoSuchKey", "404", "NotFound"})
_MISSING_BUCKET = frozenset({"NoSuchBucket"})


def moto_active() -> bool:
    """Whether moto's in-process AWS mock (``mock_aws``) is currently started."""
    return mock_aws_active()


def _ns(when) -> int:
    return int(when.timestamp() * 1e9) if when is not None else 0


def _version(value: Optional[str]) -> str:
    return value if value and value != "null" else ""


def _etag(value: Optional[str]) -> str:
    return (value or "").strip('"')


class S3Backend:
    """The ``aws`` provider over one boto3 S3 client (thread-safe; built lazily)."""

    provider = "aws"
    max_page_size = 1000  # apc.MaxPageSizeAWS

    def __init__(self, client: Any = None, *, endpoint_url: Optional[str] = None,
                 region: str = DEFAULT_REGION, require_mock: Optional[bool] = None):
        """``client``: a boto3 S3 client to use as is. ``endpoint_url``: build a client
        for that endpoint (fake credentials). Neither: an in-process moto client, and
        ``require_mock`` (the default then) refuses calls while ``mock_aws`` is stopped."""
        self._client = client
        self._endpoint_url = endpoint_url
        self._region = region
        self.require_mock = (client is None and endpoint_url is None
                             if require_mock is None else require_mock)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        where = self._endpoint_url or ("client" if self._client is not None else "moto")
        return f"S3Backend({where})"

    @property
    def client(self):
        """The boto3 client (created on first use)."""
        self._check()
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def _make_client(self):
        import boto3

        session = boto3.session.Session()
        client = session.client("s3", region_name=self._region,
                                endpoint_url=self._endpoint_url, **FAKE_CREDENTIALS)
        if self._endpoint_url is None:
            from moto.core import patch_client

            patch_client(client)  # in case moto was imported after botocore built it
        return client

    def _check(self) -> None:
        if self.require_mock and not moto_active():
            raise RemoteBackendError(
                "", "aws-error[MockNotActive: the in-process S3 (moto mock_aws) is not "
                    "started; start mock_aws() before using aws buckets, or attach a "
                    "client or endpoint_url of your own]", code="MockNotActive")

    def _fail(self, bucket: str, err: Exception, name: str = "") -> Exception:
        from botocore.exceptions import ClientError

        if isinstance(err, ClientError):
            info = err.response.get("Error", {})
            code = str(info.get("Code", ""))
            status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if code in _MISSING_BUCKET:
                return NoSuchRemoteBucket(bucket)
            if name and code in _MISSING_OBJECT:
                return NoSuchRemoteObject(f"{bucket}/{name}")
            message = str(info.get("Message", "")).rstrip(".") or str(err)
            return RemoteBackendError(bucket, f"aws-error[{code}: {message}]", code, status)
        return RemoteBackendError(bucket, f"aws-error[{type(err).__name__}: {err}]")

    def _do(self, bucket: str, op: str, name: str = "", **kwargs):
        client = self.client
        try:
            return getattr(client, op)(**kwargs)
        except Exception as e:  # noqa: BLE001 - every failure becomes a backend condition
            raise self._fail(bucket, e, name) from None

    # -- RemoteBackend ------------------------------------------------------------

    def list_buckets(self) -> list[str]:
        resp = self._do("", "list_buckets")
        return sorted(b["Name"] for b in resp.get("Buckets", ()))

    def bucket_exists(self, bucket: str) -> bool:
        try:
            self._do(bucket, "head_bucket", Bucket=bucket)
        except NoSuchRemoteBucket:
            return False
        except RemoteBackendError as e:
            if e.remote_status == 404 or e.code == "404":
                return False
            raise
        return True

    def create_bucket(self, bucket: str) -> None:
        kwargs: dict = {"Bucket": bucket}
        if self._region != DEFAULT_REGION:
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
        self._do(bucket, "create_bucket", **kwargs)

    def list_page(self, bucket: str, prefix: str, token: str, page_size: int,
                  delimiter: str = "") -> RemotePage:
        kwargs: dict = {"Bucket": bucket, "MaxKeys": max(1, min(page_size, self.max_page_size))}
        if prefix:
            kwargs["Prefix"] = prefix
        if token:
            kwargs["ContinuationToken"] = token
        if delimiter:
            kwargs["Delimiter"] = delimiter
        resp = self._do(bucket, "list_objects_v2", **kwargs)
        objects = [RemoteObject(o["Key"], int(o.get("Size", 0)), _etag(o.get("ETag")),
                                _ns(o.get("LastModified")))
                   for o in resp.get("Contents", ())]
        dirs = [p["Prefix"] for p in resp.get("CommonPrefixes", ())]
        more = resp.get("IsTruncated") and resp.get("NextContinuationToken")
        return RemotePage(objects, dirs, more or "")

    def _object(self, name: str, resp: dict, size: int) -> RemoteObject:
        return RemoteObject(name, size, _etag(resp.get("ETag")), _ns(resp.get("LastModified")),
                            _version(resp.get("VersionId")), resp.get("ContentType") or "",
                            dict(resp.get("Metadata") or {}))

    def head(self, bucket: str, name: str) -> RemoteObject:
        resp = self._do(bucket, "head_object", name, Bucket=bucket, Key=name)
        return self._object(name, resp, int(resp.get("ContentLength", 0)))

    def get(self, bucket: str, name: str) -> tuple[RemoteObject, bytes]:
        resp = self._do(bucket, "get_object", name, Bucket=bucket, Key=name)
        body = resp["Body"]
        try:
            data = body.read()
        finally:
            body.close()
        return self._object(name, resp, len(data)), data

    def put(self, bucket: str, name: str, data: bytes, metadata: dict) -> RemoteObject:
        resp = self._do(bucket, "put_object", name, Bucket=bucket, Key=name, Body=data,
                        Metadata=dict(metadata))
        return RemoteObject(name, len(data), _etag(resp.get("ETag")), 0,
                            _version(resp.get("VersionId")), metadata=dict(metadata))

    def delete(self, bucket: str, name: str) -> None:
        self._do(bucket, "delete_object", name, Bucket=bucket, Key=name)
