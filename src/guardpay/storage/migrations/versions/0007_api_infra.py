"""API infrastructure: idempotency keys and the webhook outbox.

Revision ID: 0007_api_infra
Revises: 0006_payments
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0007_api_infra"
down_revision = "0006_payments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
