"""Refunds: partial or full, cumulative never above what was paid.

Revision ID: 0009_refunds
Revises: 0008_bank
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0009_refunds"
down_revision = "0008_bank"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
