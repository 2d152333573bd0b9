"""Escrow trade table: who pays whom, how much, where the trade stands and why.

The ledger holds the money (the trade's own ESCROW holding account); this row holds the
trade's status and history. It is also the lock every transition takes first, so a
confirm racing a dispute, or the auto-confirm job racing a refund, run one after the
other and the second sees the first's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Index,
    String,
    Table,
    insert,
    select,
    update,
)

from guardpay.storage.engine.db import as_utc
from guardpay.storage.schema import metadata


def _at(name: str, nullable: bool = False) -> Column[datetime]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


escrow_trades = Table(
    "escrow_trades",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("buyer_id", String(40), nullable=False),
    Column("merchant_id", String(40), nullable=False),
    Column("payment_id", String(40), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("fee", BigInteger, nullable=False),  # set on release; a refund takes no fee
    Column("description", String(200), nullable=True),
    Column("status", String(16), nullable=False),  # held|shipped|disputed|released|refunded
    Column("dispute_reason", String(200), nullable=True),
    Column("resolution_reason", String(200), nullable=True),
    Column("resolved_by", String(40), nullable=True),
    _at("shipped_at", nullable=True),
    _at("closed_at", nullable=True),
    _at("created_at"),
    _at("updated_at"),
    Index("ix_escrow_trades_status_shipped", "status", "shipped_at"),
)


@dataclass(frozen=True)
class TradeRow:
    id: str
    buyer_id: str
    merchant_id: str
    payment_id: str
    amount: int
    currency: str
    fee: int
    description: str | None
    status: str
    dispute_reason: str | None
    resolution_reason: str | None
    resolved_by: str | None
    shipped_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class EscrowRepository:
    """The escrow table, inside a transaction the caller owns."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(self, row: TradeRow) -> None:
        self.conn.execute(insert(escrow_trades).values(**row.__dict__))

    def trade(self, trade_id: str, *, lock: bool = False) -> TradeRow | None:
        stmt = select(escrow_trades).where(escrow_trades.c.id == trade_id)
        found = self.conn.execute(stmt.with_for_update() if lock else stmt).mappings().first()
        return None if found is None else TradeRow(**{k: as_utc(v) for k, v in _items(found)})

    def save(self, row: TradeRow) -> None:
        values = {k: v for k, v in row.__dict__.items() if k != "id"}
        self.conn.execute(
            update(escrow_trades).where(escrow_trades.c.id == row.id).values(**values)
        )

    def shipped_before(self, cutoff: datetime) -> list[str]:
        """Shipped trades shipped before `cutoff`, oldest first (auto-confirm candidates)."""
        c = escrow_trades.c
        stmt = select(c.id).where(c.status == "shipped", c.shipped_at < cutoff)
        return [str(i) for i in self.conn.execute(stmt.order_by(c.shipped_at, c.id)).scalars()]


def _items(mapping: Any) -> list[tuple[str, Any]]:
    return list(mapping.items())
