"""Ledger SQL: read the view a batch needs, write its outcome, answer queries.

Serialisation. Every transaction that writes the ledger first locks the single
`ledger_clock` row (SQLite: the `BEGIN IMMEDIATE` write lock; PostgreSQL: `SELECT ... FOR
UPDATE`), at its first batch; it holds the lock, and the clock, until it commits. Ledger writes are
therefore applied one batch at a time per database, whichever process sends them, which
is what makes the balance checks race-free without per-account locks or deadlocks. The
batching writer (`bench/ledger_writer.py`) turns that serial section into throughput.

Partitioning beyond one database: the clock row is the unit of serialisation, so a
deployment that outgrows one writer shards the ledger by account id (e.g. Citus,
distributing every `ledger_*` table on the account id, with one clock row and one writer
per shard). A transfer between shards becomes two linked two-phase transfers through a
per-shard settlement account: pending on both shards, then posted on both (or voided),
driven by an idempotent coordinator keyed on the transfer id.

Deferred accounts. Every transfer row carries its two accounts' balances right after it
(`AFTER_COLUMNS`), so an account's balance is the newest of its row (as of `as_of`) and
the balances its newest later transfer carries. A writer may therefore leave the rows of
the accounts its transfers moved behind (`write(defer=True)`), recording since when rows
lag in the clock row (`accounts_behind_since`), and bring them up to date later in one
pass (`fold`): with a million active accounts, rewriting their rows for every batch was
most of a batch's cost (migration 0015). Every read of accounts here and in
`ledger_queries` lays the lagging balances over the rows; while nothing lags (the marker
is 0, as for the API's payments, which write rows in place) a read costs nothing more.

Transfers live in time partitions, written one at a time (storage/ledger_parts.py): the
indexes a batch writes stay small however long the history grows.

The hot path uses the DBAPI cursor directly (executemany, COPY on PostgreSQL): SQL stays
in this module, but without per-row ORM overhead on 8,190-row batches.
"""

from __future__ import annotations

import itertools
import json
import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from guardpay.domain.ledger.model import (
    Account,
    AccountFlagsChange,
    Event,
    PendingState,
    Transfer,
    TransferFlags,
)
from guardpay.domain.ledger.results import Result
from guardpay.domain.ledger.verify import Counters
from guardpay.domain.ledger.work import After, BatchOutcome, LedgerView
from guardpay.storage.ledger_merge import PartMerger
from guardpay.storage.ledger_parts import Part, TransferParts
from guardpay.storage.ledger_stage import InFlight, LedgerStage
from guardpay.storage.schema import AFTER_COLUMNS

ACCOUNT_COLS = (
    "id, ledger, code, flags, user_data_64, user_data_32, "
    "debits_pending, debits_posted, credits_pending, credits_posted, timestamp"
)
TRANSFER_COLS = (
    "id, debit_account_id, credit_account_id, amount, pending_id, user_data_64, "
    "user_data_32, timeout, ledger, code, flags, timestamp"
)
_AFTER = ", ".join(AFTER_COLUMNS)
#: a transfer row as written: the transfer, then its accounts' balances after it
_CARRIED = f"{TRANSFER_COLS}, {_AFTER}"
_RESOLVING = int(TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING)
_new = tuple.__new__
_ID = operator.itemgetter(0)  # an `Account`'s id
_COPY_THRESHOLD = 64


#: accounts the single writer keeps in memory (about 360 bytes each: 0.7 GB at most)
CACHED_ACCOUNTS = 2_000_000


