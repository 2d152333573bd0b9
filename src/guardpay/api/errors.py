"""The only place errors become HTTP: one stable body for every failure.

{"error": {"type": "...", "code": "...", "message": "...", "param": "..." | null}}

A step-up demand (401 `step_up_required`) adds `"step_up": {"challenge_id", "methods"}`
inside "error": the challenge to answer and the methods that would do.

The OpenAPI document says so too (`document`): every operation under /v1 lists the
statuses any request may get whatever the operation does (400 for a malformed request,
401 and 403 where a session is needed, 503 when the database does not answer), each with
this body's schema; FastAPI's 422, which this API never answers (a malformed request is
400 `parameter_invalid`), is left out.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException

from guardpay.errors import (
    AuthenticationFailed,
    Conflict,
    GuardpayError,
    InvalidRequest,
    LedgerRejected,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
    StepUpRequired,
    StorageError,
)
from guardpay.ml.artifacts import ModelUnavailable


def error_body(
    type_: str, code: str, message: str, param: str | None = None, **extra: object
) -> dict[str, object]:
    """`extra` adds class-specific members, e.g. `step_up` for StepUpRequired."""
    return {"error": {"type": type_, "code": code, "message": message, "param": param, **extra}}


def www_authenticate(code: str) -> str:
    """A 401's `WWW-Authenticate`, by its error code: it names the scheme (RFC 9110), and
    a step-up says so (RFC 9470)."""
    if code == StepUpRequired.code:
        return 'Bearer error="insufficient_user_authentication"'
    return "Bearer"


#: The HTTP status of each kind of error: an error takes its nearest mapped ancestor's.
#: Nowhere else does an error meet HTTP.
STATUS: dict[type[GuardpayError], int] = {
    GuardpayError: 500,
    InvalidRequest: 400,
    NotFound: 404,
    Conflict: 409,
    AuthenticationFailed: 401,
    PermissionDenied: 403,
    RateLimited: 429,
    ServiceUnavailable: 503,
    StorageError: 503,
    ModelUnavailable: 503,
    LedgerRejected: 409,
}


def status_of(exc: GuardpayError) -> int:
    for cls in type(exc).__mro__:
        found = STATUS.get(cls)
        if found is not None:
            return found
    return 500


def _headers(exc: GuardpayError) -> dict[str, str]:
    """401 says `WWW-Authenticate`; 429 says when to come back if the error knows (a
    `retry_after` in seconds); a 4xx raised `retryable` says to come back at once
    (errors.py)."""
    headers: dict[str, str] = {}
    if isinstance(exc, AuthenticationFailed):
        headers["WWW-Authenticate"] = www_authenticate(exc.code)
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int | float) and retry_after > 0:
        headers["Retry-After"] = str(max(1, round(retry_after)))
    elif exc.retryable:  # the idempotency middleware keeps no answer that says this
        headers["Retry-After"] = "1"
    return headers


log = structlog.get_logger(__name__)


class ErrorDetail(BaseModel):
    type: str
    code: str
    message: str
    param: str | None


class StepUp(BaseModel):
    challenge_id: str | None
    methods: list[str]


class StepUpErrorDetail(ErrorDetail):
    """`step_up` is there exactly when `code` is `step_up_required`."""

    model_config = {
        "json_schema_extra": {
            "if": {"properties": {"code": {"const": StepUpRequired.code}}},
            "then": {"required": ["step_up"]},
        }
    }

    step_up: StepUp | None = Field(
        None,
        description="With `step_up_required`: the challenge to answer, and the methods "
        "that would do (pass it, then repeat the request)",
    )


class ErrorOut(BaseModel):
    """The one error shape."""

    error: ErrorDetail


class StepUpErrorOut(BaseModel):
    """A 401: the one error shape; `step_up_required` adds `error.step_up`."""

    error: StepUpErrorDetail


DESCRIPTIONS = {
    400: "Invalid request: a parameter, header or the body",
    401: "Not authenticated, the credentials are wrong, or a step-up is needed "
    "(`step_up_required`, with `error.step_up`)",
    403: "Not permitted (role, four-eyes, lock)",
    404: "No such resource",
    409: "Conflict with existing data",
    429: "Too many attempts",
    503: "The database or an outside service did not answer; retry",
}
#: the model each status's body is described by
MODELS: dict[int, type[BaseModel]] = {401: StepUpErrorOut}
_HEADERS = {
    401: {
        "WWW-Authenticate": {
            "description": "`Bearer` (RFC 9110; a step-up says "
            '`error="insufficient_user_authentication"`, RFC 9470)',
            "required": True,
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait, when known",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}


def model_of(status: int) -> type[BaseModel]:
    return MODELS.get(status, ErrorOut)


def response_of(status: int) -> dict[str, Any]:
    """The OpenAPI response object of an error status, as `document` adds it."""
    name = model_of(status).__name__
    response: dict[str, Any] = {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }
    if status in _HEADERS:
        response["headers"] = copy.deepcopy(_HEADERS[status])
    return response


#: what any operation under /v1 may answer: a malformed request (or a middleware's
#: refusal of one), the database not answering; and, where a session is needed, no
#: session or the wrong kind
EVERY = (400, 503)
SIGNED_IN = (401, 403)


def amend_openapi(app: FastAPI, amend: Callable[[dict[str, Any]], None]) -> None:
    """Have `amend` edit the app's OpenAPI document once it is generated (and cached)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            amend(generate())
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield path, method, operation


