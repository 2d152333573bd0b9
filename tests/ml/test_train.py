"""Training: the model finds the signal, splits by time honestly, repeats itself for a
seed, and refuses data that cannot make a model."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from guardpay.errors import InvalidRequest
from guardpay.ml.model import TrainedModel
from guardpay.ml.train import stratified_split, time_split, train_model
from tests.ml.synth import FAST, NAMES, SIGNAL, fraud_data, risky_row


@cache
def timed_model() -> TrainedModel:
    X, y, times = fraud_data()
    return train_model(X, y, NAMES, times, label_column="is_fraud", time_column="ts")


def test_the_model_learns_the_signal_and_explains_with_it() -> None:
    model = timed_model()
    assert model.metrics["pr_auc"] > 0.7  # base rate ~4 %: a random model scores ~0.04
    assert model.metrics["roc_auc"] > 0.9
    score, reasons = model.explain_one(risky_row(), top=3)
    assert score > 0.3
    assert {name for name, _ in reasons} == SIGNAL
    contributions = [c for _, c in reasons]
    assert contributions == sorted(contributions, reverse=True)
    assert all(c > 0 for c in contributions)


def test_time_split_validates_on_the_latest_rows() -> None:
    _, y, times = fraud_data()
    model = timed_model()
    meta = model.meta
    assert meta["validation"] == "time"
    assert (meta["train_rows"], meta["validation_rows"]) == (2400, 600)
    latest = np.sort(times)[-600:]
    assert meta["validation_from"] == latest[0]
    split = time_split(times, 0.2)
    assert set(split.validation.tolist()) == set(np.flatnonzero(times >= latest[0]).tolist())
    assert times[split.train].max() < times[split.validation].min()
    assert model.metrics["rows"] == 600
    assert model.metrics["positives"] == int(y[split.validation].sum())


def test_time_split_keeps_equal_times_on_one_side() -> None:
    times = np.array([2, 0, 1, 2, 1, 1, 2, 0, 1, 2], dtype=np.float64)
    split = time_split(times, 0.2)  # the cut (8 of 10) falls inside the four 2s
    assert sorted(times[split.validation].tolist()) == [2.0] * 4
    assert sorted(times[split.train].tolist()) == [0, 0, 1, 1, 1, 1]
    with pytest.raises(InvalidRequest) as caught:
        time_split(np.ones(10), 0.2)
    assert caught.value.code == "invalid_time"


def test_stratified_split_keeps_fraud_on_both_sides() -> None:
    y = np.array([1] * 10 + [0] * 490)
    split = stratified_split(y, 0.2, seed=3)
    assert (len(split.train), len(split.validation)) == (400, 100)
    assert (int(y[split.train].sum()), int(y[split.validation].sum())) == (8, 2)
    again = stratified_split(y, 0.2, seed=3)
    assert np.array_equal(split.validation, again.validation)


def test_same_seed_same_scores_without_times() -> None:
    X, y, _ = fraud_data(n=1000, seed=4)
    first = train_model(X, y, NAMES, seed=11, config=FAST)
    second = train_model(X, y, NAMES, seed=11, config=FAST)
    assert first.meta["validation"] == "stratified"
    assert first.model_text == second.model_text
    assert np.array_equal(first.score(X), second.score(X))
    assert first.version.split("-")[-1] == second.version.split("-")[-1]


def _code(X: np.ndarray, y: np.ndarray, times: np.ndarray | None = None) -> str:
    names = [f"f{i}" for i in range(X.shape[1])]
    with pytest.raises(InvalidRequest) as caught:
        train_model(X, y, names, times, config=FAST)
    return caught.value.code


def test_data_that_cannot_make_a_model_is_refused_with_a_code() -> None:
    X = np.random.default_rng(1).normal(size=(100, 2))
    y = np.array([0, 1] * 50)
    assert _code(X[:19], y[:19]) == "too_few_rows"
    assert _code(X, np.array([0, 2] * 50)) == "invalid_label"
    assert _code(X, np.zeros(100)) == "single_class"
    assert _code(X, np.array([1] + [0] * 99)) == "too_few_positives"
    late_fraud_only = np.array([0] * 80 + [0, 1] * 10)
    early_fraud_only = late_fraud_only[::-1].copy()
    ordered = np.arange(100, dtype=np.float64)
    assert _code(X, early_fraud_only, ordered) == "single_class_validation"
    assert _code(X, np.array([0] * 80 + [1] * 20), ordered) == "single_class_training"
    assert _code(X, y, np.array([np.nan] + [1.0] * 99)) == "invalid_time"
    with pytest.raises(InvalidRequest):
        train_model(X, y, ["only_one_name"])
