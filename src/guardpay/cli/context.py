"""What every CLI command shares: the database URL and how to print results."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import typer
from rich.console import Console

from guardpay import observability
from guardpay.config import DEFAULT_DATA_DIR
from guardpay.security.keys import Keyring
from guardpay.storage.engine.db import Database

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    database_url: str

    def database(self) -> Database:
        return Database(self.database_url)

    def keyring(self) -> Keyring:
        return Keyring.from_environment(DEFAULT_DATA_DIR)


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


def emit_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, nothing else."""
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


def configure_logging() -> None:
    """Logging as `GUARDPAY_LOG_LEVEL` / `GUARDPAY_LOG_FORMAT` say; a bad value is the
    command line's error, named."""
    try:
        observability.configure_from_environment()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
