"""The webhook outbox: merchants' endpoints, their events and every delivery attempt.

An event row is written in the same transaction as the business change it reports, so it
exists exactly when that change committed. Its per-merchant `sequence` comes from
`webhook_sequences`, bumped by a single UPDATE that holds the row lock until commit: two
transactions enqueuing for one merchant queue behind each other, and a rolled-back one
gives its number back, so the committed sequence has no gaps.

Delivery claims an event with a lease (`leased_until`), so two workers never post the same
event at once, and a worker that dies mid-delivery only delays it until the lease ends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from guardpay.storage.engine.db import as_utc as _utc
from guardpay.storage.schema import metadata

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("merchant_id", String(40), primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("secret", Text, nullable=False),  # vault token under the merchant's key
    Column("created_at", DateTime(timezone=True), nullable=False),
)

webhook_sequences = Table(
    "webhook_sequences",
    metadata,
    Column("merchant_id", String(40), primary_key=True),
    Column("last_sequence", BigInteger, nullable=False),
)

outbox_events = Table(
    "outbox_events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("merchant_id", String(40), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("event_type", String(80), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("leased_until", DateTime(timezone=True), nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("merchant_id", "sequence", name="uq_outbox_events_merchant_sequence"),
    Index("ix_outbox_events_pending", "delivered_at", "merchant_id", "sequence"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("event_id", String(40), primary_key=True),
    Column("attempt", Integer, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", String(200), nullable=True),
)


#: files of delivered events archived with their attempts (services/webhooks/archive.py)
outbox_archives = Table(
    "outbox_archives",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("events", BigInteger, nullable=False),
    Column("attempts", BigInteger, nullable=False),
    Column("delivered_before", DateTime(timezone=True), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("archived_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class OutboxEvent:
    id: str
    merchant_id: str
    sequence: int
    event_type: str
    payload: str
    created_at: datetime
    attempts: int
    delivered_at: datetime | None


def _event(row: object) -> OutboxEvent:
    m = row._mapping  # type: ignore[attr-defined]
    return OutboxEvent(
        m["id"],
        m["merchant_id"],
        int(m["sequence"]),
        m["event_type"],
        m["payload"],
        _utc(m["created_at"]) or m["created_at"],
        int(m["attempts"]),
        _utc(m["delivered_at"]),
    )


class OutboxRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- endpoints ---------------------------------------------------------------------
    def save_endpoint(self, merchant_id: str, url: str, secret: str, at: datetime) -> None:
        """One endpoint per merchant; registering again replaces URL and secret."""
        t = webhook_endpoints
        self.conn.execute(t.delete().where(t.c.merchant_id == merchant_id))
        self.conn.execute(
            insert(t).values(merchant_id=merchant_id, url=url, secret=secret, created_at=at)
        )

    def endpoint(self, merchant_id: str) -> tuple[str, str] | None:
        """(url, sealed secret) of the merchant's endpoint."""
        t = webhook_endpoints
        row = self.conn.execute(
            select(t.c.url, t.c.secret).where(t.c.merchant_id == merchant_id)
        ).first()
        return (row[0], row[1]) if row else None

    # -- enqueue -----------------------------------------------------------------------
    def next_sequence(self, merchant_id: str) -> int:
        """The merchant's next sequence number, row-locked until this transaction ends."""
        bump = text(
            "UPDATE webhook_sequences SET last_sequence = last_sequence + 1 "
            "WHERE merchant_id = :m RETURNING last_sequence"
        )
        row = self.conn.execute(bump, {"m": merchant_id}).first()
        if row is None:
            self.conn.execute(
                text(
                    "INSERT INTO webhook_sequences (merchant_id, last_sequence) "
                    "VALUES (:m, 0) ON CONFLICT (merchant_id) DO NOTHING"
                ),
                {"m": merchant_id},
            )
            row = self.conn.execute(bump, {"m": merchant_id}).one()
        return int(row[0])

    def add_event(self, event: OutboxEvent, next_attempt_at: datetime) -> None:
        self.conn.execute(
            insert(outbox_events).values(
                id=event.id,
                merchant_id=event.merchant_id,
                sequence=event.sequence,
                event_type=event.event_type,
                payload=event.payload,
                created_at=event.created_at,
                attempts=0,
                next_attempt_at=next_attempt_at,
            )
        )

    # -- delivery ----------------------------------------------------------------------
    def due_heads(
        self, now: datetime, limit: int, merchant_id: str | None = None
    ) -> list[OutboxEvent]:
        """Each merchant's oldest undelivered event, if it is due and not leased: only a
        head may be sent, which is what keeps delivery in sequence order."""
        t = outbox_events
        pending = select(t.c.merchant_id, func.min(t.c.sequence).label("seq")).where(
            t.c.delivered_at.is_(None)
        )
        if merchant_id is not None:
            pending = pending.where(t.c.merchant_id == merchant_id)
        heads = pending.group_by(t.c.merchant_id).subquery()
        query = (
            select(t)
            .join(heads, and_(t.c.merchant_id == heads.c.merchant_id, t.c.sequence == heads.c.seq))
            .where(
                t.c.next_attempt_at <= now, or_(t.c.leased_until.is_(None), t.c.leased_until <= now)
            )
            .order_by(t.c.next_attempt_at)
            .limit(limit)
        )
        return [_event(r) for r in self.conn.execute(query)]

    def lease(self, event_id: str, now: datetime, until: datetime) -> bool:
        """Claim an event for one delivery attempt; False if another worker holds it."""
        t = outbox_events
        result = self.conn.execute(
            update(t)
            .where(
                t.c.id == event_id,
                t.c.delivered_at.is_(None),
                or_(t.c.leased_until.is_(None), t.c.leased_until <= now),
            )
            .values(leased_until=until)
        )
        return bool(result.rowcount)

    def record_attempt(
        self,
        event: OutboxEvent,
        at: datetime,
        status: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
        lease: datetime | None = None,
    ) -> bool:
        """One attempt's outcome; `next_attempt_at` None means it was acknowledged. With
        `lease`, only while that lease is still the event's: a worker whose POST outlived
        its lease (another may have taken the event over) records nothing, and the event
        is delivered again (receivers dedupe by sequence). False if nothing was recorded."""
        attempt = event.attempts + 1
        values: dict[str, object] = {"attempts": attempt, "leased_until": None}
        if next_attempt_at is None:
            values["delivered_at"] = at
        else:
            values["next_attempt_at"] = next_attempt_at
        t = outbox_events
        mine = t.c.id == event.id
        if lease is not None:
            mine = and_(mine, t.c.leased_until == lease, t.c.attempts == event.attempts)
        if not self.conn.execute(update(t).where(mine).values(**values)).rowcount:
            return False
        self.conn.execute(
            insert(webhook_attempts).values(
                event_id=event.id,
                attempt=attempt,
                at=at,
                status_code=status,
                error=None if error is None else error[:200],
            )
        )
        return True

    def undelivered_count(self) -> int:
        t = outbox_events
        query = select(func.count()).select_from(t).where(t.c.delivered_at.is_(None))
        return int(self.conn.execute(query).scalar_one())

    def events_of(self, merchant_id: str) -> list[OutboxEvent]:
        t = outbox_events
        query = select(t).where(t.c.merchant_id == merchant_id).order_by(t.c.sequence)
        return [_event(r) for r in self.conn.execute(query)]

    def attempts_of(self, event_id: str) -> list[tuple[int, int | None, str | None]]:
        t = webhook_attempts
        query = (
            select(t.c.attempt, t.c.status_code, t.c.error)
            .where(t.c.event_id == event_id)
            .order_by(t.c.attempt)
        )
        return [(int(r[0]), r[1], r[2]) for r in self.conn.execute(query)]

    # -- archive (services/webhooks/archive.py) ------------------------------------------
    def delivered_before(self, cutoff: datetime, limit: int) -> list[dict[str, Any]]:
        """Whole rows of the events delivered before `cutoff`, oldest delivery first."""
        t = outbox_events
        query = (
            select(t)
            .where(t.c.delivered_at < cutoff)
            .order_by(t.c.delivered_at, t.c.merchant_id, t.c.sequence)
            .limit(limit)
        )
        return [_utc_row(r._mapping) for r in self.conn.execute(query)]

    def attempts_for(self, event_ids: Sequence[str]) -> list[dict[str, Any]]:
        t = webhook_attempts
        found = []
        for ids in _chunks(event_ids):
            query = select(t).where(t.c.event_id.in_(ids)).order_by(t.c.event_id, t.c.attempt)
            found += [_utc_row(r._mapping) for r in self.conn.execute(query)]
        return found

    def delete_events(self, event_ids: Sequence[str]) -> int:
        """The events and their attempts, gone from the live tables (once archived); how
        many events went."""
        gone = 0
        for ids in _chunks(event_ids):
            attempts, events = webhook_attempts, outbox_events
            self.conn.execute(delete(attempts).where(attempts.c.event_id.in_(ids)))
            gone += self.conn.execute(delete(events).where(events.c.id.in_(ids))).rowcount
        return gone

    def archives(self) -> list[tuple[str, str]]:
        """(name, SHA-256) of every registered archive file, in the order made."""
        t = outbox_archives
        query = select(t.c.name, t.c.sha256).order_by(t.c.archived_at, t.c.name)
        return [(r[0], r[1]) for r in self.conn.execute(query)]

    def add_archive(self, row: Mapping[str, Any]) -> None:
        self.conn.execute(insert(outbox_archives).values(**row))


def _utc_row(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): _utc(v) for k, v in row.items()}


def _chunks(ids: Sequence[str], size: int = 1000) -> list[Sequence[str]]:
    """Ids a statement at a time: a database binds only so many parameters to one."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]
