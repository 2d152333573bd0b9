"""The HTTP application: one process serves the API (and, later, the console and app)."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import structlog
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from pydantic import SecretStr
from starlette.routing import compile_path

from guardpay import __version__
from guardpay.adapters.bank import BankCallback, BankChannel, Chaos, FakeBank
from guardpay.adapters.kyc import Kyc
from guardpay.adapters.sms import FakeSms, SmsSender
from guardpay.api import asgi, docs, errors, idempotency, metrics, web
from guardpay.api.deps import keyring_of, opens_own_unit
from guardpay.api.gate import WriteGate
from guardpay.api.idempotency import IdempotencySettings
from guardpay.api.routers import cases as cases_router
from guardpay.api.routers import escrow as escrow_router
from guardpay.api.routers import funding as funding_router
from guardpay.api.routers import ledger, me, merchants, operators, sessions, users, webhooks
from guardpay.api.routers import payments as payments_router
from guardpay.api.routers import red_packets as red_packets_router
from guardpay.api.routers import refunds as refunds_router
from guardpay.api.routers import reports as reports_router
from guardpay.api.routers import risk as risk_router
from guardpay.api.routers import wallets as wallets_router
from guardpay.api.text_guard import ControlCharacters
from guardpay.config import Settings
from guardpay.security.keys import Keyring
from guardpay.services.jobs import scheduler as jobs
from guardpay.services.payments import funding
from guardpay.services.platform.context import SYSTEM, Context, utc_now
from guardpay.services.risk import rule_versions
from guardpay.services.risk.engine import RiskEngine, engine_from_settings
from guardpay.services.webhooks.delivery import DeliveryThread, DeliveryWorker, WebhookClient
from guardpay.storage.engine.db import Database
from guardpay.storage.engine.migrate import require_migrated
from guardpay.storage.uow import unit_of_work

if TYPE_CHECKING:
    from guardpay.storage.risk import RuleSetRow

log = structlog.get_logger("guardpay.http")


class RequestLog:
    """One line per request: method, path (never the query string or body), status, ms.
    Answers under /v1 get `Cache-Control: no-store` (tokens, personal data: never cache)."""

    def __init__(self, app: asgi.ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        private = path.startswith("/v1/")

        async def send_marked(message: asgi.Message) -> None:
            if private and message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        watch = asgi.StatusWatch(send_marked)
        try:
            await self.app(scope, receive, watch)
        finally:
            elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
            log.info(
                "http_request",
                method=scope["method"],
                path=path,
                status=watch.status,
                ms=elapsed_ms,
            )


#: The bank a server gets when none is given: the fake, answering late and twice now and
#: then, and seldom failing (a demo should mostly succeed).
SERVED_FAKE_BANK = Chaos(failure=0.02, duplicate=0.3, late=0.2, contradiction=0.02)
BANK_SECRET_ENV = "GUARDPAY_BANK_CALLBACK_SECRET"  # Settings.bank_callback_secret


def _secret(given: str | None, configured: SecretStr | None) -> str | None:
    """An explicit argument, else the setting; empty is none."""
    if given:
        return given
    if configured is None:
        return None
    return configured.get_secret_value() or None


def _adapters(
    app: FastAPI,
    keyring: Keyring | None,
    kyc: Kyc | None,
    sms: SmsSender | None,
    bank: BankChannel | None,
    bank_secret: str | None,
    settings: Settings,
) -> None:
    """What the services need from outside, on app.state. The KYC, SMS and bank defaults
    are the in-process fakes (the demo); a deployment passes real adapters, and is told.
    The default fake bank answers in-process (the server pumps it, see the lifespan); a
    real one calls `POST /v1/bank/callbacks`, signed with `bank_secret` (default: the
    GUARDPAY_BANK_CALLBACK_SECRET setting; without one that endpoint answers 503). The
    default keyring comes from the settings when a request first needs it."""
    if kyc is None or sms is None or bank is None:
        log.warning("fake_adapters_in_use", kyc=kyc is None, sms=sms is None, bank=bank is None)
    app.state.keyring = keyring  # None: read on first use (deps.keyring_of)
    app.state.kyc = kyc if kyc is not None else Kyc.fakes()
    app.state.sms = sms if sms is not None else FakeSms()
    app.state.pump_bank = bank is None
    app.state.bank = bank if bank is not None else FakeBank(chaos=SERVED_FAKE_BANK)
    app.state.bank_secret = _secret(bank_secret, settings.bank_callback_secret)


def bank_delivery(app: FastAPI) -> Callable[[BankCallback], object]:
    """How the fake bank's callbacks reach the platform in-process: one unit of work each,
    as the callback endpoint would handle them."""
    state = app.state

    def deliver(callback: BankCallback) -> object:
        with unit_of_work(state.db) as uow:
            return funding.handle_callback(
                Context(uow, keyring_of(state), SYSTEM, state.clock, settings=state.settings),
                callback,
            )

    return deliver


def rule_set_keeper(db: Database) -> Callable[[RuleSetRow], None]:
    """How the risk engine keeps a rule set that decided: its own short unit of work
    (insert-or-ignore: several workers may race, the first wins)."""

    def keep(row: RuleSetRow) -> None:
        with unit_of_work(db) as uow:
            rule_versions.keep(uow, row)

    return keep


def _pump_fake_bank(app: FastAPI, stop: threading.Event) -> None:
    app.state.bank.run_in_thread(bank_delivery(app), stop)


def _background_lifespan(
    client: WebhookClient | None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """With a client, the process also delivers the outbox and runs the periodic jobs
    (`guardpay serve`); any number of processes may: the outbox leases each event to one
    of them, and every job is safe to overlap (services/jobs/scheduler.py). A default fake bank
    is pumped while the app runs."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runners: list[DeliveryThread] = []
        stop = threading.Event()
        if client is not None:
            state = app.state
            worker = DeliveryWorker(state.db, keyring_of(state), client, clock=state.clock)
            scheduler = jobs.Scheduler(state.db, keyring_of(state), state.clock, state.settings)
            runners = [DeliveryThread(worker), DeliveryThread(scheduler, 5.0, "jobs")]
            for runner in runners:
                runner.start()
        if app.state.pump_bank:
            _pump_fake_bank(app, stop)
        frozen = app.state.freeze_heap
        if frozen:
            _freeze_heap()
        yield
        if frozen:
            gc.unfreeze()  # what the app built may be collected again once it has stopped
        stop.set()
        for runner in runners:
            runner.stop()
        batcher = getattr(app.state, "payment_batcher", None)
        if batcher is not None:  # answer what is queued before the process goes
            batcher.close()

    return lifespan


