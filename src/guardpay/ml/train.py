"""Train the risk model: LightGBM binary gradient boosting with early stopping.

Shared by the platform path (features from history) and bring-your-own CSVs. The split
matters more than the learner: fraud patterns drift, so when times are known the model
is validated on the latest ~20 % of rows, as it will be used (trained on the past, scoring
the future); a random split would leak tomorrow's fraud rings into training and flatter
the metrics. Without times, a stratified random split keeps the rare positives on both
sides. The validation part picks the best iteration (early stopping) and gives the
reported metrics, so those are slightly optimistic; they are a health check, not a
promise.

Class imbalance (fraud is 0.1-2 %) is handled by the stratified split, a check that both
sides hold both classes and a small `min_sum_hessian_in_leaf` so rare-fraud leaves can
form; positives are NOT re-weighted by default. Measured on synthetic sets (20 features,
label from 4 of them, 3 training sets each, scored on a separate 200k-row set), test
PR-AUC unweighted / sqrt(neg/pos) / neg/pos (= is_unbalance): 0.675 / 0.588 / 0.545 at
0.5 % fraud, 80k rows; 0.154 / 0.095 / 0.068 at 0.46 %, 30k rows, weak signal.
Weighting also inflates the probabilities (log loss 0.010 / 0.014 / 0.034), and rules
compare `model_score` with thresholds, so calibrated scores matter.
`TrainConfig.class_weight` keeps the options.
Early stopping watches log loss, not average precision: with a few dozen validation
frauds AP jumps around and stopped after ~16 rounds (test PR-AUC 0.636, log loss 0.104 on
tests/ml/synth.py data) where log loss gave 0.680 / 0.068 and a less flattering, more
honest validation PR-AUC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import lightgbm as lgb
import numpy as np
from sklearn.model_selection import train_test_split

from guardpay.errors import InvalidRequest
from guardpay.ml.artifacts import make_version
from guardpay.ml.metrics import held_out_metrics
from guardpay.ml.model import TrainedModel

MIN_ROWS: Final = 20
Weighting = Literal["none", "sqrt", "balanced"]


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters. Small, shallow trees on purpose: SHAP explanations (TreeSHAP)
    cost grows with leaves and depth, and one runs inside each explained payment."""

    validation_share: float = 0.2
    learning_rate: float = 0.05
    num_leaves: int = 15
    max_depth: int = 5
    max_rounds: int = 600
    early_stopping_rounds: int = 50
    class_weight: Weighting = "none"
    min_data_in_leaf: int | None = None  # None: scales with the data (5..50)
    num_threads: int = 2  # fixed: part of what makes a seed reproduce the same model
    stopping_metric: Literal["average_precision", "binary_logloss"] = "binary_logloss"


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # row indices
    validation: np.ndarray
    kind: Literal["time", "stratified"]


