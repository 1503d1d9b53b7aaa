"""Helpers of the differential test: two sides, observations, normalisation, comparison.

A *side* is one AIStore endpoint driven two ways: through the ``aistore`` SDK
(``side.client``) and through plain ``requests`` (``side.request``). The same scenario
runs on the live side (``--ais-live=URL``) and on the emulator side (an in-process
``mock_ais`` on ``EMULATOR_ENDPOINT``) and returns *observations*: a flat dict of field
name to a JSON-like value. ``compare`` then checks that both sides observed the same
values, except for the fields named in the expected-deviation table, which must still
differ exactly as recorded.

    side = Side("live", endpoint, retries_off_client(endpoint))
    obs = response_obs(side.request("GET", side.obj_path("b", "o")))
    obs["status"], obs["hdr.Content-Length"], obs["body.sha"]

What legitimately differs between two clusters, or between two spellings the SDK reads
alike, is normalised away; everything else is compared:

* redirects: only the final reply counts (real AIS redirects object requests to a
  target; the emulator answers directly);
* per-cluster values: atime, location, mirror paths, Last-Modified and ETag headers and
  list-entry atime/location are compared by presence; the listing UUID only for being
  non-empty and stable across pages; node IDs in error texts are masked;
* unique names: the run's bucket names are replaced by ``<corpus>`` in every value;
* error texts: only what the SDK reads from them (the bucket URL, for 404 and 409) and
  the exception class it raises; the wording is shown on failure, not compared;
* ``Ais-Custom-Md``: compared as the SDK parses it (AIS writes the pairs in Go map
  order); a list entry's ``m`` with its pairs sorted, spelling kept;
* list entries: a zero ``s``/``c``/``f`` equals a missing one (Go omits zero values and
  the SDK's decoder defaults them to 0); ``Entries: null`` equals ``[]``.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import quote

import msgpack
import requests
from aistore.sdk import Client
from aistore.sdk.errors import AISError
from aistore.sdk.obj.object_attributes import ObjectAttributes
from aistore.sdk.response_handler import AISResponseHandler
from aistore.sdk.retry_config import RetryConfig
from aistore.sdk.utils import extract_and_parse_url
from tenacity import Retrying, stop_after_attempt
from urllib3.util import Retry

EMULATOR_ENDPOINT = "http://emulator.invalid:8080"

# list-objects request flags (1 << bit)
LS_CACHED = 1 << 0
LS_ARCH_DIR = 1 << 3
LS_NAME_ONLY = 1 << 4
LS_NAME_SIZE = 1 << 5
LS_NO_RECURSION = 1 << 11
LS_NO_DIRS = 1 << 13

PRESENT = "<present>"  # the value recorded for a header compared by presence only
INFO = "~"  # fields named "~..." are shown when a scenario differs, never compared

# Headers the SDK reads from object replies, compared by value.
VALUE_HEADERS = (
    "Content-Length", "Content-Range", "Content-Type", "Accept-Ranges",
    "Ais-Checksum-Type", "Ais-Checksum-Value", "Ais-Version", "Ais-Present",
    "Ais-Custom-Md", "Ais-Mirror-Copies", "Ais-Bucket-Name", "Ais-Bucket-Provider",
    "Ais-Name", "Ais-Chunks-Count", "Ais-Append-Handle",
)
# Headers whose value is per cluster (times, node IDs, mountpaths): presence only.
PRESENCE_HEADERS = (
    "Ais-Atime", "Ais-Location", "Ais-Mirror-Paths", "Last-Modified", "ETag",
    "Ais-Bucket-Props", "Hdr-Error",
)

_NODE_ID = re.compile(r"\b([tp])\[[^\]]*\]")


def retries_off_client(endpoint: str) -> Client:
    """An SDK client that never retries: a 5xx or a dropped connection shows at once."""
    config = RetryConfig(
        http_retry=Retry(total=0, connect=0, read=0, redirect=10, status_forcelist=[]),
        network_retry=Retrying(stop=stop_after_attempt(1), reraise=True),
    )
    return Client(endpoint, retry_config=config, timeout=(3, 30))


@dataclass
class Side:
    """One endpoint, driven through the SDK and through plain HTTP."""

    kind: str  # "live" | "emulator"
    endpoint: str
    client: Client
    http: requests.Session = field(default_factory=requests.Session)
    emulator: Any = None  # the Emulator behind the emulator side (None on the live side)
    _buckets: list = field(default_factory=list, repr=False)

    @staticmethod
    def obj_path(bucket: str, name: str) -> str:
        return f"/v1/objects/{bucket}/{quote(name)}"

    @staticmethod
    def bck_path(bucket: str) -> str:
        return f"/v1/buckets/{bucket}"

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 30)
        kw.setdefault("allow_redirects", True)
        return self.http.request(method, self.endpoint.rstrip("/") + path, **kw)

    def bucket(self, name: str):
        """The SDK bucket ``name``, created now and destroyed by ``cleanup``."""
        bck = self.client.bucket(name)
        bck.create()
        self._buckets.append(name)
        return bck

    def owns(self, name: str) -> None:
        """Destroy bucket ``name`` at cleanup (a scenario creates it some other way)."""
        self._buckets.append(name)

    def put(self, bucket: str, objects: dict[str, bytes]) -> None:
        bck = self.client.bucket(bucket)
        for name, data in objects.items():
            bck.object(name).get_writer().put_content(data)

    def cleanup(self) -> None:
        """Destroy the buckets made with ``bucket`` or named with ``owns``."""
        while self._buckets:
            self.client.bucket(self._buckets.pop()).delete(missing_ok=True)

    def close(self) -> None:
        self.cleanup()
        self.http.close()


def unique_bucket(tag: str) -> str:
    """A bucket name for one scenario; both sides use the same one."""
    return f"pd-{tag}-{uuid.uuid4().hex[:10]}"


def replace_name(value: Any, name: str, placeholder: str) -> Any:
    """``value`` with every occurrence of ``name`` in its strings (keys included) replaced:
    bucket names are unique per run, so recorded values must not contain them."""
    if isinstance(value, str):
        return value.replace(name, placeholder)
    if isinstance(value, dict):
        return {replace_name(k, name, placeholder): replace_name(v, name, placeholder)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(replace_name(v, name, placeholder) for v in value)
    return value


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def normalise_text(text: str) -> str:
    """Node IDs out of an error message: ``t[abc]`` -> ``t[ID]``."""
    return _NODE_ID.sub(lambda m: f"{m.group(1)}[ID]", text)


def sdk_reads(text: str) -> Optional[list]:
    """What the SDK's error regex extracts from an error text: [provider, bucket, has-object]."""
    found = extract_and_parse_url(text or "")
    return list(found) if found else None


