"""An online copy of the embedded database, consistent while the server keeps writing.

SQLite's online backup API copies the database page by page from a read transaction, so
the copy is one consistent snapshot (WAL included) and writers are never stopped. The
copy is written to a temporary file beside the target and renamed into place, so a
crash mid-copy never leaves a half file under the target's name. PostgreSQL has its own
tools (`pg_dump`, base backups with WAL archiving); this module does not replace them.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from guardpay.errors import InvalidRequest
from guardpay.storage.engine.db import Database


def backup_sqlite(db: Database, target: Path) -> int:
    """Copy the database to `target` (refused if it exists); the copy's size in bytes."""
    if db.backend != "sqlite":
        raise InvalidRequest(
            "online backup here is for the embedded SQLite database; back PostgreSQL up "
            "with pg_dump (or a base backup and WAL archiving)",
            code="backup_not_supported",
        )
    if target.exists():
        raise InvalidRequest(f"{target} exists: back up to a new file", code="backup_exists")
    partial = target.with_name(f".{target.name}.partial")
    raw = db.engine.raw_connection()
    try:
        source = raw.driver_connection
        assert isinstance(source, sqlite3.Connection)
        with sqlite3.connect(partial) as copy:
            source.backup(copy, pages=1024)
        copy.close()
        os.replace(partial, target)
    finally:
        raw.close()
        partial.unlink(missing_ok=True)
    return target.stat().st_size
