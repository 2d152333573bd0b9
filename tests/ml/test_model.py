"""Scoring, explanations and model directories: what the payment path relies on."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from guardpay.errors import InvalidRequest
from guardpay.ml.artifacts import ModelUnavailable
from guardpay.ml.model import TrainedModel, load_model
from guardpay.ml.train import train_model
from tests.ml.synth import FAST, NAMES, fraud_data, risky_row


@cache
def model() -> TrainedModel:
    X, y, times = fraud_data(n=1500, seed=2)
    return train_model(X, y, NAMES, times, config=FAST, label_column="label", time_column="ts")


def test_save_and_load_give_identical_scores(tmp_path: Path) -> None:
    X, _, _ = fraud_data(n=300, seed=9)
    saved = model().save(tmp_path / "v1")
    assert (saved / "model.txt").read_text().startswith("tree")  # LightGBM text, no pickle
    meta = json.loads((saved / "meta.json").read_text())
    assert re.fullmatch(r"m-\d{8}-\d{4}-[0-9a-f]{8}", meta["version"])
    assert meta["feature_names"] == NAMES
    assert (meta["label_column"], meta["time_column"]) == ("label", "ts")
    assert meta["train_rows"] + meta["validation_rows"] == 1500
    assert set(meta["metrics"]) >= {"pr_auc", "roc_auc", "recall_at_0.1pct", "recall_at_1pct"}
    assert meta["best_iteration"] >= 1
    loaded = load_model(saved)
    assert loaded.version == model().version
    assert np.array_equal(loaded.score(X), model().score(X))
    assert loaded.explain_one(risky_row()) == model().explain_one(risky_row())


def test_a_model_version_is_never_overwritten(tmp_path: Path) -> None:
    model().save(tmp_path / "v1")
    with pytest.raises(InvalidRequest) as caught:
        model().save(tmp_path / "v1")
    assert caught.value.code == "model_exists"


def _load_code(directory: Path) -> str:
    with pytest.raises(ModelUnavailable) as caught:
        load_model(directory)
    return caught.value.code


def test_missing_or_corrupt_model_dirs_raise_the_typed_error(tmp_path: Path) -> None:
    assert _load_code(tmp_path / "nothing") == "model_missing"
    good = model().save(tmp_path / "good")
    text = (good / "model.txt").read_text()
    meta = (good / "meta.json").read_text()

    def variant(name: str, model_txt: str | None, meta_json: str | None) -> Path:
        directory = tmp_path / name
        directory.mkdir()
        if model_txt is not None:
            (directory / "model.txt").write_text(model_txt)
        if meta_json is not None:
            (directory / "meta.json").write_text(meta_json)
        return directory

    assert _load_code(variant("no_meta", text, None)) == "model_missing"
    assert _load_code(variant("no_model", None, meta)) == "model_missing"
    assert _load_code(variant("truncated", text[: len(text) // 2], meta)) == "model_corrupt"
    assert _load_code(variant("bad_json", text, meta[:-5])) == "model_corrupt"
    incomplete = json.dumps({k: v for k, v in json.loads(meta).items() if k != "feature_names"})
    assert _load_code(variant("incomplete", text, incomplete)) == "model_corrupt"
    future = json.dumps({**json.loads(meta), "format": 99})
    assert _load_code(variant("future", text, future)) == "model_corrupt"


def test_explain_one_agrees_with_batch_scoring() -> None:
    X, _, _ = fraud_data(n=50, seed=5)
    batch = model().score(X)
    for i in range(len(X)):
        values = zip(NAMES, X[i], strict=True)
        row: dict[str, object] = {n: (None if np.isnan(v) else float(v)) for n, v in values}
        row["kind"] = "payment"  # names the model does not use are ignored
        score, reasons = model().explain_one(row, top=2)
        assert score == pytest.approx(batch[i], rel=1e-9, abs=1e-12)
        assert model().score_one(row) == pytest.approx(batch[i], rel=1e-12)
        assert len(reasons) <= 2
        assert all(c > 0 for _, c in reasons)


def test_single_row_input_errors() -> None:
    with pytest.raises(InvalidRequest) as caught:
        model().explain_one({"amount": "lots"})
    assert caught.value.code == "invalid_features"
    with pytest.raises(InvalidRequest):
        model().score(np.zeros((3, 2)))
    assert model().score(np.empty((0, len(NAMES)))).shape == (0,)
    absent = model().score_one({})  # everything missing still scores
    assert 0.0 < absent < 1.0