def sdk_exception(r: requests.Response) -> Optional[str]:
    """The exception class the SDK raises for this reply (None for 2xx/3xx)."""
    try:
        AISResponseHandler().handle_response(r)
    except AISError as e:
        return type(e).__name__
    return None


def _error_doc(r: requests.Response) -> dict:
    raw = r.headers.get("Hdr-Error") if r.request.method == "HEAD" else r.text
    try:
        doc = json.loads(raw or "")
    except ValueError:
        return {"unparsed": normalise_text(raw or "")}
    return doc if isinstance(doc, dict) else {"unparsed": str(doc)}


def custom_md(header: Optional[str]) -> Optional[dict]:
    """``Ais-Custom-Md`` as the SDK parses it. AIS writes the pairs in Go map order (random
    from one reply to the next), so only the parsed pairs are comparable."""
    if header is None:
        return None
    return dict(sorted(ObjectAttributes._parse_custom(header).items()))


def header_obs(headers, prefix: str = "hdr.", *, skip: Iterable[str] = ()) -> dict:
    """The SDK-read headers: by value, ``Ais-Custom-Md`` parsed, the rest by presence."""
    skip = {s.lower() for s in skip}
    out = {}
    for name in VALUE_HEADERS:
        if name.lower() not in skip:
            value = headers.get(name)
            out[prefix + name] = custom_md(value) if name == "Ais-Custom-Md" else value
    for name in PRESENCE_HEADERS:
        if name.lower() not in skip:
            out[prefix + name] = PRESENT if headers.get(name) is not None else None
    return out


