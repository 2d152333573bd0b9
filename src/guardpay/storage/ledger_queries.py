"""Read-side ledger SQL: lookups, cursor-paginated history, and the replay for verify."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from guardpay.domain.ledger.model import Account, Transfer
from guardpay.domain.ledger.verify import Counters, Problem
from guardpay.storage.engine import prepared
from guardpay.storage.ledger import (
    ACCOUNT_COLS,
    TRANSFER_COLS,
    LedgerRepository,
    with_counters,
)
from guardpay.storage.ledger_parts import Part, TransferParts, union

#: since when account rows lag behind their transfers (storage/ledger.py)
_LAG = "SELECT accounts_behind_since FROM ledger_clock WHERE id = 1"

T = TypeVar("T")
_T_COLS = ", ".join(f"t.{c.strip()}" for c in TRANSFER_COLS.split(","))


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: int | None  # the timestamp to pass back for the next page


@dataclass(frozen=True)
class BalanceRow:
    timestamp: int
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


@dataclass(frozen=True)
class HistoryRow:
    """A transfer seen from one account: the hold's status if it is a hold (else None),
    and the account's posted balance right after it (None without balance history)."""

    transfer: Transfer
    hold_status: int | None
    balance_after: int | None


class LedgerQueries:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.ledger = LedgerRepository(conn)  # the reads shared with the writer

    def _all(self, sql: str, **params: Any) -> list[Any]:
        return prepared.run(self.conn, prepared.sql(sql), params).all()

    def _parts(self) -> list[Part]:
        return self.ledger.parts.all()

    def account(self, account_id: int) -> Account | None:
        rows = self._all(
            f"SELECT {ACCOUNT_COLS}, as_of, ({_LAG}) FROM ledger_accounts WHERE id = :id",
            id=account_id,
        )
        return self._current([r[:-1] for r in rows], rows[0][-1])[0] if rows else None

    def _current(self, rows: list[Any], lag: int) -> list[Account]:
        """Accounts from their rows (each ending with `as_of`), with what lagging rows
        miss laid over them (storage/ledger.py, "Deferred accounts")."""
        accounts = [Account(*r[:-1]) for r in rows]
        if not lag or not accounts:
            return accounts
        as_of = {a.id: int(r[-1]) for a, r in zip(accounts, rows, strict=True)}
        newer = self.ledger.newest_after(as_of, lag)
        return [with_counters(a, newer[a.id][1]) if a.id in newer else a for a in accounts]

    def transfer(self, transfer_id: int) -> Transfer | None:
        return self.ledger.transfers_by_id([transfer_id]).get(transfer_id)

    def accounts(self, *, after: int = 0, limit: int = 100) -> Page[Account]:
        rows = self._all(
            f"SELECT {ACCOUNT_COLS}, as_of, ({_LAG}) FROM ledger_accounts "
            "WHERE timestamp > :after ORDER BY timestamp LIMIT :limit",
            after=after,
            limit=limit + 1,
        )
        lag = rows[0][-1] if rows else 0
        items = self._current([r[:-1] for r in rows[:limit]], lag)
        return Page(items, items[-1].timestamp if len(rows) > limit else None)

    def account_transfers(
        self,
        account_id: int,
        *,
        cursor: int | None = None,
        limit: int = 100,
        newest_first: bool = True,
    ) -> Page[Transfer]:
        """Transfers debiting or crediting the account, by time; each side uses its index,
        part by part in the order asked, until a page is full."""
        op, order = ("<", "DESC") if newest_first else (">", "ASC")
        bound = cursor if cursor is not None else (2**63 - 1 if newest_first else 0)
        merged: list[Transfer] = []
        for part in TransferParts.walk(self._parts(), bound, newest_first):
            found: list[Transfer] = []
            for side in ("debit_account_id", "credit_account_id"):
                rows = self._all(
                    f"SELECT {TRANSFER_COLS} FROM {part.name} WHERE {side} = :a "
                    f"AND timestamp {op} :b ORDER BY timestamp {order} LIMIT :n",
                    a=account_id,
                    b=bound,
                    n=limit + 1,
                )
                found.extend(Transfer(*r) for r in rows)
            found.sort(key=lambda t: t.timestamp, reverse=newest_first)
            merged.extend(found)
            if len(merged) > limit:
                break
        items = merged[:limit]
        return Page(items, items[-1].timestamp if len(merged) > limit else None)

    def account_history(
        self, account_id: int, *, before: int | None = None, limit: int = 100
    ) -> Page[HistoryRow]:
        """`account_transfers` newest first, each with its hold status and the account's
        balance after it, joined in the same read: a transfer and the balance row it
        wrote share a timestamp, so a page needs no second query."""
        bound = before if before is not None else 2**63 - 1
        merged: list[HistoryRow] = []
        for part in TransferParts.walk(self._parts(), bound, newest_first=True):
            found: list[HistoryRow] = []
            for side in ("debit_account_id", "credit_account_id"):
                rows = self._all(
                    f"SELECT {_T_COLS}, p.status, "
                    f"b.credits_posted - b.debits_posted FROM {part.name} t "
                    "LEFT JOIN ledger_pending p ON p.transfer_id = t.id "
                    "LEFT JOIN ledger_balances b ON b.account_id = :a "
                    "AND b.timestamp = t.timestamp "
                    f"WHERE t.{side} = :a AND t.timestamp < :b "
                    "ORDER BY t.timestamp DESC LIMIT :n",
                    a=account_id,
                    b=bound,
                    n=limit + 1,
                )
                found.extend(HistoryRow(Transfer(*r[:12]), r[12], r[13]) for r in rows)
            found.sort(key=lambda h: h.transfer.timestamp, reverse=True)
            merged.extend(found)
            if len(merged) > limit:
                break
        items = merged[:limit]
        return Page(items, items[-1].transfer.timestamp if len(merged) > limit else None)

    def balance_history(
        self, account_id: int, *, cursor: int = 0, limit: int = 100
    ) -> Page[BalanceRow]:
        """Balances after each change, oldest first (accounts created with HISTORY)."""
        rows = self._all(
            "SELECT timestamp, debits_pending, debits_posted, credits_pending, credits_posted "
            "FROM ledger_balances WHERE account_id = :a AND timestamp > :c "
            "ORDER BY timestamp LIMIT :n",
            a=account_id,
            c=cursor,
            n=limit + 1,
        )
        items = [BalanceRow(*r) for r in rows[:limit]]
        return Page(items, items[-1].timestamp if len(rows) > limit else None)

    # -- verification ------------------------------------------------------------------
    def all_accounts(self) -> list[Account]:
        rows = self._all(f"SELECT {ACCOUNT_COLS}, as_of FROM ledger_accounts")
        lag = self._all(_LAG)[0][0]
        if not lag:
            return [Account(*r[:-1]) for r in rows]
        newer = self.ledger.lagging(lag)  # one pass, not a seek per account
        out = []
        for r in rows:
            a, found = Account(*r[:-1]), newer.get(r[0])
            out.append(a if found is None or found[0] <= r[-1] else with_counters(a, found[1]))
        return out

    def counts(self) -> tuple[int, int]:
        accounts = self._all("SELECT COUNT(*) FROM ledger_accounts")[0][0]
        transfers = sum(self._all(f"SELECT COUNT(*) FROM {p.name}")[0][0] for p in self._parts())
        return int(accounts), int(transfers)

    def replay(self) -> dict[int, Counters]:
        """Each account's counters recomputed from the transfers alone.

        Posted: single-phase and post_pending transfers (flags without pending=2, void=8).
        Pending: pending transfers whose hold is still open (status 1)."""
        sums: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for part in self._parts():
            posted = f"FROM {part.name} t WHERE (t.flags & 10) = 0"
            held = (
                f"FROM {part.name} t JOIN ledger_pending p ON p.transfer_id = t.id "
                "WHERE p.status = 1"
            )
            for slot, side, rows in (
                (1, "debit", posted),
                (3, "credit", posted),
                (0, "debit", held),
                (2, "credit", held),
            ):
                column = f"t.{side}_account_id"
                for account_id, total in self._all(
                    f"SELECT {column}, SUM(t.amount) {rows} GROUP BY {column}"
                ):
                    sums[account_id][slot] += int(total)
        return {k: (v[0], v[1], v[2], v[3]) for k, v in sums.items()}

    def structural_problems(self) -> list[Problem]:
        """Holds and their resolutions agree, the clock is ahead, transfers are protected."""
        out = []
        parts = self._parts()
        orphan = sum(
            self._all(
                f"SELECT COUNT(*) FROM {part.name} t WHERE (t.flags & 2) != 0 AND NOT EXISTS "
                "(SELECT 1 FROM ledger_pending p WHERE p.transfer_id = t.id)"
            )[0][0]
            for part in parts
        )
        if orphan:
            out.append(Problem("holds", f"{orphan} pending transfers have no hold status"))
        missing = " AND ".join(
            f"NOT EXISTS (SELECT 1 FROM {part.name} t WHERE t.id = p.transfer_id)" for part in parts
        )
        lost = self._all(f"SELECT COUNT(*) FROM ledger_pending p WHERE {missing}")[0][0]
        if lost:
            out.append(Problem("holds", f"{lost} holds name no transfer"))
        # A hold resolved as posted (2) has exactly one post (flag 4), voided (3) exactly
        # one void (flag 8); an open (1) or expired (4) hold has none.
        bad = self._all(
            "SELECT p.transfer_id, p.status, "
            "SUM(CASE WHEN (r.flags & 4) != 0 THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN (r.flags & 8) != 0 THEN 1 ELSE 0 END) FROM ledger_pending p "
            f"LEFT JOIN ({union(parts, 'pending_id, flags', 'pending_id != 0')}) r "
            "ON r.pending_id = p.transfer_id "
            "GROUP BY p.transfer_id, p.status HAVING "
            "COALESCE(SUM(CASE WHEN (r.flags & 4) != 0 THEN 1 ELSE 0 END), 0) "
            "!= CASE WHEN p.status = 2 THEN 1 ELSE 0 END OR "
            "COALESCE(SUM(CASE WHEN (r.flags & 8) != 0 THEN 1 ELSE 0 END), 0) "
            "!= CASE WHEN p.status = 3 THEN 1 ELSE 0 END"
        )
        for tid, status, posts, voids in bad[:20]:
            out.append(
                Problem(
                    "holds",
                    f"hold {tid} has status {status} but {posts or 0} posts and {voids or 0} voids",
                )
            )
        clock = self._all("SELECT last_timestamp FROM ledger_clock WHERE id = 1")[0][0]
        newest = max(
            self._all(f"SELECT MAX(timestamp) FROM {part.name}")[0][0] or 0 for part in parts
        )
        if newest > clock:
            out.append(Problem("clock", f"a transfer at {newest} is newer than the clock {clock}"))
        out.extend(Problem("parts", m) for m in self.ledger.parts.problems(parts))
        unguarded = [part.name for part in parts if not self._immutability_guarded(part.name)]
        if unguarded:
            out.append(
                Problem(
                    "immutable",
                    f"the triggers that forbid changing transfers are missing on {unguarded}",
                )
            )
        return out

    def _immutability_guarded(self, table: str) -> bool:
        """The guards exist as created: they fire before every UPDATE and DELETE of a row
        and raise. Counting triggers is not enough: one could be swapped for a no-op."""
        if self.conn.dialect.name == "sqlite":
            rows = self._all(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t",
                t=table,
            )
            guards = {name: sql or "" for name, sql in rows}
            return all(
                f"BEFORE {action}" in guards.get(f"{table}_no_{action.lower()}", "")
                and "RAISE(ABORT" in guards[f"{table}_no_{action.lower()}"]
                for action in ("UPDATE", "DELETE")
            )
        # tgtype bits: 1 row, 2 before, 8 delete, 16 update (27 = all four).
        sql = (
            "SELECT COUNT(*) FROM pg_trigger t JOIN pg_proc f ON f.oid = t.tgfoid "
            "WHERE t.tgrelid = CAST(:t AS regclass) AND NOT t.tgisinternal "
            "AND t.tgenabled != 'D' AND (t.tgtype & 27) = 27 "
            "AND f.proname = 'ledger_transfers_immutable' AND f.prosrc LIKE '%RAISE EXCEPTION%'"
        )
        return bool(self._all(sql, t=table)[0][0] >= 1)
