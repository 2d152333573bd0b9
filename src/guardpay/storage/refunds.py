"""The refunds table: one row per refund of a merchant payment.

The ledger holds the money; this row holds what the ledger does not know: which payment
a refund belongs to, the client's refund request id (unique per payment, which makes a
retried request find the first result), the fee share returned to the merchant and the
running total of the payment's refunds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Index,
    String,
    Table,
    UniqueConstraint,
    func,
    insert,
    select,
)
from sqlalchemy.engine import RowMapping

from guardpay.storage.engine.db import as_utc
from guardpay.storage.schema import metadata

refunds = Table(
    "refunds",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("payment_id", String(40), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("fee_refunded", BigInteger, nullable=False),
    Column("refunded_total", BigInteger, nullable=False),
    Column("reason", String(200), nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("payment_id", "request_id", name="uq_refunds_payment_request"),
    Index("ix_refunds_payment", "payment_id", "refunded_total"),
)


@dataclass(frozen=True)
class RefundRow:
    id: str
    payment_id: str
    request_id: str
    amount: int
    currency: str
    fee_refunded: int
    refunded_total: int  # the payment's cumulative refunds, this one included
    reason: str | None
    status: str
    created_at: datetime


class RefundRepository:
    """The refunds table, inside a transaction the caller owns."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(self, row: RefundRow) -> None:
        self.conn.execute(insert(refunds).values(**row.__dict__))

    def by_request(self, payment_id: str, request_id: str) -> RefundRow | None:
        c = refunds.c
        stmt = select(refunds).where(c.payment_id == payment_id, c.request_id == request_id)
        found = self.conn.execute(stmt).mappings().first()
        return None if found is None else _row(found)

    def of_payment(self, payment_id: str) -> list[RefundRow]:
        """Oldest first, so a list reads as the payment's refund history: the running
        total strictly grows with each refund, so it orders them even within a tick."""
        c = refunds.c
        stmt = select(refunds).where(c.payment_id == payment_id).order_by(c.refunded_total)
        return [_row(m) for m in self.conn.execute(stmt).mappings().all()]

    def total(self, payment_id: str) -> int:
        """The amount refunded so far (read under the caller's lock on the payment)."""
        c = refunds.c
        stmt = select(func.coalesce(func.sum(c.amount), 0)).where(c.payment_id == payment_id)
        return int(self.conn.execute(stmt).scalar_one())

    def totals(self, payment_ids: Sequence[str]) -> dict[str, int]:
        """`total` of several payments in one statement (those with no refund: absent)."""
        if not payment_ids:
            return {}
        c = refunds.c
        stmt = (
            select(c.payment_id, func.sum(c.amount))
            .where(c.payment_id.in_(payment_ids))
            .group_by(c.payment_id)
        )
        return {str(r[0]): int(r[1]) for r in self.conn.execute(stmt)}


def _row(mapping: RowMapping) -> RefundRow:
    return RefundRow(**{k: as_utc(v) for k, v in mapping.items()})