def error_obs(r: requests.Response, prefix: str = "") -> dict:
    """What a client can rely on in an error reply: status, tcode, the bucket URL the SDK
    reads out of the text (it does so for 404 and 409 only), the SDK's exception class,
    and where the JSON travels. The message wording itself is informational."""
    doc = _error_doc(r)
    message = doc.get("message", doc.get("unparsed", ""))
    return {
        prefix + "status": r.status_code,
        prefix + "error.tcode": doc.get("tcode"),
        prefix + "error.json_status_ok": doc.get("status") == r.status_code,
        prefix + "error.sdk_reads": sdk_reads(message) if r.status_code in (404, 409) else None,
        prefix + "error.sdk_exception": sdk_exception(r),
        prefix + "error.in_header": r.headers.get("Hdr-Error") is not None,
        prefix + "error.content_type": r.headers.get("Content-Type"),
        prefix + "hdr.Content-Range": r.headers.get("Content-Range"),
        INFO + prefix + "error.message": normalise_text(message),
    }


def error_message(r: requests.Response) -> str:
    doc = _error_doc(r)
    return normalise_text(doc.get("message", doc.get("unparsed", "")))


def response_obs(r: requests.Response, body: str = "sha", prefix: str = "",
                 skip: Iterable[str] = ()) -> dict:
    """Status, the SDK-read headers (less ``skip``) and the body (as ``body`` says:
    ``sha``, ``bytes``, ``members`` of an archive, or ``none``) of a final reply."""
    if r.status_code >= 400:
        return error_obs(r, prefix)
    out = {prefix + "status": r.status_code}
    out.update(header_obs(r.headers, prefix + "hdr.", skip=skip))
    data = r.content
    if body == "sha":
        out[prefix + "body.len"] = len(data)
        out[prefix + "body.sha"] = sha(data)
    elif body == "bytes":
        out[prefix + "body"] = data.decode("latin-1")
    elif body == "members":
        out[prefix + "body.members"] = archive_members(data)
    elif body == "none":
        out[prefix + "body.len"] = len(data)
    return out


def archive_members(data: bytes, fmt: str = "") -> list:
    """[name, size, sha] of every regular file of a tar / tgz / zip, in archive order;
    directories and other entries as [name, type]."""
    if not fmt:
        fmt = ".zip" if data[:2] == b"PK" else ".tar"
    out = []
    if fmt == ".zip":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    out.append([info.filename, "dir"])
                else:
                    blob = zf.read(info)
                    out.append([info.filename, len(blob), sha(blob)])
        return out
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
        for m in tf:
            if m.isfile():
                f = tf.extractfile(m)
                blob = f.read() if f else b""
                out.append([m.name, m.size, sha(blob)])
            else:
                out.append([m.name, "dir" if m.isdir() else f"type-{m.type!r}"])
    return out


def sdk_obs(fn: Callable[[], Any], prefix: str = "sdk") -> dict:
    """Run an SDK call: its (JSON-like) result, or the exception class and status it raised."""
    try:
        result = fn()
    except AISError as e:
        return {f"{prefix}.exception": type(e).__name__, f"{prefix}.status": e.status_code}
    except Exception as e:  # an SDK-side failure (decoding, validation): also a behaviour
        return {f"{prefix}.exception": type(e).__name__}
    return {f"{prefix}.exception": None, f"{prefix}.result": result}


# -- raw list objects ---------------------------------------------------------------------


def list_page(side: Side, bucket: str, *, accept_msgpack: bool = True, **value):
    """One list-objects page: (reply, decoded body or None)."""
    msg = {"prefix": "", "pagesize": 0, "uuid": "", "props": "", "continuation_token": "",
           "flags": "0", "target": ""}
    msg.update(value)
    msg["flags"] = str(msg["flags"])
    headers = {"Accept": "application/msgpack"} if accept_msgpack else {}
    r = side.request("GET", side.bck_path(bucket), params={"provider": "ais"},
                     headers=headers, json={"action": "list", "name": "", "value": msg})
    if r.status_code != 200:
        return r, None
    if r.headers.get("Content-Type") == "application/msgpack":
        return r, msgpack.unpackb(r.content, raw=False)
    return r, json.loads(r.content)


def sorted_md(text: str) -> str:
    """Custom metadata as a list entry spells it, pairs in sorted order (AIS prints them
    in Go map order, ``[k:v k2:v2]``), the spelling itself kept."""
    if text.startswith("[") and text.endswith("]"):
        return "[" + " ".join(sorted(text[1:-1].split(" "))) + "]"
    return ",".join(sorted(text.split(",")))


