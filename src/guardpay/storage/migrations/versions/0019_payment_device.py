"""The device a payment was made from, on the payment.

Why. AML monitoring (services/aml/monitor.py) reads the platform's payments as a graph;
an account farm (many accounts paying from one phone) and a merchant's self-dealing
(paying itself from its own device) are only seen when a movement says which device
paid. The session's device was known when the payment was made, and only the audit log
kept it.

Online: one nullable column; payments made before it keep none (unknown, never a guess).

Revision ID: 0019_payment_device
Revises: 0018_aml
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_payment_device"
down_revision = "0018_aml"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("device_id", sa.String(40), nullable=True))


def downgrade() -> None:
    op.drop_column("payments", "device_id")
