"""Throwaway databases for benchmarks, and the raw-insert baseline they compare against."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from guardpay.config import DEFAULT_TEST_POSTGRES_URL
from guardpay.storage.engine.db import Database, normalize_url

DEFAULT_POSTGRES_URL = DEFAULT_TEST_POSTGRES_URL


@contextmanager
def throwaway_database(
    backend: str, postgres_url: str = DEFAULT_POSTGRES_URL
) -> Iterator[Database]:
    """A fresh, empty database: an SQLite file in a temp dir, or a PostgreSQL schema on
    the server `postgres_url` names (the caller's `Settings.test_postgres_url`)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="guardpay-") as tmp:
            db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
            try:
                yield db
            finally:
                db.dispose()
        return
    schema = f"gp_scratch_{secrets.token_hex(4)}"
    admin = create_engine(normalize_url(postgres_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    db = Database(postgres_url, schema=schema)
    try:
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def url_for_a_process(db: Database) -> str:
    """The URL another process (`guardpay serve`, say) opens `db` by: a scratch
    PostgreSQL schema travels as the connection's search_path (libpq `options`), so that
    process sees only this database's tables."""
    if db.schema is None:
        return db.url
    url = make_url(db.url).update_query_dict({"options": f"-csearch_path={db.schema}"})
    return url.render_as_string(hide_password=False)


def baseline_insert(db: Database, rows: Sequence[Sequence[int]], batch: int) -> None:
    """Insert rows shaped like transfers into a bare table, `batch` rows per commit:
    what the same driver and disk do with no ledger logic at all."""
    with db.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_baseline")
        cols = ", ".join(f"c{i} BIGINT" for i in range(1, len(rows[0])))
        conn.exec_driver_sql(f"CREATE TABLE bench_baseline (id BIGINT PRIMARY KEY, {cols})")
    marks = ", ".join(["%s" if db.backend == "postgresql" else "?"] * len(rows[0]))
    for start in range(0, len(rows), batch):
        with db.begin() as conn:
            cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cur.executemany(
                f"INSERT INTO bench_baseline VALUES ({marks})", rows[start : start + batch]
            )
            cur.close()
    with db.begin() as conn:
        conn.exec_driver_sql("DROP TABLE bench_baseline")
