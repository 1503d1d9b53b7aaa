"""Calling the protocol layer directly (``dispatch(emulator, Request)``), as the emulator's
unit tests do: one request in, one ``Response`` out, no transport."""

from __future__ import annotations

import json

from ais_emulator.api import Request, Response, dispatch

BASE = "http://emu.test:9999"  # the URL the emulator is "served" at
REMOTE = "1.2.3.4:5"  # the client address error bodies report


def call(emu, method, path, query="", body=b"", headers=None) -> Response:
    """``method path?query`` with ``body`` (a dict or list is sent as JSON)."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    return dispatch(emu, Request(method, path, query, headers or {}, body, base_url=BASE,
                                 remote_addr=REMOTE))


def content(resp: Response) -> bytes:
    """A reply's whole body."""
    return b"".join(bytes(c) for c in resp.iter_body())


def act(action, value=None, name=""):
    """An AIS action message (``ActMsg``)."""
    return {"action": action, "name": name, "value": value}
