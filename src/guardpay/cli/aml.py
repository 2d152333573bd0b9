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
from guardpay.errors import GuardpayError
from guardpay.ml.artifacts import ModelUnavailable
from guardpay.ml.model import TrainedModel
from guardpay.services.aml import model as aml_model
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
    model_dir: Path | None = typer.Option(
        None, "--model", help="An AML model directory (guardpay aml train) to score with."
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
    model = _model(model_dir, options.currency)
    with err_console.status("reading the transactions..."):
        data, reading = read_csv(csv_path, Mapping.parse(mapping), options)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err_console, transient=json_out) as bar:
        task = bar.add_task("scanning", total=len(chosen) + (model is not None))

        def done(run: ScenarioRun) -> None:
            bar.update(task, advance=1, description=f"scanned {run.typology}")

        runner = make_engine(engine)
        try:
            result = scan(runner, data, params, chosen, done, model)
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
    model_dir: Path | None = typer.Option(
        None, "--model", help="An AML model directory (default: GUARDPAY_AML_MODEL, if set)."
    ),
) -> None:
    """Scan what the platform recorded since the last run (and as far back as the
    scenarios look); keep the findings with new activity. Run it hourly (cron) or on
    demand; a run raced by another keeps nothing and says so."""
    cli = state(ctx)
    db = cli.database()
    require_migrated(db)
    where = model_dir or cli.settings.aml_model
    model = None if where is None else _load(where)
    runner = make_engine(engine)
    try:
        with err_console.status("scanning the transaction graph..."):
            done = monitor.run(db, cli.keyring(), runner, utc_now(), model=model)
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
    model_dir: Path | None = typer.Option(
        None, "--model", help="An AML model directory (guardpay aml train) to score with."
    ),
) -> None:
    """Laundering detection per typology on the simulator's labelled world (the AML part
    of `guardpay evaluate`, without the fraud replay). With --model, a model trained on
    another world (`guardpay aml train`): the combined figures, and each part alone."""
    from guardpay.evaluate.aml import evaluate
    from guardpay.evaluate.data import read_transactions

    model = _model(model_dir, "CNY")
    with err_console.status("scanning the simulated world..."):
        figures = evaluate(read_transactions(data), model=model)
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
    for part, f in figures.get("alone", {}).items():
        console.print(
            f"{part} alone: F1 {f['f1']:.2f} (precision {f['precision']:.2f}, recall "
            f"{f['recall']:.2f}), {f['alerts_per_1000_accounts_month']:.1f} alerts per 1,000"
        )


@app.command("train")
def train(
    ctx: typer.Context,
    data: Path | None = typer.Option(
        None, "--data", help="A simulated world with labelled laundering (guardpay simulate)."
    ),
    from_cases: bool = typer.Option(
        False,
        "--from-cases",
        help="Learn from the platform's own movements, labelled by its closed cases.",
    ),
    currency: str = typer.Option("CNY", "--currency", help="With --from-cases: whose amounts."),
    out: Path = typer.Option(..., "--out", help="A new directory for the model."),
    seed: int = typer.Option(7, "--seed", help="Training seed: the same seed, the same model."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Train the AML model on a labelled world's graph features (`--data`), or on the
    platform's history labelled by its analysts' dispositions (`--from-cases`: an account
    whose latest case closed confirmed_laundering is laundering). Evaluate it on another
    world (`guardpay aml evaluate --model`): on its own training world it flatters."""
    from guardpay.ml.artifacts import ensure_new_model_dir

    if (data is None) == (not from_cases):
        raise typer.BadParameter("give --data DIR or --from-cases, one of them")
    ensure_new_model_dir(out)
    with err_console.status("computing features and training..."):
        model = _trained(ctx, data, currency.upper(), seed)
    model.save(out)
    keys = ("version", "train_rows", "train_positives", "best_iteration", "metrics")
    summary = {k: model.meta.get(k) for k in keys} | {"out": str(out)}
    if json_out:
        emit_json(summary)
        return
    m = model.metrics
    console.print(
        f"model {model.version} -> {out}: {summary['train_rows']:,} accounts, "
        f"{summary['train_positives']} laundering; held out PR-AUC {m.get('pr_auc', 0):.3f}"
    )


def _trained(ctx: typer.Context, data: Path | None, currency: str, seed: int) -> TrainedModel:
    if data is not None:
        from guardpay.evaluate.aml import train as train_on
        from guardpay.evaluate.data import read_transactions

        return train_on(read_transactions(data), seed, source=str(data))
    from guardpay.services.aml.platform import train_on_cases

    cli = state(ctx)
    db = cli.database()
    require_migrated(db)
    try:
        return train_on_cases(db, cli.keyring(), utc_now(), currency=currency, seed=seed)
    except GuardpayError as exc:
        raise typer.BadParameter(f"({exc.code}) {exc.message}", param_hint="--from-cases") from None
    finally:
        db.dispose()


def _model(where: Path | None, code: str) -> TrainedModel | None:
    """The AML model in `where` (none if not given), refused for another currency."""
    if where is None:
        return None
    model = _load(where)
    if aml_model.for_currency(model, code) is None:
        raise typer.BadParameter(
            f"the model was trained on {model.meta.get('currency')} amounts, not {code}",
            param_hint="--model",
        )
    return model


def _load(where: Path) -> TrainedModel:
    try:
        return aml_model.load(where)
    except ModelUnavailable as exc:
        raise typer.BadParameter(str(exc), param_hint="--model") from None


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
