"""Rows a transaction has read, so a request that needs the same user five times (the
payment, its limits, its risk features, the audit) reads it once.

Only repositories use it, for rows they also write: every write drops the entry it
changes (or every entry of its table, `forget_table`), and a rolled-back savepoint drops
everything (its writes, and any row lock
taken inside it, are undone). It lives and dies with one unit of work, so nothing is
ever shared between transactions. A micro-batch of payments is one unit of work: its
rows are read ahead, one statement per table for the whole batch (`put`), and each
payment then finds them here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event

T = TypeVar("T")
#: where a connection keeps the memo of the unit of work that holds it
_INFO_KEY = "guardpay.row_memo"


def forget_on_savepoint_rollback(engine: Engine) -> None:
    """One engine-wide listener (registering one per unit of work cost 3% of a payment):
    a rolled-back savepoint clears the memo of the unit of work holding the connection."""
    event.listen(engine, "rollback_savepoint", _undone_on)


def _undone_on(conn: Connection, *_: object) -> None:
    memo = conn.info.get(_INFO_KEY)
    if isinstance(memo, RowMemo):
        memo.clear()


#: a memo key: the table first (what `forget_table` drops), then what names the row
Key = tuple[Hashable, ...]


class RowMemo:
    """Entries kept by table, so a write that must forget a whole table's entries
    (`forget_table`) visits that table's alone: a payment written forgets its payer's
    sums among a batch's hundreds of remembered rows."""

    def __init__(self, conn: Connection | None = None) -> None:
        self._tables: dict[Hashable, dict[Key, object]] = {}
        if conn is not None:
            self.watch(conn)

    def watch(self, conn: Connection) -> None:
        """Forget everything when a savepoint of `conn` rolls back (the engine's listener,
        `forget_on_savepoint_rollback`, finds this memo on the connection)."""
        conn.info[_INFO_KEY] = self

    def get(self, key: Key, load: Callable[[], T]) -> T:
        rows = self._tables.get(key[0])
        if rows is not None and key in rows:
            return rows[key]  # type: ignore[return-value]
        value = load()
        self.put(key, value)
        return value

    def put(self, key: Key, value: object) -> None:
        """A row read ahead (several at once, for a batch: services/payments/batch.py)."""
        self._tables.setdefault(key[0], {})[key] = value

    def put_all(self, table: str, ids: Iterable[Hashable], found: Mapping[Any, object]) -> None:
        """The rows read ahead for `ids` (`found`, by id), None for those not found, so a
        later `get` reads none of them again."""
        rows = self._tables.setdefault(table, {})
        for row_id in ids:
            rows[(table, row_id)] = found.get(row_id)

    def has(self, key: Key) -> bool:
        return key in self._tables.get(key[0], {})

    def peek(self, key: Key) -> object | None:
        """What is remembered under `key`, or None (never reads)."""
        return self._tables.get(key[0], {}).get(key)

    def forget(self, key: Key) -> None:
        rows = self._tables.get(key[0])
        if rows is not None:
            rows.pop(key, None)

    def forget_table(self, table: str, changed: Callable[[object], bool] | None = None) -> None:
        """Every entry of one table, or those whose value `changed` says a write changed:
        for a write that changes rows known under another key than the one it names."""
        rows = self._tables.get(table)
        if rows is None:
            return
        if changed is None:
            rows.clear()
            return
        for key in [k for k, value in rows.items() if changed(value)]:
            del rows[key]

    def clear(self) -> None:
        self._tables.clear()
