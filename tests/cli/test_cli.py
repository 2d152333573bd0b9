"""The `guardpay` command line, driven in-process on both backends.

`--database-url` is the global option and goes before the subcommand. JSON output is
read from stdout alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from guardpay.cli.main import app, main
from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.results import Result as LedgerResult
from guardpay.errors import DatabaseNotMigrated
from guardpay.services.ledger.books import execute
from guardpay.storage import ledger_parts
from guardpay.storage.engine.db import Database
from guardpay.storage.engine.migrate import current_revision, head_revision, require_migrated
from guardpay.storage.uow import unit_of_work
from tests.conftest import require_postgres
from tests.factories import account, transfer, wallet

BANK, ALICE, BOB = 1, 10, 11
BENCH_KEYS = {"backend", "transfers", "seconds", "transfers_per_second", "baseline"}


def backend_of(url: str) -> str:
    return "postgresql" if url.startswith("postgresql") else "sqlite"


def invoke(*args: str, url: str | None = None) -> Result:
    argv = ["--database-url", url, *args] if url is not None else list(args)
    return CliRunner().invoke(app, argv)


def json_out(result: Result) -> Any:
    return json.loads(result.stdout)


def fund(db: Database) -> None:
    """Three accounts and two transfers (a refused overdraft leaves no transfer)."""
    with unit_of_work(db) as uow:
        opened = execute(uow, [account(BANK, code=AccountCode.RESERVE), wallet(ALICE), wallet(BOB)])
        moved = execute(uow, [transfer(1, BANK, ALICE, 50_000), transfer(2, ALICE, BOB, 12_000)])
        refused = execute(uow, [transfer(3, ALICE, BOB, 10**9)])
    assert opened == [LedgerResult.ok] * 3
    assert moved == [LedgerResult.ok] * 2
    assert refused == [LedgerResult.exceeds_credits]


# -- db upgrade --------------------------------------------------------------------------
def test_db_upgrade_json_migrates_then_is_a_no_op(database_url: str) -> None:
    head = head_revision()
    first = invoke("db", "upgrade", "--json", url=database_url)
    assert first.exit_code == 0, first.output
    assert json_out(first) == {"backend": backend_of(database_url), "from": None, "to": head}

    again = invoke("db", "upgrade", "--json", url=database_url)
    assert again.exit_code == 0, again.output
    assert json_out(again) == {"backend": backend_of(database_url), "from": head, "to": head}

    database = Database(database_url)
    try:
        assert current_revision(database) == head
        require_migrated(database)
    finally:
        database.dispose()


def test_db_upgrade_in_words(database_url: str) -> None:
    first = invoke("db", "upgrade", url=database_url)
    assert first.exit_code == 0, first.output
    assert "migrated from empty to" in first.stdout
    again = invoke("db", "upgrade", url=database_url)
    assert again.exit_code == 0, again.output
    assert "already at" in again.stdout


# -- ledger verify -----------------------------------------------------------------------
def test_ledger_verify_json_is_clean_after_transfers(db: Database, database_url: str) -> None:
    fund(db)
    result = invoke("ledger", "verify", "--json", url=database_url)
    assert result.exit_code == 0, result.output
    assert json_out(result) == {"ok": True, "accounts": 3, "transfers": 2, "problems": []}

    words = invoke("ledger", "verify", url=database_url)
    assert words.exit_code == 0, words.output
    assert "ledger ok: 3 accounts, 2 transfers" in words.stdout


def test_ledger_merge_merges_the_parts_due_and_then_none(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_parts, "TRANSFERS_PER_PART", 1)  # a part per transfer
    fund(db)
    for n in range(100, 106):
        with unit_of_work(db) as uow:
            assert execute(uow, [transfer(n, ALICE, BOB, 1)]) == [LedgerResult.ok]
    result = invoke("ledger", "merge", "--json", url=database_url)
    assert result.exit_code == 0, result.output
    assert json_out(result) == {
        "merged": [
            {
                "parts": [f"ledger_transfers_p{n:04d}" for n in range(1, 5)],
                "into": "ledger_transfers_p0001_0004",
                "rows": 4,
            }
        ]
    }
    again = invoke("ledger", "merge", url=database_url)
    assert again.exit_code == 0, again.output
    assert "no merge is due" in again.stdout
    assert invoke("ledger", "verify", url=database_url).exit_code == 0


def test_ledger_verify_on_an_empty_ledger_is_clean(db: Database, database_url: str) -> None:
    result = invoke("ledger", "verify", "--json", url=database_url)
    assert result.exit_code == 0, result.output
    assert json_out(result) == {"ok": True, "accounts": 0, "transfers": 0, "problems": []}


def test_ledger_verify_catches_a_tampered_counter(db: Database, database_url: str) -> None:
    fund(db)
    with db.begin() as conn:  # money from nowhere: Bob's credits no longer match transfers
        conn.execute(
            text("UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = :id"),
            {"id": BOB},
        )

    result = invoke("ledger", "verify", "--json", url=database_url)
    assert result.exit_code == 1, result.output
    report = json_out(result)
    assert (report["ok"], report["accounts"], report["transfers"]) == (False, 3, 2)
    problems = report["problems"]
    assert problems
    replay = [p for p in problems if p["check"] == "replay"]
    assert [p["account_id"] for p in replay] == [BOB]
    assert "12001" in replay[0]["message"]
    balanced = [p for p in problems if p["check"] == "balanced"]
    assert [p["ledger"] for p in balanced] == [156]
    assert {p["check"] for p in problems} == {"replay", "balanced"}

    words = invoke("ledger", "verify", url=database_url)
    assert words.exit_code == 1
    assert "problem(s)" in words.stdout


def test_ledger_verify_refuses_an_unmigrated_database(database_url: str) -> None:
    result = invoke("ledger", "verify", "--json", url=database_url)
    # In-process, the error propagates out of the Typer app; `main()` turns it into words.
    assert result.exit_code != 0
    assert isinstance(result.exception, DatabaseNotMigrated)
    assert "run `guardpay db upgrade`" in str(result.exception)
    assert result.stdout == ""
    database = Database(database_url)
    try:
        assert current_revision(database) is None  # verify did not migrate it
    finally:
        database.dispose()


def test_main_reports_an_unmigrated_database_in_words(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a user sees from the installed `guardpay` command: a message and exit 2."""
    monkeypatch.setattr(
        sys, "argv", ["guardpay", "--database-url", database_url, "ledger", "verify"]
    )
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    message = " ".join(err.split())  # the console wraps long lines
    assert "database_not_migrated" in message
    assert "run `guardpay db upgrade` first" in message
    assert "Traceback" not in err
    assert out == ""


