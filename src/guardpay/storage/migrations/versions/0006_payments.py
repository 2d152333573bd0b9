"""Payments: payments and their state, merchant QR codes, order codes, payment codes, limits usage.

Revision ID: 0006_payments
Revises: 0005_wallets
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0006_payments"
down_revision = "0005_wallets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
