"""Group commit on SQLite (storage/engine/group_commit.py): writers of one process queued for
the write lock share one commit, yet each block ends only once its work is committed;
a failing writer loses only its own work; a failed commit fails the whole group."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import default

from guardpay.errors import StorageError
from guardpay.storage.engine import group_commit
from guardpay.storage.engine.db import Database, scratch
from guardpay.storage.engine.migrate import upgrade
from guardpay.storage.engine.writer_lock import WriterLock


def _keys(db: Database) -> set[str]:
    with db.read() as conn:
        return {str(k) for (k,) in conn.execute(text("SELECT key FROM idempotency_keys"))}


def _insert_on(conn: Connection, key: str) -> None:
    conn.execute(
        text(
            "INSERT INTO idempotency_keys (caller, key, request_path, request_hash, "
            "state, created_at) VALUES ('c', :k, 'POST /x', 'h', 'in_progress', "
            "CURRENT_TIMESTAMP)"
        ),
        {"k": key},
    )


def _commits(db: Database) -> list[int]:
    """The write transactions' commits (not the read transactions' ends)."""
    seen: list[int] = []

    def count(conn: Connection) -> None:
        if conn.get_execution_options().get("sqlite_begin") != "DEFERRED":
            seen.append(1)

    event.listen(db.engine, "commit", count)
    return seen


def _queued(db: Database, n: int) -> None:
    """Wait until `n` writers of this process are queued for the write lock."""
    deadline = time.monotonic() + 10
    while db._writer.waiting < n:
        assert time.monotonic() < deadline, "the writers never queued"
        time.sleep(0.001)


def _run(*targets: Callable[[], None]) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
        assert not t.is_alive(), "a writer never finished"
    return errors


def test_queued_writers_share_one_commit_and_each_ends_committed(sqlite_db: Database) -> None:
    commits, seen_after = _commits(sqlite_db), {}

    def writer(key: str, wait_for: int = 0) -> Callable[[], None]:
        def write() -> None:
            with sqlite_db.begin() as conn:
                _insert_on(conn, key)
                if wait_for:
                    _queued(sqlite_db, wait_for)
            seen_after[key] = key in _keys(sqlite_db)  # read on another connection

        return write

    first = threading.Thread(target=writer("k0", wait_for=4))
    first.start()
    time.sleep(0.05)  # the first holds the lock; four more queue behind it
    assert _run(*(writer(f"k{i}") for i in range(1, 5))) == []
    first.join(10)
    assert _keys(sqlite_db) == {f"k{i}" for i in range(5)}
    assert seen_after == {f"k{i}": True for i in range(5)}
    assert len(commits) == 1  # five transactions, one commit


def test_a_writer_alone_commits_at_once(sqlite_db: Database) -> None:
    commits = _commits(sqlite_db)
    for key in ("a", "b"):
        with sqlite_db.begin() as conn:
            _insert_on(conn, key)
        assert key in _keys(sqlite_db)
    assert len(commits) == 2


def _pair(db: Database, second: Callable[[Connection], None]) -> list[BaseException]:
    """A first writer (key `k1`) that leaves only once a second writer is queued, and the
    second: the two are one group."""

    def first() -> None:
        with db.begin() as conn:
            _insert_on(conn, "k1")
            _queued(db, 1)

    def then() -> None:
        time.sleep(0.05)
        with db.begin() as conn:
            second(conn)

    return _run(first, then)


def test_a_failing_writer_loses_only_its_own_work(sqlite_db: Database) -> None:
    def fails(conn: Connection) -> None:
        _insert_on(conn, "k2")
        raise ValueError("refused")

    errors = _pair(sqlite_db, fails)
    assert [type(e) for e in errors] == [ValueError]
    assert _keys(sqlite_db) == {"k1"}


def test_a_failed_commit_fails_every_writer_of_the_group(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    real, failed = default.DefaultDialect.do_commit, []

    def disk_full_once(self: default.DefaultDialect, dbapi_connection: object) -> None:
        if not failed:
            failed.append(1)
            raise sqlite3.OperationalError("database or disk is full")
        real(self, dbapi_connection)

    monkeypatch.setattr(default.DefaultDialect, "do_commit", disk_full_once)
    errors = _pair(sqlite_db, lambda conn: _insert_on(conn, "k2"))
    assert [type(e) for e in errors] == [StorageError, StorageError]
    assert "could not commit" in str(errors[0])
    assert _keys(sqlite_db) == set()  # neither writer's work
    with sqlite_db.begin() as conn:  # and the next writer starts clean
        _insert_on(conn, "k3")
    assert _keys(sqlite_db) == {"k3"}


def test_a_group_whose_connection_dies_fails_its_writers(sqlite_db: Database) -> None:
    """The second writer's connection is lost (invalidated) mid-group: the first
    writer's work went with it, so the first must not be told it committed."""

    def dies(conn: Connection) -> None:
        conn.invalidate()
        raise RuntimeError("connection lost")

    errors = _pair(sqlite_db, dies)
    assert sorted(type(e).__name__ for e in errors) == ["RuntimeError", "StorageError"]
    assert _keys(sqlite_db) == set()
    with sqlite_db.begin() as conn:  # a new connection, a new group
        _insert_on(conn, "k3")
    assert _keys(sqlite_db) == {"k3"}


