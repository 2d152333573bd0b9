"""A unit of work's savepoint undoes its own writes and the after-commit effects it
registered, and nothing before it, on both backends; every repository is reached
through the unit of work, and nothing outside storage/ builds one."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

from sqlalchemy import Connection, text

import guardpay
import guardpay.storage
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import UnitOfWork, read_only, unit_of_work


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


def test_grouped_effects_get_their_items_in_one_call_after_commit(db: Database) -> None:
    calls: list[list[object]] = []
    others: list[list[object]] = []
    with unit_of_work(db) as uow:
        uow.after_commit_each(calls.append, "first")
        point = uow.savepoint()
        uow.after_commit_each(calls.append, "undone")
        point.rollback()
        uow.after_commit_each(others.append, "other")
        uow.after_commit_each(calls.append, "second")
        assert calls == []  # nothing before the commit
    assert calls == [["first", "second"]]
    assert others == [["other"]]


def test_grouped_effects_of_a_unit_that_rolls_back_never_run(db: Database) -> None:
    calls: list[list[object]] = []
    try:
        with unit_of_work(db) as uow:
            uow.after_commit_each(calls.append, "lost")
            raise LookupError("the request failed")
    except LookupError:
        pass
    assert calls == []


def test_a_failing_grouped_effect_does_not_stop_the_others(db: Database) -> None:
    ran: list[str] = []

    def fails(items: list[object]) -> None:
        raise RuntimeError("the side system is down")

    with unit_of_work(db) as uow:
        uow.after_commit_each(fails, "x")
        uow.after_commit(lambda: ran.append("plain"))
        uow.after_commit_each(lambda items: ran.extend(map(str, items)), "grouped")
    assert ran == ["plain", "grouped"]


def test_a_savepoint_rolled_back_forgets_a_keep_made_since(db: Database) -> None:
    with unit_of_work(db) as uow:
        point = uow.savepoint()
        uow.keep()
        assert (uow.kept, point.kept_since) == (True, True)
        point.rollback()
        assert uow.kept is False
        uow.keep()
        later = uow.savepoint()
        assert (later.kept, later.kept_since) == (True, False)
        later.rollback()
        assert uow.kept is True  # kept before the point: a rollback to it keeps that


def _repository_classes() -> list[type]:
    """Every repository the storage package defines: a class taking the connection."""
    found = []
    for info in pkgutil.iter_modules(guardpay.storage.__path__, "guardpay.storage."):
        module = importlib.import_module(info.name)
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != info.name:
                continue
            params = list(inspect.signature(cls.__init__).parameters)
            if params[1:2] == ["conn"] and cls is not UnitOfWork:
                found.append(cls)
    return found


def test_every_repository_is_a_property_of_the_unit_of_work(db: Database) -> None:
    """The one way to a repository: `uow.<name>`, over the unit's own connection (and its
    row memo, for a repository that keeps one)."""
    names = [n for n, v in vars(UnitOfWork).items() if isinstance(v, property)]
    with read_only(db) as uow:
        reached = {type(getattr(uow, n)): getattr(uow, n) for n in names if n != "conn"}
        expected = _repository_classes()
        assert len(expected) >= 17
        for cls in expected:
            assert cls in reached, f"{cls.__name__} has no property on UnitOfWork"
            repo = reached[cls]
            assert repo.conn is uow.conn
            if "memo" in inspect.signature(cls.__init__).parameters:
                assert repo.memo is uow.memo


def test_services_and_edges_never_build_a_repository() -> None:
    """Nothing outside storage/ constructs one (the edges cannot even import one: the
    import-linter contract in pyproject.toml)."""
    names = "|".join(cls.__name__ for cls in _repository_classes())
    built = re.compile(rf"\b({names})\(")
    src = Path(guardpay.__file__).parent
    offenders = [
        f"{path.relative_to(src)}:{n}"
        for path in sorted(src.rglob("*.py"))
        if path.parent.name != "storage" and "storage" not in path.relative_to(src).parts[:1]
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if built.search(line)
    ]
    assert offenders == []


def _clock(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(text("SELECT last_timestamp FROM ledger_clock")).scalar_one())


def test_the_ledger_clock_moves_once_per_unit_and_a_savepoint_puts_it_back(db: Database) -> None:
    """The unit carries the clock after its first ledger batch and writes the row once,
    before it commits; a savepoint rolled back puts the carried clock back with the
    transfers it undid, and a unit that fails writes nothing."""
    start = _clock(db)
    with unit_of_work(db) as uow:
        uow.ledger_clock = start + 5  # as a first batch would leave it
        point = uow.savepoint()
        uow.ledger_clock = start + 9
        point.rollback()
        assert (uow.ledger_clock, _clock(db)) == (start + 5, start)
    assert _clock(db) == start + 5
    try:
        with unit_of_work(db) as uow:
            uow.ledger_clock = start + 20
            raise LookupError("refused")
    except LookupError:
        pass
    assert _clock(db) == start + 5
