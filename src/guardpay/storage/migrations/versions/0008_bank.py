"""The bank channel: top-ups, withdrawals, callbacks, statements.

Revision ID: 0008_bank
Revises: 0007_api_infra
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0008_bank"
down_revision = "0007_api_infra"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
