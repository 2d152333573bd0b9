"""`guardpay aml train` on one labelled world, then `aml evaluate --model` on another and
`aml scan --model` on a CSV: the model's part is reported beside the scenarios', and a
model is refused where it cannot serve (another currency, a directory without one)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import structlog
from typer.testing import CliRunner, Result

from guardpay.cli.main import app
from guardpay.errors import InvalidRequest
from tests.domain.aml.world import labelled_world


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["aml", *args])


def simulated(directory: Path, seed: int) -> Path:
    """A labelled world written as the simulator writes one (transactions.parquet): each
    movement a P2P transfer; a mule's movements labelled as laundering."""
    data, mules = labelled_world(seed)
    rows: list[dict[str, Any]] = []
    for r in data.to_pylist():
        laundering = r["source"] in mules or r["target"] in mules
        rows.append(
            {
                "tx_id": r["id"],
                "ts": r["at"],
                "day": (r["at"] - data["at"][0].as_py()).days,
                "kind": "p2p",
                "channel": "p2p",
                "user_id": r["source"],
                "payee_id": r["target"],
                "amount": r["amount"],
                "currency": "CNY",
                "account_created_at": data["at"][0].as_py(),
                "status": "succeeded",
                "is_fraud": 0,
                "is_laundering": int(laundering),
                "laundering_typology": "mule_network" if laundering else "",
            }
        )
    directory.mkdir()
    frame = pl.DataFrame(rows).with_columns(
        pl.col("ts", "account_created_at").dt.replace_time_zone("UTC")
    )
    frame.write_parquet(directory / "transactions.parquet")
    return directory


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("aml-model")
    logging = structlog.get_config()  # the CLI configures it; a module fixture runs
    try:  # outside the autouse fixture that puts it back (tests/conftest.py)
        done = invoke(
            "train", "--data", str(simulated(root / "w1", 1)), "--out", str(root / "m"), "--json"
        )
    finally:
        structlog.configure(**logging)
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    # 30 feeders, 30 mules, 30 sinks, a fifth of them held out for validation
    assert summary["train_positives"] + summary["metrics"]["positives"] == 90
    assert summary["metrics"]["pr_auc"] > 0.5
    return root / "m"


def test_training_writes_a_model_and_never_over_one(trained: Path) -> None:
    assert (trained / "model.txt").is_file()
    assert json.loads((trained / "meta.json").read_text())["kind"] == "aml"
    again = invoke("train", "--data", str(trained.parent / "w1"), "--out", str(trained))
    assert isinstance(again.exception, InvalidRequest)  # main() prints it, exit status 1
    assert again.exception.code == "model_exists"


def test_evaluate_reports_the_model_beside_the_scenarios(trained: Path, tmp_path: Path) -> None:
    world = simulated(tmp_path / "w2", 2)
    done = invoke("evaluate", "--data", str(world), "--model", str(trained), "--json")
    assert done.exit_code == 0, done.output
    figures = json.loads(done.stdout)
    alone = figures["alone"]
    assert set(alone) == {"scenarios", "model", "model_at_full_weight", "combined"}
    assert alone["model"]["recall"] > 0.5  # the model alone finds most of world 2's
    assert alone["combined"]["average_precision"] >= alone["scenarios"]["average_precision"]
    assert any(r["typology"] == "model" for r in figures["scan"]["scenarios"])


def test_a_csv_scan_scores_with_the_model(trained: Path, tmp_path: Path) -> None:
    data, _ = labelled_world(3)
    path = tmp_path / "tx.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["from", "to", "fen", "when"])
        for r in data.to_pylist():
            writer.writerow([r["source"], r["target"], r["amount"], r["at"].isoformat()])
    mapping = "source=from,target=to,amount=fen,time=when"
    args = ("scan", "--csv", str(path), "--map", mapping, "--amount-unit", "minor", "--json")
    done = invoke(*args, "--model", str(trained))
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    runs = {r["typology"]: r for r in report["scan"]["scenarios"]}
    assert runs["model"]["findings"] > 0
    mule = next(row for row in report["flagged"] if row["account"] == "m0")
    assert "model: probability=" in mule["explanation"]
    assert "model" in mule["typologies"].split(",")


def test_a_model_of_another_currency_is_refused(trained: Path, tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text("from,to,cents,when\na,b,100,2024-01-01\n")
    mapping = "source=from,target=to,amount=cents,time=when"
    refused = invoke(
        "scan", "--csv", str(path), "--map", mapping, "--currency", "USD", "--model", str(trained)
    )
    assert refused.exit_code != 0
    assert "trained on CNY amounts, not USD" in refused.output


def test_a_directory_without_a_model_is_a_clear_error(tmp_path: Path) -> None:
    world = simulated(tmp_path / "w", 4)
    refused = invoke("evaluate", "--data", str(world), "--model", str(tmp_path / "none"))
    assert refused.exit_code != 0
    assert "no model directory" in refused.output
