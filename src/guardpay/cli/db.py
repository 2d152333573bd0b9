"""`guardpay db upgrade`: create or migrate the schema; `db backup`: an online copy."""

from __future__ import annotations

from pathlib import Path

import typer

from guardpay.cli.context import console, emit_json, state
from guardpay.storage.backup import backup_sqlite
from guardpay.storage.engine.migrate import upgrade as run_upgrade

app = typer.Typer(no_args_is_help=True, help="Database schema.")


@app.command()
def upgrade(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Migrate the database to the newest schema (safe to run again)."""
    db = state(ctx).database()
    before, after = run_upgrade(db)
    if json_out:
        emit_json({"backend": db.backend, "from": before, "to": after})
    elif before == after:
        console.print(f"Database ({db.backend}) already at {after}.")
    else:
        console.print(f"Database ({db.backend}) migrated from {before or 'empty'} to {after}.")


@app.command()
def backup(
    ctx: typer.Context,
    target: Path = typer.Argument(..., help="The new file to write the copy to."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Copy the embedded SQLite database online (SQLite's backup API: one consistent
    snapshot while the server keeps writing). PostgreSQL: use pg_dump."""
    size = backup_sqlite(state(ctx).database(), target)
    if json_out:
        emit_json({"backup": str(target), "bytes": size})
    else:
        console.print(f"Backed up to {target} ({size:,} bytes).")