class AccountCache:
    """Committed account state the single writer keeps between its batches.

    It is trusted only while nobody else has written: every batch that changes anything
    advances the ledger clock, so if the clock (read under the lock) is not what this
    writer last committed, another writer has been here and the cache is dropped.
    """

    def __init__(self, max_accounts: int = CACHED_ACCOUNTS) -> None:
        self.max_accounts = max_accounts
        #: plain tuples in `Account` order, not `Account`s: the cyclic collector stops
        #: tracking a tuple of ints, never a named tuple, and a full collection walking a
        #: million cached accounts took 0.22 s (measured; py-spy put a fifth of the
        #: writer's time there at a million accounts)
        self.accounts: dict[int, tuple[int, ...]] = {}
        self.clock: int | None = None

    def found(self, ids: Iterable[int]) -> dict[int, Account]:
        """The cached accounts among `ids`."""
        known = self.accounts
        return {i: _new(Account, known[i]) for i in ids if i in known}

    def valid_at(self, clock: int) -> bool:
        if self.clock != clock:
            self.reset()
        return self.clock is not None

    def reset(self) -> None:
        self.accounts.clear()
        self.clock = None

    def committed(self, view: LedgerView, out: BatchOutcome) -> None:
        """Call only after the batch's transaction committed."""
        if len(self.accounts) + len(view.accounts) > self.max_accounts:
            self._evict(len(self.accounts) + len(view.accounts) - self.max_accounts // 2)
        known = self.accounts
        fresh = view.accounts.keys() - known.keys()  # none, once the cache is warm
        known.update((i, tuple(view.accounts[i])) for i in fresh)
        # the loops in C: a batch over a million accounts updates ~16,000 of them
        for changed in (out.accounts_created, out.accounts_updated):
            known.update(zip(map(_ID, changed), map(tuple, changed), strict=True))
        self.clock = out.last_timestamp

    def _evict(self, count: int) -> None:
        """Forget the `count` accounts cached longest ago (a dict keeps the order they
        came in), not all of them: with more active accounts than the cache holds,
        clearing it all sent the batches after each clear back to the database for every
        account they named."""
        for account_id in list(itertools.islice(self.accounts, count)):
            del self.accounts[account_id]


class LedgerRepository:
    """Ledger tables, used inside a transaction the caller owns."""

    def __init__(self, conn: Connection, stage: LedgerStage | None = None) -> None:
        """`stage`: the unit of work's staged steps (storage/ledger_stage.py), which
        `read_view` lays over the stored state and which keeps what it reads once."""
        self.conn = conn
        self.stage = stage
        self.pg = conn.dialect.name == "postgresql"
        self.raw: Any = conn.connection.dbapi_connection
        self.parts = TransferParts(self._rows, self._exec, self.pg)

    # -- plumbing ---------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.pg else sql

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self.raw.cursor()
        try:
            cur.execute(self._sql(sql), params)
            return list(cur.fetchall())
        finally:
            cur.close()

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> None:
        cur = self.raw.cursor()
        try:
            cur.execute(self._sql(sql), params)
        finally:
            cur.close()

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            cur = self.raw.cursor()
            try:
                cur.executemany(self._sql(sql), rows)
            finally:
                cur.close()

    def _in(self, column: str, ids: Iterable[int]) -> tuple[str, list[Any]]:
        """`column IN (ids)` with one parameter, however many ids."""
        id_list = list(ids)
        if self.pg:
            return f"{column} = ANY(?::bigint[])", [id_list]
        return f"{column} IN (SELECT value FROM json_each(?))", [json.dumps(id_list)]

    # -- the batch ---------------------------------------------------------------------
    def lock_clock(self) -> int:
        return self.lock_clock_and_lag()[0]

    def lock_clock_and_lag(self, lock_it: bool = True) -> tuple[int, int]:
        """The clock, locked (unless not `lock_it`), and since when account rows lag (0:
        none does)."""
        lock = " FOR UPDATE" if self.pg and lock_it else ""
        row = self._rows(
            f"SELECT last_timestamp, accounts_behind_since FROM ledger_clock WHERE id = 1{lock}"
        )[0]
        return int(row[0]), int(row[1])

    def lag(self) -> int:
        """Since when account rows may lag behind their transfers (0: none does)."""
        return int(self._rows("SELECT accounts_behind_since FROM ledger_clock WHERE id = 1")[0][0])

    def load_view(
        self, requests: Sequence[Sequence[Event]], now: int, cache: AccountCache | None = None
    ) -> LedgerView:
        """Everything the engine may read for these requests, after taking the lock."""
        return self.read_view(requests, now, self.lock_clock(), cache)

    def read_clock(self) -> int:
        return int(self._rows("SELECT last_timestamp FROM ledger_clock WHERE id = 1")[0][0])

    def read_view(
        self,
        requests: Sequence[Sequence[Event]],
        now: int,
        last: int,
        cache: AccountCache | None = None,
        inflight: InFlight | None = None,
        lag: int | None = None,
    ) -> LedgerView:
        """The view as of clock `last`: stored state, plus `inflight` (a batch being
        committed on another connection) laid over it. Without the lock this is a
        speculation, valid only if the clock still reads `last` when the batch is written
        (see `bench/ledger_writer.py`)."""
        stage = self.stage
        fly = inflight or (InFlight.empty(last) if stage is None else stage.inflight(last))
        expiring = [p for p in self._expiring_at(now) if p.id not in fly.pending]
        transfer_ids: set[int] = set()
        pending_ids: set[int] = set()
        account_ids: set[int] = set()
        for req in requests:
            for e in req:
                _collect(e, transfer_ids, pending_ids, account_ids)
        for p in expiring:
            account_ids.update((p.debit_account_id, p.credit_account_id))
        transfers = fly.over(self.transfers_by_id(transfer_ids | pending_ids), fly.transfers)
        for pid in pending_ids:
            hold = transfers.get(pid)
            if hold is not None:
                account_ids.update((hold.debit_account_id, hold.credit_account_id))
        holds = (pending_ids & transfers.keys()) | {p.id for p in expiring}
        failed = self.failed_by_id(transfer_ids) if transfer_ids else {}
        staged = account_ids & fly.accounts.keys()
        accounts = self._accounts(account_ids - staged, last, cache, lag)
        accounts.update((i, fly.accounts[i]) for i in staged)
        return LedgerView(
            accounts=accounts,
            transfers=transfers,
            pending=fly.over(self.pending_by_id(holds) if holds else {}, fly.pending),
            failed=fly.over(failed, fly.failed),
            now=now,
            last_timestamp=last,
            expiring=expiring,
        )

    def _accounts(
        self, ids: set[int], clock: int, cache: AccountCache | None, lag: int | None
    ) -> dict[int, Account]:
        if self.stage is not None:  # read under the lock: stored until the unit writes
            known = self.stage.stored
            found = {i: known[i] for i in ids if i in known}
            fresh = self.accounts_by_id(ids - found.keys(), lag) if len(found) < len(ids) else {}
            known.update(fresh)
            return found | fresh
        if cache is None or not cache.valid_at(clock):
            return self.accounts_by_id(ids, lag)
        found = cache.found(ids)
        missing = ids - found.keys()
        if missing:
            found.update(self.accounts_by_id(missing, lag))
        return found

    def read_ahead(self, ids: Iterable[int], lag: int) -> None:
        """Accounts a unit's staged steps will read, read now in one statement (call
        with the clock locked, and a stage)."""
        self._accounts(set(ids), 0, None, lag)

    def _expiring_at(self, now: int) -> list[Transfer]:
        """The holds expired by `now`; with a stage, those expired when its unit first
        asked (one expiring later is voided by the next unit)."""
        if self.stage is None:
            return self._expiring(now)
        if self.stage.expiring is None:
            self.stage.expiring = self._expiring(now)
        return self.stage.expiring

    def _parts(self) -> list[Part]:
        """The transfer parts; with a stage, read once until it is written."""
        if self.stage is None:
            return self.parts.all()
        if self.stage.parts is None:
            self.stage.parts = self.parts.all()
        return self.stage.parts

    def _expiring(self, now: int) -> list[Transfer]:
        ids = [
            int(r[0])
            for r in self._rows(
                "SELECT transfer_id FROM ledger_pending WHERE status = 1 AND expires_at > 0 "
                "AND expires_at <= ? ORDER BY expires_at",
                [now],
            )
        ]
        found = self.transfers_by_id(ids) if ids else {}
        return [found[i] for i in ids if i in found]

    def accounts_by_id(self, ids: Iterable[int], lag: int | None = None) -> dict[int, Account]:
        """The accounts as of now: their rows, with what lagging rows miss laid over them
        (`lag`: the clock row's `accounts_behind_since`, read here if not given)."""
        where, params = self._in("id", ids)
        rows = self._rows(
            f"SELECT {ACCOUNT_COLS}, as_of FROM ledger_accounts WHERE {where}", params
        )
        found = {r[0]: Account._make(r[:-1]) for r in rows}
        since = self.lag() if lag is None else lag
        if since and found:
            as_of = {r[0]: int(r[-1]) for r in rows}
            for account_id, (_ts, counters) in self.newest_after(as_of, since).items():
                found[account_id] = with_counters(found[account_id], counters)
        return found

    def newest_after(self, as_of: dict[int, int], since: int) -> dict[int, tuple[int, Counters]]:
        """For each account in `as_of` that a transfer moved later than its row's state
        (and not before `since`): that transfer's timestamp and the account's balance
        right after it. An index seek per account and side, then one read of the rows."""
        newest: dict[int, int] = {}
        parts = self.parts.all()
        unseen = set(as_of)
        for part in reversed(self.parts.reaching(parts, since)):  # newest first
            seen: set[int] = set()
            for side in ("debit_account_id", "credit_account_id"):
                where, params = self._in(side, unseen)
                for account_id, ts in self._rows(
                    f"SELECT {side}, MAX(timestamp) FROM {part.name} "
                    f"WHERE {where} AND timestamp >= ? GROUP BY {side}",
                    [*params, since],
                ):
                    seen.add(account_id)
                    if ts > as_of[account_id] and ts > newest.get(account_id, 0):
                        newest[account_id] = int(ts)
            unseen -= seen  # an older part holds only older transfers of these
            if not unseen:
                break
        if not newest:
            return {}
        by_part: dict[Part, set[int]] = {}
        for ts in newest.values():
            by_part.setdefault(self.parts.holding(parts, ts), set()).add(ts)
        carried: dict[int, tuple[Any, ...]] = {}
        for part, stamps in by_part.items():
            where, params = self._in("timestamp", stamps)
            carried.update(
                (int(r[0]), r)
                for r in self._rows(
                    f"SELECT timestamp, debit_account_id, {_AFTER} FROM {part.name} WHERE {where}",
                    params,
                )
            )
        out: dict[int, tuple[int, Counters]] = {}
        for account_id, ts in newest.items():
            row = carried[ts]
            c = row[2:6] if row[1] == account_id else row[6:10]
            # no balances: written with its rows (or before 0015), so the row is newer
            if c[0] is not None:
                out[account_id] = (ts, (int(c[0]), int(c[1]), int(c[2]), int(c[3])))
        return out

    def lagging(self, since: int) -> dict[int, tuple[int, Counters]]:
        """Every account a transfer moved since `since`: the newest such transfer's
        timestamp and the balance it left (one pass over those transfers, in order)."""
        latest: dict[int, tuple[int, Counters]] = {}
        for part in self.parts.reaching(self.parts.all(), since):
            for ts, dr, cr, *after in self._rows(
                f"SELECT timestamp, debit_account_id, credit_account_id, {_AFTER} "
                f"FROM {part.name} WHERE timestamp >= ? ORDER BY timestamp",
                [since],
            ):
                if after[0] is not None:
                    latest[dr] = (ts, (after[0], after[1], after[2], after[3]))
                    latest[cr] = (ts, (after[4], after[5], after[6], after[7]))
        return latest

    def fold(self, known: Mapping[int, tuple[int, Counters]] | None = None) -> int:
        """Bring every lagging account row up to date and clear the marker; call with the
        clock locked. How many rows it wrote. `known`: the writer that left every lagging
        row behind knows their balances (id: (as of, counters)) and saves the pass over
        the transfers since."""
        since = self.lag()
        if not since:
            return 0
        latest = self.lagging(since) if known is None else known
        self._many(
            "UPDATE ledger_accounts SET debits_pending = ?, debits_posted = ?, "
            "credits_pending = ?, credits_posted = ?, as_of = ? WHERE id = ? AND as_of < ?",
            [
                (*counters, ts, account_id, ts)
                for account_id, (ts, counters) in sorted(latest.items())
            ],
        )
        self._many("UPDATE ledger_clock SET accounts_behind_since = 0 WHERE id = 1", [()])
        return len(latest)

    def transfers_by_id(self, ids: Iterable[int]) -> dict[int, Transfer]:
        """The transfers with these ids, whichever parts hold them (storage/ledger_parts.py:
        a sealed part is read only for the ids its filter lets through)."""
        wanted = set(ids)
        found: dict[int, Transfer] = {}
        for part, maybe in self.parts.candidates(self._parts(), wanted):
            where, params = self._in("id", maybe)
            for r in self._rows(f"SELECT {TRANSFER_COLS} FROM {part.name} WHERE {where}", params):
                found[r[0]] = Transfer._make(r)
            wanted -= found.keys()
        return found

    def pending_by_id(self, ids: Iterable[int]) -> dict[int, PendingState]:
        where, params = self._in("transfer_id", ids)
        rows = self._rows(
            f"SELECT transfer_id, status, expires_at FROM ledger_pending WHERE {where}", params
        )
        return {r[0]: PendingState(*r) for r in rows}

    def failed_by_id(self, ids: Iterable[int]) -> dict[int, Result]:
        where, params = self._in("id", ids)
        rows = self._rows(f"SELECT id, result FROM ledger_failed WHERE {where}", params)
        return {r[0]: Result(r[1]) for r in rows}

    def set_clock(self, last_timestamp: int) -> None:
        self._many("UPDATE ledger_clock SET last_timestamp = ? WHERE id = 1", [(last_timestamp,)])

    def write(
        self, out: BatchOutcome, now: int, *, clock: bool = True, defer: bool = False
    ) -> list[Account]:
        """Persist a batch outcome. The caller's transaction makes it all or nothing.
        `clock=False` leaves the clock row to the caller (`set_clock`), for a unit of work
        that applies several batches and writes the clock once (storage/uow.py `flush`).
        `defer=True` leaves behind the rows of accounts whose last change in the batch was
        a transfer (it carries their balance), and marks rows as lagging (module
        docstring); a flag change, an expiry or a new account is still written. Returns
        the accounts whose rows it left behind."""
        at = out.last_timestamp
        self._many(
            f"INSERT INTO ledger_accounts ({ACCOUNT_COLS}, as_of) VALUES ({_marks(12)})",
            [(*a, at) for a in out.accounts_created],
        )
        updated, behind = out.accounts_updated, []
        if defer and out.transfers:
            moved = {t.debit_account_id for t in out.transfers}
            moved.update(t.credit_account_id for t in out.transfers)
            moved.difference_update(change[0] for change in out.flag_changes)
            behind = [a for a in updated if a.id in moved]
            updated = [a for a in updated if a.id not in moved]
            self._many(
                "UPDATE ledger_clock SET accounts_behind_since = ? "
                "WHERE id = 1 AND accounts_behind_since = 0",
                [(out.transfers[0].timestamp,)],
            )
        self._update_accounts(updated, at)
        if out.transfers:
            part = self.parts.writing(out.transfers[0].timestamp)
            # balances are carried only where rows are left behind: a row written now is
            # newer than its transfers, and binding eight more values a row is not free
            self._insert_transfers(part.name, out.transfers, out.after if defer else None)
            self.parts.counted(part, len(out.transfers))
        self._many(
            "INSERT INTO ledger_pending (transfer_id, status, expires_at) VALUES (?, ?, ?)",
            [(p.transfer_id, p.status, p.expires_at) for p in out.pending_created],
        )
        self._many(
            "UPDATE ledger_pending SET status = ? WHERE transfer_id = ?",
            [(status, tid) for tid, status in out.pending_resolved],
        )
        self._many(
            "INSERT INTO ledger_failed (id, result, timestamp) VALUES (?, ?, ?)",
            [(fid, r.value, now) for fid, r in out.failed],
        )
        self._many(
            "INSERT INTO ledger_balances (account_id, timestamp, debits_pending, debits_posted, "
            "credits_pending, credits_posted) VALUES (?, ?, ?, ?, ?, ?)",
            out.history,
        )
        self._many(
            "INSERT INTO ledger_flag_changes (account_id, set_flags, clear_flags, timestamp) "
            "VALUES (?, ?, ?, ?)",
            out.flag_changes,
        )
        if clock:
            self.set_clock(out.last_timestamp)
        return behind

    def merger(self) -> PartMerger:
        """The SQL that merges sealed parts (storage/ledger_merge.py)."""
        return PartMerger(self.parts, self._rows, self._exec)

    def write_staged(self) -> None:
        """What the unit of work's stage holds, written as one outcome (clock left to
        the unit, which writes it next); the stage is then empty."""
        if self.stage is None or (merged := self.stage.merged()) is None:
            return
        self.write(*merged, clock=False)
        self.stage.written()

    def _update_accounts(self, accounts: Sequence[Account], at: int) -> None:
        rows = [
            (
                a.flags,
                a.debits_pending,
                a.debits_posted,
                a.credits_pending,
                a.credits_posted,
                at,
                a.id,
            )
            for a in accounts
        ]
        if self.pg and len(rows) > _COPY_THRESHOLD:
            cols = list(zip(*rows, strict=True))
            self._rows(
                "UPDATE ledger_accounts a SET flags = v.f, debits_pending = v.dp, "
                "debits_posted = v.dpo, credits_pending = v.cp, credits_posted = v.cpo, "
                "as_of = v.at FROM unnest(?::int[], ?::bigint[], ?::bigint[], ?::bigint[], "
                "?::bigint[], ?::bigint[], ?::bigint[]) AS v(f, dp, dpo, cp, cpo, at, id) "
                "WHERE a.id = v.id RETURNING 1",
                [list(c) for c in cols],
            )
            return
        self._many(
            "UPDATE ledger_accounts SET flags = ?, debits_pending = ?, debits_posted = ?, "
            "credits_pending = ?, credits_posted = ?, as_of = ? WHERE id = ?",
            rows,
        )

    def _insert_transfers(
        self, table: str, transfers: Sequence[Transfer], after: Sequence[After] | None
    ) -> None:
        """The transfers, with the balances they leave (`after`) or without (NULL)."""
        rows: Sequence[Sequence[int]] = transfers
        cols, width = TRANSFER_COLS, 12
        if after is not None:
            rows = [(*t, *a) for t, a in zip(transfers, after, strict=True)]
            cols, width = _CARRIED, 20
        if self.pg and len(rows) > _COPY_THRESHOLD:
            cur = self.raw.cursor()
            try:
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            finally:
                cur.close()
            return
        self._many(f"INSERT INTO {table} ({cols}) VALUES ({_marks(width)})", rows)


def _collect(
    e: Event, transfer_ids: set[int], pending_ids: set[int], account_ids: set[int]
) -> None:
    if isinstance(e, Transfer):
        transfer_ids.add(e.id)
        if e.flags & _RESOLVING:
            pending_ids.add(e.pending_id)
        else:
            account_ids.add(e.debit_account_id)
            account_ids.add(e.credit_account_id)
    elif isinstance(e, Account):
        account_ids.add(e.id)
    elif isinstance(e, AccountFlagsChange):
        account_ids.add(e.account_id)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def with_counters(account: Account, counters: Counters) -> Account:
    dp, dpo, cp, cpo = counters
    return account._replace(
        debits_pending=dp, debits_posted=dpo, credits_pending=cp, credits_posted=cpo
    )
