"""`guardpay jobs`: list the periodic jobs and run them once (e.g. from cron).

`guardpay serve` already runs them in the background; this is for deployments that
prefer an external scheduler, and for operators who want a job now."""

from __future__ import annotations

import typer
from rich.table import Table

from guardpay.cli.context import console, emit_json, state
from guardpay.services.jobs import scheduler as jobs
from guardpay.services.platform.context import utc_now
from guardpay.storage.engine.migrate import require_migrated

app = typer.Typer(no_args_is_help=True, help=__doc__)


@app.command("list")
def list_jobs(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every registered job and its interval."""
    rows = [
        {
            "name": j.name,
            "every_seconds": int(j.every.total_seconds()),
            "description": j.description,
        }
        for j in jobs.JOBS
    ]
    if json_out:
        emit_json(rows)
        return
    table = Table("job", "every", "what it does")
    for row in rows:
        table.add_row(str(row["name"]), f"{row['every_seconds']} s", str(row["description"]))
    console.print(table)


@app.command("run")
def run(
    ctx: typer.Context,
    names: list[str] = typer.Argument(None, help="Jobs to run (default: all)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Run jobs once, each in its own transaction; prints what each did."""
    cli = state(ctx)
    db = cli.database()
    require_migrated(db)
    try:
        chosen = [jobs.by_name(n) for n in names] if names else list(jobs.JOBS)
    except KeyError as exc:
        known = ", ".join(j.name for j in jobs.JOBS)
        raise typer.BadParameter(f"unknown job {exc.args[0]!r}; known: {known}") from None
    keyring = cli.keyring()
    done = {job.name: jobs.run_job(db, keyring, utc_now, job, cli.settings) for job in chosen}
    if json_out:
        emit_json(done)
    else:
        for name, count in done.items():
            console.print(f"{name}: {count}")
