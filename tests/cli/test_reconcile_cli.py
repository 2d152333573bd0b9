"""`guardpay reconcile reserve|statement`: figures, JSON, and exit codes on breaks."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from typer.testing import CliRunner, Result

from guardpay.adapters.bank import FakeBank, write_statement
from guardpay.cli.main import app
from guardpay.storage.engine.db import Database
from tests.services.payments.test_funding import CALM, FundingEnv


def invoke(url: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["--database-url", url, "reconcile", *args])


def world(db: Database) -> FundingEnv:
    env = FundingEnv(db, FakeBank(seed=5, chaos=CALM))
    user, card_id = env.customer()
    env.top_up(user, card_id, 10_000)
    env.bank.drain(env.deliver)
    env.withdraw(user, card_id, 4_000)  # still in flight
    return env


def test_reserve_prints_the_figures_and_json(db: Database, database_url: str) -> None:
    world(db)
    text = invoke(database_url, "reserve")
    assert text.exit_code == 0, text.output
    assert "reserve reconciled" in text.output
    assert "10000" in text.output
    out = invoke(database_url, "reserve", "--json")
    assert out.exit_code == 0
    [line] = json.loads(out.stdout)["currencies"]
    assert (line["currency"], line["reserve"], line["liabilities"]) == ("CNY", 10_000, 10_000)
    assert (line["withdrawals_in_flight"], line["breaks"]) == (4_000, [])


def test_statement_exits_non_zero_on_breaks(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    env = world(db)
    env.bank.drain(env.deliver)
    rows = env.bank.statement()
    clean = invoke(database_url, "statement", str(write_statement(tmp_path / "ok.csv", rows)))
    assert clean.exit_code == 0, clean.output
    assert "2 matched, 0 break(s)" in clean.output
    broken = [replace(rows[0], amount=1), *rows, replace(rows[1], bank_reference="bnk_x")]
    path = write_statement(tmp_path / "broken.csv", broken)
    out = invoke(database_url, "statement", str(path), "--json")
    assert out.exit_code == 1
    report = json.loads(out.stdout)
    assert sorted(b["kind"] for b in report["breaks"]) == [
        "amount_mismatch",
        "duplicate",
        "missing_on_platform",
    ]
    text = invoke(database_url, "statement", str(path))
    assert text.exit_code == 1
    assert "missing_on_platform" in text.output


def test_a_malformed_statement_is_refused(db: Database, database_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("nope\n1\n")
    out = invoke(database_url, "statement", str(bad))
    assert out.exit_code != 0
    assert out.exception is not None
