"""People and organisations: users, merchants, identity documents, verifications, bank cards.

Revision ID: 0003_identity
Revises: 0002_keys_audit
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0003_identity"
down_revision = "0002_keys_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
