"""Merchant API keys (RSA2 public halves) and the nonces they have signed with.

Revision ID: 0012_merchant_api
Revises: 0011_escrow
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_merchant_api"
down_revision = "0011_escrow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merchant_api_keys",
        sa.Column("id", sa.String(48), primary_key=True),
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_merchant_api_keys_merchant_id", "merchant_api_keys", ["merchant_id"])
    op.create_table(
        "merchant_nonces",
        sa.Column("key_id", sa.String(48), primary_key=True),
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("merchant_nonces")
    op.drop_index("ix_merchant_api_keys_merchant_id", "merchant_api_keys")
    op.drop_table("merchant_api_keys")
