"""The HTTP application: one process serves the API (and, later, the console and app)."""

from __future__ import annotations

import time

import structlog
from fastapi import FastAPI, Request, Response
from starlette.middleware.base import RequestResponseEndpoint

from guardpay import __version__
from guardpay.api import errors
from guardpay.api.routers import ledger
from guardpay.storage.db import Database

log = structlog.get_logger("guardpay.http")


def _log_requests(app: FastAPI) -> None:
    """One line per request: method, path (never the query string or body), status, ms."""

    @app.middleware("http")
    async def _log(request: Request, call_next: RequestResponseEndpoint) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        log.info("http_request", method=request.method, path=request.url.path,
                 status=response.status_code, ms=elapsed_ms)  # fmt: skip
        return response


def create_app(db: Database) -> FastAPI:
    """Refuses to build on an un-migrated database (raises DatabaseNotMigrated)."""
    db.require_migrated()
    app = FastAPI(title="guardpay", version=__version__, openapi_url="/openapi.json")
    app.state.db = db
    errors.install(app)
    _log_requests(app)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "database": db.backend, "version": __version__}

    app.include_router(ledger.router, prefix="/v1")
    return app
