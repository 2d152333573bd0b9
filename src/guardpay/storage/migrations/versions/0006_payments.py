"""Payments: payments and their state, merchant QR codes, order codes, payment codes, limits usage.

Revision ID: 0006_payments
Revises: 0005_wallets
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_payments"
down_revision = "0005_wallets"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payer_id", sa.String(40), nullable=False),
        sa.Column("payee_kind", sa.String(16), nullable=False),
        sa.Column("payee_id", sa.String(40), nullable=False),
        sa.Column("descriptor", sa.String(200), nullable=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("fee", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("failure_code", sa.String(64), nullable=True),
        sa.Column("factors", sa.Integer, nullable=False),
        sa.Column("order_id", sa.String(40), nullable=True),
        sa.Column("challenge_id", sa.String(40), nullable=True),
        _at("created_at"),
        _at("updated_at"),
    )
    op.create_index("ix_payments_payer", "payments", ["payer_id", "created_at", "id"])
    op.create_table(
        "payment_orders",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("nonce", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=True),
        _at("expires_at"),
        _at("created_at"),
    )
    op.create_table(
        "payment_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("device_id", sa.String(40), nullable=False),
        sa.Column("factors", sa.Integer, nullable=False),
        _at("issued_at"),
        _at("used_at", nullable=True),
        sa.Column("payment_id", sa.String(40), nullable=True),
    )
    op.create_table(
        "payment_code_secrets",
        sa.Column("user_id", sa.String(40), primary_key=True),
        sa.Column("device_id", sa.String(40), primary_key=True),
        sa.Column("secret_enc", sa.Text, nullable=False),
        _at("created_at"),
    )


def downgrade() -> None:
    for table in ("payment_code_secrets", "payment_codes", "payment_orders"):
        op.drop_table(table)
    op.drop_index("ix_payments_payer", "payments")
    op.drop_table("payments")
