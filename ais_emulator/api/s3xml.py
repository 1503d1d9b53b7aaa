"""S3 wire helpers: XML out (escaped as Go's ``encoding/xml`` escapes) and XML in (bounded,
no DTDs), the S3 error body, S3 timestamps and ETags of the S3 API.

    xml_reply(el("ListAllMyBucketsResult", el("Buckets", ...), ns=S3_NS))
    doc = parse_xml(request.body, "Delete")          # an ElementTree element, or ApiError
    s3_error_body("NoSuchKey", "t[x]: ais://b/k does not exist")

Incoming XML is hostile: bodies above ``MAX_XML`` bytes and any ``<!DOCTYPE``/``<!ENTITY``
are refused before parsing (no entity expansion, no external references), and the
element tree is walked without recursion.
"""

from __future__ import annotations

import base64
import binascii
import time
import xml.etree.ElementTree as ET
from typing import Optional, Union

from ais_emulator.api.types import ApiError, Response

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01"
XML_HEADER = b'<?xml version="1.0" encoding="UTF-8"?>\n'
CONTENT_XML = "application/xml"
MAX_XML = 2 * 1024 * 1024  # a DeleteObjects of 1000 keys of 1 KiB fits

_ESC = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;", "\t": "&#x9;",
        "\n": "&#xA;", "\r": "&#xD;"}


def esc(text: str) -> str:
    """Go's ``xml.EscapeText``: the five markup characters and tab/newline/CR as
    character references; characters XML cannot carry become U+FFFD."""
    out = []
    for ch in text:
        rep = _ESC.get(ch)
        if rep is not None:
            out.append(rep)
        elif (ch < " " and ch not in "\t\n\r") or ch in "\ufffe\uffff" or "\ud800" <= ch <= "\udfff":
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


Child = Union["Element", str, int, bool, None]


class Element:
    """A tiny XML element: name, optional namespace, children (elements or text)."""

    __slots__ = ("name", "children", "ns")

    def __init__(self, name: str, *children: Child, ns: str = ""):
        self.name, self.children, self.ns = name, children, ns

    def render(self, out: list) -> None:
        attrs = f' xmlns="{self.ns}"' if self.ns else ""
        out.append(f"<{self.name}{attrs}>")
        for child in self.children:
            if child is None:
                continue
            if isinstance(child, Element):
                child.render(out)
            elif isinstance(child, bool):
                out.append("true" if child else "false")
            else:
                out.append(esc(str(child)))
        out.append(f"</{self.name}>")


def el(name: str, *children: Child, ns: str = "") -> Element:
    return Element(name, *children, ns=ns)


def xml_body(root: Element) -> bytes:
    out: list = []
    root.render(out)
    return XML_HEADER + "".join(out).encode("utf-8")


def xml_reply(root: Element, status: int = 200, headers: Optional[dict] = None) -> Response:
    return Response(status, {"Content-Type": CONTENT_XML, **(headers or {})}, xml_body(root))


def s3_error_body(code: str, message: str) -> bytes:
    """AIS's S3 error document (``<Error><Code/><Message/><Resource/><RequestId/>``)."""
    return xml_body(el("Error", el("Code", code), el("Message", message), el("Resource", ""),
                       el("RequestId", "")))


# -- parsing ------------------------------------------------------------------------------


def parse_xml(body: bytes, root: str) -> ET.Element:
    """The document element of an XML request body, which must be ``root`` (any
    namespace). Oversized bodies, DTDs and malformed XML are a 400 ``MalformedXML``."""
    data = bytes(body or b"")
    if len(data) > MAX_XML:
        raise ApiError(400, f"XML body of {len(data)} bytes exceeds {MAX_XML}",
                       "MalformedXML")
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise ApiError(400, "XML with a document type declaration is not accepted",
                       "MalformedXML")
    try:
        doc = ET.fromstring(data)
    except ET.ParseError as e:
        raise ApiError(400, f"XML syntax error: {e}", "MalformedXML") from None
    if local(doc.tag) != root:
        raise ApiError(400, f"expecting a <{root}> document, got <{local(doc.tag)}>",
                       "MalformedXML")
    return doc


def local(tag: str) -> str:
    """An element name without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1]


def children(node: ET.Element, name: str) -> list:
    return [c for c in node if local(c.tag) == name]


def child_text(node: ET.Element, name: str, default: str = "") -> str:
    for c in node:
        if local(c.tag) == name:
            return (c.text or "").strip() if name != "Key" else (c.text or "")
    return default


# -- values ---------------------------------------------------------------------------


def iso_time(ns: int, millis: bool = False) -> str:
    """RFC 3339 UTC: seconds (``2009-10-12T17:50:30Z``), or milliseconds."""
    secs, frac = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return f"{stamp}.{frac // 1_000_000:03d}Z" if millis else f"{stamp}Z"


def encode_token(cursor: str) -> str:
    """An opaque continuation token for a listing cursor."""
    return base64.urlsafe_b64encode(cursor.encode("utf-8")).decode("ascii")


def decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise ApiError(400, "The continuation token provided is incorrect",
                       "InvalidArgument") from None
