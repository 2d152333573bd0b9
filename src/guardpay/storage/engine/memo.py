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

from collections.abc import Callable, Hashable
from typing import TypeVar

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


class RowMemo:
    def __init__(self, conn: Connection | None = None) -> None:
        self._rows: dict[Hashable, object] = {}
        if conn is not None:
            self.watch(conn)

    def watch(self, conn: Connection) -> None:
        """Forget everything when a savepoint of `conn` rolls back (the engine's listener,
        `forget_on_savepoint_rollback`, finds this memo on the connection)."""
        conn.info[_INFO_KEY] = self

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        if key in self._rows:
            return self._rows[key]  # type: ignore[return-value]
        value = load()
        self._rows[key] = value
        return value

    def put(self, key: Hashable, value: object) -> None:
        """A row read ahead (several at once, for a batch: services/payments/batch.py)."""
        self._rows[key] = value

    def has(self, key: Hashable) -> bool:
        return key in self._rows

    def peek(self, key: Hashable) -> object | None:
        """What is remembered under `key`, or None (never reads)."""
        return self._rows.get(key)

    def forget(self, key: Hashable) -> None:
        self._rows.pop(key, None)

    def forget_table(self, table: str, changed: Callable[[object], bool] | None = None) -> None:
        """Every entry of one kind (keys are tuples named by their table first), or those
        of its entries whose value `changed` says a write changed: for a write that
        changes rows known under another key than the one it names."""
        for key in [k for k in self._rows if isinstance(k, tuple) and k and k[0] == table]:
            if changed is None or changed(self._rows[key]):
                del self._rows[key]

    def clear(self) -> None:
        self._rows.clear()
