"""`guardpay aml scan`: every AML scenario over a transaction history from a CSV file,
the flagged accounts written to a CSV file (one row each, `account` first)."""

from __future__ import annotations

import csv
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from guardpay.adapters.analytics import ENGINES, make_engine
from guardpay.cli.context import console, emit_json, err_console, state
from guardpay.clock import utc_now
from guardpay.domain.aml.scenarios import by_typology
from guardpay.services.aml import monitor
from guardpay.services.aml.external import (
    OUTPUT_COLUMNS,
    AmountUnit,
    Mapping,
    Options,
    StepUnit,
    output_rows,
    read_csv,
)
from guardpay.services.aml.scan import ScenarioRun, scan, scan_params
from guardpay.storage.engine.migrate import require_migrated

app = typer.Typer(no_args_is_help=True, help="Anti-money-laundering monitoring.")
_UNITS: dict[str, AmountUnit] = {"auto": "auto", "major": "major", "minor": "minor"}
_STEPS: dict[str, StepUnit] = {"day": "day", "hour": "hour"}


@app.command("scan")
def scan_csv(
    csv_path: Path = typer.Option(..., "--csv", help="The transactions, one per line."),
    mapping: str = typer.Option(
        ...,
        "--map",
        help="Which column is which: source=COL,target=COL,amount=COL,time=COL "
        "[,id=COL][,device=COL]; join columns with + (Bank+Account).",
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the flagged accounts here."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    engine: str = typer.Option("duckdb", "--engine", help=f"One of {', '.join(ENGINES)}."),
    currency_code: str = typer.Option("CNY", "--currency", help="The amounts' currency."),
    amount_unit: str = typer.Option(
        "auto", "--amount-unit", help="auto, major (yuan, dollars) or minor (fen, cents)."
    ),
    step: str = typer.Option("day", "--step", help="What an integer time counts: day or hour."),
    time_format: str | None = typer.Option(
        None, "--time-format", help="A strftime layout, instead of detecting it."
    ),
    thresholds: list[int] = typer.Option(
        [],
        "--threshold",
        help="A reporting threshold in whole units (repeatable; default: the currency's).",
    ),
    scenarios: str | None = typer.Option(
        None, "--scenarios", help="Comma-separated typologies (default: all)."
    ),
) -> None:
    """Scan somebody's transaction history: the file's columns are named with --map, the
    rest (delimiter, amount and time formats) is detected and reported."""
    if amount_unit not in _UNITS or step not in _STEPS:
        raise typer.BadParameter("--amount-unit is auto|major|minor, --step is day|hour")
    try:
        chosen = by_typology([s.strip() for s in scenarios.split(",")] if scenarios else None)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    options = Options(currency_code.upper(), _UNITS[amount_unit], _STEPS[step], time_format)
    params = scan_params(options.currency, thresholds)
    with err_console.status("reading the transactions..."):
        data, reading = read_csv(csv_path, Mapping.parse(mapping), options)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err_console, transient=json_out) as bar:
        task = bar.add_task("scanning", total=len(chosen))

        def done(run: ScenarioRun) -> None:
            bar.update(task, advance=1, description=f"scanned {run.typology}")

        runner = make_engine(engine)
        try:
            result = scan(runner, data, params, chosen, done)
        finally:
            runner.close()
    rows = output_rows(result.flagged, reading.time_format)
    if out is not None:
        _write(out, rows)
    if json_out:
        report = {"reading": reading.as_dict(), "scan": result.as_dict(), "out": str(out or "")}
        emit_json(report | ({} if out else {"flagged": rows}))
        return
    _print(rows, reading.as_dict(), result.as_dict(), out)


@app.command("run")
def run_monitor(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    engine: str = typer.Option("duckdb", "--engine", help=f"One of {', '.join(ENGINES)}."),
) -> None:
    """Scan what the platform recorded since the last run (and as far back as the
    scenarios look); keep the findings with new activity. Run it hourly (cron) or on
    demand; a run raced by another keeps nothing and says so."""
    cli = state(ctx)
    db = cli.database()
    require_migrated(db)
    runner = make_engine(engine)
    try:
        with err_console.status("scanning the transaction graph..."):
            done = monitor.run(db, cli.keyring(), runner, utc_now())
    finally:
        runner.close()
    if json_out:
        emit_json(done.as_dict())
        return
    console.print(
        f"run {done.run.id}: {done.run.transactions:,} movements read, "
        f"{len(done.kept):,} findings kept for {len({f.account for f in done.kept}):,} accounts"
    )
    table = Table("account", "typology", "score", "evidence", title="New findings")
    for f in done.kept[:20]:
        table.add_row(f.account, f.typology, f"{f.score_bp / 10_000:.2f}", f.evidence)
    console.print(table)


@app.command("evaluate")
def evaluate_aml(
    data: Path = typer.Option(..., "--data", help="Simulator output (transactions.parquet|csv)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Laundering detection per typology on the simulator's labelled world (the AML part
    of `guardpay evaluate`, without the fraud replay)."""
    from guardpay.evaluate.aml import evaluate
    from guardpay.evaluate.data import read_transactions

    with err_console.status("scanning the simulated world..."):
        figures = evaluate(read_transactions(data))
    if json_out:
        emit_json(figures)
        return
    console.print(
        f"F1 {figures['f1']:.2f} (precision {figures['precision']:.2f}, recall "
        f"{figures['recall']:.2f}); {figures['alerts']} alerts, "
        f"{figures['alerts_per_1000_accounts_month']:.1f} per 1,000 accounts a month "
        f"({figures['flagged_accounts']} accounts flagged)"
    )
    table = Table("typology", "accounts", "caught", "recall", title="Laundering per typology")
    for name, t in figures["per_typology"].items():
        table.add_row(name, str(t["accounts"]), str(t["caught"]), f"{t['recall']:.0%}")
    console.print(table)


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(OUTPUT_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)


def _print(
    rows: list[dict[str, str]],
    reading: dict[str, object],
    scanned: dict[str, object],
    out: Path | None,
) -> None:
    console.print(
        f"read {reading['rows']:,} transactions (amounts: {reading['amount_unit']}; "
        f"times: {reading['time_format']}); {len(rows):,} accounts flagged"
        + (f", written to {out}" if out else "")
    )
    table = Table(title="Flagged accounts (highest scores first)")
    for column in ("account", "score", "typologies", "explanation"):
        table.add_column(column, justify="right" if column == "score" else "left")
    for row in rows[:20]:
        table.add_row(row["account"], row["score"], row["typologies"], row["explanation"])
    console.print(table)
    runs = scanned["scenarios"]
    assert isinstance(runs, list)
    said = ", ".join(f"{r['typology']} {r['findings']}" for r in runs if not r["skipped"])
    skipped = ", ".join(f"{r['typology']} ({r['skipped']})" for r in runs if r["skipped"])
    console.print(f"findings per scenario: {said}" + (f"; skipped: {skipped}" if skipped else ""))