def entry_obs(entry: dict) -> dict:
    """A msgpack list entry with per-cluster values (atime, location) replaced by their
    presence, and zero sizes, copies and flags dropped: Go omits them (``omitempty``) and
    the SDK's decoder defaults a missing one to 0, so both spellings decode alike."""
    out = {}
    for key, value in sorted(entry.items()):
        if key in ("a", "t"):
            out[key] = PRESENT if value else value
        elif key in ("s", "c", "f") and value == 0:
            continue
        elif key == "m" and isinstance(value, str):
            out[key] = sorted_md(value)
        else:
            out[key] = value
    return out


def list_all(side: Side, bucket: str, max_pages: int = 1000, **value) -> dict:
    """Every page of a listing, following tokens: the names in order, each page's token,
    the entries by name (as ``entry_obs`` has them), and whether the listing ID was
    non-empty and stable across pages (its value is per cluster). An error ends it."""
    names, tokens, entries, token, list_id, ids = [], [], {}, "", "", set()
    for _ in range(max_pages):
        r, body = list_page(side, bucket, continuation_token=token, uuid=list_id, **value)
        if body is None:
            return {"names": names, "tokens": tokens, "error": error_obs(r)}
        for e in body.get("Entries") or []:
            names.append(e["n"])
            entries[e["n"]] = {k: v for k, v in entry_obs(e).items() if k != "n"}
        token, list_id = body["ContinuationToken"], body["UUID"]
        ids.add(list_id)
        tokens.append(token)
        if not token:
            break
    return {"names": names, "tokens": tokens, "entries": entries,
            "uuid_ok": all(ids) and len(ids) == 1}


def listing_obs(side: Side, bucket: str, field_prefix: str = "listing.", **value) -> dict:
    """``list_all`` as separate fields (``listing.names``, ``listing.entries``, ...)."""
    return {field_prefix + key: val for key, val in list_all(side, bucket, **value).items()}


def outcome_obs(r: requests.Response, prefix: str = "") -> dict:
    """Just the outcome of a reply: status, tcode, Content-Type and the SDK's exception."""
    doc = _error_doc(r) if r.status_code >= 400 else {}
    return {prefix + "status": r.status_code, prefix + "tcode": doc.get("tcode"),
            prefix + "content_type": r.headers.get("Content-Type"),
            prefix + "sdk_exception": sdk_exception(r)}


def paging_obs(side: Side, bucket: str, pagesize: int, **value) -> dict:
    """A paged listing against the same listing in one page: the page sizes and the names
    the pages lose or repeat."""
    whole = list_all(side, bucket, **value)["names"]
    paged = list_all(side, bucket, pagesize=pagesize, **value)
    names = paged["names"]
    return {"pages": len(paged["tokens"]),
            "lost": [n for n in whole if n not in names],
            "repeated": sorted({n for n in names if names.count(n) > 1}),
            "extra": [n for n in names if n not in whole],
            "total": len(whole)}


# -- comparison ---------------------------------------------------------------------------


KINDS = {
    "bug": "the emulator should change to match AIS (then delete the entry)",
    "deliberate": "the emulator differs on purpose (see its docstrings)",
    "ais-quirk": "AIS v1.5.0 misbehaves here; the emulator does the intended thing",
}


@dataclass(frozen=True)
class Deviation:
    """A known difference: in ``scenario``, each field of ``differs`` is ``(live value,
    emulator value)``, for ``reason``; ``kind`` is one of ``KINDS``."""

    scenario: str
    differs: dict
    kind: str
    reason: str

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.scenario}: kind {self.kind!r} is not one of {sorted(KINDS)}")
        for name, pair in self.differs.items():
            if not (isinstance(pair, tuple) and len(pair) == 2):
                raise ValueError(f"{self.scenario}: {name} must map to (live, emulator)")


