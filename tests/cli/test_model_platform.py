"""`guardpay model train` on the platform's own decisions, then `model activate` and
`model list`: labelled and matured decisions become the training set, the model is
registered inactive, activation switches it (and is audited)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from guardpay.cli.main import app
from guardpay.domain.risk.schema import NUMERIC_FEATURES
from guardpay.services.risk import models as risk_models
from guardpay.storage.engine.db import Database
from guardpay.storage.risk import DecisionRow, RiskRepository
from guardpay.storage.uow import read_only, unit_of_work


def _decisions(n: int) -> list[DecisionRow]:
    """Fraud is large and at night; the rest is small by day. A third are labelled by
    analysts, the others matured (60 days old) or too recent to count."""
    rng = np.random.default_rng(3)
    now, rows = datetime.now(UTC), []
    for i in range(n):
        fraud = i % 10 == 0
        features = {name: 0 for name in NUMERIC_FEATURES}
        features["amount"] = int(
            rng.integers(500_000, 900_000) if fraud else rng.integers(100, 50_000)
        )
        features["hour_local"] = int(rng.integers(0, 5) if fraud else rng.integers(8, 22))
        label = ("fraud" if fraud else "legit") if i % 3 == 0 or fraud else None
        age = 60 if i % 7 else 2  # every 7th is recent: unknown unless labelled
        rows.append(
            DecisionRow(
                f"rsk_{i:05d}",
                "transfer",
                "p2p",
                f"pay_{i}",
                "usr_a",
                int(features["amount"]),
                "CNY",
                "allow",
                0,
                [],
                "default@1:x",
                None,
                features,
                [],
                [],
                None,
                None,
                None,
                None,
                None,
                label,
                None,
                now - timedelta(days=age, minutes=n - i),
            )
        )
    return rows


def test_train_activate_list(db: Database, database_url: str, tmp_path: Path) -> None:
    rows = _decisions(600)
    with unit_of_work(db) as uow:
        for row in rows:
            RiskRepository(uow.conn).insert_decision(row)
    with read_only(db) as uow:
        data = risk_models.training_set(uow, datetime.now(UTC))
    unknown = [
        r for r in rows if r.label is None and r.created_at > datetime.now(UTC) - timedelta(days=30)
    ]
    assert len(data.y) == len(rows) - len(unknown)
    assert data.labelled == sum(r.label is not None for r in rows)
    base = ["--database-url", database_url, "model"]
    trained = CliRunner().invoke(app, [*base, "train", "--out", str(tmp_path / "m"), "--json"])
    assert trained.exit_code == 0, trained.output
    report = json.loads(trained.stdout)
    assert report["pr_auc"] > 0.9  # amount and hour separate the classes
    assert report["positives"] == 60
    listed = json.loads(CliRunner().invoke(app, [*base, "list", "--json"]).stdout)
    assert [(m["version"], m["active"]) for m in listed] == [(report["version"], False)]
    done = CliRunner().invoke(app, [*base, "activate", report["version"]])
    assert done.exit_code == 0, done.output
    listed = json.loads(CliRunner().invoke(app, [*base, "list", "--json"]).stdout)
    assert listed[0]["active"] is True
    missing = CliRunner().invoke(app, [*base, "activate", "m-nope"])
    assert getattr(missing.exception, "code", None) == "model_not_found"
