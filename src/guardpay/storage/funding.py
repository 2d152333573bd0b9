"""Bank fundings (top-ups, withdrawals), the callbacks seen, and anomalies found.

`bank_callbacks` has the key (bank_reference, status): a duplicate callback is a
conflicting insert, which is how handling stays idempotent under concurrent deliveries.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)

from guardpay.storage.ledger import LedgerRepository
from guardpay.storage.ledger_queries import LedgerQueries
from guardpay.storage.schema import ledger_accounts, metadata

bank_fundings = Table(
    "bank_fundings",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("user_id", String(40), nullable=False),
    Column("card_id", String(40), nullable=False),
    Column("card_last4", String(4), nullable=True),
    Column("wallet_account_id", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("state", String(16), nullable=False),
    Column("bank_reference", String(64), nullable=True, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_bank_fundings_user", "user_id", "created_at"),
    Index("ix_bank_fundings_state", "state"),
)

bank_callbacks = Table(
    "bank_callbacks",
    metadata,
    Column("bank_reference", String(64), primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(16), nullable=False),
)

bank_anomalies = Table(
    "bank_anomalies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bank_reference", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class FundingRow:
    id: str
    kind: str
    user_id: str
    card_id: str
    card_last4: str | None
    wallet_account_id: int
    amount: int
    currency: str
    state: str
    bank_reference: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class AccountTotals:
    """Sums of the ledger's counters over every account of one code in one ledger."""

    ledger: int
    code: int
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


class FundingRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(self, row: FundingRow) -> None:
        self.conn.execute(insert(bank_fundings).values(**_as_dict(row)))

    def get(self, funding_id: str, *, for_update: bool = False) -> FundingRow | None:
        return self._one(bank_fundings.c.id == funding_id, for_update)

    def by_reference(self, reference: str, *, for_update: bool = False) -> FundingRow | None:
        return self._one(bank_fundings.c.bank_reference == reference, for_update)

    def _one(self, where: Any, for_update: bool) -> FundingRow | None:
        stmt = select(bank_fundings).where(where)
        row = self.conn.execute(stmt.with_for_update() if for_update else stmt).first()
        return FundingRow(**row._mapping) if row else None

    def of_user(self, user_id: str, after: FundingRow | None, limit: int) -> list[FundingRow]:
        """Newest first; `after` is the last row of the previous page (the cursor)."""
        c = bank_fundings.c
        stmt = select(bank_fundings).where(c.user_id == user_id)
        if after is not None:
            same_time_older = and_(c.created_at == after.created_at, c.id < after.id)
            stmt = stmt.where(or_(c.created_at < after.created_at, same_time_older))
        stmt = stmt.order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        return [FundingRow(**r._mapping) for r in self.conn.execute(stmt)]

    def all(self) -> list[FundingRow]:
        stmt = select(bank_fundings).order_by(bank_fundings.c.created_at, bank_fundings.c.id)
        return [FundingRow(**r._mapping) for r in self.conn.execute(stmt)]

    def update(self, funding_id: str, at: datetime, **values: Any) -> None:
        self.conn.execute(
            update(bank_fundings)
            .where(bank_fundings.c.id == funding_id)
            .values(updated_at=at, **values)
        )

    def record_callback(self, reference: str, status: str, outcome: str, at: datetime) -> bool:
        """Remember a (reference, status); False if it was seen before."""
        seen = self.conn.execute(
            select(bank_callbacks.c.outcome).where(
                bank_callbacks.c.bank_reference == reference, bank_callbacks.c.status == status
            )
        ).first()
        if seen is not None:
            return False
        self.conn.execute(
            insert(bank_callbacks).values(
                bank_reference=reference, status=status, outcome=outcome, received_at=at
            )
        )
        return True

    def add_anomaly(self, reference: str, kind: str, detail: str, at: datetime) -> None:
        self.conn.execute(
            insert(bank_anomalies).values(bank_reference=reference, kind=kind, detail=detail, at=at)
        )

    def has_anomaly(self, reference: str, kind: str) -> bool:
        a = bank_anomalies.c
        stmt = select(a.id).where(a.bank_reference == reference, a.kind == kind).limit(1)
        return self.conn.execute(stmt).first() is not None

    def anomalies(self) -> list[tuple[str, str, str]]:
        stmt = select(
            bank_anomalies.c.bank_reference, bank_anomalies.c.kind, bank_anomalies.c.detail
        ).order_by(bank_anomalies.c.id)
        return [(r[0], r[1], r[2]) for r in self.conn.execute(stmt)]

    def in_flight(self) -> dict[tuple[str, str], int]:
        """Sum of amounts still processing, by (currency, kind)."""
        f = bank_fundings.c
        stmt = (
            select(f.currency, f.kind, func.sum(f.amount))
            .where(f.state == "processing")
            .group_by(f.currency, f.kind)
        )
        return {(r[0], r[1]): int(r[2]) for r in self.conn.execute(stmt)}

    def account_totals(self) -> list[AccountTotals]:
        """By ledger and code. While account rows lag behind their transfers
        (storage/ledger.py, "Deferred accounts"), summed from the accounts as of now."""
        if LedgerRepository(self.conn).lag():
            sums: dict[tuple[int, int], list[int]] = {}
            for acc in LedgerQueries(self.conn).all_accounts():
                total = sums.setdefault((acc.ledger, acc.code), [0, 0, 0, 0])
                total[0] += acc.debits_pending
                total[1] += acc.debits_posted
                total[2] += acc.credits_pending
                total[3] += acc.credits_posted
            return [AccountTotals(*key, *total) for key, total in sorted(sums.items())]
        a = ledger_accounts.c
        cols = (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)
        stmt = select(a.ledger, a.code, *(func.sum(c) for c in cols)).group_by(a.ledger, a.code)
        return [AccountTotals(*(int(v) for v in r)) for r in self.conn.execute(stmt)]


def _as_dict(row: FundingRow) -> dict[str, Any]:
    return {f.name: getattr(row, f.name) for f in fields(row)}
