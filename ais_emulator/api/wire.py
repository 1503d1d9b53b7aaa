"""Wire encodings: JSON and msgpack bodies, action messages, object attribute headers,
list-objects entries.

* JSON replies are written compactly with a trailing newline and labelled
  ``application/json; charset=utf-8``, as AIS's ``writeJSON`` does (``json_reply``);
  JSON carried in a header (``Ais-Bucket-Props``) has no newline.
* Custom metadata is spelled as AIS spells it: ``k=v`` pairs joined by ``", "`` in
  ``Ais-Custom-Md`` (AIS sends one header line per pair, which clients join so), and
  ``[k:v k2:v2]`` in a list entry (Go's ``CustomMD2S``: AIS's standard keys first).
* Object attributes travel as headers as Go's ``cmn.ToHeader`` and ``objPropsToHeader``
  write them (``to_header``, ``props_headers``), with AIS's ``ETag`` and
  ``Last-Modified`` (``etag``, ``last_modified``).
* Action messages (``{"action","name","value"}``) are decoded with keys matched
  case-insensitively, as Go's JSON decoder does.
* List-objects replies are msgpack maps with exactly ``UUID``, ``ContinuationToken``,
  ``Flags`` and ``Entries``; entries use Go's short keys, filled per the requested props.
  An empty page has ``Entries`` as an empty array in msgpack and ``null`` in JSON, as
  AIS (v1.5.0) encodes them.

    act = parse_action(request.body)          # ActMsg("list", "", {...})
    body = msgpack_listing(uuid, page, props)
    json_reply({"uuid": ...})                 # Response(200, JSON_UTF8, body + "\n")
"""

from __future__ import annotations

import json
import operator
import re
import time
from dataclasses import dataclass
from email.utils import formatdate
from itertools import accumulate, count
from typing import Any, Optional

import msgpack

from ais_emulator.api.errors import ApiError
from ais_emulator.api.types import Response
from ais_emulator.limits import MAX_CONTROL_BODY, MAX_CUSTOM_MD, MAX_JSON_DEPTH

JSON_UTF8 = "application/json; charset=utf-8"
MSGPACK = "application/msgpack"
OCTETS = "application/octet-stream"

# list-objects entry flags (cmn/objlist.go)
ENTRY_IS_CACHED = 1 << 6
ENTRY_IN_ARCH = 1 << 7
ENTRY_IS_DIR = 1 << 8
ENTRY_IS_ARCHIVE = 1 << 9

RFC822 = "%d %b %y %H:%M UTC"  # Go's time.RFC822 in UTC, the default list time format


