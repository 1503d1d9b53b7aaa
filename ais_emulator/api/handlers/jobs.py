"""Job ("xaction") endpoints: status, snapshots, listings, start and stop.

    GET /v1/cluster?what=status       body JobArgs {ID, Kind, ...}  -> nl.Status JSON
    GET /v1/cluster?what=qryxstats    body JobArgs                  -> {"<tid>": [core.Snap]}
    GET /v1/cluster?what=status_all   body {kind, node, show_active} -> [nl.Status]
    GET /v1/cluster?what=running_all  body {kind, ...}              -> ["kind[id]", ...]
    PUT /v1/cluster                   {"action": "start"|"stop", "value": JobArgs}

Records come from ``emu.jobs`` (``ais_emulator.jobs``). As in AIS (v1.5.0, checked):
``what=status`` knows only the jobs the proxy tracks: the "idle" kinds (archive,
copy-listrange, etl-listrange, ...) and summaries answer 404 there and are queried with
``qryxstats``; an unknown ID is 404 on both; ``stop`` of an unknown ID is 200 and of
nothing (no ID, no kind) 400; ``start`` runs ``lru`` and ``cleanup`` only.

A job query's bucket with an empty name matches every bucket (the CLI sends one).
``running_all`` and ``show_active`` list running jobs and, for two minutes after their
work is done, the idle kinds (AIS keeps an idle xaction alive until it times out).

Deviations: one snapshot per job under the single target; a finished idle-kind job
reports its end time (AIS reports zero until the xaction times out); the ``node``
filters are ignored; listing objects starts no ``list`` job (AIS runs one per listing,
which ``ais show job`` shows while it idles).
"""

from __future__ import annotations

import time

from ais_emulator.api.errors import ApiError
from ais_emulator.api.handlers.cluster import cluster_what
from ais_emulator.api.routes import route
from ais_emulator.api.types import Request, Response
from ais_emulator.api.wire import ci_get, json_body, json_reply, parse_action, parse_json
from ais_emulator.jobs import IDLE_KINDS, Job, JobNotFound
from ais_emulator.store import BucketId
from ais_emulator.store.buckets import parse_namespace

GO_ZERO_TIME = "0001-01-01T00:00:00Z"

# kinds AIS's proxy does not track for what=status (answered 404 there, as in v1.5.0)
UNTRACKED_KINDS = IDLE_KINDS | {"summary-bck", "blob-download"}
STARTABLE = frozenset({"lru", "cleanup"})
BUCKET_SCOPED = frozenset({
    "copy-bck", "etl-bck", "move-bck", "make-n-copies", "ec-encode", "list", "archive",
    "delete-listrange", "evict-listrange", "prefetch-listrange", "copy-listrange",
    "etl-listrange", "load-lom-cache", "rechunk", "summary-bck", "put-copies",
    "evict-remote-bck", "promote", "blob-download",
})
KNOWN_KINDS = STARTABLE | BUCKET_SCOPED | IDLE_KINDS | frozenset({
    "rebalance", "resilver", "election", "download", "dsort", "etl-inline", "get-batch",
    "create-inventory", "summary",
})


def rfc3339(ns: int) -> str:
    """Go's RFC3339Nano in UTC; 0 is Go's zero time."""
    if not ns:
        return GO_ZERO_TIME
    secs, frac = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    digits = f"{frac:09d}".rstrip("0")
    return f"{stamp}.{digits}Z" if digits else f"{stamp}Z"


def _bck_doc(bck) -> dict:
    if bck is None:
        return {"name": "", "provider": "", "namespace": {"uuid": "", "name": ""}}
    return {"name": bck.name, "provider": bck.provider,
            "namespace": {"uuid": bck.ns_uuid, "name": bck.ns_name}}


def status_doc(job: Job) -> dict:
    """Go's nl.Status."""
    return {"kind": job.kind, "uuid": job.id, "err": job.err,
            "end_time": job.end_ns if job.finished else 0, "aborted": job.aborted}


def snap_doc(job: Job) -> dict:
    """Go's core.Snap (counters as decimal strings, as Go writes int64 stats)."""
    st = job.stats
    finished = job.finished
    abort_err = (job.err or "aborted") if job.aborted else ""
    return {
        "ext": None,
        "start-time": rfc3339(job.start_ns),
        "end-time": rfc3339(job.end_ns if finished else 0),
        "bck": _bck_doc(job.bck),
        "src-bck": _bck_doc(job.src_bck),
        "dst-bck": _bck_doc(job.dst_bck),
        "id": job.id,
        "kind": job.kind,
        "ctlmsg": job.details.get("ctlmsg", ""),
        "abort-err": abort_err,
        "err": "" if job.aborted else job.err,
        "glob.id": "1",
        "stats": {"loc-objs": str(st.objs), "loc-bytes": str(st.bytes),
                  "out-objs": str(st.out_objs), "out-bytes": str(st.out_bytes),
                  "in-objs": str(st.in_objs), "in-bytes": str(st.in_bytes)},
        "aborted": job.aborted,
        "is_idle": finished,
    }


