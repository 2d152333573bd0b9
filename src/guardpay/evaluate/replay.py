"""Replay the transactions through the live decision path, in time order.

The engine is the payment path's own `RiskEngine` (features from a fresh
`MemoryFeatureState`, the rule set, the model, `decide`), with a `ModelSource` that holds
a model given to it instead of reading the active one from the database. After each
decision the request is recorded as the payment path records it: accepted unless the
replayed decision is deny. The training days run on rules alone (no model exists yet)
and their features are collected; at the first evaluated day the model is trained on
them and switched on, and the replay continues over the evaluated days with rules and
model together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import polars as pl

from guardpay.adapters.risk_state import MemoryFeatureState
from guardpay.domain.risk.decision import Action, Decision
from guardpay.domain.risk.features import RiskEvent, RiskRequest
from guardpay.domain.risk.schema import NUMERIC_FEATURES, Value
from guardpay.evaluate.data import DaySplit, to_request
from guardpay.services.risk.engine import ModelSource, RiskEngine, RuleSource

if TYPE_CHECKING:
    from guardpay.ml.model import TrainedModel
    from guardpay.services.platform.context import Context

MODEL_FEATURES: Final = tuple(name for name in NUMERIC_FEATURES if name != "model_score")
PROGRESS_EVERY: Final = 500
# FixedModelSource never looks at the context (it reads no database), and nothing else in
# RiskEngine.score does; so the replay passes none. See the module docstring.
_NO_CONTEXT: Final = None

Progress = Callable[[int], None]
Trainer = Callable[[np.ndarray, np.ndarray, np.ndarray], "TrainedModel | None"]


class FixedModelSource(ModelSource):
    """A ModelSource holding the model it is given (None: rules only)."""

    def __init__(self, model: TrainedModel | None = None) -> None:
        super().__init__()
        self.model = model

    def current(self, ctx: Context | None) -> TrainedModel | None:
        return self.model


class ReplayEngine:
    """A fresh RiskEngine fed one request at a time, recording each decision."""

    def __init__(self, rules: Path | None = None) -> None:
        self.models = FixedModelSource()
        self.engine = RiskEngine(MemoryFeatureState(), RuleSource(rules), self.models)

    def activate(self, model: TrainedModel | None) -> None:
        self.models.model = model

    def step(self, req: RiskRequest) -> tuple[Decision, dict[str, Value]]:
        decision, features, _ = self.engine.score(_NO_CONTEXT, req)
        accepted = decision.action is not Action.DENY
        self.engine.state.record(RiskEvent.from_request(req, accepted=accepted))
        return decision, features


@dataclass
class _Collected:
    """Training features (rows of MODEL_FEATURES), labels and times; evaluated outcomes."""

    X: np.ndarray
    filled: int = 0
    labels: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    outcomes: dict[str, list[Any]] = field(default_factory=dict)

    def add_training(self, features: dict[str, Value], row: dict[str, Any]) -> None:
        self.X[self.filled] = [float(features[name]) for name in MODEL_FEATURES]
        self.filled += 1
        self.labels.append(int(row["is_fraud"]))
        self.times.append(row["ts"].timestamp())

    def add_outcome(
        self, row: dict[str, Any], decision: Decision, features: dict[str, Value], has_model: bool
    ) -> None:
        values = {
            "tx_id": row["tx_id"],
            "day": row["day"],
            "ts": row["ts"],
            "kind": row["kind"],
            "user_id": row["user_id"],
            "amount": row["amount"],
            "is_fraud": row["is_fraud"],
            "fraud_typology": row["fraud_typology"],
            "is_laundering": row["is_laundering"],
            "decision": decision.action.value,
            "decision_score": decision.score,
            "model_score": float(features["model_score"]) if has_model else float("nan"),
            "reasons": ",".join(decision.reasons),
        }
        for name, value in values.items():
            self.outcomes.setdefault(name, []).append(value)


@dataclass(frozen=True)
class ReplayResult:
    outcomes: pl.DataFrame  # one row per evaluated request (see _Collected.add_outcome)
    model: TrainedModel | None
    training_rows: int
    training_fraud: int
    skipped_kinds: dict[str, int]


def _rows(frame: pl.DataFrame) -> Iterator[dict[str, Any]]:
    return frame.iter_rows(named=True)


def replay(
    frame: pl.DataFrame,
    split: DaySplit,
    trainer: Trainer,
    *,
    rules: Path | None = None,
    progress: Progress | None = None,
) -> ReplayResult:
    """Replay `frame` (prepared, time ordered); `trainer(X, y, times)` builds the model
    from the training days' features when the first evaluated day begins."""
    engine = ReplayEngine(rules)
    n_train = int(frame["day"].is_in(list(split.train_days)).sum())
    got = _Collected(np.empty((n_train, len(MODEL_FEATURES)), dtype=np.float64))
    skipped: dict[str, int] = {}
    training, model, done = True, None, 0
    for row in _rows(frame):
        done += 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
        if training and row["day"] >= split.first_eval_day:
            training = False
            model = _train(got, trainer)
            engine.activate(model)
        req = to_request(row)
        if req is None:
            skipped[row["kind"]] = skipped.get(row["kind"], 0) + 1
            continue
        decision, features = engine.step(req)
        if training:
            got.add_training(features, row)
        else:
            got.add_outcome(row, decision, features, model is not None)
    if progress is not None:
        progress(done % PROGRESS_EVERY)
    return ReplayResult(_outcome_frame(got), model, got.filled, sum(got.labels), skipped)


def _train(got: _Collected, trainer: Trainer) -> TrainedModel | None:
    X = got.X[: got.filled]
    return trainer(X, np.asarray(got.labels, dtype=np.int64), np.asarray(got.times))


def _outcome_frame(got: _Collected) -> pl.DataFrame:
    schema: dict[str, Any] = {
        "tx_id": pl.String,
        "day": pl.Int64,
        "ts": pl.Datetime("us", "UTC"),
        "kind": pl.String,
        "user_id": pl.String,
        "amount": pl.Int64,
        "is_fraud": pl.Int8,
        "fraud_typology": pl.String,
        "is_laundering": pl.Int8,
        "decision": pl.String,
        "decision_score": pl.Int64,
        "model_score": pl.Float64,
        "reasons": pl.String,
    }
    if not got.outcomes:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(got.outcomes, schema=schema)
