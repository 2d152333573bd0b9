"""The report's figures as PNG files.

Figures are built as `matplotlib.figure.Figure` objects, never through pyplot, so no
GUI backend or global figure state is involved: saving renders with Agg."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import numpy as np
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve

PR_CURVE: Final = "pr_curve.png"
SCORES: Final = "score_distributions.png"
RECALL: Final = "recall_by_typology.png"
LOSSES: Final = "losses_over_time.png"
PLOTS: Final = (PR_CURVE, SCORES, RECALL, LOSSES)
_MINOR_PER_MAJOR: Final = 100


def write_plots(outcomes: pl.DataFrame, figures: dict[str, Any], out: Path) -> list[str]:
    """Write every plot into `out`; returns the file names, in report order."""
    _save(pr_curve(outcomes), out / PR_CURVE)
    _save(score_distributions(outcomes), out / SCORES)
    _save(recall_by_typology(figures["per_typology"]), out / RECALL)
    _save(losses_over_time(figures.get("losses_by_day", [])), out / LOSSES)
    return list(PLOTS)


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def _axes(width: float, height: float = 4.5) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


def _note(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)


def pr_curve(outcomes: pl.DataFrame) -> Figure:
    """Precision against recall on the evaluated requests: the model's probability and
    the decision score (rules and model, 0..100)."""
    fig, ax = _axes(6)
    y = outcomes["is_fraud"].to_numpy()
    drawn = False
    for column, label in (
        ("model_score", "model probability"),
        ("decision_score", "decision score (rules + model)"),
    ):
        scores = outcomes[column].cast(pl.Float64).to_numpy()
        if len(y) == 0 or y.min() == y.max() or np.isnan(scores).all():
            continue
        precision, recall, _ = precision_recall_curve(y, np.nan_to_num(scores, nan=0.0))
        ax.step(recall, precision, where="post", label=label)
        drawn = True
    if not drawn:
        _note(ax, "not available: the evaluated period needs fraud and legitimate requests")
    else:
        ax.legend(loc="upper right")
    ax.set(
        xlabel="recall (fraud requests)",
        ylabel="precision",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title="Precision-recall, evaluated period",
    )
    return fig


def score_distributions(outcomes: pl.DataFrame) -> Figure:
    """The model's probability (the decision score 0..100 without a model) for
    legitimate requests and each fraud typology, as each group's share per bin."""
    fig, ax = _axes(7)
    use_model = outcomes.height > 0 and not outcomes["model_score"].is_nan().all()
    column, scale = ("model_score", 1.0) if use_model else ("decision_score", 100.0)
    groups = [("legitimate", outcomes.filter(pl.col("is_fraud") == 0))]
    fraud = outcomes.filter(pl.col("is_fraud") == 1)
    for name in sorted(fraud["fraud_typology"].unique().to_list()):
        groups.append((name or "(no typology)", fraud.filter(pl.col("fraud_typology") == name)))
    bins = np.linspace(0, 1, 41)
    for label, part in groups:
        if part.height:
            values = part[column].cast(pl.Float64).to_numpy() / scale
            ax.hist(
                values,
                bins=bins,
                histtype="step",
                linewidth=1.5,
                weights=np.full(len(values), 1 / len(values)),
                label=f"{label} ({part.height})",
            )
    if not outcomes.height:
        _note(ax, "no evaluated requests")
    else:
        ax.legend(fontsize=8)
        ax.set_ylim(0.5 / max(part.height for _, part in groups), 1.5)
    xlabel = "model probability" if use_model else "decision score / 100 (no model)"
    ax.set(
        xlabel=xlabel,
        ylabel="share of the group (log)",
        yscale="log",
        xlim=(0, 1),
        title="Score distributions by typology, evaluated period",
    )
    return fig


def recall_by_typology(table: dict[str, dict[str, Any]]) -> Figure:
    """Recall by count and by amount of each typology, against the 90 % target."""
    fig, ax = _axes(max(6.0, 1.2 * len(table) + 2))
    names = list(table)
    x = np.arange(len(names))
    for offset, key, label in (
        (-0.2, "recall_by_count", "by count"),
        (0.2, "recall_by_amount", "by amount"),
    ):
        values = [table[n][key] or 0.0 for n in names]
        ax.bar(x + offset, values, width=0.4, label=label)
    ax.axhline(0.9, color="grey", linestyle="--", linewidth=1, label="target 90 %")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set(ylim=(0, 1.05), ylabel="recall", title="Fraud recall per typology")
    if not names:
        _note(ax, "no fraud in the evaluated period")
    ax.legend(fontsize=8)
    return fig


def losses_over_time(daily: list[dict[str, int]]) -> Figure:
    """Fraud amount prevented and let through, per evaluated day (major units)."""
    fig, ax = _axes(7)
    days = [d["day"] for d in daily]
    prevented = [d["prevented"] / _MINOR_PER_MAJOR for d in daily]
    through = [d["let_through"] / _MINOR_PER_MAJOR for d in daily]
    ax.bar(days, prevented, label="prevented (denied or held)", color="tab:green")
    ax.bar(days, through, bottom=prevented, label="let through", color="tab:red")
    ax.set(xlabel="day", ylabel="fraud amount (major units)", title="Fraud losses per day")
    if not days:
        _note(ax, "no evaluated days")
    ax.legend(fontsize=8)
    return fig
