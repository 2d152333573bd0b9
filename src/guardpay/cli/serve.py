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
"""

from __future__ import annotations

import os

import structlog
import typer
import uvicorn
from fastapi import FastAPI
from rich.markup import escape

from guardpay import observability
from guardpay.adapters.bank import BankChannel, BankConfigError, bank_from_environment
from guardpay.adapters.sms import BACKEND_ENV, SmsConfigError, SmsSender, sms_from_environment
from guardpay.api.app import create_app
from guardpay.cli.context import configure_logging, err_console, state
from guardpay.services.risk.engine import REDIS_ENV
from guardpay.services.webhooks.delivery import HttpxWebhookClient
from guardpay.storage.engine.db import Database

#: how the parent hands the database to the workers it starts (the CLI's own variable)
DATABASE_ENV = "GUARDPAY_DATABASE_URL"


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
    _logging(log_level, log_format)
    sms, bank = _sms(), _bank()  # a bad setting is refused before anything starts
    # No uvicorn access log: the app logs one line per request already, without the
    # client's address or the query string (which may carry personal data).
    if workers == 1:
        app = create_app(
            state(ctx).database(), sms=sms, bank=bank, webhook_client=HttpxWebhookClient()
        )
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
        return
    if not os.environ.get(REDIS_ENV):
        err_console.print(
            f"[bold red]error[/]: {workers} workers must share risk control's "
            f"features: set {REDIS_ENV} (e.g. redis://127.0.0.1:6379/0)"
        )
        raise typer.Exit(2)
    db = state(ctx).database()
    db.require_migrated()  # refuse before starting any worker
    db.dispose()
    os.environ[DATABASE_ENV] = state(ctx).database_url
    uvicorn.run(
        "guardpay.cli.serve:worker_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
    )


def _logging(level: str | None, form: str | None) -> None:
    """The chosen logging, here and (through the environment) in every worker."""
    if level is not None:
        os.environ[observability.LOG_LEVEL_ENV] = level
    if form is not None:
        os.environ[observability.LOG_FORMAT_ENV] = form
    configure_logging()


def _sms() -> SmsSender:
    """The configured SMS backend; without one, the console's, said in a warning line."""
    try:
        sms = sms_from_environment(os.environ)
    except SmsConfigError as exc:
        err_console.print(f"[bold red]error[/]: {escape(str(exc))}")
        raise typer.Exit(2) from None
    if not os.environ.get(BACKEND_ENV, "").strip():
        structlog.get_logger("guardpay.serve").warning(
            "sms_console_backend",
            detail="SMS codes are printed to stdout, not sent (development only)",
            hint=f"set {BACKEND_ENV} to file:PATH or twilio",
        )
    return sms


def _bank() -> BankChannel | None:
    """The configured bank adapter (GUARDPAY_BANK_ADAPTER), or None: the fake bank."""
    try:
        return bank_from_environment(os.environ)
    except BankConfigError as exc:
        err_console.print(f"[bold red]error[/]: {escape(str(exc))}")
        raise typer.Exit(2) from None


def worker_app() -> FastAPI:
    """The app one worker process builds (uvicorn imports this by name); the parent has
    already checked the SMS setting and warned about it."""
    observability.configure_from_environment()
    return create_app(
        Database(os.environ[DATABASE_ENV]),
        sms=sms_from_environment(os.environ),
        bank=bank_from_environment(os.environ),
        webhook_client=HttpxWebhookClient(),
    )
