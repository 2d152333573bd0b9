"""`guardpay aml scan --csv`: a file laid out the way one bank exports it (its own
column names, an account named by two columns, decimal amounts with thousands
separators, slash dates), scanned with a mapping; the flagged accounts written with
`account` first."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner, Result

from guardpay.cli.main import app
from guardpay.errors import InvalidRequest

EXPORT = """Timestamp,From Bank,Account,To Bank,Account,Amount Paid,Payment Currency
2022/09/01 00:20,10,8000EBD30,10,8000EBD31,"48,500.00",Yuan
2022/09/01 03:20,10,8000EBD30,11,8000EBD32,48600.00,Yuan
2022/09/02 00:20,10,8000EBD30,12,8000EBD33,48700.50,Yuan
2022/09/03 00:20,10,8000EBD30,13,8000EBD34,48800,Yuan
2022/09/03 09:00,13,8000EBD99,13,8000EBD34,12.50,Yuan
"""
MAP = (
    "source=From Bank+Account,target=To Bank+Account_duplicated_0,amount=Amount Paid,time=Timestamp"
)


def scan(tmp_path: Path, *args: str, text: str = EXPORT) -> Result:
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    return CliRunner().invoke(app, ["aml", "scan", "--csv", str(path), *args])


def test_flagged_accounts_are_written_account_first(tmp_path: Path) -> None:
    out = tmp_path / "flagged.csv"

    done = scan(tmp_path, "--map", MAP, "--out", str(out), "--scenarios", "structuring")

    assert done.exit_code == 0, done.output
    with out.open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["account", "score", "typologies", "first_seen", "last_seen", "explanation"]
    assert [r[0] for r in rows[1:]] == ["10:8000EBD30"]
    flagged = dict(zip(rows[0], rows[1], strict=True))
    assert flagged["typologies"] == "structuring"
    assert (flagged["first_seen"], flagged["last_seen"]) == (
        "2022-09-01T00:20:00",
        "2022-09-03T00:20:00",
    )
    assert "payments_just_below=4" in flagged["explanation"]


def test_json_reports_how_the_file_was_read(tmp_path: Path) -> None:
    done = scan(tmp_path, "--map", MAP, "--json", "--scenarios", "structuring")

    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["reading"]["rows"] == 5
    assert report["reading"]["time_format"] == "%Y/%m/%d %H:%M"
    assert report["scan"]["scenarios"][0]["typology"] == "structuring"
    assert [f["account"] for f in report["flagged"]] == ["10:8000EBD30"]


def test_the_currencys_own_threshold_applies(tmp_path: Path) -> None:
    # $48,500 is far above the US $10,000 threshold: not "just below" it
    done = scan(tmp_path, "--map", MAP, "--json", "--currency", "USD", "--scenarios", "structuring")

    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["flagged"] == []


def test_a_mapping_to_a_missing_column_is_a_clear_error(tmp_path: Path) -> None:
    done = scan(tmp_path, "--map", "source=Payer,target=To Bank,amount=Amount Paid,time=Timestamp")

    # main() prints a GuardpayError as `error (code): message` and exits 2
    assert isinstance(done.exception, InvalidRequest)
    assert done.exception.code == "transactions_unreadable"
    assert "no column 'Payer'" in done.exception.message


def test_an_unknown_scenario_is_refused(tmp_path: Path) -> None:
    done = scan(tmp_path, "--map", MAP, "--scenarios", "astrology")

    assert done.exit_code == 2
    assert "unknown scenarios: astrology" in done.output
