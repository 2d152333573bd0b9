"""Migration 0004: the tables it creates are exactly the repository's, both ways."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, inspect

from guardpay.storage import auth as auth_storage
from guardpay.storage.encrypted import REGISTRY
from guardpay.storage.engine.db import Database
from guardpay.storage.engine.migrate import alembic_config, upgrade
from guardpay.storage.tables import metadata

AUTH_TABLES = {t.name for t in metadata.sorted_tables if t.name.startswith("auth_")}


def _auth_metadata() -> MetaData:
    """Just the auth tables (others belong to other migrations and their own checks)."""
    only = MetaData()
    for table in metadata.sorted_tables:
        if table.name in AUTH_TABLES or table.name == "users":  # (users: foreign keys)
            table.to_metadata(only)
    return only


def _only_auth(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
    return type_ != "table" or (name or "").startswith("auth_")


def test_the_auth_tables_match_the_repository(db: Database) -> None:
    assert auth_storage.auth_sessions.name in AUTH_TABLES
    assert len(AUTH_TABLES) == 10  # auth_operator_totp and _enrolments since 0022
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": _only_auth,
            },
        )
        assert compare_metadata(context, _auth_metadata()) == []


def test_downgrade_removes_them_and_upgrade_restores_them(db: Database) -> None:
    command.downgrade(alembic_config(db), "0003_identity")
    assert AUTH_TABLES.isdisjoint(inspect(db.engine).get_table_names())
    upgrade(db)
    assert set(inspect(db.engine).get_table_names()) >= AUTH_TABLES


def test_the_totp_secret_column_is_registered_for_key_rotation() -> None:
    assert any(c.table == "auth_totp" and c.field == "totp_secret" for c in REGISTRY)
