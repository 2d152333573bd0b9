"""What every CLI command shares: the settings (the database URL among them) and how to
print results."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import typer
from rich.console import Console

from guardpay import observability
from guardpay.config import DEFAULT_DATA_DIR, Settings
from guardpay.security.keys import Keyring
from guardpay.storage.engine.db import Database

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    """Built once, in the root callback (cli/main.py): the settings read from the
    environment, `--database-url` already applied."""

    settings: Settings

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    def database(self) -> Database:
        return Database(self.database_url)

    def keyring(self) -> Keyring:
        return Keyring.from_settings(self.settings, DEFAULT_DATA_DIR)


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


def emit_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, nothing else."""
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


def configure_logging(settings: Settings) -> None:
    """Logging as `GUARDPAY_LOG_LEVEL` / `GUARDPAY_LOG_FORMAT` say (`settings`); a bad
    value is the command line's error, named."""
    try:
        observability.configure_named(settings.log_level, settings.log_format)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
