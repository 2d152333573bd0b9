"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL comes from GUARDPAY_TEST_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/test.
Each test gets its own schema, so parallel runs never collide. If PostgreSQL cannot be
reached the PostgreSQL cases skip with one message, except under CI=true, where that
is a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from functools import cache
from urllib.parse import quote

import pytest
import structlog
from sqlalchemy import create_engine, text

from guardpay.config import Settings
from guardpay.storage.engine.db import Database, normalize_url
from guardpay.storage.engine.migrate import upgrade

BACKENDS = ["sqlite", "postgresql"]


@cache
def postgres_url() -> str:
    """GUARDPAY_TEST_POSTGRES_URL (config.py `Settings.test_postgres_url`), read once."""
    return Settings.from_environment().test_postgres_url


@pytest.fixture(autouse=True)
def _logging_config_restored() -> Iterator[None]:
    """Commands under test configure structlog globally (the CLI sets WARNING); put it
    back so no test's logging depends on which tests ran before it in this worker."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@cache
def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used, or None if it can."""
    try:
        engine = create_engine(normalize_url(postgres_url()))
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means: not reachable
        return type(exc).__name__
    return None


def require_postgres() -> None:
    problem = postgres_problem()
    if problem is None:
        return
    message = (
        "PostgreSQL is not reachable (set GUARDPAY_TEST_POSTGRES_URL); "
        "PostgreSQL test cases skipped"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}, but CI=true requires PostgreSQL ({problem})", pytrace=False)
    pytest.skip(message)


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty, un-migrated database URL for this test, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'guardpay.db'}"
        return
    require_postgres()
    schema = f"gp_test_{secrets.token_hex(6)}"
    admin = create_engine(normalize_url(postgres_url()), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    base = postgres_url()
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated, empty database on each backend."""
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A migrated SQLite database, for tests that are about the engine, not the backend."""
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('db') / 'guardpay.db'}")
    upgrade(database)
    yield database
    database.dispose()
