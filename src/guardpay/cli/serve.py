"""`guardpay serve`: run the HTTP API, in one process or several workers.

Several workers (`--workers N`) share one listening socket (uvicorn starts them). Each
builds its own app (`worker_app`), with its own webhook delivery thread and job
scheduler: the outbox leases each event to one process and every job is safe to overlap.
On SQLite their writers queue on the database's writer lock (storage/engine/writer_lock.py).
Risk control's features must be shared, or each worker would see only its part of a
user's activity: so several workers need `GUARDPAY_REDIS_URL` (services/risk/engine.py).

Text messages (the login step-up codes) go through the backend `GUARDPAY_SMS_BACKEND`
names (adapters/sms.py): `console` (development: printed to stdout, not sent; the default,
with a warning at start), `file:PATH` (one JSON line per message) or `twilio` (with
`GUARDPAY_TWILIO_ACCOUNT_SID`, `GUARDPAY_TWILIO_AUTH_TOKEN`, `GUARDPAY_TWILIO_FROM`).

Every setting comes from the CLI's `Settings` (config.py), read once in its root
callback. The one exception is the hand-over to worker processes: uvicorn starts them
and imports `worker_app` by name, so the parent writes the database URL and the log
choice (which command line options may have changed) into its own environment, which
the workers inherit, and each worker reads its settings back with
`Settings.from_environment()`.
"""

from __future__ import annotations

import os

import structlog
import typer
import uvicorn
from fastapi import FastAPI
from rich.markup import escape

from guardpay import observability
from guardpay.adapters.bank import BankChannel, BankConfigError, bank_from_settings
from guardpay.adapters.sms import BACKEND_ENV, SmsConfigError, SmsSender, sms_from_settings
from guardpay.api.app import create_app
from guardpay.cli.context import configure_logging, err_console, state
from guardpay.config import DATABASE_URL_ENV, Settings, SettingsError
from guardpay.services.risk.engine import REDIS_ENV
from guardpay.services.webhooks.delivery import HttpxWebhookClient
from guardpay.services.webhooks.targets import WebhookSettings
from guardpay.storage.engine.db import Database
from guardpay.storage.engine.migrate import require_migrated

#: how the parent hands the database to the workers it starts (the CLI's own variable)
DATABASE_ENV = DATABASE_URL_ENV


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port."),
    workers: int = typer.Option(1, min=1, max=32, help="Worker processes (>1 needs Redis)."),
    log_level: str | None = typer.Option(
        None,
        show_default=False,
        help="debug, info, warning or error; info logs a line per request and per audited "
        f"action (default: {observability.LOG_LEVEL_ENV}, else warning).",
    ),
    log_format: str | None = typer.Option(
        None,
        show_default=False,
        help=f"console or json (default: {observability.LOG_FORMAT_ENV}, else console).",
    ),
) -> None:
    """Serve the REST API (refuses an un-migrated database). SMS (login step-up codes) go
    through GUARDPAY_SMS_BACKEND: console (the default: printed to stdout, for development),
    file:PATH (a JSON line per message) or twilio (GUARDPAY_TWILIO_ACCOUNT_SID,
    GUARDPAY_TWILIO_AUTH_TOKEN, GUARDPAY_TWILIO_FROM, optional GUARDPAY_TWILIO_BASE_URL).
    Top-ups and withdrawals go to the bank adapter GUARDPAY_BANK_ADAPTER names
    (package.module:factory); without one, to an in-process fake bank."""
    cli = state(ctx)
    settings = cli.settings = _logging(cli.settings, log_level, log_format)
    # a bad setting is refused before anything starts
    sms, bank = _sms(settings), _bank(settings)
    # No uvicorn access log: the app logs one line per request already, without the
    # client's address or the query string (which may carry personal data).
    if workers == 1:
        app = create_app(
            cli.database(),
            settings=settings,
            sms=sms,
            bank=bank,
            webhook_client=_webhook_client(settings),
            freeze_heap=True,
        )
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
        return
    if not settings.redis_url:
        err_console.print(
            f"[bold red]error[/]: {workers} workers must share risk control's "
            f"features: set {REDIS_ENV} (e.g. redis://127.0.0.1:6379/0)"
        )
        raise typer.Exit(2)
    db = cli.database()
    require_migrated(db)  # refuse before starting any worker
    db.dispose()
    os.environ[DATABASE_ENV] = cli.database_url  # the hand-over: written, never read here
    uvicorn.run(
        "guardpay.cli.serve:worker_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
    )


def _logging(settings: Settings, level: str | None, form: str | None) -> Settings:
    """The chosen logging (the options over the settings), here and, through the
    environment (the hand-over), in every worker; the settings with the choice."""
    changes = {name: value for name, value in (("log_level", level), ("log_format", form)) if value}
    try:
        settings = settings.replace(**changes) if changes else settings
    except SettingsError as exc:
        raise typer.BadParameter(str(exc)) from None
    if level is not None:
        os.environ[observability.LOG_LEVEL_ENV] = settings.log_level
    if form is not None:
        os.environ[observability.LOG_FORMAT_ENV] = settings.log_format
    configure_logging(settings)
    return settings


def _webhook_client(settings: Settings) -> HttpxWebhookClient:
    return HttpxWebhookClient(settings=WebhookSettings.from_settings(settings))


def _sms(settings: Settings) -> SmsSender:
    """The configured SMS backend; without one, the console's, said in a warning line."""
    try:
        sms = sms_from_settings(settings)
    except SmsConfigError as exc:
        err_console.print(f"[bold red]error[/]: {escape(str(exc))}")
        raise typer.Exit(2) from None
    if not settings.sms_backend:
        structlog.get_logger("guardpay.serve").warning(
            "sms_console_backend",
            detail="SMS codes are printed to stdout, not sent (development only)",
            hint=f"set {BACKEND_ENV} to file:PATH or twilio",
        )
    return sms


def _bank(settings: Settings) -> BankChannel | None:
    """The configured bank adapter (GUARDPAY_BANK_ADAPTER), or None: the fake bank."""
    try:
        return bank_from_settings(settings)
    except BankConfigError as exc:
        err_console.print(f"[bold red]error[/]: {escape(str(exc))}")
        raise typer.Exit(2) from None


def worker_app() -> FastAPI:
    """The app one worker process builds (uvicorn imports this by name): its settings
    are the environment the parent handed over, read once, here; the parent has already
    checked them and warned about the SMS backend."""
    settings = Settings.from_environment()
    observability.configure_named(settings.log_level, settings.log_format)
    return create_app(
        Database(settings.database_url),
        settings=settings,
        sms=sms_from_settings(settings),
        bank=bank_from_settings(settings),
        webhook_client=_webhook_client(settings),
        freeze_heap=True,
    )
