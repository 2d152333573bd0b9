"""Red packets: fixed or random splits, claims, expiry.

Revision ID: 0010_red_packets
Revises: 0009_refunds
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_red_packets"
down_revision = "0009_refunds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "red_packets",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("sender_id", sa.String(40), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("share_count", sa.Integer, nullable=False),
        sa.Column("split", sa.String(8), nullable=False),
        sa.Column("message", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("refunded", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_red_packets_status_expires", "red_packets", ["status", "expires_at"])
    op.create_table(
        "red_packet_shares",
        sa.Column("packet_id", sa.String(40), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("claimer_id", sa.String(40), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("packet_id", "claimer_id", name="uq_red_packet_shares_claimer"),
    )


def downgrade() -> None:
    op.drop_table("red_packet_shares")
    op.drop_index("ix_red_packets_status_expires", "red_packets")
    op.drop_table("red_packets")
