"""`guardpay db upgrade`: the migrated schema is exactly the code's, and migrating is idempotent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from guardpay.adapters.archive import MemoryStore
from guardpay.domain.ledger.results import Result
from guardpay.errors import DatabaseNotMigrated
from guardpay.security.keys import Keyring
from guardpay.services.ledger.books import execute, verify
from guardpay.services.platform.archive import archive_audit
from guardpay.services.platform.audit import verify as audit_verify
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.storage import tables as schema
from guardpay.storage.engine.db import Database
from guardpay.storage.engine.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    require_migrated,
    upgrade,
)
from guardpay.storage.uow import read_only, unit_of_work
from tests.factories import account, post, transfer, void, wallet
from tests.services.platform.test_audit import T0, write_entries

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
    if db.backend == "sqlite":
        differences = [d for d in differences if not _sqlite_by_time_index(d)]
    assert differences == []


def _sqlite_by_time_index(diff: object) -> bool:
    """The one intended difference (migration 0014): on SQLite the per-account transfer
    indexes name only the account, because the timestamp is the rowid."""
    if not isinstance(diff, tuple) or diff[0] not in ("add_index", "remove_index"):
        return False
    index = diff[1]
    side = index.name.removeprefix("ix_ledger_transfers_")
    wanted = [f"{side}_account_id"] + (["timestamp"] if diff[0] == "add_index" else [])
    return side in ("debit", "credit") and [c.name for c in index.columns] == wanted


def test_sqlite_orders_an_accounts_transfers_by_the_rowid_index(sqlite_db: Database) -> None:
    with sqlite_db.read() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM ledger_transfers WHERE debit_account_id = 5 "
            "AND timestamp < 9 ORDER BY timestamp DESC LIMIT 3"
        ).all()
    detail = " ".join(str(row[-1]) for row in plan)
    assert "USING INDEX ix_ledger_transfers_debit (debit_account_id=? AND rowid<?)" in detail
    assert "TEMP B-TREE" not in detail  # no sort: the index is already in time order


def test_an_unmigrated_database_is_refused(database_url: str) -> None:
    db = Database(database_url)
    try:
        with pytest.raises(DatabaseNotMigrated, match="guardpay db upgrade") as refused:
            require_migrated(db)
        assert refused.value.code == "database_not_migrated"
        assert "none" in refused.value.message
        upgrade(db)
        require_migrated(db)  # now it is accepted
    finally:
        db.dispose()


def test_connections_have_the_settings_money_needs(db: Database) -> None:
    if db.backend == "sqlite":
        # FULL (2) on every connection; the one write connection NORMAL (1) with its WAL
        # synced right after each commit instead (storage/engine/group_commit.py)
        for opened, synchronous in ((db.begin, 1), (db.read, 2)):
            with opened() as conn:
                pragma = {
                    name: conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()
                    for name in ("journal_mode", "synchronous", "foreign_keys")
                }
            assert pragma == {"journal_mode": "wal", "synchronous": synchronous, "foreign_keys": 1}
        assert db._group.sync_after
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


#: A ledger as a database at 0013 holds it, written with that revision's columns: the
#: bank (may run negative) paid Alice 500; Alice holds 200 and 50 for Alice + 1.
_OLD_BOOKS = (
    "INSERT INTO ledger_accounts (id, ledger, code, flags, user_data_64, user_data_32, "
    "debits_pending, debits_posted, credits_pending, credits_posted, timestamp) VALUES "
    "(1, 156, 200, 0, 0, 0, 0, 500, 0, 0, 1), (10, 156, 100, 2, 0, 0, 250, 0, 0, 500, 2), "
    "(11, 156, 100, 2, 0, 0, 0, 0, 250, 0, 3)",
    "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, "
    "pending_id, user_data_64, user_data_32, timeout, ledger, code, flags, timestamp) VALUES "
    "(1, 1, 10, 500, 0, 0, 0, 0, 156, 1, 0, 4), (2, 10, 11, 200, 0, 0, 0, 0, 156, 1, 2, 5), "
    "(3, 10, 11, 50, 0, 0, 0, 0, 156, 1, 2, 6)",
    "INSERT INTO ledger_pending (transfer_id, status, expires_at) VALUES (2, 1, 0), (3, 1, 0)",
    "UPDATE ledger_clock SET last_timestamp = 6",
)


def test_migrating_a_ledger_written_at_0013_keeps_every_transfer_and_hold(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        upgrade(db, "0013_risk")
        with db.begin() as conn:
            for statement in _OLD_BOOKS:
                conn.execute(text(statement))
        for _ in range(2):  # up, then down and up again: nothing lost
            upgrade(db)
            with unit_of_work(db) as uow:
                report = verify(uow)
                stored = uow.ledger_queries.account_transfers(ALICE, newest_first=False).items
            assert report.ok, report.problems
            assert [t.id for t in stored] == [1, 2, 3]
            command.downgrade(alembic_config(db), "0013_risk")
            with db.read() as conn:
                alice = conn.execute(
                    text("SELECT debits_pending, credits_posted FROM ledger_accounts WHERE id = 10")
                ).one()
            assert tuple(alice) == (250, 500)
        upgrade(db)
        with unit_of_work(db) as uow:  # the holds still resolve
            # Alice has 300 left after the post and the void
            after = execute(uow, [post(4, 2), void(5, 3), transfer(6, ALICE, ALICE + 1, 301)])
        assert after == [Result.ok, Result.ok, Result.exceeds_credits]
        # since 0016 a hold may name a transfer in any part: no foreign key, verify checks
        with db.begin() as conn:
            conn.execute(text("INSERT INTO ledger_pending VALUES (404, 1, 0)"))
        with unit_of_work(db) as uow:
            problems = verify(uow).problems
        assert [p.message for p in problems if p.check == "holds"] == ["1 holds name no transfer"]
    finally:
        db.dispose()


def test_migrating_an_audit_log_written_at_0016_keeps_its_chain_and_guards(
    database_url: str,
) -> None:
    """0017 lets archived entries leave the log and nothing else; a database with
    archives refuses to go back below 0017 (the entries are in files, not here)."""
    db = Database(database_url)
    try:
        upgrade(db, "0016_transfer_parts")
        write_entries(db, 10)
        upgrade(db)
        with read_only(db) as uow:
            assert audit_verify(uow).ok
        with pytest.raises(Exception, match="append-only"), db.begin() as conn:
            conn.execute(text("DELETE FROM audit_log WHERE seq = 1"))
        command.downgrade(alembic_config(db), "0016_transfer_parts")  # no archive yet
        with pytest.raises(Exception, match="append-only"), db.begin() as conn:
            conn.execute(text("DELETE FROM audit_log WHERE seq = 1"))
        upgrade(db)
        with unit_of_work(db) as uow:
            ctx = Context(uow, Keyring.generate(), SYSTEM, clock=lambda: T0 + timedelta(days=1))
            assert archive_audit(ctx, MemoryStore(), T0 + timedelta(seconds=3)) is not None
        with pytest.raises(RuntimeError, match="restore them before downgrading"):
            command.downgrade(alembic_config(db), "0016_transfer_parts")
        with read_only(db) as uow:
            assert audit_verify(uow).archived_through == 3
    finally:
        db.dispose()
