"""Outgoing header hygiene: nothing a client sent can split a response or break a reader.

Header values echo what clients stored (object names, custom metadata, ETags, an ETL's
content type). ``clean_headers`` runs on every reply ``dispatch`` returns, whatever the
transport: CR and LF become spaces as Go's ``net/http`` writes them (so a real AIS answers
``Ais-Name: x  X-Injected: 1`` for an object named ``x\\r\\nX-Injected: 1``), NUL and the
other control characters too (Go sends those raw: a deviation, since clients may refuse
them), and leading and trailing whitespace is trimmed. A header name that is not an HTTP
token is dropped, and a value longer than ``MAX_HEADER_VALUE`` is cut short; both are
logged, since input limits should make them impossible.

    clean_headers({"Ais-Name": "x\\r\\nX-Injected: 1"})   # {"Ais-Name": "x  X-Injected: 1"}
"""

from __future__ import annotations

import logging
import re

from ais_emulator.limits import MAX_HEADER_VALUE

log = logging.getLogger("ais_emulator")

TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def clean_value(value) -> str:
    text = value if isinstance(value, str) else str(value)
    if _CONTROL.search(text):
        text = _CONTROL.sub(" ", text)
    return text.strip(" \t")


def clean_headers(headers: dict) -> dict:
    """A copy of ``headers`` that is safe to write (see the module docstring)."""
    out = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not TOKEN.match(name):
            log.error("ais_emulator: dropped a reply header with an invalid name %r", name)
            continue
        text = clean_value(value)
        if len(text) > MAX_HEADER_VALUE:
            log.error("ais_emulator: reply header %s cut from %d to %d characters", name,
                      len(text), MAX_HEADER_VALUE)
            text = text[:MAX_HEADER_VALUE]
        out[name] = text
    return out