def json_body(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_reply(value: Any, status: int = 200) -> Response:
    """A JSON reply as AIS's ``writeJSON`` sends it (charset label, trailing newline)."""
    return Response(status, {"Content-Type": JSON_UTF8}, json_body(value) + b"\n")


def parse_json(body: bytes, what: str = "request body") -> Any:
    """Decode a JSON body; an empty body is None; malformed JSON is a 400, and so is one
    nested deeper than ``MAX_JSON_DEPTH`` (checked in linear time before decoding, so
    no RecursionError); a body over ``MAX_CONTROL_BODY`` bytes is a 413."""
    if not body or not bytes(body).strip():
        return None
    if len(body) > MAX_CONTROL_BODY:
        raise ApiError(413, f"{what} too large: {len(body)} bytes (at most {MAX_CONTROL_BODY})")
    depth = json_depth(body)
    if depth > MAX_JSON_DEPTH:
        raise ApiError(400, f"failed to unmarshal {what} as JSON: nested more than "
                            f"{MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(body, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ApiError(400, f"failed to unmarshal {what} as JSON: {e}") from None


def _no_constant(name: str):
    raise ValueError(f"invalid JSON value {name} (as Go's decoder, NaN and Infinity are refused)")


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = bytes(c for c in range(256) if c not in b"[]{}")
_BRACKET_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


def json_depth(body) -> int:
    """The deepest nesting of arrays and objects in ``body`` (strings skipped), in linear
    time at C speed; bodies with few brackets are answered without a scan."""
    data = bytes(body)
    if data.count(b"[") + data.count(b"{") <= MAX_JSON_DEPTH:
        return 0
    brackets = _JSON_STRING.sub(b"", data).translate(_BRACKET_STEP, _NOT_BRACKET)
    # an opening bracket counts 2, a closing one 0: depth after k brackets = sum - k
    return max(map(operator.sub, accumulate(brackets), count(1)), default=0)


def ci_get(mapping: dict, key: str, default: Any = None) -> Any:
    """``mapping[key]`` with Go's case-insensitive key matching (exact match first)."""
    if key in mapping:
        return mapping[key]
    low = key.lower()
    for k, v in mapping.items():
        if isinstance(k, str) and k.lower() == low:
            return v
    return default


@dataclass
class ActMsg:
    action: str = ""
    name: str = ""
    value: Any = None


def parse_action(body: bytes, required: bool = False) -> Optional[ActMsg]:
    """The request's ActMsg, or None for an empty body (a 400 when ``required``)."""
    doc = parse_json(body, "action message")
    if doc is None:
        if required:
            raise ApiError(400, "missing action message in the request body")
        return None
    if not isinstance(doc, dict):
        raise ApiError(400, f"invalid action message: expecting a JSON object, got {type(doc).__name__}")
    action = ci_get(doc, "action", "")
    name = ci_get(doc, "name", "")
    if not isinstance(action, str) or not isinstance(name, str):
        raise ApiError(400, "invalid action message: 'action' and 'name' must be strings")
    return ActMsg(action, name, ci_get(doc, "value"))


def as_int(value: Any, what: str) -> int:
    """An int from a JSON number or a decimal string (Go's ``,string`` fields), within
    int64 as Go's are."""
    if isinstance(value, bool):
        raise ApiError(400, f"invalid {what}: {value!r}")
    if value is None or value == "":
        return 0
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ApiError(400, f"invalid {what}: {str(value)[:64]!r}") from None
    if not -(1 << 63) <= n < (1 << 63):
        raise ApiError(400, f"invalid {what}: {str(value)[:64]!r} (out of int64 range)")
    return n


def format_atime(ns: int) -> str:
    return time.strftime(RFC822, time.gmtime(ns / 1e9))


# cmn.stdCustomProps: the keys Go's CustomMD2S writes first, in this order
_STD_CUSTOM = ("source", "ETag", "LastModified", "Last-Modified", "crc32c", "md5", "version")


def custom_md_header(custom: dict) -> str:
    """``Ais-Custom-Md``: one ``k=v`` per key, joined as clients join repeated lines
    (AIS writes the lines in Go map order; the emulator sorts the keys)."""
    return ", ".join(f"{k}={v}" for k, v in sorted(custom.items()))


def parse_custom_header(value: str) -> dict:
    """``Ais-Custom-Md`` of a PUT: each header line is one ``k=v`` pair, split at its
    first ``=`` (Go's ``ObjAttrs.FromHeader``), so ``k1=v1,k2=v2`` on one line is the key
    ``k1`` with the value ``v1,k2=v2``. Transports join repeated lines with ``", "``,
    which is therefore where lines are told apart. A pair without ``=`` is a 400."""
    out = {}
    for line in value.split(", ") if value.strip() else ():
        key, sep, val = line.strip().partition("=")
        if not sep:
            raise ApiError(400, f'custom metadata: invalid format "{line.strip()}" '
                                "(expecting key=value)")
        if not key:
            raise ApiError(400, f'custom metadata: empty key (value="{val}")')
        out[key] = val
    return out


def validate_custom(custom: dict, where: str = "") -> dict:
    """Go's ``ValidateCustomMD``: keys non-empty, no reserved ``\\x01``, and the sum of key
    and value lengths (UTF-8 bytes) at most ``MAX_CUSTOM_MD``; a 400 worded as AIS's."""
    size = 0
    prefix = f"{where}: " if where else ""
    for key, value in custom.items():
        size += len(key.encode("utf-8", "surrogatepass")) + len(value.encode("utf-8", "surrogatepass"))
        if not key:
            raise ApiError(400, f'{prefix}custom metadata: empty key (value="{value}")')
        if "\x01" in key or "\x01" in value:
            raise ApiError(400, f"{prefix}custom metadata '{key!r}={value!r}': key or value "
                                "contains reserved symbol")
    if size > MAX_CUSTOM_MD:
        raise ApiError(400, f"{prefix}custom metadata: total size {size} exceeds max "
                            f"{MAX_CUSTOM_MD} bytes")
    return custom


def custom_md_list(custom: dict) -> str:
    """A list entry's custom metadata, ``[k:v k2:v2]`` (standard keys first, then the
    rest sorted: Go writes those in map order)."""
    keys = [k for k in _STD_CUSTOM if k in custom]
    keys += sorted(k for k in custom if k not in _STD_CUSTOM and k != "orig_fntl")
    return "[" + " ".join(f"{k}:{custom[k]}" for k in keys) + "]"


# -- object attributes as headers -----------------------------------------------------------


def to_header(rec) -> dict:
    """Go's ``cmn.ToHeader`` (less Content-Length): checksum, atime, version, custom
    metadata, and the custom ETag (as stored) when there is one."""
    h = {}
    if rec.cksum_value:
        h["Ais-Checksum-Type"] = rec.cksum_type
        h["Ais-Checksum-Value"] = rec.cksum_value
    if rec.atime_ns:
        h["Ais-Atime"] = str(rec.atime_ns)
    if rec.version:
        h["Ais-Version"] = rec.version
    if rec.custom:
        h["Ais-Custom-Md"] = custom_md_header(rec.custom)
        if "ETag" in rec.custom:
            h["ETag"] = rec.custom["ETag"]
    return h


def attr_headers(rec) -> dict:
    """A GET reply's headers (a 206 too: the whole object's checksum, as in AIS)."""
    return {"Content-Type": OCTETS, **to_header(rec)}


def props_headers(bck, rec, location: str) -> dict:
    """Go's ``objPropsToHeader`` (a HEAD without ``props``): ``cmn.ToHeader`` and every
    non-empty ``ObjectProps`` field of ``rec`` in bucket ``bck``."""
    h = to_header(rec)
    h["Ais-Bucket-Name"] = bck.name
    h["Ais-Bucket-Provider"] = bck.provider
    if bck.ns_uuid:
        h["Ais-Bucket-Namespace-Uuid"] = bck.ns_uuid
    if bck.ns_name:
        h["Ais-Bucket-Namespace-Name"] = bck.ns_name
    h["Ais-Name"] = rec.name
    if rec.present:
        h["Ais-Location"] = location
        h["Ais-Mirror-Copies"], h["Ais-Mirror-Paths"] = "1", "[/ais/mp1]"
    else:
        h["Ais-Mirror-Copies"], h["Ais-Mirror-Paths"] = "0", "[]"
    h["Ais-Present"] = "true" if rec.present else "false"
    return h


def named_props_headers(rec, props: set, location: str) -> dict:
    """A HEAD with ``props``: ``Ais-Present`` and only the named properties that ``rec``
    has (names checked by the caller)."""
    present = rec.present
    h = {"Ais-Present": "true" if present else "false"}
    if "version" in props and rec.version:
        h["Ais-Version"] = rec.version
    if "checksum" in props and rec.cksum_value:
        h["Ais-Checksum-Type"] = rec.cksum_type
        h["Ais-Checksum-Value"] = rec.cksum_value
    if "atime" in props and rec.atime_ns:
        h["Ais-Atime"] = str(rec.atime_ns)
    if "custom" in props and rec.custom:
        h["Ais-Custom-Md"] = custom_md_header(rec.custom)
    if "location" in props and present:
        h["Ais-Location"] = location
    if "copies" in props and present:
        h["Ais-Mirror-Copies"] = "1"
        h["Ais-Mirror-Paths"] = "/ais/mp1"
    if "chunked" in props and rec.chunks:
        h["Ais-Chunks-Count"] = str(rec.chunks[0])
        h["Ais-Chunks-Max-Chunk-Size"] = str(rec.chunks[1])
    if "last-modified" in props:
        h["Last-Modified"] = last_modified(rec)
    if "etag" in props and etag(rec):
        h["ETag"] = etag(rec)
    return h


def last_modified(rec) -> str:
    """Go's ``LOM.LastModifiedStr``: a stored ``Last-Modified``, else the object's mtime."""
    return rec.custom.get("Last-Modified") or formatdate(rec.mtime_ns / 1e9, usegmt=True)


def etag(rec) -> str:
    """Go's ``LOM.ETag``, quoted: the custom ETag, else an md5 checksum, else
    ``v1-<checksum>-<mtime in ns, base 36>``; none without a checksum."""
    if rec.custom.get("ETag"):
        tag = rec.custom["ETag"]
    elif not rec.cksum_value or rec.cksum_type == "none":
        return ""
    elif rec.cksum_type == "md5" and not rec.chunks:
        tag = rec.cksum_value
    else:
        tag = f"v1-{rec.cksum_value}-{_base36(rec.mtime_ns)}"
    return tag if tag.startswith('"') else f'"{tag}"'


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


# -- list-objects ---------------------------------------------------------------------------


def listing_entry(entry, props: frozenset, location: str) -> dict:
    """One msgpack entry map for a ``ListEntry`` (Go LsoEnt short keys)."""
    if entry.is_dir:
        return {"n": entry.name, "f": ENTRY_IS_DIR}
    rec = entry.record
    cached = rec is None or rec.present  # a remote object not in the cluster: no flag
    flags = ENTRY_IS_CACHED if cached else 0
    if entry.in_archive:
        flags |= ENTRY_IN_ARCH
    if entry.is_archive:
        flags |= ENTRY_IS_ARCHIVE
    out = {"n": entry.name}
    if "size" in props or entry.in_archive:  # AIS sizes in-shard files whatever props say
        out["s"] = entry.size
    if rec is not None and not entry.in_archive:
        if "checksum" in props and rec.cksum_value:
            out["cs"] = rec.cksum_value
        if "atime" in props and cached:
            out["a"] = format_atime(rec.atime_ns)
        if "version" in props and rec.version:
            out["v"] = rec.version
        if "location" in props and cached:
            out["t"] = location
        if "copies" in props and cached:
            out["c"] = 1
        if "custom" in props and rec.custom:
            out["m"] = custom_md_list(rec.custom)
    if flags:
        out["f"] = flags
    return out


_JSON_KEYS = {"n": "name", "cs": "checksum", "a": "atime", "v": "version", "t": "location",
              "m": "custom-md", "s": "size", "c": "copies", "f": "flags"}


def json_listing(list_id: str, token: str, entries: list) -> dict:
    """Go's LsoRes as a JSON document (replied when the client does not accept msgpack):
    long keys, ``size`` as a decimal string, zero size/copies/flags omitted."""
    out = []
    for e in entries:
        doc = {}
        for key, value in e.items():
            if key in ("s", "c", "f") and not value:
                continue
            doc[_JSON_KEYS[key]] = str(value) if key == "s" else value
        out.append(doc)
    return {"uuid": list_id, "continuation_token": token, "entries": out or None, "flags": 0}


def msgpack_listing(list_id: str, token: str, entries: list) -> bytes:
    """Go's LsoRes in msgpack: an empty listing has an empty ``Entries`` array, as AIS
    sends it (Go's generated decoder rejects a nil there)."""
    return msgpack.packb(
        {"UUID": list_id, "ContinuationToken": token, "Flags": 0, "Entries": list(entries)},
        use_bin_type=True,
    )