def _check_inputs(
    X: np.ndarray, y: np.ndarray, feature_names: Sequence[str], times: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Shapes and label values; returns (X as float64, y as int8)."""
    matrix = np.asarray(X, dtype=np.float64)
    labels = np.asarray(y)
    if matrix.ndim != 2 or matrix.shape[1] != len(feature_names) or len(labels) != len(matrix):
        raise InvalidRequest(
            f"X {matrix.shape}, y {labels.shape} and {len(feature_names)} feature names "
            "do not fit together",
            code="invalid_features",
        )
    if len(set(feature_names)) != len(feature_names):
        raise InvalidRequest("feature names must be unique", code="invalid_features")
    if len(matrix) < MIN_ROWS:
        raise InvalidRequest(
            f"{len(matrix)} labelled rows; at least {MIN_ROWS} are needed", code="too_few_rows"
        )
    if not np.isin(labels, (0, 1)).all():
        raise InvalidRequest("labels must be 0 (legitimate) or 1 (fraud)", code="invalid_label")
    if times is not None and (len(times) != len(matrix) or np.isnan(times).any()):
        raise InvalidRequest("every row needs a time, one per row", code="invalid_time")
    if labels.min() == labels.max():
        raise InvalidRequest(
            f"all {len(labels)} labels are {int(labels[0])}: need both fraud and legitimate rows",
            code="single_class",
        )
    return matrix, labels.astype(np.int8)


def time_split(times: np.ndarray, share: float) -> Split:
    """The latest `share` of rows (by time) is validation. Rows with equal times stay on
    one side, so no instant is half past, half future; the cut moves to the nearer edge
    of the tied group."""
    order = np.argsort(times, kind="stable")
    ordered = times[order]
    n = len(order)
    cut = n - max(1, round(n * share))
    if cut > 0 and ordered[cut - 1] == ordered[cut]:
        first = int(np.searchsorted(ordered, ordered[cut], side="left"))
        after = int(np.searchsorted(ordered, ordered[cut], side="right"))
        options = [c for c in (first, after) if 0 < c < n]
        if not options:
            raise InvalidRequest(
                "all rows have the same time: cannot split by time", code="invalid_time"
            )
        cut = min(options, key=lambda c: abs(c - cut))
    return Split(np.sort(order[:cut]), np.sort(order[cut:]), "time")


def stratified_split(y: np.ndarray, share: float, seed: int) -> Split:
    """A seeded random split with the same fraud rate on both sides."""
    if min(int(y.sum()), int(len(y) - y.sum())) < 2:
        raise InvalidRequest(
            "need at least 2 fraud and 2 legitimate rows to split", code="too_few_positives"
        )
    index = np.arange(len(y))
    train, valid = train_test_split(index, test_size=share, random_state=seed, stratify=y)
    return Split(np.sort(train), np.sort(valid), "stratified")


def _check_sides(y: np.ndarray, split: Split) -> None:
    for side, rows in (("training", split.train), ("validation", split.validation)):
        labels = y[rows]
        if len(labels) == 0 or labels.min() == labels.max():
            raise InvalidRequest(
                f"the {side} part ({split.kind} split, {len(labels)} rows) holds only one "
                "class; add data (or labelled fraud) covering that period",
                code=f"single_class_{side}",
            )


def lgb_params(config: TrainConfig, y_train: np.ndarray, seed: int) -> dict[str, Any]:
    """LightGBM parameters; deterministic for a seed (fixed threads, col-wise histograms)."""
    positives = max(1, int(y_train.sum()))
    ratio = (len(y_train) - positives) / positives
    weight = {"none": 1.0, "sqrt": math.sqrt(ratio), "balanced": ratio}[config.class_weight]
    min_leaf = config.min_data_in_leaf or int(np.clip(len(y_train) // 200, 5, 50))
    return {
        "objective": "binary",
        "metric": [config.stopping_metric],
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "max_depth": config.max_depth,
        "min_data_in_leaf": min_leaf,
        "min_sum_hessian_in_leaf": 1e-3,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.9,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "scale_pos_weight": weight,
        "seed": seed,
        "deterministic": True,
        "num_threads": config.num_threads,
        "force_col_wise": True,
        "feature_pre_filter": False,
        "verbose": -1,
    }


def lgb_names(count: int) -> list[str]:
    """Names inside model.txt. LightGBM rejects JSON-special characters in feature names
    and CSV headers can hold anything, so the real names live in meta.json."""
    return [f"f{i}" for i in range(count)]


def _fit(
    X: np.ndarray, y: np.ndarray, split: Split, params: dict[str, Any], config: TrainConfig
) -> tuple[str, int]:
    """(model text cut at the best iteration, that iteration)."""
    names = lgb_names(X.shape[1])
    train = lgb.Dataset(X[split.train], y[split.train], feature_name=names, free_raw_data=True)
    valid = lgb.Dataset(X[split.validation], y[split.validation], reference=train)
    booster = lgb.train(
        params,
        train,
        num_boost_round=config.max_rounds,
        valid_sets=[valid],
        valid_names=["validation"],
        callbacks=[
            lgb.early_stopping(config.early_stopping_rounds, first_metric_only=True, verbose=False)
        ],
    )
    best = int(booster.best_iteration) or int(booster.current_iteration())
    return booster.model_to_string(num_iteration=best), best


def train_model(
    X: np.ndarray,
    y: np.ndarray,
    feature_names: Sequence[str],
    times: np.ndarray | None = None,
    *,
    seed: int = 7,
    config: TrainConfig | None = None,
    label_column: str | None = None,
    time_column: str | None = None,
) -> TrainedModel:
    """Train, validate and describe a model (see the module doc for the split).
    Raises `InvalidRequest` with a specific code when the data cannot make a model."""
    config = config or TrainConfig()
    matrix, labels = _check_inputs(X, y, feature_names, times)
    if times is not None:
        split = time_split(np.asarray(times, dtype=np.float64), config.validation_share)
    else:
        split = stratified_split(labels, config.validation_share, seed)
    _check_sides(labels, split)
    params = lgb_params(config, labels[split.train], seed)
    model_text, best = _fit(matrix, labels, split, params, config)
    created = datetime.now(UTC)
    meta: dict[str, Any] = {
        "version": make_version(model_text, created),
        "created_at": created.isoformat(timespec="seconds"),
        "feature_names": list(feature_names),
        "label_column": label_column,
        "time_column": time_column,
        "validation": split.kind,
        "seed": seed,
        "train_rows": len(split.train),
        "validation_rows": len(split.validation),
        "train_positives": int(labels[split.train].sum()),
        "best_iteration": best,
        "params": params,
        "config": asdict(config),
    }
    if times is not None:
        meta["validation_from"] = float(np.asarray(times)[split.validation].min())
    model = TrainedModel(model_text, meta)
    model.meta["metrics"] = held_out_metrics(
        labels[split.validation], model.score(matrix[split.validation])
    )
    return model
