"""`guardpay serve`: run the HTTP API."""

from __future__ import annotations

import typer
import uvicorn

from guardpay.api.app import create_app
from guardpay.cli.context import state
from guardpay.services.webhooks_delivery import HttpxWebhookClient


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port."),
) -> None:
    """Serve the REST API (refuses an un-migrated database)."""
    app = create_app(state(ctx).database(), webhook_client=HttpxWebhookClient())
    # No uvicorn access log: the app logs one line per request already, without the
    # client's address or the query string (which may carry personal data).
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
