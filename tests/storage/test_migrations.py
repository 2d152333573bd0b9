"""`guardpay db upgrade`: the migrated schema is exactly the code's, and migrating is idempotent."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from guardpay.domain.ledger.results import Result
from guardpay.errors import DatabaseNotMigrated
from guardpay.services.ledger import execute
from guardpay.storage import schema
from guardpay.storage.db import Database
from guardpay.storage.migrate import current_revision, head_revision, upgrade
from guardpay.storage.uow import unit_of_work
from tests.factories import account, transfer, wallet

BANK, ALICE = 1, 10


def _tables(conn: Connection) -> dict[str, int]:
    return {
        name: int(conn.execute(text(f"SELECT COUNT(*) FROM {name}")).scalar_one())
        for name in sorted(schema.metadata.tables)
    }


def test_upgrade_creates_the_schema_at_head(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert current_revision(db) is None
        assert upgrade(db) == (None, head_revision())
        assert current_revision(db) == head_revision()
        with db.read() as conn:
            clock = conn.execute(text("SELECT id, last_timestamp FROM ledger_clock")).all()
        assert [tuple(r) for r in clock] == [(1, 0)]
    finally:
        db.dispose()


def test_migrating_twice_is_a_no_op(db: Database) -> None:
    with unit_of_work(db) as uow:
        results = execute(uow, [account(BANK, code=200), wallet(ALICE), transfer(1, BANK, ALICE)])
    assert results == [Result.ok] * 3
    with db.read() as conn:
        before = _tables(conn)
        clock_before = conn.execute(text("SELECT last_timestamp FROM ledger_clock")).scalar_one()

    assert upgrade(db) == (head_revision(), head_revision())

    with db.read() as conn:
        assert _tables(conn) == before
        clock_after = conn.execute(text("SELECT last_timestamp FROM ledger_clock")).scalar_one()
    assert clock_after == clock_before
    assert before["ledger_accounts"] == 2
    assert before["ledger_transfers"] == 1
    assert before["ledger_clock"] == 1


def test_the_migrated_schema_matches_the_code(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, schema.metadata)
    assert differences == []


def test_an_unmigrated_database_is_refused(database_url: str) -> None:
    db = Database(database_url)
    try:
        with pytest.raises(DatabaseNotMigrated, match="guardpay db upgrade") as refused:
            db.require_migrated()
        assert refused.value.code == "database_not_migrated"
        assert "none" in refused.value.message
        upgrade(db)
        db.require_migrated()  # now it is accepted
    finally:
        db.dispose()


def test_connections_have_the_settings_money_needs(db: Database) -> None:
    if db.backend == "sqlite":
        for opened in (db.begin, db.read):
            with opened() as conn:
                pragma = {
                    name: conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()
                    for name in ("journal_mode", "synchronous", "foreign_keys")
                }
            assert pragma == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}
        return
    with db.begin() as conn:
        assert conn.exec_driver_sql("SHOW transaction_isolation").scalar_one() == "read committed"
    with db.read() as conn:
        assert conn.exec_driver_sql("SHOW transaction_isolation").scalar_one() == "repeatable read"


def test_foreign_keys_are_enforced(db: Database) -> None:
    # (ledger_transfers has none on purpose; balance history must name a real account)
    with (
        pytest.raises(IntegrityError),
        db.begin() as conn,
    ):
        conn.execute(
            text(
                "INSERT INTO ledger_balances (account_id, timestamp, debits_pending, "
                "debits_posted, credits_pending, credits_posted) VALUES (404, 1, 0, 0, 0, 0)"
            )
        )
    with db.read() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM ledger_balances")).scalar_one() == 0