def _freeze_heap() -> None:
    """Everything built before the first request (modules, the app, its routes, schemas
    and tables: ~250,000 objects) lives as long as the server, so it leaves the cyclic
    collector's sight (`gc.freeze`). Otherwise each full pass walks it all: measured in
    process, ~210 ms a pass, a stall of every request in flight, and the collector took
    0.27 ms a payment; frozen, 15 ms and 0.10 ms."""
    gc.collect()
    gc.freeze()


#: Routes are matched in this order, one by one (route matching was 18% of the CPU of a
#: transfer refused before any work): the payment routes, the hot path, come first. No
#: route matches a path of a later router's (tests/api/test_app.py checks).
ROUTERS = (
    payments_router.router,
    ledger.router,
    users.router,
    sessions.router,
    me.router,
    operators.router,
    merchants.router,
    webhooks.router,
    funding_router.router,
    refunds_router.router,
    red_packets_router.router,
    escrow_router.router,
    risk_router.router,
    cases_router.router,
    reports_router.router,
    wallets_router.router,
)


#: FastAPI's own OpenTelemetry stays off. guardpay ships no OpenTelemetry SDK, so it could
#: never export anything, yet FastAPI asks on every request whether a provider is
#: configured (py-spy: a tenth of the event loop's samples in a payment). Metrics are
#: served on /metrics (api/metrics.py).
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(
    db: Database,
    *,
    settings: Settings | None = None,
    keyring: Keyring | None = None,
    kyc: Kyc | None = None,
    sms: SmsSender | None = None,
    clock: Callable[[], datetime] | None = None,
    idempotency_settings: IdempotencySettings | None = None,
    webhook_client: WebhookClient | None = None,
    risk: RiskEngine | None = None,
    bank: BankChannel | None = None,
    bank_secret: str | None = None,
    metrics_token: str | None = None,
    freeze_heap: bool = False,
) -> FastAPI:
    """Refuses to build on an un-migrated database (raises DatabaseNotMigrated).
    `settings` (config.py) default to `Settings.from_environment()`, read once, here, and
    kept on `app.state.settings`: every request's context carries them. The other
    arguments, given, win over the settings: the keyring defaults to
    `settings.master_keys` (or the development key file); `clock` is for tests that move
    time; `webhook_client` starts the webhook delivery thread; `risk` is the app's risk
    engine (default: from the settings, services/risk/engine.py); `bank` and `bank_secret`
    are the bank channel and its callback secret (`_adapters`); `idempotency_settings`
    default to `settings.idempotency_required`; `metrics_token` is the bearer token
    /metrics asks for (default: GUARDPAY_METRICS_TOKEN; without one /metrics is refused,
    api/metrics.py); `freeze_heap` (`guardpay serve`) takes what was built before the
    first request out of the cyclic collector's sight while the app runs (`_freeze_heap`)."""
    require_migrated(db)
    app = FastAPI(
        title="guardpay",
        version=__version__,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,  # served offline: api/docs.py
        lifespan=_background_lifespan(webhook_client),
        telemetry=NO_TELEMETRY,
    )
    settings = settings if settings is not None else Settings.from_environment()
    app.state.settings = settings
    app.state.freeze_heap = freeze_heap
    app.state.db = db
    app.state.clock = clock or utc_now
    app.state.risk = risk if risk is not None else engine_from_settings(settings)
    app.state.risk.keep_rule_set = rule_set_keeper(db)
    _adapters(app, keyring, kyc, sms, bank, bank_secret, settings)
    errors.install(app, web.refusal_page)
    # Middleware added first runs innermost: metrics see replays, idempotency sees errors;
    # the write gate admits a request before its idempotency claim (a write) is made, and a
    # request holding control characters is refused before either (api/text_guard.py).
    idempotency.install(app, idempotency_settings or IdempotencySettings.from_settings(settings))
    app.add_middleware(WriteGate, backend=db.backend)
    app.add_middleware(ControlCharacters)
    app.add_middleware(RequestLog)
    metrics.install(app, db, app.state.risk, _secret(metrics_token, settings.metrics_token))

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        # async: on the event loop, never in the worker threads, so a health check
        # answers while every thread waits on a database lock
        return {"status": "ok", "database": db.backend, "version": __version__}

    for router in ROUTERS:
        app.include_router(router, prefix="/v1")
    docs.install(app)
    web.install(app)
    setattr(
        app.state,
        idempotency.IN_ENDPOINT,
        tuple(
            compile_path(f"/v1{route.path}")[0]
            for router in ROUTERS
            for route in router.routes
            if isinstance(route, APIRoute)
            and "POST" in (route.methods or ())
            and opens_own_unit(route.dependant)
        ),
    )
    metrics.known_routes(
        app,
        ["/healthz", "/metrics", f"{docs.ASSETS}/{{name}}"]
        + [
            f"/v1{route.path}"
            for router in ROUTERS
            for route in router.routes
            if isinstance(route, APIRoute)
        ],
    )
    return app
