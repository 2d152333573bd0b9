"""Rows a transaction has read, so a request that needs the same user five times (the
payment, its limits, its risk features, the audit) reads it once.

Only repositories use it, for rows they also write: every write drops the entry it
changes, and a rolled-back savepoint drops everything (its writes, and any row lock
taken inside it, are undone). It lives and dies with one unit of work, so nothing is
ever shared between transactions.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy import Connection, event

T = TypeVar("T")


class RowMemo:
    def __init__(self, conn: Connection | None = None) -> None:
        self._rows: dict[Hashable, object] = {}
        if conn is not None:
            event.listen(conn, "rollback_savepoint", self._undone)

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        if key in self._rows:
            return self._rows[key]  # type: ignore[return-value]
        value = load()
        self._rows[key] = value
        return value

    def forget(self, key: Hashable) -> None:
        self._rows.pop(key, None)

    def _undone(self, *_: object) -> None:
        self._rows.clear()
