"""Escrow (guarantee) trades: held, shipped, confirmed, released, refunded, disputed.

Revision ID: 0011_escrow
Revises: 0010_red_packets
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_escrow"
down_revision = "0010_red_packets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escrow_trades",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("buyer_id", sa.String(40), nullable=False),
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("fee", sa.BigInteger, nullable=False),
        sa.Column("description", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dispute_reason", sa.String(200), nullable=True),
        sa.Column("resolution_reason", sa.String(200), nullable=True),
        sa.Column("resolved_by", sa.String(40), nullable=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_escrow_trades_status_shipped", "escrow_trades", ["status", "shipped_at"])


def downgrade() -> None:
    op.drop_index("ix_escrow_trades_status_shipped", "escrow_trades")
    op.drop_table("escrow_trades")
