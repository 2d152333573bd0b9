"""The bank channel: top-ups, withdrawals, callbacks, statements.

Revision ID: 0008_bank
Revises: 0007_api_infra
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_bank"
down_revision = "0007_api_infra"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bank_fundings",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("card_id", sa.String(40), nullable=False),
        sa.Column("card_last4", sa.String(4), nullable=True),
        sa.Column("wallet_account_id", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("bank_reference", sa.String(64), nullable=True, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_bank_fundings_user", "bank_fundings", ["user_id", "created_at"])
    op.create_index("ix_bank_fundings_state", "bank_fundings", ["state"])
    op.create_table(
        "bank_callbacks",
        sa.Column("bank_reference", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
    )
    op.create_table(
        "bank_anomalies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("bank_reference", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bank_anomalies")
    op.drop_table("bank_callbacks")
    op.drop_index("ix_bank_fundings_state", "bank_fundings")
    op.drop_index("ix_bank_fundings_user", "bank_fundings")
    op.drop_table("bank_fundings")
