"""Statements run on the driver's cursor (`storage.engine.prepared.run`), on both backends: they
answer what SQLAlchemy answers for the same statement, errors arrive as SQLAlchemy's
exceptions, and what the fast path does not model goes through SQLAlchemy and still
works (Python-side defaults, expanding IN lists, someone listening for statements)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    cast,
    event,
    select,
)
from sqlalchemy.exc import IntegrityError

from guardpay.storage.engine import prepared
from guardpay.storage.engine.db import Database, as_utc
from guardpay.storage.engine.prepared import insert_into, once, one_of, run, select_by, sql

AT = datetime(2026, 11, 21, 9, 30, 15, 123456, tzinfo=UTC)
probes = Table(
    "prepared_probes",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False, unique=True),
    Column("at", DateTime(timezone=True), nullable=True),
    Column("note", String(40), nullable=False, default="from the column default"),
    Column("per cent", Integer, nullable=True),
    Column("doc", JSON, nullable=True),
)


@pytest.fixture
def probe_db(db: Database) -> Iterator[Database]:
    probes.create(db.engine)
    yield db
    probes.drop(db.engine)


def probe(
    *, id: int = 1, name: str = "first", at: datetime | None = AT, note: str = "given"
) -> dict[str, Any]:
    return {"id": id, "name": name, "at": at, "note": note}


def test_a_row_reads_back_as_sqlalchemy_reads_it(probe_db: Database) -> None:
    by_id = select_by(probes, ("id",))
    with probe_db.begin() as conn:
        assert run(conn, insert_into(probes), probe()).rowcount == 1
        assert run(conn, insert_into(probes), probe(id=2, name="no time", at=None)).rowcount == 1
        for id_ in (1, 2):
            fast = run(conn, by_id, {"id": id_}).mappings().first()
            slow = conn.execute(by_id, {"id": id_}).mappings().first()
            assert fast == dict(slow or {})
        row = run(conn, by_id, {"id": 1}).mappings().first()
    assert row is not None
    assert as_utc(row["at"]) == AT  # the timestamp survives to the microsecond
    assert (row["name"], row["note"]) == ("first", "given")


def test_text_statements_and_an_empty_answer(probe_db: Database) -> None:
    with probe_db.begin() as conn:
        run(conn, insert_into(probes), probe())
        count = sql("SELECT count(*) FROM prepared_probes WHERE name = :name")
        assert run(conn, count, {"name": "first"}).one() == (1,)
        assert run(conn, count, {"name": "nobody"}).one() == (0,)
        nothing = run(conn, select_by(probes, ("name",)), {"name": "nobody"})
        assert (nothing.first(), nothing.mappings().first(), nothing.all()) == (None, None, [])


def test_a_constraint_violation_is_sqlalchemys_integrity_error(probe_db: Database) -> None:
    with probe_db.begin() as conn:
        run(conn, insert_into(probes), probe())
        savepoint = conn.begin_nested()
        with pytest.raises(IntegrityError):
            run(conn, insert_into(probes), probe(id=2, name="first"))  # the name is unique
        savepoint.rollback()
        assert run(conn, sql("SELECT count(*) FROM prepared_probes")).one() == (1,)


def test_a_python_side_default_goes_through_sqlalchemy(probe_db: Database) -> None:
    row = probe()
    del row["note"]
    with probe_db.begin() as conn:
        run(conn, insert_into(probes), row)
        found = run(conn, select_by(probes, ("id",)), {"id": 1}).mappings().first()
    assert found is not None
    assert found["note"] == "from the column default"


def test_an_expanding_in_list_goes_through_sqlalchemy(probe_db: Database) -> None:
    query = select(probes.c.name).where(probes.c.id.in_(bindparam("ids", expanding=True)))
    with probe_db.begin() as conn:
        for i in (1, 2, 3):
            run(conn, insert_into(probes), probe(id=i, name=f"n{i}"))
        rows = run(conn, query.order_by(probes.c.id), {"ids": [1, 3]}).all()
    assert rows == [("n1",), ("n3",)]


def test_a_listener_for_statements_sees_every_one(probe_db: Database) -> None:
    """A test counting statements (tests/storage/test_memo.py) must still see them."""
    seen: list[str] = []
    with probe_db.begin() as conn:
        event.listen(conn, "before_cursor_execute", lambda *a: seen.append(a[2]))
        run(conn, insert_into(probes), probe())
        run(conn, select_by(probes, ("id",)), {"id": 1})
    ours = [s for s in seen if "prepared_probes" in s]  # not the transaction's own SAVEPOINTs
    assert len(ours) == 2
    assert ours[0].startswith("INSERT INTO prepared_probes")


def test_a_statement_is_compiled_once_per_dialect(
    probe_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: list[object] = []
    real = prepared._compile
    monkeypatch.setattr(prepared, "_compile", lambda *a: compiled.append(a[1]) or real(*a))
    query = once(select(probes).where(probes.c.name == bindparam("name")))  # never compiled
    with probe_db.begin() as conn:
        for name in ("a", "b", "c"):
            assert run(conn, query, {"name": name}).all() == []
    assert compiled == [query]


def test_a_statement_built_per_call_goes_through_sqlalchemy(
    probe_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compiling it each call would be slower than SQLAlchemy's cache, which finds it by
    its cache key; only statements kept for reuse (`once`) are compiled here."""
    compiled: list[object] = []
    real = prepared._compile
    monkeypatch.setattr(prepared, "_compile", lambda *a: compiled.append(a[1]) or real(*a))
    with probe_db.begin() as conn:
        run(conn, insert_into(probes), probe())
        for _ in range(3):
            fresh = select(probes.c.name).where(probes.c.id == 1)
            assert run(conn, fresh).all() == [("first",)]
    assert compiled.count(fresh) == 0


