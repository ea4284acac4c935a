"""Every error leaves the API as JSON: {"error": {"code", "message", "detail"}}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.http.schemas import ErrorResponse
from indexer.collection import CollectionBusy
from retrieval.index.vector_index import IndexFileError

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid_request",
    503: "not_ready",
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code or _CODES.get(status, "error")


def error_json(status: int, message: str, code: str | None = None, detail=None, headers=None) -> JSONResponse:
    body = {"error": {"code": code or _CODES.get(status, "error"), "message": message, "detail": detail}}
    return JSONResponse(status_code=status, content=body, headers=headers)


# Documented on every route so the OpenAPI spec says what error bodies look like.
ERROR_RESPONSES = {status: {"model": ErrorResponse} for status in (400, 401, 403, 404, 409, 413, 415, 422, 503)}


def _plain(errors: list) -> list[dict]:
    out = []
    for error in errors:
        out.append({"loc": [str(p) for p in error.get("loc", ())], "msg": str(error.get("msg", "")),
                    "type": str(error.get("type", ""))})
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError):
        return error_json(exc.status, exc.message, exc.code)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException):
        return error_json(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))  # e.g. Allow

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError):
        detail = _plain(exc.errors())
        first = detail[0] if detail else {"loc": [], "msg": "invalid request"}
        where = ".".join(p for p in first["loc"] if p not in ("body", "query", "path"))
        message = f"{where}: {first['msg']}" if where else first["msg"]
        return error_json(422, message, detail=detail)

    @app.exception_handler(ValidationError)
    async def _invalid_inside(_request: Request, exc: ValidationError):  # a model built in a handler
        detail = _plain(exc.errors())
        first = detail[0] if detail else {"loc": [], "msg": "invalid request"}
        where = ".".join(first["loc"])
        return error_json(422, f"{where}: {first['msg']}" if where else first["msg"], detail=detail)

    @app.exception_handler(CollectionBusy)
    async def _busy(_request: Request, exc: CollectionBusy):
        return error_json(409, str(exc), code="conflict")

    @app.exception_handler(IndexFileError)
    async def _broken_index(_request: Request, exc: IndexFileError):
        return error_json(503, str(exc), code="index_unavailable")

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception):  # a bug, but still a JSON answer
        log.exception("unhandled error")
        return error_json(500, f"internal error: {type(exc).__name__}", code="internal")
