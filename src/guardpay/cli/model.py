"""`guardpay model`: train, score with and activate risk models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from guardpay.cli.context import console, emit_json, err_console, state
from guardpay.config import DEFAULT_DATA_DIR
from guardpay.errors import InvalidRequest
from guardpay.ml.artifacts import ensure_new_model_dir
from guardpay.services.platform.context import SYSTEM, Context, utc_now
from guardpay.services.risk import models as risk_models
from guardpay.storage.engine.migrate import require_migrated
from guardpay.storage.uow import read_only, unit_of_work

if TYPE_CHECKING:  # LightGBM, polars and scikit-learn load when a command needs them
    from guardpay.ml.csvdata import CsvData
    from guardpay.ml.model import TrainedModel

app = typer.Typer(no_args_is_help=True, help=__doc__)


@app.command("train")
def train_cmd(
    ctx: typer.Context,
    csv: Path | None = typer.Option(None, "--csv", help="Train from this labelled CSV."),
    label: str | None = typer.Option(None, "--label", help="The CSV's fraud label column."),
    time_column: str | None = typer.Option(
        None, "--time-column", help="Validate on the latest 20 % by this column."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="New directory for the model (platform data: default guardpay-data/models/...).",
    ),
    seed: int = typer.Option(7, "--seed", help="Random seed (same seed, same model)."),
    mature_days: int = typer.Option(
        30,
        "--mature-days",
        min=0,
        help="Platform data: an unlabelled decision this old counts as legitimate.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Train a model, save it as a new version and print its held-out metrics: from the
    platform's labelled decisions (registered, activate it with `model activate`), or
    from your own CSV with --csv/--label."""
    if csv is None:
        report = train_from_platform(ctx, out, seed=seed, mature_days=mature_days)
        if json_out:
            emit_json(report)
        else:
            print_platform_report(report)
        return
    if out is None:
        raise InvalidRequest("--out DIR is required with --csv", code="missing_out", param="out")
    if label is None:
        raise InvalidRequest(
            "--label COLUMN is required with --csv", code="missing_label", param="label"
        )
    report = train_from_csv(csv, label, time_column, out, seed=seed)
    if json_out:
        emit_json(report)
    else:
        print_train_report(report, out)


def train_from_csv(
    csv: Path, label: str, time_column: str | None, out: Path, *, seed: int = 7
) -> dict[str, Any]:
    """The CSV path of `model train`: load, train, save; returns the printed report."""
    from guardpay.ml.csvdata import load_training_csv
    from guardpay.ml.train import train_model

    ensure_new_model_dir(out)
    with err_console.status("reading the CSV..."):
        data = load_training_csv(csv, label, time_column)
    with err_console.status(f"training on {data.rows} rows, {len(data.feature_names)} features"):
        model = train_model(
            data.X,
            data.y,
            data.feature_names,
            data.times,
            seed=seed,
            label_column=label,
            time_column=time_column,
        )
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
        table.add_row(
            f"recall at {rate.replace('pct', ' %')} alerted",
            f"{report[f'recall_at_{rate}']:.4f} ({caught} caught)",
        )
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
    import polars as pl

    from guardpay.ml.csvdata import load_scoring_csv
    from guardpay.ml.model import load_model

    model = load_model(model_dir)
    with err_console.status("scoring..."):
        scores = model.score(load_scoring_csv(csv, model.feature_names))
    pl.DataFrame({"score": scores}).write_csv(out)
    summary = {"version": model.version, "rows": len(scores), "out": str(out)}
    if json_out:
        emit_json(summary)
    else:
        console.print(f"[green]scored[/] {len(scores)} rows with {model.version} -> {out}")


def train_from_platform(
    ctx: typer.Context, out: Path | None, *, seed: int, mature_days: int
) -> dict[str, Any]:
    """The platform path: decisions with known outcomes, a time-ordered validation split,
    the model saved and registered (inactive)."""
    from guardpay.ml.train import train_model

    db = state(ctx).database()
    require_migrated(db)
    with read_only(db) as uow, err_console.status("reading labelled decisions..."):
        data = risk_models.training_set(uow, utc_now(), mature_days)
    target = out or DEFAULT_DATA_DIR / "models" / utc_now().strftime("%Y%m%d-%H%M%S")
    ensure_new_model_dir(target)
    with err_console.status(f"training on {len(data.y)} decisions"):
        model = train_model(
            data.X,
            data.y,
            data.feature_names,
            data.times,
            seed=seed,
            label_column="label",
            time_column="created_at",
        )
    model.save(target)
    with unit_of_work(db) as uow:
        risk_models.register(
            Context(uow, state(ctx).keyring(), SYSTEM), model.version, target, model.metrics
        )
    return {
        "version": model.version,
        "path": str(target),
        "rows": len(data.y),
        "positives": int(data.y.sum()),
        "labelled": data.labelled,
        "best_iteration": model.best_iteration,
        **{
            k: model.metrics[k] for k in ("pr_auc", "roc_auc", "recall_at_0.1pct", "recall_at_1pct")
        },
    }


def print_platform_report(report: dict[str, Any]) -> None:
    table = Table("measure", "value", title=f"model {report['version']} (platform data)")
    for key, value in report.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"activate it with: guardpay model activate {report['version']}")


@app.command("activate")
def activate_cmd(ctx: typer.Context, version: str = typer.Argument(...)) -> None:
    """Make VERSION the model every decision uses (API workers pick it up within seconds;
    if it cannot be loaded they run on rules alone and raise the degraded alert)."""
    db = state(ctx).database()
    require_migrated(db)
    with unit_of_work(db) as uow:
        row = risk_models.activate(Context(uow, state(ctx).keyring(), SYSTEM), version)
    console.print(f"[green]active[/] {row.version} ({row.path})")


@app.command("list")
def list_cmd(
    ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Registered models, oldest first, and which is active."""
    db = state(ctx).database()
    require_migrated(db)
    with read_only(db) as uow:
        rows = risk_models.models(uow)
    data = [
        {
            "version": r.version,
            "active": r.active,
            "path": r.path,
            "pr_auc": r.metrics.get("pr_auc"),
        }
        for r in rows
    ]
    if json_out:
        emit_json(data)
        return
    table = Table("version", "active", "PR-AUC", "path")
    for item in data:
        table.add_row(
            str(item["version"]),
            "yes" if item["active"] else "",
            str(item["pr_auc"]),
            str(item["path"]),
        )
    console.print(table)
