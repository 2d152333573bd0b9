"""`guardpay archive run`: move old audit entries and delivered webhook events out of the
live database into archive files; `guardpay archive verify`: check the files are all
there, unchanged, and that the audit chain runs through them into the live log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import typer

from guardpay.adapters.archive import DirectoryStore
from guardpay.cli.context import console, emit_json, state
from guardpay.clock import utc_now
from guardpay.services.platform.archive import (
    file_by_file,
    register_audit_file,
    write_audit_file,
)
from guardpay.services.platform.audit import verify as verify_chain
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.services.webhooks.archive import (
    register_outbox_file,
    verify_outbox_archives,
    write_outbox_file,
)
from guardpay.storage.engine.migrate import require_migrated
from guardpay.storage.uow import read_only

app = typer.Typer(no_args_is_help=True, help="Archives of old records, kept as files.")


@app.command()
def run(
    ctx: typer.Context,
    to: Path = typer.Option(..., "--to", help="The archive directory (made if missing)."),
    audit_days: int = typer.Option(
        400, "--audit-days", min=1, help="Keep audit entries of the last N days live."
    ),
    webhook_days: int = typer.Option(
        30, "--webhook-days", min=1, help="Keep delivered webhook events of the last N days."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Archive what is older than the days kept: a file at a time, each written, read
    back and registered before its records leave the database (safe to rerun, safe to
    stop). Run it daily, from cron or a scheduler."""
    cli = state(ctx)
    db, keyring, store = cli.database(), cli.keyring(), DirectoryStore(to)
    require_migrated(db)
    now = utc_now()

    audit = file_by_file(
        db,
        lambda uow: write_audit_file(uow, store, now - timedelta(days=audit_days)),
        lambda uow, written: register_audit_file(Context(uow, keyring, SYSTEM), written),
    )
    events = file_by_file(
        db,
        lambda uow: write_outbox_file(uow, store, now - timedelta(days=webhook_days)),
        lambda uow, written: register_outbox_file(Context(uow, keyring, SYSTEM), written),
    )
    result = {
        "audit_files": [a.name for a in audit],
        "audit_entries": sum(a.last_seq - a.first_seq + 1 for a in audit),
        "webhook_files": [e.name for e in events],
        "webhook_events": sum(e.events for e in events),
    }
    if json_out:
        emit_json(result)
    else:
        console.print(
            f"archived {result['audit_entries']} audit entries in {len(audit)} files and "
            f"{result['webhook_events']} webhook events in {len(events)} files to {to}"
        )


@app.command()
def verify(
    ctx: typer.Context,
    source: Path = typer.Option(..., "--from", help="The archive directory."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Read every registered archive file back: exit 1 and say what is wrong if one is
    missing or changed, or the audit chain does not run through the files into the live
    log."""
    db = state(ctx).database()
    require_migrated(db)
    store = DirectoryStore(source)
    with read_only(db) as uow:
        audit = verify_chain(uow, store)
        webhooks = verify_outbox_archives(uow, store)
    problems = ([audit.problem] if audit.problem else []) + webhooks
    if json_out:
        emit_json({"ok": not problems, "audit": audit.as_dict(), "webhook_problems": webhooks})
    elif problems:
        for problem in problems:
            console.print(f"[red]{problem}[/]")
    else:
        console.print(
            f"[green]archives ok[/]: {audit.archives_read} audit files, the chain through "
            f"entry {audit.head_seq} verified ({audit.entries} entries)"
        )
    raise typer.Exit(1 if problems else 0)
