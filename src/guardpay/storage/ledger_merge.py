"""Sealed transfer parts merged into larger ones, in tiers (storage/ledger_parts.py).

Why. The writer opens a part every million transfers, so without merging the parts grow
by one per million forever (at 1,000 payments a second, 170 a day): a lookup by id asks
every sealed part's filter, and a page of an account that pays rarely walks one more
part for each million written since. Merged as an LSM tree compacts its runs, FANOUT
consecutive sealed parts of one tier into one part of the next, the count of parts
grows with the logarithm of the history instead: tiers of 1, 4, 16, 64 and 256 million
transfers, at most FANOUT - 1 parts in each below the top, and the open part.

How, without stopping the writer. Sealed parts never change, so the merged table is
built beside them, CHUNK rows a transaction, under a `ledger_merging_*` name no reader
looks at (a crash leaves only that table, which the next merge drops), and its filter
from its ids. Its indexes exist from the start, so each chunk keeps them as it goes: a
sorted build once the table is full would cost less in all, but on SQLite it holds the
one write lock for the whole build (tens of seconds for a tier of 16 million), and no
payment may wait that long. Then one short transaction under the ledger clock lock
checks that the parts are still those it copied, swaps them for the merged one in the
registry and renames it into place: a reader sees the parts before or after, never a
mixture. The parts it replaced stay, listed as retired (numbered below 0), until the next
merge run drops them: on PostgreSQL a reader that listed the parts a moment before the
swap may still ask for one of them by name. The merged part keeps the first part's number
and first timestamp, so every walk by time and every bound between parts is unchanged.
"""

from __future__ import annotations

import fcntl
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from guardpay.storage import ledger_parts
from guardpay.storage.engine.bloom import Bloom
from guardpay.storage.engine.db import Database, sqlite_file
from guardpay.storage.ledger_parts import (
    FIRST,
    Execute,
    Part,
    Query,
    TransferParts,
    remember_filter,
)
from guardpay.storage.schema import ledger_transfers

#: sealed parts of one tier merged into one of the next
FANOUT = 4
#: the top tier: parts of about FANOUT**TOP_TIER million transfers are not merged again
TOP_TIER = 4
#: rows copied per transaction (each holds the database's write lock on SQLite)
CHUNK = 20_000
BUILDING = "ledger_merging_"
_COLUMNS = ", ".join(c.name for c in ledger_transfers.columns)
_BUILDING = re.compile(r"ledger_merging_p\d{4,}_\d{4,}_[0-9a-f]{8}")


def tier(rows: int, per_part: int) -> int:
    """0 for a part as the writer sealed it (about `per_part` rows), t for one merged from
    FANOUT**t of them (a part takes a batch past its size, so sizes are approximate)."""
    level, size = 0, per_part * FANOUT
    while rows >= size * 9 // 10 and level < TOP_TIER:
        level, size = level + 1, size * FANOUT
    return level


def plan(parts: Sequence[Part]) -> list[Part] | None:
    """The oldest FANOUT neighbouring sealed parts of one tier below the top (None: no
    merge is due). Oldest first, so older history sits in the larger parts. Part 0 is
    never merged: it is the table every schema made, the one later parts are made like."""
    per_part = ledger_parts.TRANSFERS_PER_PART  # read now: tests seal tiny parts
    sealed = [p for p in parts if p.sealed and p.number > 0]
    for i in range(len(sealed) - FANOUT + 1):
        run = sealed[i : i + FANOUT]
        tiers = {tier(p.rows, per_part) for p in run}
        if len(tiers) == 1 and tiers != {TOP_TIER}:
            return run
    return None


def merged_name(run: Sequence[Part]) -> str:
    return f"{FIRST}_p{run[0].number:04d}_{_last_number(run[-1]):04d}"


def _last_number(part: Part) -> int:
    last = part.name.rsplit("_", 1)[-1]
    return int(last[1:]) if last.startswith("p") else int(last)


