"""`guardpay reconcile ...`: prove the reserve covers what we owe; match the bank statement."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from guardpay.adapters.bank import read_statement
from guardpay.cli.context import console, emit_json, state
from guardpay.services.ledger import reconcile as service
from guardpay.storage.engine.migrate import require_migrated
from guardpay.storage.uow import read_only

app = typer.Typer(no_args_is_help=True, help="Reserve and bank-statement reconciliation.")


@app.command()
def reserve(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Reserve == liabilities + platform funds + money in flight, per currency, and the
    in-flight holds equal the fundings still processing; exit 1 on any break."""
    db = state(ctx).database()
    require_migrated(db)
    with read_only(db) as uow:
        report = service.reserve(uow)
    if json_out:
        emit_json(report.as_dict())
    else:
        _print_reserve(report)
    raise typer.Exit(0 if report.ok else 1)


def _print_reserve(report: service.ReserveReport) -> None:
    columns = (
        "currency",
        "reserve",
        "liabilities",
        "platform funds",
        "in flight (posted)",
        "top-ups in flight",
        "withdrawals in flight",
        "status",
    )
    table = Table(*columns, title="reserve reconciliation (minor units)")
    for ln in report.lines:
        status = "[green]ok[/]" if not ln.breaks else "[red]" + "; ".join(ln.breaks)
        figures = (
            ln.reserve,
            ln.liabilities,
            ln.platform_funds,
            ln.in_flight_posted,
            ln.top_ups_in_flight,
            ln.withdrawals_in_flight,
        )
        table.add_row(ln.currency, *(str(v) for v in figures), status)
    console.print(table)
    console.print("[green]reserve reconciled[/]" if report.ok else "[red]reserve breaks[/]")


@app.command("statement")
def statement_cmd(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="The bank's daily statement (CSV)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Match the bank's statement with our fundings; exit 1 if anything does not match."""
    rows = read_statement(file)
    db = state(ctx).database()
    require_migrated(db)
    with read_only(db) as uow:
        report = service.statement(uow, rows)
    if json_out:
        emit_json(report.as_dict())
    else:
        _print_statement(report)
    raise typer.Exit(0 if report.ok else 1)


def _print_statement(report: service.StatementReport) -> None:
    for b in report.breaks:  # one line each: a break must never be cut off by the width
        line = f"{b.kind}  {b.bank_reference}  {b.funding_id or '-'}  {b.detail}"
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    colour = "green" if report.ok else "red"
    console.print(
        f"[{colour}]{report.rows} rows, {report.matched} matched, {len(report.breaks)} break(s)[/]"
    )
