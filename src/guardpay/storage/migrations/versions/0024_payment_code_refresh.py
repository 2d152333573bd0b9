"""A payment code shown on screen is refreshed before it expires (issue 19: the wallet).

Why. The wallet shows the payer's code until a till scans it, replacing it with a fresh
one before its 60 seconds run out, for a few minutes after the payment password was
entered once (services/payments/codes.py). `shown_at` carries when the payer showed
their factors from the first code to each refresh; `retired_at` marks a code replaced
before its time, so only the newest code on a screen can pay. Codes issued before this
revision have neither: their `issued_at` stands for `shown_at`.

Online: two nullable columns, no rewrite on either backend.

Revision ID: 0024_payment_code_refresh
Revises: 0023_merchant_staff
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_payment_code_refresh"
down_revision = "0023_merchant_staff"
branch_labels = None
depends_on = None
COLUMNS = ("shown_at", "retired_at")


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("payment_codes", sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payment_codes") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
