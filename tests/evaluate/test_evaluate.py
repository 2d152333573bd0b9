"""`guardpay evaluate` end to end on a generated dataset with an obvious fraud pattern."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from guardpay.cli.evaluate import evaluate
from guardpay.evaluate.data import read_transactions, split_days
from guardpay.evaluate.plots import PLOTS
from guardpay.evaluate.run import EvaluateOptions, evaluate_directory
from guardpay.ml.train import TrainConfig
from tests.evaluate.synth import DAYS, transactions

KEYS = {
    "fraud_recall_by_amount",
    "fraud_recall_by_count",
    "review_rate",
    "false_deny_rate",
    "challenge_rate_legit",
    "per_typology",
    "pr_auc",
    "loss_prevented",
    "loss_let_through",
    "missed_typologies",
    "targets",
    "aml",
    "model",
    "period",
    "summary",
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sim")
    transactions().write_parquet(directory / "transactions.parquet")
    return directory


@pytest.fixture(scope="module")
def report(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("report") / "r"
    fast = TrainConfig(learning_rate=0.2, early_stopping_rounds=15)
    return out, evaluate_directory(data_dir, out, EvaluateOptions(train_config=fast))


def test_the_obvious_pattern_is_caught(report: tuple[Path, dict[str, Any]]) -> None:
    _, f = report
    ato = f["per_typology"]["account_takeover"]
    assert ato["count"] == 4 * DAYS // 2
    assert ato["recall_by_count"] >= 0.9
    assert ato["recall_by_amount"] >= 0.9
    assert f["false_deny_rate"] <= 0.01
    assert f["model"]["trained"], f["model"]["error"]
    assert f["pr_auc"] is not None
    assert f["pr_auc"] > 0.5
    assert "account_takeover" not in f["missed_typologies"]


def test_the_report_is_written_with_its_plots(report: tuple[Path, dict[str, Any]]) -> None:
    out, f = report
    html = (out / "index.html").read_text()
    for name in PLOTS:
        assert (out / name).stat().st_size > 1_000
        assert f'<img src="{name}"' in html
    assert escape(f["aml"]["status"]) in html
    assert "Method" in html
    assert "account_takeover" in html
    assert json.loads((out / "report.json").read_text())["review_rate"] == f["review_rate"]


def test_only_the_evaluated_days_are_measured(report: tuple[Path, dict[str, Any]]) -> None:
    _, f = report
    assert f["period"]["train_days"] == [0, 4]
    assert f["period"]["eval_days"] == [5, 9]
    assert f["requests"] == f["period"]["rows_evaluated"]
    assert [d["day"] for d in f["losses_by_day"]] == [5, 6, 7, 8, 9]
    assert f["aml"]["available"] is True  # measured on every day (it trains on none)
    assert f["aml"]["status"].startswith("F1 ")
    assert f["aml"]["accounts"] > 0


def test_cli_prints_json_from_csv_data(tmp_path: Path) -> None:
    data = tmp_path / "sim"
    data.mkdir()
    transactions(seed=11, legit_per_day=100).write_csv(data / "transactions.csv")
    app = typer.Typer()
    app.command()(evaluate)
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app,
        ["--data", str(data), "--out", str(out), "--json", "--train-share", "0.6", "--seed", "3"],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert set(figures) >= KEYS
    assert figures["period"]["eval_days"] == [6, 9]
    assert figures["per_typology"]["account_takeover"]["recall_by_count"] >= 0.9
    assert (out / "index.html").exists()


def test_split_keeps_a_day_on_each_side(data_dir: Path) -> None:
    frame = read_transactions(data_dir)
    assert split_days(frame, 0.01).train_days == (0,)
    assert split_days(frame, 0.99).eval_days == (9,)
