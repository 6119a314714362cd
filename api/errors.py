"""One error shape for every failure: {"error": <CodeName>, "detail": <what to fix>}."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.errors import EngineError

log = logging.getLogger("sift.api")

HTTP_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    429: "RateLimited",
}


def error_body(code: str, detail: str, fields: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "detail": detail}
    if fields is not None:
        body["fields"] = fields
    return body


def error_response(
    status: int, code: str, detail: str, fields: list[dict[str, Any]] | None = None
) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_body(code, detail, fields), status_code=status, headers=headers)


def _validation_fields(exc: RequestValidationError) -> list[dict[str, Any]]:
    fields = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        fields.append({"field": ".".join(loc), "message": err.get("msg", "invalid")})
    return fields


async def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(
            400,
            "MalformedJson",
            "The body is not valid JSON (UTF-8); send a JSON object matching the documented shape.",
        )
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    whole_body = any(tuple(e.get("loc", ())) == ("body",) for e in errors)
    if (
        whole_body
        and content_type
        and content_type != "application/json"
        and not content_type.endswith("+json")
    ):
        return error_response(
            415,
            "UnsupportedMediaType",
            f"This endpoint takes a JSON body: send it with Content-Type: application/json (got {content_type}).",
        )
    fields = _validation_fields(exc)
    names = ", ".join(f["field"] or "(body)" for f in fields[:10])
    return error_response(422, "ValidationFailed", f"Some fields are missing or invalid: {names}.", fields)


async def _on_engine_error(request: Request, exc: EngineError) -> JSONResponse:
    if exc.status >= 500:
        log.error("engine error %s on %s %s", exc.code, request.method, request.url.path)
    return error_response(exc.status, exc.code, exc.detail, exc.fields)


async def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No endpoint {request.url.path}; the API is documented at /docs."
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        # FastAPI's words when the JSON parser fails other than by a syntax error: in practice
        # nesting deeper than Python's recursion limit
        return error_response(
            400,
            "MalformedJson",
            "The body could not be parsed as JSON: it is nested too deeply (or otherwise unreadable); "
            "send a JSON object matching the documented shape.",
        )
    return error_response(exc.status_code, HTTP_CODES.get(exc.status_code, "HttpError"), detail)


async def _on_stale(request: Request, exc: StaleDataError) -> JSONResponse:
    return error_response(
        409, "StaleVersion", "Someone changed this at the same moment; reload and try again."
    )


async def _on_operational(request: Request, exc: OperationalError) -> JSONResponse:
    log.error("database unavailable on %s %s: %s", request.method, request.url.path, type(exc.orig).__name__)
    return JSONResponse(
        error_body("DatabaseBusy", "The database is busy or unreachable; retry in a few seconds."),
        status_code=503,
        headers={"Retry-After": "2"},
    )


async def _on_unstorable(request: Request, exc: Exception) -> JSONResponse:
    # the last line of defence: the database refused a value (a NUL character, an unpaired
    # surrogate); the transaction rolled back, so nothing was written
    log.warning("unstorable value on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return error_response(
        422,
        "UnstorableValue",
        "A value cannot be stored: text must not contain NUL (\\u0000) characters or unpaired surrogates.",
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "InternalError", "Sift failed unexpectedly; this is a bug, please report it.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(EngineError, _on_engine_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http)  # type: ignore[arg-type]
    app.add_exception_handler(StaleDataError, _on_stale)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _on_operational)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _on_unstorable)
    app.add_exception_handler(UnicodeEncodeError, _on_unstorable)
    app.add_exception_handler(Exception, _on_unexpected)
