"""How good a risk model is, measured the way the risk team operates it.

PR-AUC (average precision) is the headline number because fraud is rare (0.1-2 %): ROC-AUC
stays high even for a model that buries most fraud among thousands of false alerts. The
operational question is "if analysts can look at the top k % of payments, how much fraud
do they catch?", hence recall at fixed alert rates.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

ALERT_RATES: Final[dict[str, float]] = {"0.1pct": 0.001, "1pct": 0.01}


def alerts_at_rate(n_rows: int, rate: float) -> int:
    """How many rows are alerted at `rate`: ceil(rate * n), at least one, so a small
    held-out set still alerts something rather than reporting a meaningless 0 recall."""
    if n_rows <= 0:
        return 0
    return min(n_rows, max(1, math.ceil(rate * n_rows - 1e-9)))


def caught_at_rate(y_true: np.ndarray, scores: np.ndarray, rate: float) -> int:
    """Fraud among the top `alerts_at_rate` scores. Ties at the cut are broken against
    the model (legitimate rows first), so a model that gives everyone the same score
    cannot look good by the luck of row order."""
    y = np.asarray(y_true, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    k = alerts_at_rate(len(y), rate)
    # lexsort: last key is primary -> score descending, then label ascending (legit first)
    order = np.lexsort((y, -s))
    return int(y[order[:k]].sum())


def recall_at_rate(y_true: np.ndarray, scores: np.ndarray, rate: float) -> float:
    """Share of all fraud caught when the top `rate` of rows is alerted (0.0 if no fraud)."""
    positives = int(np.asarray(y_true).sum())
    if positives == 0:
        return 0.0
    return caught_at_rate(y_true, scores, rate) / positives


def held_out_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float | int]:
    """Every number reported for a trained model, as plain JSON-ready values. Needs both
    classes present (the training split guarantees it)."""
    y = np.asarray(y_true, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    out: dict[str, float | int] = {
        "pr_auc": float(average_precision_score(y, s)),
        "roc_auc": float(roc_auc_score(y, s)),
        "rows": len(y),
        "positives": int(y.sum()),
        "base_rate": float(y.mean()) if len(y) else 0.0,
    }
    for name, rate in ALERT_RATES.items():
        out[f"recall_at_{name}"] = recall_at_rate(y, s, rate)
        out[f"alerts_at_{name}"] = alerts_at_rate(len(y), rate)
        out[f"caught_at_{name}"] = caught_at_rate(y, s, rate)
    return out
