"""The only place errors become HTTP: one stable body for every failure.

{"error": {"type": "...", "code": "...", "message": "...", "param": "..." | null}}
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from guardpay.errors import GuardpayError


def error_body(type_: str, code: str, message: str, param: str | None = None) -> dict[str, object]:
    return {"error": {"type": type_, "code": code, "message": message, "param": param}}


log = structlog.get_logger(__name__)


def install(app: FastAPI) -> None:
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The body says nothing about the cause; the log keeps the type, not the message,
        # which might carry input values.
        log.error("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
        return JSONResponse(error_body("api_error", "internal_error", "internal error"), 500)

    @app.exception_handler(GuardpayError)
    async def _guardpay(_: Request, exc: GuardpayError) -> JSONResponse:
        return JSONResponse(error_body(exc.type, exc.code, exc.message, exc.param), exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        message = str(first.get("msg", "invalid request"))
        return JSONResponse(
            error_body("invalid_request_error", "parameter_invalid", message, param), 400
        )

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = "resource_missing" if exc.status_code == 404 else "http_error"
        return JSONResponse(
            error_body("invalid_request_error", code, str(exc.detail)), exc.status_code
        )