def test_what_only_sqlalchemy_models_goes_through_it(probe_db: Database) -> None:
    """Numeric results (their processors want the driver's column type), bind names
    SQLAlchemy renames in the SQL, and NULL through a typed JSON column, as SQLAlchemy
    would write it."""
    as_float = once(select(cast(bindparam("x", type_=Integer), Float)))
    with probe_db.begin() as conn:
        assert run(conn, as_float, {"x": 1}).one() == (1.0,)
        run(conn, insert_into(probes), probe() | {"per cent": 5, "doc": None})
        conn.execute(insert_into(probes), probe(id=2, name="slow") | {"doc": None})
        read = sql('SELECT "per cent", doc FROM prepared_probes ORDER BY id')
        rows = run(conn, read).all()
        assert rows == conn.execute(read).all()  # both rows' doc written alike
        assert [r[0] for r in rows] == [5, None]
        assert rows[0][1] == rows[1][1]


@pytest.mark.parametrize(
    ("names", "found"),
    [([], []), (["n2"], [2]), (["n1", "n3", "nobody"], [1, 3])],
)
def test_one_of_takes_a_list_of_any_length_in_one_statement(
    probe_db: Database, names: list[str], found: list[int]
) -> None:
    """What replaces an expanding IN on the hot path: one SQL text for every length."""
    with probe_db.begin() as conn:
        for i in (1, 2, 3):
            run(conn, insert_into(probes), probe(id=i, name=f"n{i}"))
        where = one_of("name", "names", conn.dialect.name)
        query = select(probes.c.id).where(where).order_by(probes.c.id)
        rows = run(conn, query, {"names": names}).all()
    assert [r[0] for r in rows] == found
    plan = prepared._plan(probe_db.engine.dialect, query, frozenset({"names"}))
    assert plan is not None  # compiled once, run on the driver's cursor


def test_plans_are_bounded_however_many_statements_are_built(
    probe_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller building a statement per call must not keep every one alive."""
    monkeypatch.setattr(prepared, "PLANS_KEPT", 8)
    with probe_db.begin() as conn:
        for i in range(30):
            fresh = sql(f"SELECT {i} FROM prepared_probes WHERE id = :id")
            assert run(conn, fresh, {"id": 1}).all() == []
            assert len(prepared._PLANS) <= 8
