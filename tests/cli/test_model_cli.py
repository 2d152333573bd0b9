"""`guardpay model train|score` on CSV files, through the real command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner, Result

from guardpay.cli.main import app, main
from guardpay.errors import InvalidRequest
from guardpay.ml.model import load_model
from guardpay.ml.train import train_model
from tests.ml.synth import FAST, NAMES, fraud_data

KEYS = {
    "version",
    "pr_auc",
    "roc_auc",
    "recall_at_0.1pct",
    "recall_at_1pct",
    "rows",
    "positives",
    "features",
    "skipped_columns",
    "best_iteration",
    "validation",
}


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["model", *args])


def write_training_csv(path: Path, n: int = 800) -> tuple[np.ndarray, np.ndarray]:
    """The synthetic data as an export would look: text labels, ISO times, an id column."""
    X, y, times = fraud_data(n=n, seed=3)
    frame = pl.DataFrame({name: X[:, i] for i, name in enumerate(NAMES)}).with_columns(
        pl.Series("payment_id", [f"p{i}" for i in range(n)]),
        pl.Series("is_fraud", ["Fraud" if v else "legit" for v in y]),
        pl.Series("created", times.astype("datetime64[s]").astype(str).tolist()),
    )
    frame.write_csv(path)
    return X, y


def saved_model(directory: Path) -> np.ndarray:
    """A model trained through the API (faster than the CLI); returns its feature rows."""
    X, y, _ = fraud_data(n=800, seed=3)
    train_model(X, y, NAMES, config=FAST).save(directory)
    return X


def test_train_prints_json_metrics_and_saves_a_model(tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    _, y = write_training_csv(data)
    out = invoke(
        "train",
        "--csv",
        str(data),
        "--label",
        "is_fraud",
        "--time-column",
        "created",
        "--out",
        str(tmp_path / "m1"),
        "--json",
    )
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert set(report) >= KEYS
    assert (report["rows"], report["positives"]) == (800, int(y.sum()))
    assert report["features"] == NAMES
    assert report["skipped_columns"] == {"payment_id": "not numeric (0% of values are numbers)"}
    assert report["validation"]["split"] == "time"
    assert report["validation"]["rows"] == 160
    assert 0.0 < report["pr_auc"] <= 1.0
    assert report["version"] == load_model(tmp_path / "m1").version
    text = invoke("train", "--csv", str(data), "--label", "is_fraud", "--out", str(tmp_path / "m2"))
    assert text.exit_code == 0, text.output
    assert "PR-AUC" in text.stdout
    assert "skipped payment_id" in text.stdout


def test_score_writes_one_score_per_row_in_order(tmp_path: Path) -> None:
    X = saved_model(tmp_path / "m")
    new = tmp_path / "new.csv"
    rows = X[:37][::-1]  # a different order than training
    frame = pl.DataFrame({name: rows[:, i] for i, name in reversed(list(enumerate(NAMES)))})
    frame.with_columns(pl.lit("ignored").alias("extra")).write_csv(new)
    scores_path = tmp_path / "scores.csv"
    out = invoke(
        "score", "--csv", str(new), "--model", str(tmp_path / "m"), "--out", str(scores_path)
    )
    assert out.exit_code == 0, out.output
    scores = pl.read_csv(scores_path)
    assert scores.columns == ["score"]
    expected = load_model(tmp_path / "m").score(rows)
    np.testing.assert_allclose(scores["score"].to_numpy(), expected, rtol=1e-12)


def test_missing_feature_column_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    saved_model(tmp_path / "m")
    partial = tmp_path / "partial.csv"
    partial.write_text("amount,noise_a\n1,2\n")
    args = [
        "score",
        "--csv",
        str(partial),
        "--model",
        str(tmp_path / "m"),
        "--out",
        str(tmp_path / "s.csv"),
    ]
    result = invoke(*args)
    assert isinstance(result.exception, InvalidRequest)
    assert result.exception.code == "missing_feature_columns"
    monkeypatch.setattr(sys, "argv", ["guardpay", "model", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    for absent in ("speed_kmh", "device_accounts", "noise_b", "noise_c"):
        assert absent in err
    assert not (tmp_path / "s.csv").exists()


def test_train_needs_a_csv_and_score_a_model(tmp_path: Path) -> None:
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    result = CliRunner().invoke(
        app, ["--database-url", empty, "model", "train", "--out", str(tmp_path / "m")]
    )  # no CSV: the platform's data
    assert getattr(result.exception, "code", None) == "database_not_migrated"
    no_out = invoke("train", "--csv", str(tmp_path / "x.csv"), "--label", "y")
    assert isinstance(no_out.exception, InvalidRequest)
    assert no_out.exception.code == "missing_out"
    data = tmp_path / "x.csv"
    data.write_text("amount\n1\n")
    missing = invoke(
        "score",
        "--csv",
        str(data),
        "--model",
        str(tmp_path / "none"),
        "--out",
        str(tmp_path / "s.csv"),
    )
    assert getattr(missing.exception, "code", None) == "model_missing"