def test_a_group_handed_to_nobody_is_committed_by_its_own_writer(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock handed over to a writer that then stopped waiting: the writer left
    waiting for the group's commit commits it itself."""
    for key in ("a", "b"):
        queued = iter([1])  # one writer queued when this one leaves, then none
        monkeypatch.setattr(WriterLock, "waiting", property(lambda _s, q=queued: next(q, 0)))
        with sqlite_db.begin() as conn:
            _insert_on(conn, key)
        assert key in _keys(sqlite_db)


class SlowDisk:
    """Stands in for the WAL's fsync: each call waits until the test lets it finish,
    then answers `failure` (None: synced)."""

    def __init__(self, failure: str | None = None) -> None:
        self.failure, self.calls = failure, 0
        self.started, self.go = threading.Event(), threading.Event()

    def __call__(self, wal: object) -> str | None:
        self.calls += 1
        self.started.set()
        assert self.go.wait(10), "the test never let the fsync finish"
        return self.failure


@pytest.fixture
def slow_disk(monkeypatch: pytest.MonkeyPatch) -> SlowDisk:
    disk = SlowDisk()
    monkeypatch.setattr(group_commit, "_fsync", disk)
    return disk


def test_the_write_connection_commits_unsynced_and_its_wal_is_synced_after(
    sqlite_db: Database,
) -> None:
    with sqlite_db.begin() as conn:
        _insert_on(conn, "a")
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    assert sqlite_db._group.sync_after
    assert sqlite_db._group.wal == Path(str(sqlite_db.engine.url.database) + "-wal")
    with sqlite_db.read() as conn:  # the other connections keep FULL
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2


def test_a_writer_ends_only_once_synced_while_the_next_one_writes(
    sqlite_db: Database, slow_disk: SlowDisk
) -> None:
    ended: list[str] = []

    def first() -> None:
        with sqlite_db.begin() as conn:
            _insert_on(conn, "first")
        ended.append("first")

    writer = threading.Thread(target=first)
    writer.start()
    assert slow_disk.started.wait(10)
    assert "first" in _keys(sqlite_db)  # committed: others can read it ...
    assert ended == []  # ... but its writer waits for the disk
    second = threading.Thread(target=lambda: _run(lambda: _write(sqlite_db, "second")))
    second.start()  # the lock is free during the fsync: the next writer commits
    deadline = time.monotonic() + 10
    while "second" not in _keys(sqlite_db):
        assert time.monotonic() < deadline, "the second writer never committed"
        time.sleep(0.005)
    assert ended == []
    slow_disk.go.set()
    writer.join(10)
    second.join(10)
    assert ended == ["first"]


def _write(db: Database, key: str) -> None:
    with db.begin() as conn:
        _insert_on(conn, key)


def test_a_unit_that_asks_to_be_told_ends_at_its_commit(
    sqlite_db: Database, slow_disk: SlowDisk
) -> None:
    told: list[str | None] = []
    with sqlite_db.begin(durable=told.append) as conn:
        _insert_on(conn, "a")
    assert "a" in _keys(sqlite_db)
    assert told == []  # not yet on disk
    slow_disk.go.set()
    deadline = time.monotonic() + 10
    while not told:
        assert time.monotonic() < deadline, "never told"
        time.sleep(0.005)
    assert told == [None]


def test_an_fsync_that_fails_fails_its_writers_and_tells_the_waiting(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = SlowDisk("the database could not be synced to disk: Input/output error")
    disk.go.set()
    monkeypatch.setattr(group_commit, "_fsync", disk)
    with pytest.raises(StorageError, match="could not be synced"):
        _write(sqlite_db, "a")
    told: list[str | None] = []
    with sqlite_db.begin(durable=told.append) as conn:
        _insert_on(conn, "b")
    deadline = time.monotonic() + 10
    while not told:
        assert time.monotonic() < deadline, "never told"
        time.sleep(0.005)
    assert told[0] is not None
    assert "could not be synced" in told[0]


def test_a_scratch_database_is_not_synced(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'scratch.db'}")
    scratch(db)
    upgrade(db)
    _write(db, "a")
    assert not db._group.sync_after
    db.dispose()


def test_the_wal_sync_itself(tmp_path: Path) -> None:
    wal = tmp_path / "x.db-wal"
    assert group_commit._fsync(None) is None
    assert group_commit._fsync(wal) is None  # gone: checkpointed and removed, synced
    wal.write_bytes(b"frames")
    assert group_commit._fsync(wal) is None