def add_responses(spec: dict[str, Any], operation: dict[str, Any], statuses: Iterable[int]) -> None:
    """Document these error statuses on `operation` where it does not already (with this
    body's schema in the document's components)."""
    responses = operation["responses"]
    for status in statuses:
        responses.setdefault(str(status), response_of(status))
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    if "StepUpErrorOut" not in schemas or "ErrorOut" not in schemas:
        _, found = models_json_schema(
            [(ErrorOut, "serialization"), (StepUpErrorOut, "serialization")],
            ref_template="#/components/schemas/{model}",
        )
        for name, schema in found.get("$defs", {}).items():
            schemas.setdefault(name, schema)


def _never_null(schema: dict[str, Any]) -> None:
    """An optional parameter is one that may be left out, never one sent as null: FastAPI
    writes `str | None = None` as "string or null", and the null half goes."""
    kinds = schema.get("anyOf")
    if not isinstance(kinds, list) or {"type": "null"} not in kinds or len(kinds) != 2:
        return
    [kind] = [k for k in kinds if k != {"type": "null"}]
    del schema["anyOf"]
    schema.update(kind)


def document(spec: dict[str, Any]) -> None:
    """The error statuses every /v1 operation may answer (module docstring); no 422."""
    for path, _, operation in _operations(spec):
        responses = operation["responses"]
        responses.pop("422", None)
        if not path.startswith("/v1/"):
            continue
        add_responses(spec, operation, EVERY + (SIGNED_IN if operation.get("security") else ()))
        for status, response in responses.items():  # a router's own errors(...) too
            if status in ("401", "429") and "headers" not in response:
                response["headers"] = copy.deepcopy(_HEADERS[int(status)])
        for parameter in operation.get("parameters", ()):
            _never_null(parameter.get("schema", {}))
    schemas = spec.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


#: renders a refusal as a page for a request to the console or the wallet (api/web), or
#: None for an API request: (request, status, code, message)
PageRenderer = Callable[[Request, int, str, str], Response | None]


def install(app: FastAPI, page: PageRenderer | None = None) -> None:
    """The handlers; `page`, given, answers the screens' refusals as pages, with the
    same status and code as the API's body."""
    amend_openapi(app, document)

    def shown(request: Request, status: int, code: str, message: str) -> Response | None:
        return None if page is None else page(request, status, code, message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The body says nothing about the cause; the log keeps the type, not the message,
        # which might carry input values.
        log.error("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
        return JSONResponse(error_body("api_error", "internal_error", "internal error"), 500)

    @app.exception_handler(GuardpayError)
    async def _guardpay(request: Request, exc: GuardpayError) -> Response:
        as_page = shown(request, status_of(exc), exc.code, exc.message)
        if as_page is not None:
            return as_page
        extra: dict[str, object] = {}
        if isinstance(exc, StepUpRequired):  # what the client must answer, and with what
            extra["step_up"] = {"challenge_id": exc.challenge_id, "methods": exc.methods}
        body = error_body(exc.type, exc.code, exc.message, exc.param, **extra)
        return JSONResponse(body, status_of(exc), headers=_headers(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        message = str(first.get("msg", "invalid request"))
        as_page = shown(request, 400, "parameter_invalid", f"{param}: {message}")
        if as_page is not None:
            return as_page
        return JSONResponse(
            error_body("invalid_request_error", "parameter_invalid", message, param), 400
        )

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = "resource_missing" if exc.status_code == 404 else "http_error"
        return JSONResponse(
            error_body("invalid_request_error", code, str(exc.detail)), exc.status_code
        )