# -- demo --------------------------------------------------------------------------------
def test_demo_without_serving_tells_the_story_and_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for _ in range(2):  # a second run starts again from a fresh database
        result = invoke("demo", "--no-serve")
        assert result.exit_code == 0, result.output
        out = " ".join(result.stdout.split())
        assert "ledger verify: clean" in out
        assert "reconcile reserve: clean" in out
        assert "audit verify: clean" in out
        assert "refused (insufficient_funds)" in out  # an overdraft moves nothing
        assert "refused (qr_already_used)" in out  # a replayed order QR code
        assert "duplicate — nothing moves twice" in out  # a repeated bank callback
    assert (tmp_path / "guardpay-data" / "demo.db").is_file()


# -- bench -------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_bench_ledger_json_on_a_throwaway_database(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "postgres":
        require_postgres()
    monkeypatch.chdir(tmp_path)
    result = invoke(
        "bench",
        "ledger",
        "--backend",
        backend,
        "--transfers",
        "20000",
        "--accounts",
        "100",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json_out(result)
    assert set(report) >= BENCH_KEYS
    assert report["backend"] == ("postgresql" if backend == "postgres" else "sqlite")
    assert (report["transfers"], report["accounts"], report["failed"]) == (20_000, 100, 0)
    assert report["batches"] == 3  # 8,190 + 8,190 + 3,620
    assert report["io"] == ("process" if backend == "sqlite" else "thread")  # --io auto
    assert report["seconds"] > 0
    assert report["transfers_per_second"] == pytest.approx(20_000 / report["seconds"], rel=0.02)
    assert report["baseline"]["transfers_per_second"] > 0
    assert list(tmp_path.iterdir()) == []  # throwaway: nothing left in the working directory


def test_bench_ledger_with_a_database_url_keeps_its_data(database_url: str) -> None:
    backend = "postgres" if backend_of(database_url) == "postgresql" else "sqlite"
    args = ["--transfers", "10000", "--accounts", "50", "--json"]
    result = invoke("bench", "ledger", "--backend", backend, "--database-url", database_url, *args)
    assert result.exit_code == 0, result.output
    report = json_out(result)
    assert set(report) >= BENCH_KEYS
    assert report["backend"] == backend_of(database_url)
    assert (report["transfers"], report["failed"]) == (10_000, 0)

    verify = invoke("ledger", "verify", "--json", url=database_url)
    assert verify.exit_code == 0, verify.output
    # The source account and 50 funded accounts; a funding transfer each, then the run.
    assert json_out(verify) == {
        "ok": True,
        "accounts": 51,
        "transfers": 50 + 10_000,
        "problems": [],
    }
