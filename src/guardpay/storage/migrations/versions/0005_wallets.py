"""Wallets: which ledger account holds whose money, in which currency.

Revision ID: 0005_wallets
Revises: 0004_auth
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_wallets"
down_revision = "0004_auth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wallets",
        sa.Column("owner_kind", sa.String(16), primary_key=True),
        sa.Column("owner_id", sa.String(40), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("purpose", sa.String(24), primary_key=True),
        sa.Column("account_id", sa.BigInteger, nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("wallets")
