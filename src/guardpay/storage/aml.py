"""AML monitoring's rows: the runs of `guardpay aml run` (each ends where the next
begins: its watermark) and the findings each run kept, and the movements of money a run
reads.

A movement is a succeeded payment (payer to payee, a user or a merchant) or a succeeded
bank funding (a top-up moves money from the card into the user's wallet, a withdrawal
the other way); a card is named `card:<id>`, so money that enters on one card and leaves
on another is a path through the graph like any other.
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
    Text,
    and_,
    insert,
    literal,
    null,
    select,
    text,
    union_all,
)

from guardpay.domain.aml.frame import OUTSIDE
from guardpay.storage.engine.db import as_utc
from guardpay.storage.funding import bank_fundings
from guardpay.storage.payments import payments
from guardpay.storage.schema import metadata

aml_runs = Table(
    "aml_runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("engine", String(16), nullable=False),
    Column("read_from", DateTime(timezone=True), nullable=True),
    Column("watermark", DateTime(timezone=True), nullable=False),
    Column("transactions", BigInteger, nullable=False),
    Column("findings", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Index("ix_aml_runs_watermark", "watermark"),
)

aml_findings = Table(
    "aml_findings",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("run_id", String(40), nullable=False),
    Column("account", String(80), nullable=False),
    Column("typology", String(40), nullable=False),
    Column("score_bp", Integer, nullable=False),  # 0..10,000
    Column("transactions", BigInteger, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("evidence", Text, nullable=False),
    Index("ix_aml_findings_account", "account", "last_seen"),
    Index("ix_aml_findings_run", "run_id"),
)


#: (id, source, target, amount, at) of one movement of money
#: (id, source, target, amount, at, device): a movement as the scenarios read it
Movement = tuple[str, str, str, int, datetime, str | None]


@dataclass(frozen=True)
class AmlRun:
    id: str
    engine: str
    read_from: datetime | None
    watermark: datetime
    transactions: int
    findings: int
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True)
class AmlFinding:
    id: str
    run_id: str
    account: str
    typology: str
    score_bp: int
    transactions: int
    first_seen: datetime
    last_seen: datetime
    evidence: str


class AmlRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def last_run(self) -> AmlRun | None:
        row = (
            self.conn.execute(
                select(aml_runs).order_by(aml_runs.c.watermark.desc(), aml_runs.c.id.desc())
            )
            .mappings()
            .first()
        )
        return None if row is None else _run(row)

    def movements(self, since: datetime | None, until: datetime, currency: str) -> list[Movement]:
        """(id, source, target, amount, at, device) of every succeeded movement in
        `currency` at or after `since` (all, if None) and before `until`, in time
        order; a payment's device is its payer's (none recorded before migration 0019),
        a card movement's none."""
        p, f = payments, bank_fundings
        c = p.c
        paid = select(c.id, c.payer_id, c.payee_id, c.amount, c.created_at, c.device_id).where(
            p.c.status == "succeeded",
            p.c.currency == currency,
            *_window(p.c.created_at, since, until),
        )
        card = literal(OUTSIDE) + f.c.card_id
        funded = [f.c.state == "succeeded", f.c.currency == currency]
        funded += _window(f.c.created_at, since, until)
        none = null().cast(String(40))
        top_ups = select(f.c.id, card, f.c.user_id, f.c.amount, f.c.created_at, none).where(
            f.c.kind == "top_up", *funded
        )
        withdrawals = select(f.c.id, f.c.user_id, card, f.c.amount, f.c.created_at, none).where(
            f.c.kind == "withdrawal", *funded
        )
        query = union_all(paid, top_ups, withdrawals)
        rows = self.conn.execute(query.order_by(query.selected_columns[4]))
        return [(r[0], r[1], r[2], int(r[3]), as_utc(r[4]), r[5]) for r in rows]

    def paid_by(
        self, payer: str, since: datetime, until: datetime, currency: str, limit: int = 200
    ) -> list[Movement]:
        """What `payer` paid (succeeded) in `[since, until)`, the newest `limit` in time
        order: the path around a payment held for review (on the payer's index)."""
        c = payments.c
        query = (
            select(c.id, c.payer_id, c.payee_id, c.amount, c.created_at, c.device_id)
            .where(
                c.payer_id == payer,
                c.status == "succeeded",
                c.currency == currency,
                *_window(c.created_at, since, until),
            )
            .order_by(c.created_at.desc())
            .limit(limit)
        )
        rows = self.conn.execute(query).all()
        return [(r[0], r[1], r[2], int(r[3]), as_utc(r[4]), r[5]) for r in reversed(rows)]

    def currencies(self, since: datetime | None, until: datetime) -> list[str]:
        """The currencies money moved in during the window (a scan never mixes them)."""
        found = self.conn.execute(
            select(payments.c.currency)
            .where(*_window(payments.c.created_at, since, until))
            .union(
                select(bank_fundings.c.currency).where(
                    *_window(bank_fundings.c.created_at, since, until)
                )
            )
        )
        return sorted(r[0] for r in found)

    def lock_runs(self) -> None:
        """Serialise the writing of runs until this transaction ends, so that two runs
        finishing at once cannot both pass the check that none finished meanwhile. On
        SQLite the write lock already does."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('guardpay.aml_runs'))"))

    def add_run(self, run: AmlRun, findings: list[AmlFinding]) -> None:
        self.conn.execute(insert(aml_runs).values(**run.__dict__))
        if findings:
            self.conn.execute(insert(aml_findings), [f.__dict__ for f in findings])

    def findings(self, account: str | None = None, limit: int = 100) -> list[AmlFinding]:
        query = select(aml_findings).order_by(
            aml_findings.c.last_seen.desc(), aml_findings.c.id.desc()
        )
        if account is not None:
            query = query.where(aml_findings.c.account == account)
        rows = self.conn.execute(query.limit(limit)).mappings()
        return [_finding(r) for r in rows]


def _window(column: Any, since: datetime | None, until: datetime) -> list[Any]:
    if since is None:
        return [column < until]
    return [and_(column >= since, column < until)]


def _run(row: Any) -> AmlRun:
    return AmlRun(
        id=row["id"],
        engine=row["engine"],
        read_from=None if row["read_from"] is None else as_utc(row["read_from"]),
        watermark=as_utc(row["watermark"]),
        transactions=row["transactions"],
        findings=row["findings"],
        started_at=as_utc(row["started_at"]),
        finished_at=as_utc(row["finished_at"]),
    )


def _finding(row: Any) -> AmlFinding:
    values = dict(row)
    for name in ("first_seen", "last_seen"):
        values[name] = as_utc(values[name])
    return AmlFinding(**values)
