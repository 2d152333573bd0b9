"""Red packets: fixed or random splits, claims, expiry.

Revision ID: 0010_red_packets
Revises: 0009_refunds
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0010_red_packets"
down_revision = "0009_refunds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
