"""The simulator: deterministic for a seed, every typology at its configured frequency,
labels on exactly the requests a case made, and outputs that agree with the manifest.

One small population (boosted case rates) is simulated twice with the same seed: once
through `guardpay simulate` (a local Typer app), once through the runner.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import structlog
import typer
from typer.testing import CliRunner

from guardpay.cli.simulate import simulate
from guardpay.sim.config import TYPOLOGIES, SimConfig, case_quota, expected_cases, scaled
from guardpay.sim.records import DETERMINISTIC_COLUMNS, TX_COLUMNS
from guardpay.sim.runner import Result, run

USERS, DAYS, SEED, RATE, ACTIVITY = 320, 2, 7, 25.0, 0.3
RATES = {t: RATE for t in TYPOLOGIES}  # 1.6 cases of each typology expected
CFG = SimConfig(users=USERS, merchants=10, days=DAYS, seed=SEED, activity=ACTIVITY, rates=RATES)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result, Path, Result]:
    first = tmp_path_factory.mktemp("cli")
    app = typer.Typer()
    app.command()(simulate)
    args = [
        "--users",
        str(USERS),
        "--merchants",
        "10",
        "--days",
        str(DAYS),
        "--seed",
        str(SEED),
        "--out",
        str(first),
        "--activity",
        str(ACTIVITY),
        "--json",
    ]
    args += [arg for t in TYPOLOGIES for arg in ("--rate", f"{t}={RATE}")]
    saved = structlog.get_config()  # the command configures logging onto the runner's
    result = CliRunner().invoke(app, args)  # stderr; a module fixture runs before the
    structlog.configure(**saved)  # per-test restore (tests/conftest.py), so restore here
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout.strip().splitlines()[-1])
    frame = pl.read_parquet(first / "transactions.parquet")
    second = tmp_path_factory.mktemp("api")
    return first, Result(frame, manifest, []), second, run(CFG, second)


def test_a_seed_gives_the_same_run(runs: tuple[Path, Result, Path, Result]) -> None:
    _, a, _, b = runs
    assert a.transactions.height == b.transactions.height > 200
    assert a.transactions.select(DETERMINISTIC_COLUMNS).equals(
        b.transactions.select(DETERMINISTIC_COLUMNS)
    )
    assert a.manifest["typologies"] == b.manifest["typologies"]


def test_every_typology_appears_at_its_configured_frequency(
    runs: tuple[Path, Result, Path, Result],
) -> None:
    _, _, _, result = runs
    counts = result.manifest["typologies"]
    for typology in TYPOLOGIES:
        expected = expected_cases(CFG, typology)
        assert abs(counts[typology]["cases"] - expected) < 1, typology
        assert counts[typology]["active_cases"] >= 1, typology
        assert counts[typology]["transactions"] >= counts[typology]["active_cases"], typology


def test_quotas_round_the_expectation_over_any_horizon() -> None:
    import numpy as np

    cfg = scaled(SimConfig(users=10_000, days=30), 1.0)
    for typology in TYPOLOGIES:
        total = sum(case_quota(cfg, typology, np.random.default_rng(1)))
        assert abs(total - expected_cases(cfg, typology)) < 1


def _case_map(result: Result) -> dict[str, Any]:
    return {c.case_id: c for c in result.cases}


def test_labels_mark_exactly_what_a_case_did(runs: tuple[Path, Result, Path, Result]) -> None:
    _, _, out, result = runs
    frame, cases = result.transactions, _case_map(result)
    people = pl.read_parquet(out / "population.parquet")
    role = dict(zip(people["id"].to_list(), people["role"].to_list(), strict=True))
    for row in frame.iter_rows(named=True):
        labelled = row["is_fraud"] + row["is_laundering"]
        if not row["case_id"]:  # ordinary life: unlabelled, and never a case's account
            assert labelled == 0
            assert not row["fraud_typology"]
            assert not row["laundering_typology"]
            assert role[row["user_id"]] == "normal", row
            continue
        case = cases[row["case_id"]]
        assert labelled == 1
        typology = row["fraud_typology"] or row["laundering_typology"]
        assert typology == case.typology
        assert (row["is_fraud"] == 1) == (case.family == "fraud")
        assert row["user_id"] in case.actors
    made = set(frame.filter(pl.col("case_id") != "")["case_id"].to_list())
    assert made <= set(cases)


def test_outputs_agree_with_the_manifest(runs: tuple[Path, Result, Path, Result]) -> None:
    for out, _result in (runs[:2], runs[2:]):
        for name in ("transactions", "population", "merchants", "cases"):
            assert (out / f"{name}.parquet").is_file()
            assert (out / f"{name}.csv").is_file()
        manifest = json.loads((out / "manifest.json").read_text())
        frame = pl.read_parquet(out / "transactions.parquet")
        assert tuple(frame.columns) == TX_COLUMNS
        assert pl.read_csv(out / "transactions.csv", infer_schema_length=0).height == frame.height
        assert manifest["totals"]["transactions"] == frame.height
        assert manifest["seed"] == SEED
        for typology, counts in manifest["typologies"].items():
            mine = frame.filter(
                (pl.col("fraud_typology") == typology) | (pl.col("laundering_typology") == typology)
            )
            assert counts["transactions"] == mine.height
            assert counts["active_cases"] == mine["case_id"].n_unique()
        cases = pl.read_parquet(out / "cases.parquet")
        assert cases.group_by("typology").len().sort("typology").rows() == sorted(
            (t, c["cases"]) for t, c in manifest["typologies"].items() if c["cases"]
        )
        assert frame["ts"].is_sorted()
        assert set(frame["status"]) <= {"succeeded", "failed", "requires_action", "held", "denied"}
