"""The only place errors become HTTP: one stable body for every failure.

{"error": {"type": "...", "code": "...", "message": "...", "param": "..." | null}}

A step-up demand (401 `step_up_required`) adds `"step_up": {"challenge_id", "methods"}`
inside "error": the challenge to answer and the methods that would do.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from guardpay.errors import AuthenticationFailed, GuardpayError, StepUpRequired


def error_body(
    type_: str, code: str, message: str, param: str | None = None, **extra: object
) -> dict[str, object]:
    """`extra` adds class-specific members, e.g. `step_up` for StepUpRequired."""
    return {"error": {"type": type_, "code": code, "message": message, "param": param, **extra}}


def _headers(exc: GuardpayError) -> dict[str, str]:
    """401 names the scheme (RFC 9110), a step-up says so (RFC 9470); 429 says when to
    come back if the error knows (a `retry_after` in seconds); a 4xx raised `retryable`
    says to come back at once (errors.py)."""
    headers: dict[str, str] = {}
    if isinstance(exc, StepUpRequired):
        headers["WWW-Authenticate"] = 'Bearer error="insufficient_user_authentication"'
    elif isinstance(exc, AuthenticationFailed):
        headers["WWW-Authenticate"] = "Bearer"
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int | float) and retry_after > 0:
        headers["Retry-After"] = str(max(1, round(retry_after)))
    elif exc.retryable:  # the idempotency middleware keeps no answer that says this
        headers["Retry-After"] = "1"
    return headers


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
        extra: dict[str, object] = {}
        if isinstance(exc, StepUpRequired):  # what the client must answer, and with what
            extra["step_up"] = {"challenge_id": exc.challenge_id, "methods": exc.methods}
        body = error_body(exc.type, exc.code, exc.message, exc.param, **extra)
        return JSONResponse(body, exc.http_status, headers=_headers(exc))

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