def _args(body: bytes) -> tuple[str, str, object]:
    """(ID, Kind, Bck) from a JobArgs body (keys case-insensitive, as Go decodes)."""
    doc = parse_json(body, "job query") or {}
    if not isinstance(doc, dict):
        raise ApiError(400, "invalid job query: expecting a JSON object")
    job_id, kind = ci_get(doc, "ID", "") or "", ci_get(doc, "Kind", "") or ""
    if not isinstance(job_id, str) or not isinstance(kind, str):
        raise ApiError(400, "invalid job query: ID and Kind must be strings")
    return job_id, kind, _bck_of(ci_get(doc, "Bck"))


def _bck_of(doc):
    """The job query's bucket; none when absent or unnamed (the CLI sends an empty one)."""
    if not doc or (isinstance(doc, dict) and doc.get("name") == ""):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        raise ApiError(400, f"invalid bucket in job query: {doc!r}")
    ns = doc.get("namespace") or {}
    ns_pair = (ns.get("uuid", ""), ns.get("name", "")) if isinstance(ns, dict) else parse_namespace(ns)
    return BucketId.parse(doc.get("provider") or "ais", doc["name"], ns_pair)


def _json(doc) -> Response:
    return json_reply(doc)


def _proxy(emu) -> str:
    return f"p[{emu.identity.proxy_id}]"


@cluster_what("status")
def _what_status(emu, req: Request) -> Response:
    return _status(emu, req)


@cluster_what("qryxstats")
def _what_snaps(emu, req: Request) -> Response:
    return _snaps(emu, req)


@cluster_what("status_all")
@cluster_what("running_all")
def _what_all(emu, req: Request) -> Response:
    """``status_all``: nl.Status of every tracked job; ``running_all``: ``kind[id]`` of
    every active job (an idle kind stays listed for a while after its work is done)."""
    doc = parse_json(req.body, "job query") or {}
    kind = ci_get(doc, "kind", "") if isinstance(doc, dict) else ""
    if req.param("what") == "running_all":
        now = time.time_ns()
        jobs = [j for j in emu.jobs.find(kind=kind or "") if j.active(now)]
        return _json([f"{j.kind}[{j.id}]" for j in jobs])
    jobs = emu.jobs.find(kind=kind or "")
    return _json([status_doc(j) for j in jobs if j.kind not in UNTRACKED_KINDS])


def _status(emu, req: Request) -> Response:
    job_id, kind, bck = _args(req.body)
    if not job_id and not kind:
        raise ApiError(400, "invalid x-")
    jobs = [j for j in emu.jobs.find(job_id, kind, bck) if j.kind not in UNTRACKED_KINDS]
    if not jobs:
        raise ApiError(404, f"{_proxy(emu)}: x-[{job_id or kind}] does not exist", "ErrNotFound")
    return _json(status_doc(jobs[-1]))


def _snaps(emu, req: Request) -> Response:
    """Snapshots of the matching jobs; ``show_active`` keeps the active ones only."""
    job_id, kind, bck = _args(req.body)
    jobs = emu.jobs.find(job_id, kind, bck)
    if job_id and not jobs:
        raise ApiError(404, f'"x-[{job_id}]" not found')
    doc = parse_json(req.body, "job query")
    if isinstance(doc, dict) and ci_get(doc, "show_active") is True:
        now = time.time_ns()
        jobs = [j for j in jobs if j.active(now)]
    return _json({emu.identity.target_id: [snap_doc(j) for j in jobs]})


@route("PUT", "/v1/cluster")
def cluster_put(emu, req: Request) -> Response:
    """``start`` (lru, cleanup) and ``stop`` (abort by ID and/or kind)."""
    msg = parse_action(req.body, required=True)
    value = msg.value if isinstance(msg.value, dict) else {}
    job_id, kind, bck = _args(json_body(value))
    if msg.action == "stop":
        if not job_id and not kind:
            raise ApiError(400, f"cannot stop xaction given 'xa-[{job_id}]' - expecting a "
                                "valid kind and/or UUID")
        try:
            emu.jobs.abort(job_id, kind, bck)
        except JobNotFound:
            pass  # AIS: stopping an unknown (or long gone) job is not an error
        return Response(200, {}, b"")
    if msg.action == "start":
        return _start(emu, kind, bck)
    raise ApiError(400, f"invalid action {msg.action!r} for PUT /v1/cluster")


def _start(emu, kind: str, bck) -> Response:
    if kind not in KNOWN_KINDS:
        raise ApiError(400, f'invalid xaction (job) kind "{kind}"')
    if kind == "rebalance":
        raise ApiError(400, f"{_proxy(emu)}: not enough targets: need 2, have 1",
                       "errNotEnoughTargets")
    if kind not in STARTABLE:
        if kind in BUCKET_SCOPED and bck is None:
            raise ApiError(400, f'xaction "{kind}" requires a bucket to start')
        raise ApiError(501, f"cannot start xaction {kind} - operation not supported", "ErrUnsupp")
    if bck is not None:
        emu.store.bucket(bck)
    job = emu.jobs.start(kind, None, bck=bck)
    return Response(200, {"Content-Type": "text/plain; charset=utf-8"}, job.id.encode())


@route("GET", "/v1/download")
def list_downloads(emu, req: Request) -> Response:
    """Download jobs: none (the emulator has no downloader), so an empty list, as AIS
    answers when there are none (``ais show job`` asks)."""
    return _json([])


@route("GET", "/v1/sort")
def list_dsorts(emu, req: Request) -> Response:
    """Distributed-sort jobs: none (the emulator has no dsort), so an empty list."""
    return _json([])