def validate_table(scenarios, deviations: Iterable[Deviation]) -> None:
    """Every entry names a known scenario and gives a reason; no field is listed twice."""
    seen = set()
    for dev in deviations:
        if dev.scenario not in scenarios:
            raise ValueError(f"expected deviation of an unknown scenario: {dev.scenario!r}")
        if not dev.reason.strip():
            raise ValueError(f"expected deviation without a reason: {dev.scenario!r}")
        for name in dev.differs:
            if (dev.scenario, name) in seen:
                raise ValueError(f"{dev.scenario}: field {name!r} listed twice")
            seen.add((dev.scenario, name))


def _show(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, sort_keys=True, default=repr, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def _diff(lv: Any, ev: Any, path: str = "", out: Optional[list] = None) -> list:
    """Where two values differ, as short ``path: live X, emulator Y`` lines."""
    out = [] if out is None else out
    if len(out) >= 8:
        return out
    if isinstance(lv, dict) and isinstance(ev, dict):
        for key in sorted(set(lv) | set(ev), key=str):
            if lv.get(key) != ev.get(key):
                _diff(lv.get(key), ev.get(key), f"{path}.{key}", out)
        return out
    if isinstance(lv, list) and isinstance(ev, list):
        if len(lv) == len(ev):
            for i, (a, b) in enumerate(zip(lv, ev, strict=True)):
                if a != b:
                    _diff(a, b, f"{path}[{i}]", out)
            return out
        only_live = [x for x in lv if x not in ev]
        only_emu = [x for x in ev if x not in lv]
        out.append(f"{path}: {len(lv)} items on live, {len(ev)} on the emulator; only on "
                   f"live: {_show(only_live)}; only on the emulator: {_show(only_emu)}")
        return out
    out.append(f"{path or '(value)'}: live {_show(lv)}, emulator {_show(ev)}")
    return out


def compare(scenario: str, live: dict, emulated: dict, expected: Iterable[Deviation]) -> None:
    """Every field equal on both sides, except the expected deviations of ``scenario``,
    which must hold exactly (so that a fixed emulator or a changed cluster is noticed)."""
    known = {}
    for dev in expected:
        if dev.scenario == scenario:
            for name, pair in dev.differs.items():
                known[name] = (pair, dev)
    problems, suggest = [], {}
    for name in sorted(set(live) | set(emulated) | set(known)):
        if name.startswith(INFO):
            continue
        lv, ev = live.get(name), emulated.get(name)
        if name not in known:
            if lv != ev:
                suggest[name] = (lv, ev)
                if isinstance(lv, (dict, list)) and isinstance(ev, (dict, list)):
                    detail = "\n      ".join(_diff(lv, ev))
                    problems.append(f"{name} differs:\n      {detail}")
                else:
                    problems.append(f"{name}: live {_show(lv)} != emulator {_show(ev)}")
            continue
        (want_live, want_emu), dev = known[name]
        if lv == want_live and ev == want_emu:
            continue
        if lv == ev:
            problems.append(f"{name}: the expected deviation is gone (both sides now "
                            f"{_show(lv)}); update EXPECTED_DEVIATIONS ({dev.kind}: "
                            f"{dev.reason})")
        else:
            suggest[name] = (lv, ev)
            problems.append(f"{name}: expected deviation changed: live {_show(lv)} "
                            f"(expected {_show(want_live)}), emulator {_show(ev)} "
                            f"(expected {_show(want_emu)})")
    if problems:
        info = [f"{name[len(INFO):]}: live {_show(live.get(name))}, emulator "
                f"{_show(emulated.get(name))}"
                for name in sorted(set(live) | set(emulated)) if name.startswith(INFO)]
        raise AssertionError(
            f"scenario {scenario!r}: live and emulator differ\n  " + "\n  ".join(problems)
            + "".join(f"\n  (for reference) {line}" for line in info)
            + (f"\n  (the observed difference, as EXPECTED_DEVIATIONS would record it) "
               f"differs={suggest!r}" if suggest else ""))


def run_scenario(name: str, scenarios, sides, corpus: str,
                 expected: Iterable[Deviation]) -> None:
    """Run scenario ``name`` on both ``sides`` (live first), each cleaned up after its
    run, with the corpus name masked, and :func:`compare` what they observed."""
    fn = scenarios[name]
    observed = []
    for side in sides:
        try:
            observed.append(replace_name(fn(side, corpus), corpus, "<corpus>"))
        finally:
            side.cleanup()
    compare(name, observed[0], observed[1], expected)
