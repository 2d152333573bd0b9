"""The HTTP application: one process serves the API (and, later, the console and app)."""

from __future__ import annotations

from fastapi import FastAPI

from guardpay import __version__
from guardpay.api import errors
from guardpay.api.routers import ledger
from guardpay.storage.db import Database


def create_app(db: Database) -> FastAPI:
    """Refuses to build on an un-migrated database (raises DatabaseNotMigrated)."""
    db.require_migrated()
    app = FastAPI(title="guardpay", version=__version__, openapi_url="/openapi.json")
    app.state.db = db
    errors.install(app)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "database": db.backend, "version": __version__}

    app.include_router(ledger.router, prefix="/v1")
    return app
