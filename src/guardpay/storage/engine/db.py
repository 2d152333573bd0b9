"""Database engines for both backends, with the settings money needs.

SQLite (embedded default): WAL journal, `synchronous=FULL` (a committed batch survives
power loss), foreign keys on, and write transactions opened with `BEGIN IMMEDIATE` so two
writers queue on the lock instead of failing to upgrade a read lock mid-transaction. The
process's one write connection commits with `synchronous=NORMAL` and has its WAL synced
right after, outside the write lock (group_commit.py): as durable, pipelined.
PostgreSQL (production): psycopg 3, READ COMMITTED, with the ledger serialised by a row
lock (see `storage/ledger.py`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, overload

import structlog
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL

from guardpay.errors import StorageError
from guardpay.storage.engine.group_commit import Durable, GroupCommit
from guardpay.storage.engine.memo import forget_on_savepoint_rollback
from guardpay.storage.engine.writer_lock import WriterLock

T = TypeVar("T")
log = structlog.get_logger("guardpay.storage")
#: as long as SQLite's own busy timeout (PRAGMA busy_timeout below)
WRITER_WAIT_SECONDS = 60.0


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: T) -> T: ...
def as_utc(value: object) -> object:
    """A timestamp read back from either database, as an aware UTC datetime.

    SQLite keeps no zone (it hands back naive datetimes, which we always wrote as UTC);
    PostgreSQL hands back the session's zone. Anything that is not a datetime (None, say)
    passes through unchanged."""
    if not isinstance(value, datetime):
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def sqlite_file(url: str) -> Path | None:
    """The database file of an SQLite URL (None for another backend or in memory)."""
    u = normalize_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def normalize_url(url: str) -> URL:
    """Accept the usual spellings (`postgresql://`, `postgres://`) and pick our drivers."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    if u.drivername == "sqlite":
        u = u.set(drivername="sqlite+pysqlite")
    if not u.drivername.startswith(("postgresql+psycopg", "sqlite+pysqlite")):
        raise StorageError(f"unsupported database {u.drivername!r}: use sqlite or postgresql")
    return u


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cur = dbapi_conn.cursor()
    for pragma in (
        # 16 KiB pages (new files only; a file keeps the size it was created with): the
        # ledger's per-account indexes take random inserts, and once the ledger held a
        # million transfers, 4 KiB pages made `bench ledger` 14% slower (measured). A
        # checkpoint then comes every 16 MB of WAL (1,000 pages), not every 4 MB.
        "page_size=16384",
        "journal_mode=WAL",
        "synchronous=FULL",
        "foreign_keys=ON",
        "busy_timeout=60000",
        "cache_size=-65536",
        "journal_size_limit=67108864",  # the WAL file shrinks back after a burst
    ):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def scratch(db: Database) -> None:
    """Make `db` a scratch database: on SQLite, no fsync per commit from connections
    opened from now on (a crash loses the run, which is simply run again); applied
    after the platform's own pragmas. PostgreSQL is left as it is."""
    if db.backend == "sqlite":
        event.listen(db.engine, "connect", _scratch_pragmas)


def _scratch_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA synchronous=OFF")
    cur.close()


def _sync_after(conn: Connection, wal: Path | None) -> bool:
    """Whether the write connection's commits are synced after it commits: a file
    database on `synchronous=FULL` (not a scratch one) is switched to NORMAL for that."""
    raw = conn.connection.driver_connection
    if wal is None or raw is None or raw.execute("PRAGMA synchronous").fetchone()[0] != 2:
        return False
    raw.execute("PRAGMA synchronous=NORMAL")
    return True


def _sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str, *, schema: str | None = None, pool_size: int = 8) -> Engine:
    """An engine for `url`. `schema` selects a PostgreSQL schema (tests isolate runs so)."""
    u = normalize_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u, pool_size=pool_size, max_overflow=32)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        forget_on_savepoint_rollback(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["options"] = f"-c search_path={schema}"
    engine = create_engine(
        u, pool_size=pool_size, max_overflow=32, connect_args=connect_args, pool_pre_ping=True
    )
    forget_on_savepoint_rollback(engine)
    return engine


class Database:
    """One database: an engine plus the knowledge of whether it is migrated."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        self.engine = make_engine(url, schema=schema)
        file = sqlite_file(url)
        self._writer = WriterLock(file)  # SQLite: writers queue here
        self._writes: Connection | None = None  # SQLite: the one write connection
        self._writes_pid = os.getpid()  # ... of this process
        wal = None if file is None else file.with_name(file.name + "-wal")
        self._group = GroupCommit(self._writer, self._writer_connection, wal)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self, durable: Durable | None = None) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back on error;
        durable by then too, unless `durable` is given: then it is told when (or why
        not), and the block may end before (storage/engine/group_commit.py).

        On SQLite the writer first queues on `WriterLock` (storage/engine/writer_lock.py), and
        every write transaction of this process then runs on one connection, kept open
        (`_writer_connection`): writes are one at a time anyway, and SQLite empties a
        connection's page cache whenever another connection wrote since its last
        transaction, so pooled writers each began cold; one writer keeps its cache warm
        and skips the pool's checkout and checkin too (measured: 7-9% less CPU per API
        payment). Writers of this process queued at once share one commit
        (storage/engine/group_commit.py); the block still ends only once its work is committed."""
        if self.backend != "sqlite":
            with self.engine.begin() as conn:
                yield conn
            if durable is not None:  # PostgreSQL's commit returns once it is durable
                durable(None)
            return
        with self._group.unit(WRITER_WAIT_SECONDS, durable) as conn:
            yield conn

    def _writer_connection(self) -> Connection:
        """The process's SQLite write connection (only with the writer lock held). A
        forked child never writes on its parent's (one SQLite connection in two
        processes corrupts files): it drops it unclosed, with the pool's, and opens its
        own. A transaction left open by a stale reference to the connection, begun
        outside the lock, is rolled back, not inherited."""
        if self._writes_pid != os.getpid():
            self._writes, self._writes_pid = None, os.getpid()
            self.engine.dispose(close=False)
        conn = self._writes
        if conn is None or conn.closed or conn.invalidated:
            conn = self._writes = self.engine.connect()
            self._group.sync_after = _sync_after(conn, self._group.wal)
        if conn.in_transaction():
            log.error("sqlite_write_connection_left_in_transaction")
            conn.rollback()
        return conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction that never takes SQLite's write lock."""
        with self.engine.connect() as conn:
            if self.backend == "sqlite":
                conn = conn.execution_options(sqlite_begin="DEFERRED")
            else:  # one snapshot for every statement of the read
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        """Close the connections; a write in progress finishes first (the kept write
        connection closes under the writer lock; if that cannot be had in time, it is
        left to the writer holding it)."""
        if self._writes is not None:
            self._group.flush(WRITER_WAIT_SECONDS, then=self._close_writer_connection)
        self.engine.dispose()

    def _close_writer_connection(self) -> None:
        if self._writes is not None and self._writes_pid == os.getpid():
            self._writes.close()
        self._writes = None
