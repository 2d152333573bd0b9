"""`guardpay ledger ...`: check and inspect the ledger."""

from __future__ import annotations

import typer
from rich.table import Table

from guardpay.cli.context import console, emit_json, state
from guardpay.services.ledger import parts
from guardpay.services.ledger.books import verify as verify_ledger
from guardpay.storage.engine.migrate import require_migrated
from guardpay.storage.uow import read_only

app = typer.Typer(no_args_is_help=True, help="The double-entry ledger.")


@app.command()
def verify(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check every invariant; exit 0 only if all hold.

    Debits equal credits per ledger (pending and posted), every account's counters equal
    the replay of its transfers, no limit flag is broken, holds agree with their
    resolutions, and the database still forbids changing transfers."""
    db = state(ctx).database()
    require_migrated(db)
    with read_only(db) as uow:
        report = verify_ledger(uow)
    if json_out:
        emit_json(report.as_dict())
    else:
        _print(report.accounts, report.transfers, [p.as_dict() for p in report.problems])
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def merge(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Merge sealed transfer parts into larger ones, every merge that is due (four
    neighbouring parts of one tier into one of the next: 1, 4, 16, 64, 256 million
    transfers). Safe beside a running server: rows are copied a chunk per transaction,
    and the parts are swapped in one short one. Also the `ledger_merge` job."""
    db = state(ctx).database()
    require_migrated(db)
    done = parts.merge(db)
    if json_out:
        emit_json({"merged": [m.__dict__ for m in done]})
        return
    for m in done:
        console.print(f"merged {len(m.parts)} parts into [bold]{m.into}[/]: {m.rows} transfers")
    if not done:
        console.print("no merge is due")


def _print(accounts: int, transfers: int, problems: list[dict[str, object]]) -> None:
    if not problems:
        console.print(f"[green]ledger ok[/]: {accounts} accounts, {transfers} transfers")
        return
    table = Table("check", "account", "ledger", "problem")
    for p in problems:
        table.add_row(*(str(p.get(k, "")) for k in ("check", "account_id", "ledger", "message")))
    console.print(table)
    console.print(f"[red]ledger has {len(problems)} problem(s)[/]")
