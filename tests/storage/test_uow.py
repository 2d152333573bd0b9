"""A unit of work's savepoint undoes its own writes and the after-commit effects it
registered, and nothing before it, on both backends."""

from __future__ import annotations

from sqlalchemy import Connection, text

from guardpay.storage.engine.db import Database
from guardpay.storage.uow import unit_of_work


def _insert(conn: Connection, key: str) -> None:
    conn.execute(
        text(
            "INSERT INTO idempotency_keys (caller, key, request_path, request_hash, state, "
            "created_at) VALUES ('c', :k, 'POST /x', 'h', 'in_progress', CURRENT_TIMESTAMP)"
        ),
        {"k": key},
    )


def _keys(db: Database) -> list[str]:
    with db.read() as conn:
        return list(conn.execute(text("SELECT key FROM idempotency_keys ORDER BY key")).scalars())


def test_a_rolled_back_savepoint_takes_its_writes_and_effects_only(db: Database) -> None:
    ran: list[str] = []
    with unit_of_work(db) as uow:
        _insert(uow.conn, "before")
        uow.after_commit(lambda: ran.append("before"))
        point = uow.savepoint()
        _insert(uow.conn, "inside")
        uow.after_commit(lambda: ran.append("inside"))
        point.rollback()
        _insert(uow.conn, "after")
        uow.after_commit(lambda: ran.append("after"))
    assert _keys(db) == ["after", "before"]
    assert ran == ["before", "after"]


def test_a_released_savepoint_commits_with_the_unit(db: Database) -> None:
    ran: list[str] = []
    with unit_of_work(db) as uow:
        point = uow.savepoint()
        _insert(uow.conn, "inside")
        uow.after_commit(lambda: ran.append("inside"))
        point.release()
    assert _keys(db) == ["inside"]
    assert ran == ["inside"]


def test_a_savepoint_block_that_raises_is_undone_alone(db: Database) -> None:
    ran: list[str] = []
    with unit_of_work(db) as uow:
        _insert(uow.conn, "kept")
        try:
            with uow.savepoint():
                _insert(uow.conn, "undone")
                uow.after_commit(lambda: ran.append("undone"))
                raise LookupError("this one fails")
        except LookupError:
            pass
        with uow.savepoint():
            _insert(uow.conn, "released")
    assert _keys(db) == ["kept", "released"]
    assert ran == []