@contextmanager
def exclusive(db: Database) -> Iterator[bool]:
    """Whether this process may merge now: one merge run at a time per database, so no
    run drops a table another is building or parts another just retired (PostgreSQL: an
    advisory lock, per schema, on a connection of its own; SQLite: a lock on a file
    beside the database)."""
    if db.backend == "postgresql":
        with db.engine.connect() as conn:
            key = "SELECT hashtext('guardpay.ledger_merge.' || current_schema())"
            got = bool(conn.exec_driver_sql(f"SELECT pg_try_advisory_lock(({key}))").scalar())
            conn.commit()  # the lock is the session's: no transaction stays open meanwhile
            try:
                yield got
            finally:
                if got:
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock(({key}))")
                    conn.commit()
        return
    file = sqlite_file(db.url)
    if file is None:  # in memory: one process, one connection
        yield True
        return
    with open(f"{file}.merge-lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Built:
    """A merged table built beside its parts, not yet in the registry."""

    parts: tuple[Part, ...]
    table: str  # its building name
    rows: int
    bloom: Bloom


class PartMerger:
    """The merge's SQL, on the caller's connection and transaction (each step is one
    unit of work of its own: `services/ledger/parts.py`)."""

    def __init__(self, parts: TransferParts, query: Query, execute: Execute) -> None:
        self.parts, self.query, self.execute = parts, query, execute

    def leftovers(self) -> list[str]:
        """Tables a merge that did not finish left behind."""
        pattern = f"{BUILDING}%"
        sql = (
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename LIKE ?"
            if self.parts.pg
            else "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?"
        )
        found = [str(r[0]) for r in self.query(sql, (pattern,))]
        return [t for t in found if _BUILDING.fullmatch(t)]

    def drop(self, table: str) -> None:
        if not _BUILDING.fullmatch(table):
            raise ValueError(f"not a table a merge builds: {table!r}")
        self.execute(f"DROP TABLE IF EXISTS {table}", ())

    def create(self, run: Sequence[Part]) -> str:
        """The empty table the run's rows go into, with part 0's indexes; named for the
        run and this merge alone, so two merges never build in one table."""
        table = f"{BUILDING}{merged_name(run)[len(FIRST) + 1 :]}_{uuid.uuid4().hex[:8]}"
        if self.parts.pg:
            self.execute(
                f"CREATE TABLE {table} (LIKE {FIRST} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
                (),
            )
        else:
            self.execute(self.parts.template("table", table)[0], ())
        for ddl in self._index_ddl(table):
            self.execute(ddl, ())
        return table

    def copy(self, source: Part, table: str, after: int, limit: int = CHUNK) -> int | None:
        """Up to `limit` of `source`'s rows after timestamp `after` into `table`; the last
        timestamp copied (None: nothing was left)."""
        found = self.query(
            f"SELECT timestamp FROM {source.name} WHERE timestamp > ? "
            "ORDER BY timestamp LIMIT 1 OFFSET ?",
            (after, limit - 1),
        ) or self.query(f"SELECT MAX(timestamp) FROM {source.name} WHERE timestamp > ?", (after,))
        bound = found[0][0]
        if bound is None:
            return None
        self.execute(
            f"INSERT INTO {table} ({_COLUMNS}) SELECT {_COLUMNS} FROM {source.name} "
            "WHERE timestamp > ? AND timestamp <= ?",
            (after, int(bound)),
        )
        return int(bound)

    def finish(self, run: Sequence[Part], table: str) -> Built:
        """The table, holding every row, with its filter."""
        ids = np.array([r[0] for r in self.query(f"SELECT id FROM {table}", ())], dtype=np.int64)
        return Built(tuple(run), table, len(ids), Bloom.of(ids))

    def swap(self, built: Built) -> bool:
        """Under the ledger clock lock (the caller's): the parts replaced by the merged
        one, and retired, if they are still what was copied (False, and nothing changed,
        if not)."""
        now = {p.number: p for p in self.parts.all()}
        if any(now.get(p.number) != p for p in built.parts):
            return False
        held = int(self.query(f"SELECT COUNT(*) FROM {built.table}", ())[0][0])
        if held != built.rows or built.rows != sum(p.rows for p in built.parts):
            raise RuntimeError(f"{built.table} holds {held} rows, not its parts' {built.rows}")
        first, name = built.parts[0], merged_name(built.parts)
        uid = uuid.uuid4().hex
        lowest = int(self.query("SELECT MIN(part) FROM ledger_parts", ())[0][0])
        for retired, part in enumerate(built.parts, start=1):
            self.execute(
                "UPDATE ledger_parts SET part = ? WHERE part = ?",
                (min(lowest, 0) - retired, part.number),
            )
        self.execute(
            "INSERT INTO ledger_parts (part, name, first_timestamp, rows, uid, bloom, "
            "bloom_hashes) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                first.number,
                name,
                first.first_timestamp,
                built.rows,
                uid,
                built.bloom.packed,
                built.bloom.hashes,
            ),
        )
        self.execute(f"ALTER TABLE {built.table} RENAME TO {name}", ())
        for ddl in self.parts.guard_ddl(name):
            self.execute(ddl, ())
        remember_filter(uid, built.bloom)
        return True

    def drop_retired(self, name: str) -> None:
        """A part an earlier merge run replaced, dropped now (its readers are long gone)."""
        if name not in self.parts.retired():
            raise ValueError(f"not a retired part: {name!r}")
        self.execute(f"DROP TABLE IF EXISTS {name}", ())
        self.execute("DELETE FROM ledger_parts WHERE part < 0 AND name = ?", (name,))

    def _index_ddl(self, table: str) -> list[str]:
        """Part 0's indexes, for `table`."""
        if not self.parts.pg:
            return self.parts.template("index", table)
        rows: list[Any] = self.query(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ?",
            (FIRST,),
        )
        return [str(r[0]).replace(FIRST, table) for r in rows]
