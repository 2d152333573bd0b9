"""SQLite's writers in one process queue on the Database's own lock: a second writer
waits for the first to commit (and then sees its write), never sleeping in SQLite's busy
handler; a writer that cannot get the lock in time fails with a clear StorageError."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

from guardpay.errors import StorageError
from guardpay.storage.engine import db as db_module
from guardpay.storage.engine.db import Database
from guardpay.storage.engine.writer_lock import WriterLock


def _count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(text("SELECT count(*) FROM idempotency_keys")).scalar_one())


def _insert(db: Database, key: str) -> None:
    with db.begin() as conn:
        _insert_on(conn, key)


def _insert_on(conn: Connection, key: str) -> None:
    conn.execute(
        text(
            "INSERT INTO idempotency_keys (caller, key, request_path, request_hash, "
            "state, created_at) VALUES ('c', :k, 'POST /x', 'h', 'in_progress', "
            "CURRENT_TIMESTAMP)"
        ),
        {"k": key},
    )


def test_a_second_writer_waits_for_the_first_to_commit(sqlite_db: Database) -> None:
    entered, release = threading.Event(), threading.Event()
    seen: list[int] = []

    def first() -> None:
        with sqlite_db.begin() as conn:
            conn.execute(text("SELECT 1"))
            entered.set()
            release.wait(5)

    def second() -> None:
        _insert(sqlite_db, "k2")
        seen.append(_count(sqlite_db))

    a = threading.Thread(target=first)
    a.start()
    assert entered.wait(5)
    b = threading.Thread(target=second)
    b.start()
    b.join(0.3)
    assert b.is_alive()  # queued behind the first writer, not failed
    release.set()
    a.join(5)
    b.join(5)
    assert seen == [1]


def test_a_writer_that_cannot_get_the_lock_in_time_fails_clearly(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "WRITER_WAIT_SECONDS", 0.2)
    with sqlite_db.begin():
        outcome: list[BaseException] = []

        def late() -> None:
            try:
                _insert(sqlite_db, "late")
            except StorageError as exc:
                outcome.append(exc)

        t = threading.Thread(target=late)
        t.start()
        t.join(5)
    assert len(outcome) == 1
    assert "write lock" in str(outcome[0])
    assert _count(sqlite_db) == 0


def _file(db: Database) -> Path:
    return Path(db.url.removeprefix("sqlite:///"))


def _hold_the_lock(url: str, held: Any, release: Any) -> None:
    database = Database(url)
    with database.begin():
        held.set()
        release.wait(10)
    database.dispose()


def test_a_writer_in_another_process_waits_for_the_lock(sqlite_db: Database) -> None:
    """Two `guardpay serve` workers on one file queue on the lock file, not in SQLite's
    busy handler: the second begins as soon as the first ends."""
    context = multiprocessing.get_context("spawn")
    held, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_the_lock, args=(sqlite_db.url, held, release))
    holder.start()
    try:
        assert held.wait(30)
        assert not WriterLock(_file(sqlite_db)).acquire(timeout=0.2)  # the file lock, not SQLite
        waiting = threading.Thread(target=_insert, args=(sqlite_db, "k3"))
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive()  # the other process holds the file's writer lock
        release.set()
        waiting.join(10)
        assert not waiting.is_alive()
        assert _count(sqlite_db) == 1
        mine = WriterLock(_file(sqlite_db))
        assert mine.acquire(timeout=5)
        mine.release()
    finally:
        release.set()
        holder.join(10)


def test_writes_run_one_at_a_time_on_one_kept_connection(sqlite_db: Database) -> None:
    """Every write transaction of a process reuses one connection, kept checked out (its
    page cache stays warm); reads take others from the pool; dispose closes it."""
    pool = sqlite_db.engine.pool
    seen: list[Any] = []
    for key in ("k1", "k2"):
        with sqlite_db.begin() as conn:
            seen.append(conn.connection.dbapi_connection)
            _insert_on(conn, key)
        assert pool.checkedout() == 1  # type: ignore[attr-defined]
    assert seen[0] is seen[1]
    assert _count(sqlite_db) == 2
    with sqlite_db.read() as reader:
        assert reader.connection.dbapi_connection is not seen[0]
    sqlite_db.dispose()
    with sqlite_db.begin() as conn:
        assert conn.connection.dbapi_connection is not seen[0]


def test_a_failed_write_leaves_the_kept_connection_usable(sqlite_db: Database) -> None:
    def insert_then_fail() -> None:
        with sqlite_db.begin() as conn:
            _insert_on(conn, "gone")
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        insert_then_fail()
    _insert(sqlite_db, "kept")
    with sqlite_db.read() as conn:
        keys = conn.execute(text("SELECT key FROM idempotency_keys")).scalars().all()
    assert keys == ["kept"]


def test_dispose_lets_a_write_in_progress_finish(sqlite_db: Database) -> None:
    entered, go = threading.Event(), threading.Event()
    outcome: list[object] = []

    def writer() -> None:
        try:
            with sqlite_db.begin() as conn:
                _insert_on(conn, "a")
                entered.set()
                go.wait(5)
                _insert_on(conn, "b")
            outcome.append("committed")
        except Exception as exc:  # what dispose must not cause
            outcome.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    assert entered.wait(5)
    threading.Timer(0.2, go.set).start()
    sqlite_db.dispose()  # waits for the writer
    thread.join(5)
    assert outcome == ["committed"]
    assert _count(sqlite_db) == 2


def test_a_stale_reference_to_the_write_connection_cannot_block_later_writes(
    sqlite_db: Database,
) -> None:
    with sqlite_db.begin() as conn:
        _insert_on(conn, "k0")
    # a leftover reference used after the commit begins a transaction outside the lock
    assert conn.execute(text("SELECT count(*) FROM idempotency_keys")).scalar_one() == 1
    _insert(sqlite_db, "k1")
    assert _count(sqlite_db) == 2


def _write_in_child(db: Database, parent_connection: int, answer: Any) -> None:
    with db.begin() as conn:
        _insert_on(conn, "from-child")
        answer.put(id(conn.connection.dbapi_connection) == parent_connection)


def test_a_forked_child_writes_on_its_own_connection(sqlite_db: Database) -> None:
    with sqlite_db.begin() as conn:
        _insert_on(conn, "from-parent")
        parent_connection = id(conn.connection.dbapi_connection)
    fork = multiprocessing.get_context("fork")
    answer = fork.Queue()
    child = fork.Process(target=_write_in_child, args=(sqlite_db, parent_connection, answer))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert answer.get(timeout=5) is False  # not the parent's SQLite connection
    assert _count(sqlite_db) == 2
    _insert(sqlite_db, "parent-again")  # the parent's own connection still works
    assert _count(sqlite_db) == 3
