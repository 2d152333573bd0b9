"""`guardpay evaluate` end to end: read, replay, train, measure, write the report."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import polars as pl

from guardpay.errors import InvalidRequest
from guardpay.evaluate.data import DaySplit, read_transactions, split_days
from guardpay.evaluate.metrics import CatchPolicy, compute_metrics
from guardpay.evaluate.plots import write_plots
from guardpay.evaluate.replay import MODEL_FEATURES, Progress, ReplayResult, replay
from guardpay.evaluate.report import summary_lines, write_html

if TYPE_CHECKING:
    from guardpay.ml.model import TrainedModel
    from guardpay.ml.train import TrainConfig

JSON_FILE: Final = "report.json"


@dataclass(frozen=True)
class EvaluateOptions:
    train_share: float = 0.5
    seed: int = 7
    policy: CatchPolicy = field(default_factory=CatchPolicy)
    rules: Path | None = None  # a rule file; None: the packaged default rule set
    train_config: TrainConfig | None = None  # None: guardpay.ml.train's defaults


class ModelTrainer:
    """`guardpay.ml.train_model` on the training days' features; remembers why not, if
    the data cannot make a model (the evaluation then runs on rules alone, and says so)."""

    def __init__(self, seed: int, config: TrainConfig | None = None) -> None:
        self.seed, self.config = seed, config
        self.error: str | None = None

    def __call__(self, X: np.ndarray, y: np.ndarray, times: np.ndarray) -> TrainedModel | None:
        from guardpay.ml.train import train_model  # LightGBM and scikit-learn load here

        try:
            return train_model(X, y, MODEL_FEATURES, times, seed=self.seed, config=self.config)
        except InvalidRequest as exc:
            self.error = f"{exc.code}: {exc.message}"
            return None


def evaluate_directory(
    data: Path, out: Path, options: EvaluateOptions | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Read `data`, evaluate, write the report into `out`; returns the figures."""
    return evaluate_frame(read_transactions(data), out, options, progress)


def evaluate_frame(
    frame: pl.DataFrame,
    out: Path,
    options: EvaluateOptions | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate a prepared transactions table (`data.prepare`) and write the report."""
    options = options or EvaluateOptions()
    split = split_days(frame, options.train_share)
    trainer = ModelTrainer(options.seed, options.train_config)
    result = replay(frame, split, trainer, rules=options.rules, progress=progress)
    figures = compute_metrics(result.outcomes, options.policy)
    figures["model"] = model_section(result, trainer.error)
    figures["pr_auc"] = figures["model"]["pr_auc_eval"]
    figures["period"] = period_section(frame, split, options, result)
    figures["aml"] = aml_section(frame)
    figures["summary"] = summary_lines(figures)
    out.mkdir(parents=True, exist_ok=True)
    figures["plots"] = write_plots(result.outcomes, figures, out)
    (out / JSON_FILE).write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    write_html(figures, out)
    return figures


def pr_auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    """Average precision, or None without both classes or without scores."""
    from sklearn.metrics import average_precision_score

    if len(y) == 0 or y.min() == y.max() or np.isnan(scores).any():
        return None
    return float(average_precision_score(y, scores))


def model_section(result: ReplayResult, error: str | None) -> dict[str, Any]:
    outcomes = result.outcomes
    y = outcomes["is_fraud"].to_numpy()
    model = result.model
    out: dict[str, Any] = {
        "trained": model is not None,
        "error": error,
        "version": None if model is None else model.version,
        "training_rows": result.training_rows,
        "training_fraud": result.training_fraud,
        "validation_pr_auc": None if model is None else model.metrics.get("pr_auc"),
        "pr_auc_eval": None,
        "decision_score_pr_auc_eval": pr_auc(y, outcomes["decision_score"].to_numpy() / 100),
    }
    if model is not None:
        out["pr_auc_eval"] = pr_auc(y, outcomes["model_score"].to_numpy())
    return out


def period_section(
    frame: pl.DataFrame, split: DaySplit, options: EvaluateOptions, result: ReplayResult
) -> dict[str, Any]:
    return {
        "train_share": options.train_share,
        "seed": options.seed,
        "train_days": [split.train_days[0], split.train_days[-1]],
        "eval_days": [split.eval_days[0], split.eval_days[-1]],
        "rows_total": frame.height,
        "rows_evaluated": result.outcomes.height,
        "skipped_kinds": result.skipped_kinds,
        "rules": "packaged default" if options.rules is None else str(options.rules),
    }


def aml_section(frame: pl.DataFrame) -> dict[str, Any]:
    """Laundering detection over the whole period (evaluate/aml.py): AML monitoring
    learns nothing from the first half, so it is judged on every day."""
    from guardpay.evaluate import aml

    figures = aml.evaluate(frame)
    met = "met" if figures["target_met"] else "NOT met"
    figures["status"] = (
        f"F1 {figures['f1']:.2f} (precision {figures['precision']:.2f}, recall "
        f"{figures['recall']:.2f}) at {figures['alerts_per_1000_accounts_month']:.1f} alerts "
        f"per 1,000 accounts a month ({figures['flagged_accounts']} accounts flagged in "
        f"{figures['alerts']} alerts); target F1 >= {aml.F1_TARGET} with at most "
        f"{aml.ALERTS_TARGET:.0f} alerts: {met}"
    )
    return figures
