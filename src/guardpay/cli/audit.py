"""`guardpay audit verify`: prove the audit log was not edited, cut or reordered."""

from __future__ import annotations

from pathlib import Path

import typer

from guardpay.adapters.archive import DirectoryStore
from guardpay.cli.context import console, emit_json, state
from guardpay.services.platform.audit import verify as verify_chain
from guardpay.storage.engine.migrate import require_migrated
from guardpay.storage.uow import read_only

app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")


@app.command()
def verify(
    ctx: typer.Context,
    archive: Path | None = typer.Option(
        None, "--archive", help="Also read the archived entries' files in this directory."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Walk the chain; exit 1 and name the first bad entry if any was edited, deleted,
    inserted or reordered. Keep the printed head hash somewhere else to anchor it.
    Entries archived to files (`guardpay archive run`) are checked by their registry,
    and with --archive by reading their files too."""
    db = state(ctx).database()
    require_migrated(db)
    with read_only(db) as uow:
        report = verify_chain(uow, None if archive is None else DirectoryStore(archive))
    if json_out:
        emit_json(report.as_dict())
    elif report.ok:
        console.print(f"[green]audit log ok[/]: {report.entries} entries, head {report.head_hash}")
    else:
        console.print(f"[red]audit log broken at entry {report.first_bad_seq}[/]: {report.problem}")
    raise typer.Exit(0 if report.ok else 1)
