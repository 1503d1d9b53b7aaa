"""In-process transport for one boto3/botocore client: its requests go to an Emulator.

No socket is involved; boto3 talks through urllib3, which ``mock_ais`` does not see.

    s3 = boto3.client("s3", endpoint_url="http://localhost:8080/s3", ...)
    serve_boto3(s3, emulator)          # every request of ``s3`` now goes to ``emulator``
    s3.put_object(Bucket="b", Key="k", Body=b"x")

The client's ``before-send`` event hands each prepared request to ``api.dispatch`` and
turns the reply into botocore's response; nothing else of botocore changes (signing,
retries, parsing). Only the one client is affected. A streamed reply body is joined
(botocore reads it through one file-like object anyway).
"""

from __future__ import annotations

import io
from urllib.parse import urlsplit

from ais_emulator.api import Request, dispatch


class _Raw(io.BytesIO):
    """What botocore wants of a raw response: ``read`` and ``stream``."""

    def stream(self, amt: int = 64 * 1024, decode_content: bool = False):
        while True:
            chunk = self.read(amt)
            if not chunk:
                return
            yield chunk


def _body(request) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    data = body.read()
    if hasattr(body, "seek"):
        body.seek(0)  # botocore may send it again (retries)
    return data if isinstance(data, bytes) else data.encode("utf-8")


def serve_boto3(client, emulator) -> None:
    """Route every request of the botocore/boto3 ``client`` to ``emulator``."""
    from botocore.awsrequest import AWSResponse

    def before_send(request, **_kwargs):
        parts = urlsplit(request.url)
        headers = {k: v.decode("latin-1") if isinstance(v, bytes) else str(v)
                   for k, v in request.headers.items()}
        req = Request(request.method, parts.path or "/", parts.query, headers,
                      _body(request), base_url=f"{parts.scheme}://{parts.netloc}",
                      remote_addr="127.0.0.1:0")
        resp = dispatch(emulator, req)
        try:
            data = b"" if request.method == "HEAD" else b"".join(
                bytes(c) for c in resp.iter_body())
        finally:
            resp.close()
        headers = {k: str(v) for k, v in resp.headers.items()}
        length = resp.length()
        if length is not None:
            headers["Content-Length"] = str(length)
        return AWSResponse(request.url, resp.status, headers, _Raw(data))

    client.meta.events.register_first("before-send", before_send,
                                      unique_id="ais-emulator-serve-boto3")
