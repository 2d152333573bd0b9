"""Alerts, cases, case notes, holds and regulatory reports (issue 18: the early-warning
platform's queue and what it files).

Why. AML findings and risk-control reviews were rows an analyst had to search for; an
alert now joins its customer's case, which an analyst works through a workflow to a
disposition, and what is reported to the regulator is recorded with its files' hashes.

Online: new tables only, nothing existing changes.

Revision ID: 0020_cases
Revises: 0019_payment_device
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_cases"
down_revision = "0019_payment_device"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _at("opened_at"),
        _at("updated_at"),
        _at("due_at", True),
        sa.Column("score_bp", sa.Integer, nullable=False),
        sa.Column("alerts", sa.Integer, nullable=False),
        sa.Column("assignee", sa.String(40), nullable=True),
        sa.Column("disposition", sa.String(24), nullable=True),
        _at("closed_at", True),
        sa.Column("closed_by", sa.String(40), nullable=True),
    )
    op.create_index("ix_cases_subject", "cases", ["subject", "status"])
    op.create_index("ix_cases_status_due", "cases", ["status", "due_at"])
    open_only = sa.text("status <> 'closed'")
    op.create_index(
        "ux_cases_open_subject",
        "cases",
        ["subject"],
        unique=True,
        sqlite_where=open_only,
        postgresql_where=open_only,
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("dedup_key", sa.String(200), nullable=False),
        sa.Column("score_bp", sa.Integer, nullable=False),
        _at("first_seen"),
        _at("last_seen"),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("case_id", sa.String(40), nullable=False),
        _at("created_at"),
        sa.Column("occurrences", sa.Integer, nullable=False),
        sa.Column("decisions", sa.Text, nullable=False),
    )
    op.create_index("ix_alerts_case", "alerts", ["case_id"])
    op.create_index("ix_alerts_dedup", "alerts", ["dedup_key", "case_id"])
    op.create_index("ix_alerts_created", "alerts", ["created_at"])
    op.create_table(
        "case_notes",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("case_id", sa.String(40), nullable=False),
        sa.Column("author", sa.String(40), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        _at("created_at"),
    )
    op.create_index("ix_case_notes_case", "case_notes", ["case_id", "created_at"])
    op.create_table(
        "case_holds",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("case_id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.BigInteger, nullable=False),
        sa.Column("transfer_id", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("held_by", sa.String(40), nullable=False),
        _at("held_at"),
        sa.Column("released_by", sa.String(40), nullable=True),
        _at("released_at", True),
    )
    op.create_index("ix_case_holds_case", "case_holds", ["case_id"])
    op.create_table(
        "regulatory_reports",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("sha256_csv", sa.String(64), nullable=True),
        sa.Column("sha256_json", sa.String(64), nullable=True),
        sa.Column("created_by", sa.String(60), nullable=False),
        _at("created_at"),
        _at("deadline_at", True),
        sa.Column("filed_by", sa.String(60), nullable=True),
        _at("filed_at", True),
    )
    op.create_index("ix_regulatory_reports_subject", "regulatory_reports", ["kind", "subject"])
    op.create_index("ix_regulatory_reports_created", "regulatory_reports", ["created_at"])


def downgrade() -> None:
    op.drop_table("regulatory_reports")
    op.drop_table("case_holds")
    op.drop_table("case_notes")
    op.drop_table("alerts")
    op.drop_table("cases")
