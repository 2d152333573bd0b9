"""Backtests over stored decisions: per rule hits, precision and recall against known
outcomes, worked out by hand on five decisions; and the CLI over a real database."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from guardpay.cli.main import app
from guardpay.domain.risk.rules import load_rule_set
from guardpay.services.risk.backtest import backtest
from guardpay.storage.engine.db import Database
from guardpay.storage.risk import DecisionRow, RiskRepository
from guardpay.storage.uow import unit_of_work

NOW = datetime(2026, 11, 21, tzinfo=UTC)
RULES = """
name: candidate
version: 2
thresholds: {challenge: 40, review: 70, deny: 90}
rules:
  - name: big
    when: amount >= 100_000
    score: 75
  - name: night
    when: hour_local <= 5
    score: 10
"""


def decision(
    n: int, amount: int, hour: int, label: str | None, *, age_days: int = 1
) -> DecisionRow:
    return DecisionRow(
        f"rsk_{n}",
        "transfer",
        "p2p",
        f"pay_{n}",
        "usr_a",
        amount,
        "CNY",
        "allow",
        0,
        [],
        "default@1:x",
        None,
        {"amount": amount, "hour_local": hour},
        [],
        [],
        None,
        None,
        None,
        None,
        None,
        label,
        None if label is None else "analyst:op",
        NOW - timedelta(days=age_days),
    )


ROWS = [
    decision(1, 200_000, 3, "fraud"),  # big + night: review (85), stopped fraud
    decision(2, 150_000, 12, "legit"),  # big: review (75), stopped legitimate
    decision(3, 5_000, 2, "fraud"),  # night only: allow, missed fraud
    decision(4, 120_000, 14, None, age_days=40),  # big: matured unreported, legitimate
    decision(5, 9_000, 23, None),  # nothing, outcome unknown yet
]


def test_per_rule_hits_precision_and_recall() -> None:
    rule_set = load_rule_set(RULES)
    result = backtest(rule_set, ROWS, NOW).as_dict(rule_set)
    assert (result["decisions"], result["fraud"], result["legit"]) == (5, 2, 2)
    assert result["actions"] == {"review": 3, "allow": 2}
    assert (result["stopped_fraud"], result["stopped_legit"]) == (1, 2)
    big, night = result["rules"]["big"], result["rules"]["night"]  # type: ignore[index]
    assert (big["hits"], big["fraud_hits"], big["precision"], big["recall"]) == (3, 1, 1 / 3, 0.5)
    assert (night["hits"], night["fraud_hits"], night["precision"], night["recall"]) == (
        2,
        2,
        1.0,
        1.0,
    )


def test_the_cli_replays_the_database(db: Database, database_url: str, tmp_path: Path) -> None:
    with unit_of_work(db) as uow:
        for row in ROWS:
            RiskRepository(uow.conn).insert_decision(replace(row, created_at=row.created_at))
    rules = tmp_path / "candidate.yaml"
    rules.write_text(RULES)
    args = ["--database-url", database_url, "rules", "backtest", "--rules", str(rules)]
    out = CliRunner().invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert result["rules"]["big"]["hits"] == 3
    later = CliRunner().invoke(app, [*args, "--since", "2026-11-19", "--json"])
    assert json.loads(later.stdout)["decisions"] == 4  # the 40-day-old one is before
    table = CliRunner().invoke(app, args)
    assert "precision" in table.output
