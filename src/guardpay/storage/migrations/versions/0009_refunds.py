"""Refunds: partial or full, cumulative never above what was paid.

Revision ID: 0009_refunds
Revises: 0008_bank
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_refunds"
down_revision = "0008_bank"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("fee_refunded", sa.BigInteger, nullable=False),
        sa.Column("refunded_total", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("payment_id", "request_id", name="uq_refunds_payment_request"),
    )
    op.create_index("ix_refunds_payment", "refunds", ["payment_id", "refunded_total"])


def downgrade() -> None:
    op.drop_index("ix_refunds_payment", table_name="refunds")
    op.drop_table("refunds")
