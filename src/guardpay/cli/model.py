"""`guardpay model`: train, score with and activate risk models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import typer
from rich.table import Table

from guardpay.cli.context import console, emit_json, err_console
from guardpay.errors import InvalidRequest
from guardpay.ml.artifacts import ensure_new_model_dir
from guardpay.ml.csvdata import CsvData, load_scoring_csv, load_training_csv
from guardpay.ml.model import TrainedModel, load_model
from guardpay.ml.train import train_model

app = typer.Typer(no_args_is_help=True, help=__doc__)


@app.command("train")
def train_cmd(
    csv: Path | None = typer.Option(None, "--csv", help="Train from this labelled CSV."),
    label: str | None = typer.Option(None, "--label", help="The CSV's fraud label column."),
    time_column: str | None = typer.Option(
        None, "--time-column", help="Validate on the latest 20 % by this column."
    ),
    out: Path = typer.Option(..., "--out", help="New directory for the model version."),
    seed: int = typer.Option(7, "--seed", help="Random seed (same seed, same model)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Train a model, save it as a new version and print its held-out metrics."""
    if csv is None:
        raise InvalidRequest("pass --csv FILE (training from platform data is not "
                             "available yet)", code="missing_csv", param="csv")  # fmt: skip
    if label is None:
        raise InvalidRequest("--label COLUMN is required with --csv", code="missing_label",
                             param="label")  # fmt: skip
    report = train_from_csv(csv, label, time_column, out, seed=seed)
    if json_out:
        emit_json(report)
    else:
        print_train_report(report, out)


def train_from_csv(csv: Path, label: str, time_column: str | None, out: Path,
                   *, seed: int = 7) -> dict[str, Any]:  # fmt: skip
    """The CSV path of `model train`: load, train, save; returns the printed report."""
    ensure_new_model_dir(out)
    with err_console.status("reading the CSV..."):
        data = load_training_csv(csv, label, time_column)
    with err_console.status(f"training on {data.rows} rows, {len(data.feature_names)} features"):
        model = train_model(data.X, data.y, data.feature_names, data.times, seed=seed,
                            label_column=label, time_column=time_column)  # fmt: skip
    model.save(out)
    return train_report(model, data)


def train_report(model: TrainedModel, data: CsvData) -> dict[str, Any]:
    """Held-out metrics and what the model was built from, as JSON-ready values."""
    metrics = model.metrics
    return {
        "version": model.version,
        "pr_auc": metrics["pr_auc"],
        "roc_auc": metrics["roc_auc"],
        "recall_at_0.1pct": metrics["recall_at_0.1pct"],
        "recall_at_1pct": metrics["recall_at_1pct"],
        "rows": data.rows,
        "positives": int(data.y.sum()),
        "features": list(data.feature_names),
        "skipped_columns": dict(data.skipped),
        "coerced_cells": dict(data.coerced),
        "best_iteration": model.best_iteration,
        "validation": {
            "split": model.meta["validation"],
            "rows": metrics["rows"],
            "positives": metrics["positives"],
            "caught_at_0.1pct": metrics["caught_at_0.1pct"],
            "caught_at_1pct": metrics["caught_at_1pct"],
        },
    }


def print_train_report(report: dict[str, Any], out: Path) -> None:
    validation = report["validation"]
    table = Table("held-out metric", "value", title=f"model {report['version']}")
    table.add_row("PR-AUC (average precision)", f"{report['pr_auc']:.4f}")
    table.add_row("ROC-AUC", f"{report['roc_auc']:.4f}")
    for rate in ("0.1pct", "1pct"):
        caught = validation[f"caught_at_{rate}"]
        table.add_row(f"recall at {rate.replace('pct', ' %')} alerted",
                      f"{report[f'recall_at_{rate}']:.4f} ({caught} caught)")  # fmt: skip
    held_out = f"{validation['rows']} / {validation['positives']} ({validation['split']} split)"
    table.add_row("validation rows / fraud", held_out)
    table.add_row("all rows / fraud", f"{report['rows']} / {report['positives']}")
    table.add_row("best iteration", str(report["best_iteration"]))
    console.print(table)
    console.print(f"features used ({len(report['features'])}): {', '.join(report['features'])}")
    for name, why in report["skipped_columns"].items():
        console.print(f"[yellow]skipped[/] {name}: {why}")
    for name, cells in report["coerced_cells"].items():
        console.print(f"[yellow]{cells} unparsable cell(s) in {name} treated as missing[/]")
    console.print(f"[green]saved[/] {out}")


@app.command("score")
def score_cmd(
    csv: Path = typer.Option(..., "--csv", help="Rows to score (the model's feature columns)."),
    model_dir: Path = typer.Option(..., "--model", help="A model directory (from train)."),
    out: Path = typer.Option(..., "--out", help="Where to write the scores CSV."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Write one `score` (fraud probability) per input row, in input order."""
    model = load_model(model_dir)
    with err_console.status("scoring..."):
        scores = model.score(load_scoring_csv(csv, model.feature_names))
    pl.DataFrame({"score": scores}).write_csv(out)
    summary = {"version": model.version, "rows": len(scores), "out": str(out)}
    if json_out:
        emit_json(summary)
    else:
        console.print(f"[green]scored[/] {len(scores)} rows with {model.version} -> {out}")
