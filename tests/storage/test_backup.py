"""`guardpay db backup`: an online copy of the embedded database that verifies, taken while
another thread keeps writing; PostgreSQL is pointed to pg_dump; nothing is overwritten."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guardpay.cli.main import app
from guardpay.domain.ledger.chart import AccountCode
from guardpay.errors import InvalidRequest
from guardpay.services.ledger.books import execute, verify
from guardpay.storage.backup import backup_sqlite
from guardpay.storage.engine.db import Database
from guardpay.storage.engine.migrate import require_migrated
from guardpay.storage.uow import read_only, unit_of_work
from tests.factories import account, transfer, wallet

BANK, ALICE = 1, 2


def _transfers(db: Database) -> int:
    with read_only(db) as uow:
        return len(uow.ledger_queries.account_transfers(ALICE, limit=100_000).items)


def test_a_copy_taken_while_writing_verifies(sqlite_db: Database, tmp_path: Path) -> None:
    with unit_of_work(sqlite_db) as uow:
        execute(uow, [account(BANK, code=AccountCode.RESERVE), wallet(ALICE)])
    stop, written = threading.Event(), [0]

    def write() -> None:
        n = 1
        while not stop.is_set() and n < 2_000:
            with unit_of_work(sqlite_db) as uow:
                execute(uow, [transfer(n, BANK, ALICE, 1)])
            written[0], n = n, n + 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while written[0] < 50:
            stop.wait(0.01)
        size = backup_sqlite(sqlite_db, tmp_path / "copy.db")
    finally:
        stop.set()
        writer.join(30)
    assert size == (tmp_path / "copy.db").stat().st_size > 0
    copy = Database(f"sqlite:///{tmp_path / 'copy.db'}")
    try:
        require_migrated(copy)
        with read_only(copy) as uow:
            report = verify(uow)
        assert report.ok, report.problems
        assert 50 <= _transfers(copy) <= _transfers(sqlite_db)
    finally:
        copy.dispose()
    assert not list(tmp_path.glob(".*partial"))


def test_an_existing_file_is_never_overwritten(sqlite_db: Database, tmp_path: Path) -> None:
    target = tmp_path / "kept.db"
    target.write_bytes(b"yesterday's backup")
    with pytest.raises(InvalidRequest, match="exists"):
        backup_sqlite(sqlite_db, target)
    assert target.read_bytes() == b"yesterday's backup"


def test_the_command(db: Database, tmp_path: Path) -> None:
    """On SQLite it writes the copy; on PostgreSQL it says to use pg_dump (`main` turns
    the error into its message and exit 2)."""
    target = tmp_path / "copy.db"
    result = CliRunner().invoke(app, ["--database-url", db.url, "db", "backup", str(target)])
    if db.backend == "sqlite":
        assert result.exit_code == 0, result.output
        assert target.exists()
    else:
        assert isinstance(result.exception, InvalidRequest)
        assert result.exception.code == "backup_not_supported"
        assert "pg_dump" in result.exception.message
        assert not target.exists()
