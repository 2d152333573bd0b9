"""A trained risk model: score batches, score and explain one payment, save, load.

Single-row scoring runs inside a payment request, so the row is built straight into a
(1, n) float64 array in the model's feature order (no pandas, no dict-to-frame), and
`explain_one` gets the score from the same `pred_contrib` call as the explanation: SHAP
contributions plus the bias add up to the raw log-odds, so one tree walk gives both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from guardpay.errors import InvalidRequest
from guardpay.ml.artifacts import ModelUnavailable, read_model_dir, write_model_dir


class TrainedModel:
    """A LightGBM model (its text form, which is what gets saved and hashed into the
    version, and the booster built from it) plus what it was trained on (`meta`)."""

    def __init__(self, model_text: str, meta: Mapping[str, Any]) -> None:
        try:
            booster = lgb.Booster(model_str=model_text)
        except lgb.basic.LightGBMError as exc:
            raise ModelUnavailable(f"not a LightGBM model: {exc}", code="model_corrupt") from exc
        self.model_text = model_text
        self.booster = booster
        self.meta: dict[str, Any] = dict(meta)
        self.feature_names: tuple[str, ...] = tuple(meta["feature_names"])
        if booster.num_feature() != len(self.feature_names):
            raise ModelUnavailable(
                f"the booster has {booster.num_feature()} features, meta names "
                f"{len(self.feature_names)}",
                code="model_corrupt",
            )

    @property
    def version(self) -> str:
        return str(self.meta["version"])

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.meta.get("metrics", {}))

    @property
    def best_iteration(self) -> int:
        return int(self.meta.get("best_iteration", self.booster.current_iteration()))

    def score(self, X: np.ndarray) -> np.ndarray:
        """Fraud probabilities for the rows of `X` (float64, columns in `feature_names`
        order, NaN = missing)."""
        matrix = self._checked(X)
        if matrix.shape[0] == 0:
            return np.empty(0, dtype=np.float64)
        threads = _threads(len(matrix))
        return np.asarray(self.booster.predict(matrix, num_threads=threads), dtype=np.float64)

    def _checked(self, X: np.ndarray) -> np.ndarray:
        matrix = np.asarray(X, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != len(self.feature_names):
            raise InvalidRequest(
                f"expected a 2-D array with {len(self.feature_names)} columns, got shape "
                f"{matrix.shape}",
                code="invalid_features",
            )
        return matrix

    def row(self, values: Mapping[str, Any]) -> np.ndarray:
        """A fresh (1, n) row in feature order; absent names and None are missing (NaN),
        booleans count as 0/1, names the model does not use are ignored."""
        try:  # one list -> array conversion: half the cost of filling element by element
            return np.array([[values.get(name) for name in self.feature_names]], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidRequest(
                f"a model feature is not a number: {exc}", code="invalid_features"
            ) from exc

    def score_one(self, values: Mapping[str, Any]) -> float:
        """The probability for one request, without an explanation (the cheap path)."""
        return float(self.booster.predict(self.row(values), num_threads=1)[0])

    def explain_one(
        self, values: Mapping[str, Any], top: int = 3
    ) -> tuple[float, list[tuple[str, float]]]:
        """(probability, up to `top` (feature, SHAP contribution in log-odds) pairs).
        Only features that pushed the score up are listed, largest first: they are the
        reasons a payment looks risky; a safe payment may have none."""
        contrib = self.booster.predict(self.row(values), pred_contrib=True, num_threads=1)[0]
        raw = float(contrib.sum())  # contributions + bias (last column) = raw log-odds
        probability = 1.0 / (1.0 + math.exp(-raw)) if raw > -700 else 0.0
        return probability, self._reasons(contrib, top)

    def explain(
        self, X: np.ndarray, top: int = 3
    ) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
        """`explain_one` for every row of `X` at once (one tree walk for the lot): the
        probabilities, and each row's reasons."""
        matrix = self._checked(X)
        if matrix.shape[0] == 0:
            return np.empty(0, dtype=np.float64), []
        threads = _threads(len(matrix))
        contrib = np.asarray(
            self.booster.predict(matrix, pred_contrib=True, num_threads=threads), np.float64
        )
        raw = np.clip(contrib.sum(axis=1), -700.0, 700.0)
        probabilities = 1.0 / (1.0 + np.exp(-raw))
        return probabilities, [self._reasons(row, top) for row in contrib]

    def _reasons(self, contrib: np.ndarray, top: int) -> list[tuple[str, float]]:
        order = np.argsort(-contrib[:-1], kind="stable")[: max(top, 0)]
        return [(self.feature_names[i], float(contrib[i])) for i in order if contrib[i] > 0]

    def save(self, directory: Path | str) -> Path:
        """Write model.txt (LightGBM text) and meta.json into a new `directory`."""
        return write_model_dir(Path(directory), self.model_text, self.meta)


def _threads(rows: int) -> int:
    """Thread start-up outweighs the work of small batches."""
    return 1 if rows < 1000 else 2


def load_model(directory: Path | str) -> TrainedModel:
    """The model saved in `directory`; `ModelUnavailable` (codes model_missing,
    model_corrupt) when it cannot be trusted, so the caller can degrade to rules only."""
    model_text, meta = read_model_dir(Path(directory))
    return TrainedModel(model_text, meta)
