"""Regulatory reports as filed (services/reports): what was reported, when, by whom, and
the SHA-256 of the exported files, which the audit log keeps too. The report's content is
kept as the canonical JSON it was rendered from, so a download later gives the very bytes
whose hash was recorded.

The customers' identities a report names (legal name, document) are kept apart from its
content, in `report_identities`, sealed under the platform's reports key rather than the
person's own (see services/reports/identities.py for why), so the content stays free of
personal data and the identities are readable only through the vault."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from guardpay.storage.encrypted import EncryptedColumn, register
from guardpay.storage.engine.db import as_utc
from guardpay.storage.schema import metadata

regulatory_reports = Table(
    "regulatory_reports",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),  # large_value | str
    Column("subject", String(80), nullable=False),  # "cn:2026-12-06", or a case id
    Column("status", String(16), nullable=False),  # draft | filed
    Column("rows", Integer, nullable=False),
    Column("content", Text, nullable=False),  # canonical JSON
    Column("sha256_csv", String(64), nullable=True),
    Column("sha256_json", String(64), nullable=True),
    Column("created_by", String(60), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deadline_at", DateTime(timezone=True), nullable=True),
    Column("filed_by", String(60), nullable=True),
    Column("filed_at", DateTime(timezone=True), nullable=True),
    Index("ix_regulatory_reports_subject", "kind", "subject"),
    Index("ix_regulatory_reports_created", "created_at"),
)

report_identities = Table(
    "report_identities",
    metadata,
    Column("id", String(130), primary_key=True),  # report id "/" customer
    Column("report_id", String(40), nullable=False),
    Column("customer", String(80), nullable=False),
    Column("sealed_for", String(40), nullable=False),  # the vault subject: platform:reports
    Column("identity_enc", Text, nullable=False),  # vault token of the identity's JSON
    Index("ix_report_identities_report", "report_id"),
)
register(EncryptedColumn("report_identities", "id", "sealed_for", "identity_enc", "identity"))


@dataclass(frozen=True)
class ReportRecord:
    id: str
    kind: str
    subject: str
    status: str
    rows: int
    content: str
    sha256_csv: str | None
    sha256_json: str | None
    created_by: str
    created_at: datetime
    deadline_at: datetime | None = None
    filed_by: str | None = None
    filed_at: datetime | None = None


class ReportRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, report: ReportRecord) -> None:
        self.conn.execute(insert(regulatory_reports).values(**report.__dict__))

    def save(self, report: ReportRecord) -> None:
        values = dict(report.__dict__)
        report_id = values.pop("id")
        t = regulatory_reports
        self.conn.execute(update(t).where(t.c.id == report_id).values(**values))

    def get(self, report_id: str, *, lock: bool = False) -> ReportRecord | None:
        query = select(regulatory_reports).where(regulatory_reports.c.id == report_id)
        if lock:
            query = query.with_for_update()
        row = self.conn.execute(query).mappings().first()
        return None if row is None else _report(row)

    def of_subject(self, kind: str, subject: str) -> list[ReportRecord]:
        t = regulatory_reports
        query = select(t).where(t.c.kind == kind, t.c.subject == subject)
        rows = self.conn.execute(query.order_by(t.c.created_at, t.c.id)).mappings()
        return [_report(r) for r in rows]

    def latest(self, kind: str | None = None, limit: int = 100) -> list[ReportRecord]:
        t = regulatory_reports
        query = select(t)
        if kind is not None:
            query = query.where(t.c.kind == kind)
        query = query.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit)
        return [_report(r) for r in self.conn.execute(query).mappings()]

    def add_identities(self, report_id: str, sealed_for: str, sealed: dict[str, str]) -> None:
        """Each customer's sealed identity, as the report names them."""
        if sealed:
            rows = [
                {
                    "id": f"{report_id}/{c}",
                    "report_id": report_id,
                    "customer": c,
                    "sealed_for": sealed_for,
                    "identity_enc": t,
                }
                for c, t in sealed.items()
            ]
            self.conn.execute(insert(report_identities), rows)

    def identities(self, report_id: str) -> dict[str, str]:
        """customer -> sealed identity, of one report."""
        t = report_identities
        query = select(t.c.customer, t.c.identity_enc).where(t.c.report_id == report_id)
        return {str(r[0]): str(r[1]) for r in self.conn.execute(query)}


def _report(row: Any) -> ReportRecord:
    values = dict(row)
    for name in ("created_at", "deadline_at", "filed_at"):
        if values[name] is not None:
            values[name] = as_utc(values[name])
    return ReportRecord(**values)
