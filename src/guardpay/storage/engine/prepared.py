"""Statements built once and reused, for the queries every payment runs.

SQLAlchemy caches a statement's compiled SQL, but finding it takes the statement's
cache key, and a statement built anew on each call (a `select(...).where(...)`, a
`text(...)` whose bind names are parsed by a regular expression, an
`insert().values(**row)`) pays for construction and for a fresh cache key every time.
Profiled on a P2P payment (18 statements), that was more than the statements' own
execution. A statement object kept here carries its cache key with it; the values
travel as execution parameters.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Dialect,
    Executable,
    Float,
    Insert,
    Numeric,
    Select,
    String,
    Table,
    TextClause,
    bindparam,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound, SQLAlchemyError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeDecorator, TypeEngine

#: Statements built once (by the builders here, or marked with `once`): only these run
#: on the driver's cursor. One built per call would be compiled per call, slower than
#: SQLAlchemy's own cache, which finds it by its cache key.
_ONCE: weakref.WeakValueDictionary[int, Executable] = weakref.WeakValueDictionary()
S = TypeVar("S", bound=Executable)


def once(statement: S) -> S:
    """Mark a statement kept for reuse (a module constant, say): `run` may compile it."""
    _ONCE[id(statement)] = statement
    return statement


@lru_cache(maxsize=512)
def sql(statement: str) -> TextClause:
    """`text(statement)`, once per distinct statement text."""
    return once(text(statement))


@lru_cache(maxsize=512)
def select_by(table: Table, columns: Sequence[str], lock: bool = False) -> Select[tuple[object]]:
    """SELECT * FROM table WHERE c1 = :c1 AND ... [FOR UPDATE]; pass `columns` as a tuple
    and the values as parameters named after the columns."""
    query = select(table).where(*(table.c[c] == bindparam(c) for c in columns))
    return once(query.with_for_update() if lock else query)


class StringList(TypeDecorator[Sequence[str]]):
    """A list of strings bound as one parameter, for `one_of`: JSON text on SQLite, an
    array on PostgreSQL."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        pg = dialect.name == "postgresql"
        return dialect.type_descriptor(postgresql.ARRAY(String()) if pg else String())

    def process_bind_param(self, value: Sequence[str] | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return list(value) if dialect.name == "postgresql" else json.dumps(list(value))


def member(column: str, name: str, dialect: str) -> str:
    """SQL for `column IN (the list in parameter name)`, whatever its length: an
    expanding IN renders new SQL for each length, so it could not be compiled once.
    Bind the list with type `StringList`."""
    if dialect == "postgresql":
        return f"{column} = ANY(:{name})"
    return f"{column} IN (SELECT value FROM json_each(:{name}))"


def one_of(column: str, name: str, dialect: str) -> TextClause:
    """`member` as a clause for a `select(...).where(...)`, its parameter typed."""
    return text(member(column, name, dialect)).bindparams(bindparam(name, type_=StringList()))


@lru_cache(maxsize=64)
def select_in(table: Table, column: str, dialect: str, lock: bool = False) -> Select[Any]:
    """SELECT * FROM table WHERE column IN (the list bound as `values`), in column order;
    `lock` (PostgreSQL) takes the rows' locks in that order, so two transactions locking
    overlapping sets queue instead of deadlocking. One statement for a batch's rows."""
    query = select(table).where(one_of(f"{table.name}.{column}", "values", dialect))
    query = query.order_by(table.c[column])
    return once(query.with_for_update() if lock and dialect == "postgresql" else query)


def rows_by(
    conn: Connection, table: Table, column: str, values: Iterable[str], *, lock: bool = False
) -> dict[str, dict[str, Any]]:
    """The rows whose `column` is one of `values`, by that column, in one statement
    (`select_in`)."""
    query = select_in(table, column, conn.dialect.name, lock)
    return {str(r[column]): r for r in run(conn, query, {"values": sorted(set(values))}).mappings()}


@lru_cache(maxsize=256)
def insert_into(table: Table) -> Insert:
    """INSERT INTO table; execute it with the row's values as parameters."""
    return once(insert(table))


# -- running a statement on the driver's cursor --------------------------------------------
# Even built once, a statement executed through SQLAlchemy pays for an execution
# context, its events, parameter processing and a result object on every call: 40% of
# a payment's CPU in the API benchmark (py-spy, GIL samples), for ~24 statements. The
# hot statements run here instead: compiled once per dialect (with SQLAlchemy's own
# type processing looked up once), then executed on the driver's cursor, as the ledger's
# repository already does. Anything this does not model (Python-side column defaults,
# expanding IN lists, a connection outside a transaction) goes through SQLAlchemy.


@dataclass(frozen=True)
class _Plan:
    statement: Executable  # held so its id() cannot be reused while the plan lives
    sql: str
    positional: bool
    names: tuple[str, ...]  # compiled bind names, in the driver's order
    keys: tuple[str, ...]  # the execution parameter each bind takes
    defaults: tuple[object, ...]  # a bind's own value, if it has one (else _REQUIRED)
    bind: tuple[Processor | None, ...]
    result: tuple[Processor | None, ...]  # per result column; () when untyped (text)

    def arguments(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = []
        for key, default, process in zip(self.keys, self.defaults, self.bind, strict=True):
            value = params[key] if key in params or default is _REQUIRED else default
            values.append(value if process is None else process(value))
        return values if self.positional else dict(zip(self.names, values, strict=True))


Processor = Callable[[Any], Any]
_REQUIRED = object()
#: (id of the statement, dialect, parameter names) -> (the statement, its plan or None).
#: Bounded: a plan holds its statement, and a caller that built statements per call
#: would otherwise keep every one alive; a plan is cheap to compile again.
_PLANS: dict[tuple[int, str, frozenset[str]], tuple[Executable, _Plan | None]] = {}
PLANS_KEPT = 1024


def _columns(statement: Executable) -> Sequence[Any]:
    """The typed columns a statement returns (a SELECT's, a DML's RETURNING; none for
    text, whose results SQLAlchemy does not process either)."""
    return getattr(statement, "exported_columns", None) or ()


def _processors(dialect: Dialect, statement: Executable) -> tuple[Processor | None, ...]:
    return tuple(
        c.type.dialect_impl(dialect).result_processor(dialect, None) for c in _columns(statement)
    )


def _compile(dialect: Dialect, statement: Executable, keys: frozenset[str]) -> _Plan | None:
    try:
        compiled = cast(
            SQLCompiler,
            cast(ClauseElement, statement).compile(dialect=dialect, column_keys=sorted(keys)),
        )
    except SQLAlchemyError:
        return None  # SQLAlchemy will say what is wrong when it runs it
    if _unmodelled(compiled, statement):
        return None
    binds = compiled.binds
    names = tuple(compiled.positiontup or ()) if dialect.positional else tuple(binds)
    return _Plan(
        statement,
        compiled.string,
        dialect.positional,
        names,
        tuple(binds[n].key for n in names),
        tuple(_REQUIRED if binds[n].required else binds[n].effective_value for n in names),
        tuple(binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names),
        _processors(dialect, statement),
    )


def _unmodelled(compiled: SQLCompiler, statement: Executable) -> bool:
    """What only SQLAlchemy's execution does: Python-side column defaults, IN lists
    rendered per call, binds renamed in the SQL or valued by a callable, and numeric
    results (their processors want the driver's column type)."""
    binds = compiled.binds.values()
    columns = _columns(statement)
    return bool(
        compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.escaped_bind_names
        or any(b.expanding or b.literal_execute or b.callable is not None for b in binds)
        or any(isinstance(c.type, (Numeric, Float)) for c in columns)
    )


def _plan(dialect: Dialect, statement: Executable, keys: frozenset[str]) -> _Plan | None:
    slot = (id(statement), dialect.name, keys)
    found = _PLANS.get(slot)
    if found is not None and found[0] is statement:
        return found[1]
    plan = _compile(dialect, statement, keys)
    if len(_PLANS) >= PLANS_KEPT:
        _PLANS.clear()
    _PLANS[slot] = (statement, plan)
    return plan


class Rows:
    """What a statement returned, fetched whole: the subset of SQLAlchemy's `Result`
    the repositories use (rows are plain tuples, mappings plain dicts)."""

    def __init__(self, keys: Sequence[str], rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self.keys, self.rows, self.rowcount = tuple(keys), rows, rowcount

    @classmethod
    def of(cls, result: CursorResult[Any]) -> Rows:
        rows = [tuple(r) for r in result] if result.returns_rows else []
        return cls(tuple(result.keys()) if result.returns_rows else (), rows, result.rowcount)

    def first(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def one(self) -> tuple[Any, ...]:
        if len(self.rows) != 1:
            raise (
                NoResultFound("expected one row")
                if not self.rows
                else MultipleResultsFound("expected one row")
            )
        return self.rows[0]

    def all(self) -> list[tuple[Any, ...]]:
        return self.rows

    def mappings(self) -> Mappings:
        return Mappings(dict(zip(self.keys, r, strict=True)) for r in self.rows)


class Mappings(list[dict[str, Any]]):
    """Rows as dicts, with `first()` and `all()` as SQLAlchemy's `MappingResult` has."""

    def first(self) -> dict[str, Any] | None:
        return self[0] if self else None

    def all(self) -> list[dict[str, Any]]:
        return list(self)


def run(conn: Connection, statement: Executable, params: Mapping[str, Any] | None = None) -> Rows:
    """Execute a statement built once (see above) in the connection's transaction."""
    params = params or {}
    direct = _ONCE.get(id(statement)) is statement and _direct(conn)
    plan = _plan(conn.dialect, statement, frozenset(params)) if direct else None
    if plan is None:
        return Rows.of(conn.execute(statement, dict(params)))
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(plan.sql, plan.arguments(params))
        return _fetched(plan, cursor)
    except conn.dialect.loaded_dbapi.Error as e:
        raise DBAPIError.instance(
            plan.sql, params, e, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from e
    finally:
        cursor.close()


def _direct(conn: Connection) -> bool:
    """In a transaction SQLAlchemy began, and nobody listening for statements (a test
    counting them, say): what they listen for only happens through SQLAlchemy."""
    dispatch = conn.dispatch
    return conn.in_transaction() and not (
        dispatch.before_cursor_execute or dispatch.after_cursor_execute
    )


def _fetched(plan: _Plan, cursor: Any) -> Rows:
    if cursor.description is None:
        return Rows((), [], cursor.rowcount)
    keys = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    if len(plan.result) == len(keys) and any(plan.result):
        rows = [
            tuple(v if p is None else p(v) for p, v in zip(plan.result, row, strict=True))
            for row in rows
        ]
    else:
        rows = [tuple(r) for r in rows]
    return Rows(keys, rows, cursor.rowcount)
