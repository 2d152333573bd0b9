"""Red-packet tables: the packet and its shares, decided at creation.

The ledger holds the money (the packet's holding account); these rows hold who sent it,
how it was split and who took which share. `(packet_id, claimer_id)` is unique, so a user
claims a packet at most once even if two of their requests race; the packet row is the
lock claims and expiry take, so the last share goes to exactly one claimer.
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
    Integer,
    String,
    Table,
    UniqueConstraint,
    insert,
    select,
    update,
)

from guardpay.storage.engine.db import as_utc
from guardpay.storage.schema import metadata


def _at(name: str, nullable: bool = False) -> Column[datetime]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


red_packets = Table(
    "red_packets",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("sender_id", String(40), nullable=False),
    Column("payment_id", String(40), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("share_count", Integer, nullable=False),
    Column("split", String(8), nullable=False),
    Column("message", String(200), nullable=True),
    Column("status", String(16), nullable=False),  # open | empty | expired
    Column("refunded", BigInteger, nullable=False),
    _at("expires_at"),
    _at("created_at"),
    _at("updated_at"),
    Index("ix_red_packets_status_expires", "status", "expires_at"),
)

red_packet_shares = Table(
    "red_packet_shares",
    metadata,
    Column("packet_id", String(40), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("amount", BigInteger, nullable=False),
    Column("claimer_id", String(40), nullable=True),
    _at("claimed_at", nullable=True),
    UniqueConstraint("packet_id", "claimer_id", name="uq_red_packet_shares_claimer"),
)


@dataclass(frozen=True)
class PacketRow:
    id: str
    sender_id: str
    payment_id: str
    amount: int
    currency: str
    share_count: int
    split: str
    message: str | None
    status: str
    refunded: int
    expires_at: datetime
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ShareRow:
    packet_id: str
    seq: int
    amount: int
    claimer_id: str | None
    claimed_at: datetime | None


class RedPacketRepository:
    """The red-packet tables, inside a transaction the caller owns."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(self, packet: PacketRow, shares: list[ShareRow]) -> None:
        self.conn.execute(insert(red_packets).values(**packet.__dict__))
        self.conn.execute(insert(red_packet_shares), [s.__dict__ for s in shares])

    def packet(self, packet_id: str, *, lock: bool = False) -> PacketRow | None:
        stmt = select(red_packets).where(red_packets.c.id == packet_id)
        found = self.conn.execute(stmt.with_for_update() if lock else stmt).mappings().first()
        return None if found is None else PacketRow(**_utc(found))

    def shares(self, packet_id: str) -> list[ShareRow]:
        c = red_packet_shares.c
        rows = self.conn.execute(
            select(red_packet_shares).where(c.packet_id == packet_id).order_by(c.seq)
        ).mappings()
        return [ShareRow(**_utc(r)) for r in rows]

    def due(self, now: datetime) -> list[str]:
        """Open packets whose expiry has come, oldest first."""
        c = red_packets.c
        stmt = select(c.id).where(c.status == "open", c.expires_at <= now)
        return [str(i) for i in self.conn.execute(stmt.order_by(c.expires_at, c.id)).scalars()]

    def claim_share(self, packet_id: str, seq: int, claimer_id: str, at: datetime) -> None:
        c = red_packet_shares.c
        self.conn.execute(
            update(red_packet_shares)
            .where(c.packet_id == packet_id, c.seq == seq)
            .values(claimer_id=claimer_id, claimed_at=at)
        )

    def set_status(self, packet_id: str, status: str, at: datetime, refunded: int = 0) -> None:
        self.conn.execute(
            update(red_packets)
            .where(red_packets.c.id == packet_id)
            .values(status=status, refunded=refunded, updated_at=at)
        )


def _utc(mapping: Any) -> dict[str, Any]:
    return {k: as_utc(v) for k, v in mapping.items()}
