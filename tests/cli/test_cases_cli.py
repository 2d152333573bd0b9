"""`guardpay cases` on both backends: the queue and a case worked to its end as a named
operator, with that operator's role checked and the refusals named."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path as FilePath

from typer.testing import CliRunner, Result

from guardpay.cli.main import app
from guardpay.domain.cases.alerts import AML, Path
from guardpay.security import passwords
from guardpay.security.keys import Keyring
from guardpay.services.auth.operators import create_operator
from guardpay.services.cases import alerts
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import unit_of_work

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def invoke(url: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["--database-url", url, "cases", *args])


def _seed(db: Database) -> str:
    """Two operators and an AML alert about usr_smurf; the case's id."""
    with passwords.using(passwords.CHEAP), unit_of_work(db) as uow:
        ctx = Context(uow, Keyring.generate(), SYSTEM)
        create_operator(ctx, "ana", "analyst", "Kept-in-a-vault-42")
        create_operator(ctx, "vera", "viewer", "Kept-in-a-vault-42")
        draft = alerts.Draft(
            AML,
            "usr_smurf",
            "structuring",
            8_000,
            AT,
            AT,
            "4 withdrawals",
            Path("usr_smurf", "CNY", ()),
        )
        return alerts.raise_alert(ctx, draft).case_id


def test_a_case_worked_from_the_command_line(db: Database, database_url: str) -> None:
    case_id = _seed(db)
    listed = invoke(database_url, "list", "--operator", "vera", "--json")
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    assert (row["id"], row["subject"], row["status"]) == (case_id, "usr_smurf", "open")

    refused = invoke(database_url, "investigate", case_id, "--operator", "vera")
    assert refused.exit_code == 1
    assert "insufficient_role" in refused.output
    nobody = invoke(database_url, "list", "--operator", "mallory")
    assert (nobody.exit_code, "no operator named mallory" in nobody.output) == (2, True)

    taken = invoke(database_url, "investigate", case_id, "--operator", "ana", "--json")
    assert json.loads(taken.stdout)["status"] == "investigating", taken.output
    assert (
        invoke(database_url, "note", case_id, "checked the card", "--operator", "ana").exit_code
        == 0
    )
    closed = invoke(
        database_url,
        "close",
        case_id,
        "--disposition",
        "confirmed_laundering",
        "--reason",
        "structuring confirmed by the bank",
        "--operator",
        "ana",
        "--json",
    )
    assert json.loads(closed.stdout)["disposition"] == "confirmed_laundering", closed.output
    shown = json.loads(invoke(database_url, "show", case_id, "--operator", "vera", "--json").stdout)
    assert sorted(n["body"] for n in shown["notes"]) == [
        "checked the card",
        "structuring confirmed by the bank",  # the reason of the close
    ]
    assert [e["action"] for e in shown["timeline"]] == [
        "case.opened",
        "case.alert_added",
        "case.status_changed",
        "case.assigned",
        "case.note_added",
        "case.closed",
    ]
    assert shown["timeline"][2]["actor"].startswith("operator:op_")
    alerts_out = json.loads(invoke(database_url, "alerts", "--operator", "vera", "--json").stdout)
    assert [(a["kind"], a["case_id"]) for a in alerts_out] == [("structuring", case_id)]
    assert json.loads(invoke(database_url, "breaches", "--operator", "vera", "--json").stdout) == []


def test_aml_train_from_cases_needs_a_confirmed_case(
    db: Database, database_url: str, tmp_path: FilePath
) -> None:
    _seed(db)  # one open case, none closed
    args = ["--database-url", database_url, "aml", "train", "--out", str(tmp_path / "m")]
    refused = CliRunner().invoke(app, [*args, "--from-cases"])
    assert refused.exit_code == 2
    assert "no_labels" in refused.output
    both = CliRunner().invoke(app, [*args, "--from-cases", "--data", str(tmp_path)])
    assert (both.exit_code, "one of them" in both.output) == (2, True)
    assert not (tmp_path / "m").exists()


def test_reports_from_the_command_line_write_the_files_recorded(
    db: Database, database_url: str, tmp_path: FilePath
) -> None:
    case_id = _seed(db)
    base = ["--database-url", database_url, "report"]
    lvtr = CliRunner().invoke(
        app, [*base, "large-value", "--date", "2026-12-01", "--out", str(tmp_path), "--json"]
    )
    assert lvtr.exit_code == 0, lvtr.output
    summary = json.loads(lvtr.stdout)
    assert (summary["rows"], summary["status"]) == (0, "filed")
    assert summary["sha256_csv"] == summary["recorded_sha256_csv"]
    assert [FilePath(f).read_bytes()[:4] for f in summary["files"]] == [b"date", b'{"co']
    bad = CliRunner().invoke(app, [*base, "large-value", "--date", "yesterday"])
    assert bad.exit_code == 2

    drafted = CliRunner().invoke(
        app,
        [
            *base,
            "str",
            case_id,
            "--narrative",
            "four withdrawals just under the threshold",
            "--operator",
            "ana",
            "--json",
        ],
    )
    assert drafted.exit_code == 0, drafted.output
    shown = json.loads(drafted.stdout)
    assert (shown["status"], shown["approval_id"].startswith("apr_")) == ("draft", True)
    assert shown["recorded_sha256_json"] is None  # not filed until a second operator approves
    viewer = CliRunner().invoke(
        app, [*base, "str", case_id, "--narrative", "x" * 30, "--operator", "vera"]
    )
    assert (viewer.exit_code, "insufficient_role" in viewer.output) == (1, True)
