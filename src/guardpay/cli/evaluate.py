"""`guardpay evaluate`: how well risk control catches fraud in simulated data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from guardpay.cli.context import console, emit_json, err_console
from guardpay.evaluate.metrics import DEFAULT_CHALLENGE_STOPS, CatchPolicy
from guardpay.evaluate.report import money, pct


def evaluate(
    data: Path = typer.Option(..., "--data", help="Simulator output (transactions.parquet|csv)."),
    out: Path = typer.Option(..., "--out", help="Report directory (index.html and PNGs)."),
    json_out: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    train_share: float = typer.Option(0.5, "--train-share", help="Share of days to train on."),
    seed: int = typer.Option(7, "--seed", help="Model training seed."),
    challenge_stops: str = typer.Option(
        ",".join(DEFAULT_CHALLENGE_STOPS),
        "--challenge-stops",
        help="Typologies (names or name prefixes) where a challenge counts as caught.",
    ),
    rules: Path | None = typer.Option(None, "--rules", help="Rule file (default: packaged)."),
) -> None:
    """Train on the first part of the period, replay the rest through the live decision
    path, and report recall, review and false-deny rates per fraud typology."""
    # Imported here: the model and the plots (scikit-learn, matplotlib) take seconds to
    # load, which every other command, `serve` among them, would pay at start.
    from guardpay.evaluate.data import read_transactions
    from guardpay.evaluate.run import EvaluateOptions, evaluate_frame

    stops = tuple(s.strip() for s in challenge_stops.split(",") if s.strip())
    options = EvaluateOptions(train_share, seed, CatchPolicy(stops), rules)
    with err_console.status("reading the transactions..."):
        frame = read_transactions(data)
    columns = (TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=json_out) as bar:
        task = bar.add_task("replay", total=frame.height)
        figures = evaluate_frame(frame, out, options, lambda n: bar.advance(task, n))
    if json_out:
        emit_json(figures)
    else:
        print_summary(figures, out)


def print_summary(figures: dict[str, Any], out: Path) -> None:
    table = Table(title="Fraud per typology")
    for column in ("typology", "fraud", "recall (count)", "recall (amount)", "let through"):
        table.add_column(column, justify="left" if column == "typology" else "right")
    for name, t in figures["per_typology"].items():
        style = "red" if name in figures["missed_typologies"] else None
        table.add_row(
            name,
            str(t["count"]),
            pct(t["recall_by_count"]),
            pct(t["recall_by_amount"]),
            money(t["loss_let_through"]),
            style=style,
        )
    console.print(table)
    for line in figures["summary"]:
        console.print(line, markup=False)
    console.print(f"report: {out / 'index.html'}", markup=False)
