"""Alembic, driven from code: no alembic.ini to keep in sync with the package."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from guardpay.errors import DatabaseNotMigrated

if TYPE_CHECKING:
    from guardpay.storage.engine.db import Database

MIGRATIONS = Path(__file__).parent.parent / "migrations"


def alembic_config(db: Database | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if db is not None:
        cfg.attributes["engine"] = db.engine
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str]:
    """Migrate to `revision`; returns (before, after)."""
    before = current_revision(db)
    command.upgrade(alembic_config(db), revision)
    return before, current_revision(db) or ""


def require_migrated(db: Database) -> None:
    """Refuse a database whose schema is not the one this code needs."""
    current, head = current_revision(db), head_revision()
    if current != head:
        raise DatabaseNotMigrated(
            f"the database is at migration {current or 'none'}, the code needs {head}: "
            "run `guardpay db upgrade` first"
        )
