"""Ledger transfers in time partitions: the indexes a batch writes stay small.

Why. Every transfer row enters three B-trees keyed by values that arrive in no order:
its id (the caller's idempotency key) and its two accounts. Once those trees outgrow the
page cache, every insert lands on a page that must be read, and every commit writes back
pages scattered all over them: measured with 8,190-row batches into one table, 111k rows/s
in the first million, 23k/s in the fourth. So transfers are written to the newest of a
series of tables (`ledger_transfers`, then `ledger_transfers_p0001`, ...), each holding a
contiguous range of ledger time; when the newest holds `TRANSFERS_PER_PART` rows, the next
batch seals it and opens another. Only the open part's indexes are written, so the cost
of a write does not grow with history.

Sealing stores a Bloom filter of the part's ids (storage/engine/bloom.py): a batch asks
whether thousands of new ids already exist, and a sealed part is probed only for the few
ids its filter lets through. An id is unique across parts because the single writer of
the clock (storage/ledger.py) asks every part before it writes; each part's own unique
index guards its range. Reads that name an account or a time walk the parts newest first
and stop once they have what they need; `ledger verify` reads them all.

The registry `ledger_parts` lists the parts: number, table, the first ledger timestamp it
may hold (a part holds transfers from there to the next part's first), its row count, a
random uid that names its filter in this process's cache (a sealed part never changes, so
a filter cached by uid is never stale, whichever database it came from), and the filter
once sealed. Part 0 is the table every earlier schema wrote: nothing moves (migration
0016).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from guardpay.storage.engine.bloom import Bloom

#: rows an open part takes before the next batch seals it (a million transfers' indexes,
#: about 60 MB, stay within the writer's 64 MB page cache)
TRANSFERS_PER_PART = 1_000_000
FIRST = "ledger_transfers"
#: part 0, a part the writer sealed, or one merged from several (storage/ledger_merge.py)
_NAME = re.compile(r"ledger_transfers(_p\d{4,}(_\d{4,})?)?")
#: sealed parts' filters this process keeps (about 1.5 MB each)
CACHED_FILTERS = 256
_FILTERS: dict[str, Bloom] = {}

Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
Execute = Callable[[str, Sequence[Any]], None]


@dataclass(frozen=True)
class Part:
    number: int
    name: str
    first_timestamp: int
    rows: int
    uid: str
    sealed: bool


def part_name(number: int) -> str:
    return FIRST if number == 0 else f"{FIRST}_p{number:04d}"


class TransferParts:
    """The registry and the per-part SQL, on the caller's connection and transaction:
    `query` runs a statement and returns its rows, `execute` runs one that returns none;
    `pg` says which dialect's DDL."""

    def __init__(self, query: Query, execute: Execute, pg: bool) -> None:
        self._run = query
        self._exec = execute
        self.pg = pg

    def all(self) -> list[Part]:
        """Every part, oldest first."""
        found = [
            Part(int(n), str(name), int(first), int(count), str(uid), bool(sealed))
            for n, name, first, count, uid, sealed in self._run(
                "SELECT part, name, first_timestamp, rows, uid, "
                "CASE WHEN bloom IS NULL THEN 0 ELSE 1 END FROM ledger_parts WHERE part >= 0 "
                "ORDER BY part",
                (),
            )
        ]
        for part in found:
            if not _NAME.fullmatch(part.name):  # names go into SQL text
                raise ValueError(f"ledger_parts names an unexpected table {part.name!r}")
        return found

    def retired(self) -> list[str]:
        """Parts a merge replaced, kept until the next merge run drops them (numbered
        below 0: storage/ledger_merge.py): a reader that listed the parts just before the
        swap may still read them."""
        rows = self._run("SELECT name FROM ledger_parts WHERE part < 0 ORDER BY part", ())
        names = [str(r[0]) for r in rows]
        for name in names:
            if not _NAME.fullmatch(name):  # names go into SQL text
                raise ValueError(f"ledger_parts names an unexpected table {name!r}")
        return names

    @staticmethod
    def reaching(parts: Sequence[Part], since: int) -> list[Part]:
        """The parts that may hold transfers at `since` or later, oldest first."""
        return [
            p
            for i, p in enumerate(parts)
            if i == len(parts) - 1 or parts[i + 1].first_timestamp > since
        ]

    @staticmethod
    def holding(parts: Sequence[Part], timestamp: int) -> Part:
        """The part a transfer at `timestamp` is in."""
        return next(p for p in reversed(parts) if p.first_timestamp <= timestamp)

    @staticmethod
    def walk(parts: Sequence[Part], bound: int, newest_first: bool) -> Iterator[Part]:
        """The parts that may hold transfers before `bound` (newest first) or after it
        (oldest first), in that order."""
        if newest_first:
            yield from (p for p in reversed(parts) if p.first_timestamp < bound)
        else:
            yield from TransferParts.reaching(parts, bound + 1)

    def candidates(self, parts: Sequence[Part], ids: set[int]) -> Iterator[tuple[Part, set[int]]]:
        """For each part, newest first, the ids it may hold: all of them for an open part,
        those its filter lets through for a sealed one."""
        for part in reversed(parts):
            if not ids:
                return
            if not part.sealed:
                yield part, ids
                continue
            found = self.filter_of(part)
            maybe = ids if found is None else set(found.maybe(ids))
            if maybe:
                yield part, maybe

    def filter(self, part: Part) -> Bloom:
        found = self.filter_of(part)
        if found is None:
            raise LookupError(f"{part.name} has no filter")
        return found

    def filter_of(self, part: Part) -> Bloom | None:
        """A sealed part's filter, found by its uid (a merge renumbers the parts it
        retires, never their uids); None if the registry no longer has it, which a reader
        that listed the parts before a merge may meet: every id may then be there."""
        cached = _FILTERS.get(part.uid)
        if cached is None:
            rows = self._run(
                "SELECT bloom, bloom_hashes FROM ledger_parts WHERE uid = ? AND bloom IS NOT NULL",
                (part.uid,),
            )
            if not rows:
                return None
            cached = Bloom(bytes(rows[0][0]), int(rows[0][1]))
            remember_filter(part.uid, cached)
        return cached

    def writing(self, first_timestamp: int) -> Part:
        """The part a batch whose first transfer is at `first_timestamp` writes to: the
        open one, or a new one if the open one is full (call with the clock locked)."""
        parts = self.all()
        open_part = parts[-1]
        if open_part.rows < TRANSFERS_PER_PART:
            return open_part
        return self.roll(open_part, first_timestamp)

    def roll(self, open_part: Part, first_timestamp: int) -> Part:
        """Seal `open_part` (its filter, its exact row count) and open the next part."""
        ids = [int(r[0]) for r in self._run(f"SELECT id FROM {open_part.name}", ())]
        bloom = Bloom.of(ids)
        self._exec(
            "UPDATE ledger_parts SET bloom = ?, bloom_hashes = ?, rows = ? WHERE part = ?",
            (bloom.packed, bloom.hashes, len(ids), open_part.number),
        )
        remember_filter(open_part.uid, bloom)
        number = open_part.number + 1
        new = Part(number, part_name(number), first_timestamp, 0, uuid.uuid4().hex, False)
        for ddl in self._table_ddl(new.name):
            self._exec(ddl, ())
        self._exec(
            "INSERT INTO ledger_parts (part, name, first_timestamp, rows, uid) "
            "VALUES (?, ?, ?, 0, ?)",
            (new.number, new.name, new.first_timestamp, new.uid),
        )
        return new

    def problems(self, parts: Sequence[Part]) -> list[str]:
        """What `ledger verify` finds wrong with the parts themselves: a transfers table
        the registry does not list (its rows would go unseen), a sealed part whose rows or
        ids are not those it was sealed with (its filter would hide an id), an id held
        twice. Reads every id once: a part at a time into one sorted array."""
        found = []
        listed = {p.name for p in parts} | set(self.retired())
        unlisted = sorted(set(self._tables()) - listed)
        if unlisted:
            found.append(f"transfer tables missing from ledger_parts: {unlisted}")
        chunks = []
        for part in parts:
            ids = np.array(
                [r[0] for r in self._run(f"SELECT id FROM {part.name}", ())], dtype=np.int64
            )
            chunks.append(ids)
            if not part.sealed:
                continue
            if len(ids) != part.rows:
                found.append(f"{part.name} holds {len(ids)} transfers, sealed with {part.rows}")
            sealed_with = self.filter(part)
            if Bloom.of(ids, sealed_with.hashes) != sealed_with:
                found.append(f"{part.name}'s ids are not those its filter was built from")
        every = np.sort(np.concatenate(chunks)) if chunks else np.array([], dtype=np.int64)
        twice = np.unique(every[1:][every[1:] == every[:-1]])
        if len(twice):
            found.append(f"{len(twice)} transfer ids are held twice, e.g. {twice[:3].tolist()}")
        return found

    def _tables(self) -> list[str]:
        pattern = f"{FIRST}_p%"
        sql = (
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename LIKE ?"
            if self.pg
            else "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?"
        )
        return [str(r[0]) for r in self._run(sql, (pattern,)) if _NAME.fullmatch(str(r[0]))]

    def counted(self, part: Part, added: int) -> None:
        self._exec("UPDATE ledger_parts SET rows = rows + ? WHERE part = ?", (added, part.number))

    def _table_ddl(self, name: str) -> list[str]:
        """The statements that create part `name` as part 0 was created: its columns,
        indexes and immutability guards."""
        if self.pg:
            return [f"CREATE TABLE {name} (LIKE {FIRST} INCLUDING ALL)", *self.guard_ddl(name)]
        return [*self.template("table", name), *self.template("index", name), *self.guard_ddl(name)]

    def template(self, kind: str, name: str) -> list[str]:
        """SQLite: part 0's statements of one kind (table, index, trigger), for `name`."""
        rows = self._run(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type = ? AND sql IS NOT NULL "
            "ORDER BY name",
            (FIRST, kind),
        )
        return [str(sql).replace(FIRST, name) for (sql,) in rows]

    def guard_ddl(self, name: str) -> list[str]:
        """Part 0's immutability guards, for part `name` (named for it: `ledger verify`
        checks them by name on SQLite, by function on PostgreSQL)."""
        if not self.pg:
            return self.template("trigger", name)
        return [
            f"CREATE TRIGGER {name}_immutable BEFORE UPDATE OR DELETE ON {name} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_transfers_immutable()"
        ]


def union(parts: Iterable[Part], columns: str, where: str = "") -> str:
    """A subquery over every part's rows: `columns` of each, `where` applied in each."""
    clause = f" WHERE {where}" if where else ""
    return " UNION ALL ".join(f"SELECT {columns} FROM {p.name}{clause}" for p in parts)


def remember_filter(uid: str, bloom: Bloom) -> None:
    """A sealed part's filter, kept in this process (a part's uid never changes meaning)."""
    if len(_FILTERS) >= CACHED_FILTERS:
        del _FILTERS[next(iter(_FILTERS))]
    _FILTERS[uid] = bloom
