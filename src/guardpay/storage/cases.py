"""Alerts, cases and case notes (domain/cases): the rows behind the analysts' queue.

A case is one customer's; at most one case per customer is not closed at a time, which
the service keeps under a per-customer lock (`lock_subject`): on PostgreSQL an advisory
lock, on SQLite the write lock every writer already holds. Paths and evidence are JSON
text, read whole.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
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
    func,
    insert,
    select,
    text,
    update,
)

from guardpay.domain.cases.alerts import Alert
from guardpay.domain.cases.model import Case, Disposition, Status
from guardpay.storage.engine.db import as_utc
from guardpay.storage.schema import metadata

cases = Table(
    "cases",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("subject", String(80), nullable=False),
    Column("status", String(16), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=True),
    Column("score_bp", Integer, nullable=False),
    Column("alerts", Integer, nullable=False),
    Column("assignee", String(40), nullable=True),
    Column("disposition", String(24), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("closed_by", String(40), nullable=True),
    Index("ix_cases_subject", "subject", "status"),
    Index("ix_cases_status_due", "status", "due_at"),
    # one case per customer not closed: the lock in `lock_subject` keeps it, this proves it
    Index(
        "ux_cases_open_subject",
        "subject",
        unique=True,
        sqlite_where=text("status <> 'closed'"),
        postgresql_where=text("status <> 'closed'"),
    ),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("source", String(16), nullable=False),
    Column("subject", String(80), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("dedup_key", String(200), nullable=False),
    Column("score_bp", Integer, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("evidence", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("case_id", String(40), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("occurrences", Integer, nullable=False),
    Column("decisions", Text, nullable=False),  # JSON list of risk decision ids
    Index("ix_alerts_case", "case_id"),
    Index("ix_alerts_dedup", "dedup_key", "case_id"),
    Index("ix_alerts_created", "created_at"),
)

case_notes = Table(
    "case_notes",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("case_id", String(40), nullable=False),
    Column("author", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_case_notes_case", "case_id", "created_at"),
)

case_holds = Table(
    "case_holds",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("case_id", String(40), nullable=False),
    Column("account_id", BigInteger, nullable=False),  # the customer's wallet
    Column("transfer_id", BigInteger, nullable=False),  # the pending transfer
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),  # held | released
    Column("reason", Text, nullable=False),
    Column("held_by", String(40), nullable=False),
    Column("held_at", DateTime(timezone=True), nullable=False),
    Column("released_by", String(40), nullable=True),
    Column("released_at", DateTime(timezone=True), nullable=True),
    Index("ix_case_holds_case", "case_id"),
)


@dataclass(frozen=True)
class Hold:
    """A customer's money held from a case: a pending ledger transfer until released."""

    id: str
    case_id: str
    account_id: int
    transfer_id: int
    amount: int
    currency: str
    status: str
    reason: str
    held_by: str
    held_at: datetime
    released_by: str | None = None
    released_at: datetime | None = None


@dataclass(frozen=True)
class Note:
    id: str
    case_id: str
    author: str  # an operator id
    body: str
    created_at: datetime


class CaseRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock_subject(self, subject: str) -> None:
        """Serialise case-opening for one customer until this transaction ends."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('guardpay.case:' || :s))"),
                {"s": subject},
            )

    # ---- cases

    def case(self, case_id: str, *, lock: bool = False) -> Case | None:
        query = select(cases).where(cases.c.id == case_id)
        if lock:
            query = query.with_for_update()
        row = self.conn.execute(query).mappings().first()
        return None if row is None else _case(row)

    def open_case_of(self, subject: str) -> Case | None:
        """The customer's case that is not closed, if any (locked)."""
        query = (
            select(cases)
            .where(cases.c.subject == subject, cases.c.status != Status.CLOSED.value)
            .with_for_update()
        )
        row = self.conn.execute(query).mappings().first()
        return None if row is None else _case(row)

    def add_case(self, case: Case) -> None:
        self.conn.execute(insert(cases).values(**_case_values(case)))

    def save_case(self, case: Case) -> None:
        values = _case_values(case)
        self.conn.execute(update(cases).where(cases.c.id == values.pop("id")).values(**values))

    def opened_and_closed(self, since: datetime) -> tuple[int, int]:
        """How many alerts were raised, and how many cases closed, since `since`."""
        opened = select(func.count()).select_from(alerts).where(alerts.c.created_at >= since)
        closed = select(func.count()).select_from(cases).where(cases.c.closed_at >= since)
        return int(self.conn.execute(opened).scalar_one()), int(
            self.conn.execute(closed).scalar_one()
        )

    def cases(
        self,
        *,
        status: Sequence[str] = (),
        assignee: str | None = None,
        subject: str | None = None,
        due_before: datetime | None = None,
        limit: int = 100,
        after: Case | None = None,
    ) -> list[Case]:
        """Newest first (by opening, then id); `due_before`: in breach at that time."""
        c = cases.c
        query = select(cases)
        if status:
            query = query.where(c.status.in_(list(status)))
        if assignee is not None:
            query = query.where(c.assignee == assignee)
        if subject is not None:
            query = query.where(c.subject == subject)
        if due_before is not None:
            query = query.where(c.due_at.is_not(None), c.due_at <= due_before)
        if after is not None:
            query = query.where(
                (c.opened_at < after.opened_at)
                | ((c.opened_at == after.opened_at) & (c.id < after.id))
            )
        query = query.order_by(c.opened_at.desc(), c.id.desc()).limit(limit)
        return [_case(r) for r in self.conn.execute(query).mappings()]

    def closed_subjects(self) -> dict[str, tuple[Disposition, datetime]]:
        """Each customer's latest disposition, from closed cases."""
        query = (
            select(cases.c.subject, cases.c.disposition, cases.c.closed_at)
            .where(cases.c.status == Status.CLOSED.value)
            .order_by(cases.c.closed_at, cases.c.id)
        )
        return {
            r[0]: (Disposition(r[1]), as_utc(r[2]))
            for r in self.conn.execute(query)
            if r[1] is not None
        }

    # ---- alerts

    def add_alert(self, alert: Alert) -> None:
        self.conn.execute(insert(alerts).values(**_alert_values(alert)))

    def save_alert(self, alert: Alert) -> None:
        values = _alert_values(alert)
        self.conn.execute(update(alerts).where(alerts.c.id == values.pop("id")).values(**values))

    def alert(self, alert_id: str) -> Alert | None:
        row = self.conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().first()
        return None if row is None else _alert(row)

    def alert_in_case(self, dedup_key: str, case_id: str) -> Alert | None:
        query = select(alerts).where(alerts.c.dedup_key == dedup_key, alerts.c.case_id == case_id)
        row = self.conn.execute(query).mappings().first()
        return None if row is None else _alert(row)

    def alerts_of(self, case_id: str) -> list[Alert]:
        query = select(alerts).where(alerts.c.case_id == case_id)
        query = query.order_by(alerts.c.created_at, alerts.c.id)
        return [_alert(r) for r in self.conn.execute(query).mappings()]

    def alerts(
        self, *, source: str | None = None, limit: int = 100, after: Alert | None = None
    ) -> list[Alert]:
        """Newest first (by creation, then id)."""
        a = alerts.c
        query = select(alerts)
        if source is not None:
            query = query.where(a.source == source)
        if after is not None:
            query = query.where(
                (a.created_at < after.created_at)
                | ((a.created_at == after.created_at) & (a.id < after.id))
            )
        query = query.order_by(a.created_at.desc(), a.id.desc()).limit(limit)
        return [_alert(r) for r in self.conn.execute(query).mappings()]

    # ---- holds

    def add_hold(self, hold: Hold) -> None:
        self.conn.execute(insert(case_holds).values(**hold.__dict__))

    def save_hold(self, hold: Hold) -> None:
        values = dict(hold.__dict__)
        hold_id = values.pop("id")
        self.conn.execute(update(case_holds).where(case_holds.c.id == hold_id).values(**values))

    def hold(self, hold_id: str, *, lock: bool = False) -> Hold | None:
        query = select(case_holds).where(case_holds.c.id == hold_id)
        if lock:
            query = query.with_for_update()
        row = self.conn.execute(query).mappings().first()
        return None if row is None else _hold(row)

    def holds_of(self, case_id: str) -> list[Hold]:
        query = select(case_holds).where(case_holds.c.case_id == case_id)
        query = query.order_by(case_holds.c.held_at, case_holds.c.id)
        return [_hold(r) for r in self.conn.execute(query).mappings()]

    # ---- notes

    def add_note(self, note: Note) -> None:
        self.conn.execute(insert(case_notes).values(**note.__dict__))

    def notes(self, case_id: str) -> list[Note]:
        query = select(case_notes).where(case_notes.c.case_id == case_id)
        query = query.order_by(case_notes.c.created_at, case_notes.c.id)
        return [
            replace(Note(**dict(r)), created_at=as_utc(r["created_at"]))
            for r in self.conn.execute(query).mappings()
        ]


def _hold(row: Any) -> Hold:
    values = dict(row)
    for name in ("held_at", "released_at"):
        if values[name] is not None:
            values[name] = as_utc(values[name])
    return Hold(**values)


def _case_values(case: Case) -> dict[str, Any]:
    values = dict(case.__dict__)
    values["status"] = case.status.value
    values["disposition"] = None if case.disposition is None else case.disposition.value
    return values


def _case(row: Any) -> Case:
    values = dict(row)
    values["status"] = Status(values["status"])
    if values["disposition"] is not None:
        values["disposition"] = Disposition(values["disposition"])
    for name in ("opened_at", "updated_at", "due_at", "closed_at"):
        if values[name] is not None:
            values[name] = as_utc(values[name])
    return Case(**values)


def _alert_values(alert: Alert) -> dict[str, Any]:
    values = dict(alert.__dict__)
    values["path"] = json.dumps(alert.path)
    values["decisions"] = json.dumps(list(alert.decisions))
    values["dedup_key"] = alert.dedup_key
    return values


def _alert(row: Any) -> Alert:
    values = dict(row)
    values.pop("dedup_key")
    values["path"] = json.loads(values["path"])
    values["decisions"] = tuple(json.loads(values["decisions"]))
    for name in ("first_seen", "last_seen", "created_at"):
        values[name] = as_utc(values[name])
    return Alert(**values)
