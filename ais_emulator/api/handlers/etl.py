"""ETL lifecycle endpoints (``client.etl(name)...`` and ``cluster().list_etls()``).

    PUT    /v1/etl                       init (ETLSpecMsg) -> ETL job ID as text
    GET    /v1/etl                       [etl.Info]  ([] when none)
    GET    /v1/etl/<name>[?uuid=<job>]   {"init_msg": {...}, "obj_errors": [...]}
    GET    /v1/etl/<name>/logs[/<tid>]   [{"target_id", "logs": <base64>}]
    POST   /v1/etl/<name>/stop|start     200
    DELETE /v1/etl/<name>                200 (stops it first)

Names follow AIS's rule (6-32 of ``[a-z0-9-]``, alphanumeric at both ends). A duplicate
init is 409 and an unknown name 404, both worded with ``etl job`` so that the SDK raises
ErrETLAlreadyExists / ErrETLNotFound. ``start`` is allowed from ``Aborted`` only (400).
An init carrying a class (``ETL_CLASS_PAYLOAD``) over a transport that does not allow
client code is 403 naming ``--allow-etl-code``.

Deviations: see ``ais_emulator.etl`` (one in-process instance per ETL, no pods); the
legacy ``spec``/``code`` init bodies are recorded but have nothing to run; ``health`` and
``metrics`` are not served.
"""

from __future__ import annotations

import re

from ais_emulator.api.errors import ApiError
from ais_emulator.api.routes import route
from ais_emulator.api.types import Request, Response
from ais_emulator.api.wire import json_reply, parse_json
from ais_emulator.etl import COMM_TYPES, encode_logs

_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])")


def validate_etl_name(name: str) -> None:
    if not 6 <= len(name) <= 32 or not _NAME.fullmatch(name):
        raise ApiError(400, f"invalid ETL name {name!r}: must be 6-32 characters long, start "
                            "and end with a lowercase letter or digit, and contain only "
                            "[a-z0-9-]")


def _json(doc) -> Response:
    return json_reply(doc)


def _init_msg(doc) -> dict:
    """The init message as AIS stores and shows it (``view().init_msg``)."""
    if not isinstance(doc, dict):
        raise ApiError(400, "invalid ETL init message: expecting a JSON object")
    name = doc.get("name") or doc.get("id") or ""
    if not isinstance(name, str):
        raise ApiError(400, "invalid ETL init message: 'name' must be a string")
    validate_etl_name(name)
    comm = doc.get("communication") or "hpush://"
    if comm not in COMM_TYPES:
        raise ApiError(400, f"invalid ETL init message for {name!r}: unknown communication "
                            f"type {comm!r} (expecting one of {', '.join(COMM_TYPES)})")
    runtime = doc.get("runtime")
    if runtime is None and not any(k in doc for k in ("spec", "code")):
        raise ApiError(400, f"invalid ETL init message for {name!r}: expecting a runtime "
                            "(image, command, env)")
    if runtime is not None:
        if not isinstance(runtime, dict) or not isinstance(runtime.get("image", ""), str):
            raise ApiError(400, f"invalid ETL runtime for {name!r}: expecting "
                                "{image, command, env}")
        env = runtime.get("env")
        if env is not None and not (isinstance(env, list) and all(
                isinstance(e, dict) and isinstance(e.get("name"), str) for e in env)):
            raise ApiError(400, f"invalid ETL runtime env for {name!r}: expecting a list "
                                "of {name, value}")
    msg = {"name": name, "communication": comm, "argument": doc.get("argument", ""),
           "init_timeout": str(doc.get("init_timeout") or "5m"),
           "obj_timeout": str(doc.get("obj_timeout") or "45s"),
           "support_direct_put": bool(doc.get("support_direct_put", False))}
    if runtime is not None:
        msg["runtime"] = runtime
    return msg


@route("PUT", "/v1/etl")
def init_etl(emu, req: Request) -> Response:
    msg = _init_msg(parse_json(req.body, "ETL init message"))
    xid = emu.etl.init(msg, allow_code=req.allow_etl_code,
                       target_url=req.base_url or "http://localhost:8080")
    return Response(200, {"Content-Type": "text/plain; charset=utf-8"}, xid.encode())


@route("GET", "/v1/etl")
def list_etls(emu, req: Request) -> Response:
    return _json([r.info() for r in emu.etl.records()])


@route("GET", "/v1/etl/{name}")
def view_etl(emu, req: Request, name: str) -> Response:
    validate_etl_name(name)
    rec = emu.etl.record(name)
    errors = emu.etl.obj_errors(name, req.param("uuid"))
    return _json({"init_msg": rec.init_msg, "obj_errors": errors})


@route("GET", "/v1/etl/{name}/logs")
def etl_logs(emu, req: Request, name: str) -> Response:
    return _logs(emu, name, "")


@route("GET", "/v1/etl/{name}/logs/{target}")
def etl_target_logs(emu, req: Request, name: str, target: str) -> Response:
    return _logs(emu, name, target)


def _logs(emu, name: str, target: str) -> Response:
    validate_etl_name(name)
    tid = emu.identity.target_id
    if target and target != tid:
        raise ApiError(400, f"unknown target {target!r}")
    return _json([{"target_id": tid, "logs": encode_logs(emu.etl.logs(name))}])


@route("POST", "/v1/etl/{name}/{op}")
def post_etl(emu, req: Request, name: str, op: str) -> Response:
    validate_etl_name(name)
    if op == "stop":
        emu.etl.stop(name)
    elif op == "start":
        emu.etl.start(name, req.base_url or "http://localhost:8080")
    else:
        raise ApiError(400, f"invalid ETL operation {op!r} (expecting stop or start)")
    return Response(200, {}, b"")


@route("DELETE", "/v1/etl/{name}")
def delete_etl(emu, req: Request, name: str) -> Response:
    validate_etl_name(name)
    emu.etl.delete(name)
    return Response(200, {}, b"")
