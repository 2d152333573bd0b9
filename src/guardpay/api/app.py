"""The HTTP application: one process serves the API (and, later, the console and app)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime

import structlog
from fastapi import FastAPI, Request, Response
from starlette.middleware.base import RequestResponseEndpoint

from guardpay import __version__
from guardpay.adapters.kyc import Kyc
from guardpay.adapters.sms import FakeSms, SmsSender
from guardpay.api import errors, idempotency, metrics
from guardpay.api.deps import keyring_of
from guardpay.api.idempotency import IdempotencySettings
from guardpay.api.routers import escrow as escrow_router
from guardpay.api.routers import ledger, me, merchants, operators, sessions, users, webhooks
from guardpay.api.routers import payments as payments_router
from guardpay.api.routers import red_packets as red_packets_router
from guardpay.api.routers import refunds as refunds_router
from guardpay.api.routers import risk as risk_router
from guardpay.security.keys import Keyring
from guardpay.services import jobs
from guardpay.services.context import utc_now
from guardpay.services.risk import RiskEngine, engine_from_environment
from guardpay.services.webhooks_delivery import DeliveryThread, DeliveryWorker, WebhookClient
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
        if request.url.path.startswith("/v1/"):  # tokens, personal data: never cache
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _adapters(app: FastAPI, keyring: Keyring | None, kyc: Kyc | None,
              sms: SmsSender | None) -> None:  # fmt: skip
    """What the services need from outside, on app.state. The KYC and SMS defaults are
    the in-process fakes (the demo); a deployment passes real adapters, and is told. The
    default keyring comes from the environment when a request first needs it."""
    if kyc is None or sms is None:
        log.warning("fake_adapters_in_use", kyc=kyc is None, sms=sms is None)
    app.state.keyring = keyring  # None: read on first use (deps.keyring_of)
    app.state.kyc = kyc if kyc is not None else Kyc.fakes()
    app.state.sms = sms if sms is not None else FakeSms()


def _webhook_lifespan(
    client: WebhookClient | None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """With a client, the process also delivers the outbox and runs the periodic jobs
    (`guardpay serve`); any number of processes may: the outbox leases each event to one
    of them, and every job is safe to overlap (services/jobs.py)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runners: list[DeliveryThread] = []
        if client is not None:
            state = app.state
            worker = DeliveryWorker(state.db, keyring_of(state), client, clock=state.clock)
            scheduler = jobs.Scheduler(state.db, keyring_of(state), state.clock)
            runners = [DeliveryThread(worker), DeliveryThread(scheduler, 5.0, "jobs")]
            for runner in runners:
                runner.start()
        yield
        for runner in runners:
            runner.stop()

    return lifespan


def create_app(
    db: Database,
    *,
    keyring: Keyring | None = None,
    kyc: Kyc | None = None,
    sms: SmsSender | None = None,
    clock: Callable[[], datetime] | None = None,
    idempotency_settings: IdempotencySettings | None = None,
    webhook_client: WebhookClient | None = None,
    risk: RiskEngine | None = None,
) -> FastAPI:
    """Refuses to build on an un-migrated database (raises DatabaseNotMigrated). The
    keyring defaults to `GUARDPAY_MASTER_KEYS` (or the development key file); `clock`
    is for tests that move time; `webhook_client` starts the webhook delivery thread;
    `risk` is the app's risk engine (default: from the environment, services/risk.py)."""
    db.require_migrated()
    app = FastAPI(title="guardpay", version=__version__, openapi_url="/openapi.json",
                  lifespan=_webhook_lifespan(webhook_client))  # fmt: skip
    app.state.db = db
    app.state.clock = clock or utc_now
    app.state.risk = risk if risk is not None else engine_from_environment()
    _adapters(app, keyring, kyc, sms)
    errors.install(app)
    # Middleware added first runs innermost: metrics see replays, idempotency sees errors.
    idempotency.install(app, idempotency_settings or IdempotencySettings.from_environment())
    _log_requests(app)
    metrics.install(app, db, app.state.risk)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "database": db.backend, "version": __version__}

    app.include_router(ledger.router, prefix="/v1")
    for router in (users.router, sessions.router, me.router, operators.router, merchants.router):
        app.include_router(router, prefix="/v1")
    app.include_router(webhooks.router, prefix="/v1")
    app.include_router(payments_router.router, prefix="/v1")
    app.include_router(refunds_router.router, prefix="/v1")
    app.include_router(red_packets_router.router, prefix="/v1")
    app.include_router(escrow_router.router, prefix="/v1")
    app.include_router(risk_router.router, prefix="/v1")
    return app
