"""Escrow (guarantee) trades: held, shipped, confirmed, released, refunded, disputed.

Revision ID: 0011_escrow
Revises: 0010_red_packets
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0011_escrow"
down_revision = "0010_red_packets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
